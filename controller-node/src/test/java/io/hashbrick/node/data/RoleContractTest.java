package io.hashbrick.node.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hashbrick.node.Controller;
import io.hashbrick.node.api.BlockCodec;
import io.hashbrick.node.api.Completion;
import io.hashbrick.node.api.DataService;
import io.hashbrick.node.api.DerefCall;
import io.hashbrick.node.api.FetchCall;
import io.hashbrick.node.api.Handles;
import io.hashbrick.node.api.MapCall;
import io.hashbrick.node.api.MapService;
import io.hashbrick.node.api.ProbeCall;
import io.hashbrick.node.api.PutCall;
import io.hashbrick.node.api.ResolveCall;
import io.hashbrick.node.api.RoleCall;
import io.hashbrick.node.api.Status;
import io.hashbrick.node.api.UnmapCall;
import io.hashbrick.node.api.local.LocalDataService;
import io.hashbrick.node.api.local.LocalMapService;
import io.hashbrick.node.block.IoStatus;
import io.hashbrick.node.volume.VolumeRef;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The roles' contracts through the in-process bindings: what D and C answer, stale handles, idempotent
 * derefs, conditional maps, and the write ordering's crash cases (put durable but never mapped; a
 * deref durable but its outbox ACK lost). {@link GrpcRoleContractTest} runs the same over gRPC.
 */
class RoleContractTest {
    static final DataPath.Config SMALL = DataPathTest.SMALL;
    private static final int B = BlockCodec.BLOCK_BYTES;

    @TempDir
    Path dir;

    private final BlockCodec codec = new BlockCodec();

    /** D as the tests reach it: the in-process binding here, gRPC in the subclass. */
    DataService dataService(Controller dp) throws Exception {
        return new LocalDataService(dp.data(), 0);
    }

    /** C as the tests reach it. */
    MapService mapService(Controller dp) throws Exception {
        return new LocalMapService(dp.maps(), 0);
    }

    /** A role's method, as {@code d::put}. */
    @FunctionalInterface
    interface Op<C extends RoleCall> {
        void call(C c, Completion<C> done);
    }

    /** Makes the call and waits for its completion (any thread), which must carry the call itself. */
    static <C extends RoleCall> void call(C c, Op<C> op) {
        CompletableFuture<RoleCall> done = new CompletableFuture<>();
        op.call(c, done::complete);
        try {
            assertSame(c, done.get(15, TimeUnit.SECONDS), "completed with its own call");
        } catch (Exception e) {
            throw new AssertionError("call did not complete: " + c.getClass().getSimpleName(), e);
        }
    }

    private static ByteBuffer block(long seed) {
        byte[] b = new byte[B];
        new Random(seed).nextBytes(b);
        return ByteBuffer.allocateDirect(B).put(b).flip();
    }

    /** A random block whose fingerprint falls in {@code bucket} (about 4096 tries). */
    private ByteBuffer blockInBucket(int bucket) {
        byte[] fp = new byte[32];
        for (long seed = 1000; ; seed++) {
            ByteBuffer b = block(seed);
            codec.fingerprint(b, 0, fp, 0);
            if (((fp[0] & 0xFF) << 4 | (fp[1] & 0xF0) >>> 4) == bucket) {
                return b;
            }
        }
    }

    /** Puts one block with its data; returns its handle. */
    private long put(DataService d, ByteBuffer data, boolean withData) {
        PutCall p = new PutCall(1);
        p.header(0, 1, 9);
        p.count = 1;
        codec.fingerprint(data, 0, p.fingerprintBytes, 0);
        p.lengths[0] = withData ? codec.compress(data, 0, p.data, 0) : 0;
        call(p, d::put);
        return p.status == Status.OK ? p.handles[0] : -p.status.ordinal() - 2;
    }

    private Status map(MapService c, long block, long handle, Long expected, long[] replaced) {
        MapCall m = new MapCall(1);
        m.header(0, 2, 9);
        m.volume = 1;
        m.firstBlock = block;
        m.count = 1;
        m.handles[0] = handle;
        m.conditional = expected != null;
        m.expected[0] = expected == null ? 0 : expected;
        call(m, c::map);
        if (replaced != null) {
            replaced[0] = m.replaced[0];
        }
        return m.status;
    }

    private long resolve(MapService c, long block) {
        ResolveCall r = new ResolveCall(1);
        r.header(0, 3, 9);
        r.volume = 1;
        r.firstBlock = block;
        r.count = 1;
        call(r, c::resolve);
        assertEquals(Status.OK, r.status);
        return r.handles[0];
    }

    private Status fetch(DataService d, long handle, ByteBuffer dst) {
        FetchCall f = new FetchCall(1);
        f.header(0, 4, 9);
        f.count = 1;
        f.handles[0] = handle;
        f.dst = dst;
        f.dstOffset = 0;
        call(f, d::fetch);
        return f.blockStatus[0];
    }

    @Test
    void batchesRoundTripEveryFieldAndByte() throws Exception {
        try (Controller dp = Controller.open(dir, SMALL, List.of(new VolumeRef(1, 64)))) {
            DataService d = dataService(dp);
            MapService c = mapService(dp);
            int n = 10; // past a byte of the probe's bitmap
            ByteBuffer src = ByteBuffer.allocateDirect(n * B);
            for (int i = 0; i < n; i++) {
                src.put(i * B, block(40 + i), 0, B);
            }
            long held = put(d, block(40 + 3), true); // block 3 is held before the batch comes
            PutCall p = new PutCall(n);
            ProbeCall probe = new ProbeCall(n);
            probe.header(0, 50, 9);
            probe.count = n;
            probe.fingerprints = p.fingerprints;
            for (int i = 0; i < n; i++) {
                codec.fingerprint(src, i * B, p.fingerprintBytes, i * 32);
            }
            call(probe, d::probe);
            assertEquals(Status.OK, probe.status);
            for (int i = 0; i < n; i++) {
                assertEquals(i == 3, probe.known[i], "known " + i);
            }
            p.header(0, 51, 9);
            p.count = n;
            for (int i = 0; i < n; i++) { // the held block as a reference, the others with their data
                p.lengths[i] =
                        probe.known[i] ? 0 : codec.compress(src, i * B, p.data, i * BlockCodec.MAX_COMPRESSED_BYTES);
            }
            call(p, d::put);
            assertEquals(Status.OK, p.status);
            assertEquals(held, p.handles[3], "a reference to the held block");
            MapCall m = new MapCall(n + 1);
            m.header(0, 52, 9);
            m.volume = 1;
            m.firstBlock = 20;
            m.count = n + 1;
            System.arraycopy(p.handles, 0, m.handles, 0, n);
            m.handles[n] = Handles.NONE; // block 30: unmapped, reads as zeros
            call(m, c::map);
            assertEquals(Status.OK, m.status);
            for (int i = 0; i <= n; i++) {
                assertEquals(Handles.NONE, m.replaced[i], "nothing mapped before");
            }
            ResolveCall r = new ResolveCall(n + 1);
            r.header(0, 53, 9);
            r.volume = 1;
            r.firstBlock = 20;
            r.count = n + 1;
            call(r, c::resolve);
            assertEquals(Status.OK, r.status);
            FetchCall f = new FetchCall(n + 1);
            f.header(0, 54, 9);
            f.count = n + 1;
            System.arraycopy(r.handles, 0, f.handles, 0, n + 1);
            ByteBuffer out = ByteBuffer.allocateDirect((n + 2) * B);
            for (int i = 0; i < out.capacity(); i++) {
                out.put(i, (byte) 0x5A);
            }
            f.dst = out;
            f.dstOffset = B; // block i lands at dst[B + i * 4096]
            call(f, d::fetch);
            assertEquals(Status.OK, f.status);
            assertEquals(0, out.position(), "the caller's position is left alone");
            assertEquals((byte) 0x5A, out.get(B - 1), "nothing before dstOffset written");
            assertEquals(src, out.slice(B, n * B), "every byte of every block");
            assertEquals(ByteBuffer.allocateDirect(B), out.slice((n + 1) * B, B), "the unmapped block reads as zeros");
            UnmapCall u = new UnmapCall();
            u.header(0, 55, 9);
            u.volume = 1;
            u.firstBlock = 20;
            u.countRun = true;
            call(u, c::unmap);
            assertEquals(Status.OK, u.status);
            assertEquals(n, u.run, "the provisioning run: n mapped blocks from block 20");
            u.header(0, 56, 9);
            u.count = 4;
            u.countRun = false;
            call(u, c::unmap);
            assertEquals(Status.OK, u.status);
            assertEquals(4, u.unmapped);
            drain(dp);
            assertEquals(0, dp.audit(true).discrepancies());
        }
    }

    @Test
    void aHandleWhoseSlotWasFreedAndReusedIsStaleAndNeverServesTheNewBlock() throws Exception {
        try (Controller dp = Controller.open(dir, SMALL, List.of(new VolumeRef(1, 64)))) {
            DataService d = dataService(dp);
            MapService c = mapService(dp);
            ByteBuffer a = block(1);
            long ha = put(d, a, true);
            assertEquals(Status.OK, map(c, 0, ha, null, null));
            long resolved = resolve(c, 0);
            assertEquals(ha, resolved);
            // overwrite: A's only reference goes to the outbox, the drain drops it and frees the slot
            long hb = put(d, block(2), true);
            assertEquals(Status.OK, map(c, 0, hb, null, null));
            drain(dp);
            assertEquals(-1, dp.data().refcountForTest(ha), "A is gone");
            // a new block takes A's slot (freed slots are reused first) with the next generation
            ByteBuffer cData = blockInBucket(H2pHandle.bucket(ha));
            long hc = put(d, cData, true);
            assertEquals(H2pHandle.slot(ha), H2pHandle.slot(hc), "the slot was reused");
            assertEquals(H2pHandle.bucket(ha), H2pHandle.bucket(hc));
            assertNotEquals(ha, hc, "with another generation");
            ByteBuffer out = ByteBuffer.allocateDirect(B);
            assertEquals(Status.STALE_HANDLE, fetch(d, resolved, out), "the old handle is refused");
            assertEquals(0, out.position());
            assertEquals(0, out.getLong(0), "no byte of C's block was returned for it");
            assertEquals(Status.OK, fetch(d, hc, out.clear()));
            assertEquals(cData, out.clear(), "the current handle reads its own block");
            DerefCall x = new DerefCall(1);
            x.header(0, 77, 9);
            x.count = 1;
            x.handles[0] = resolved;
            call(x, d::deref);
            assertEquals(Status.STALE_HANDLE, x.status, "a deref of the stale handle takes nothing from C");
            assertEquals(1, dp.data().refcountForTest(hc));
            DerefCall undo = new DerefCall(1); // give back the test's put of C (never mapped)
            undo.header(0, 78, 9);
            undo.count = 1;
            undo.handles[0] = hc;
            call(undo, d::deref);
            assertEquals(Status.OK, undo.status);
            assertEquals(0, dp.audit(true).discrepancies());
        }
    }

    @Test
    void derefIsIdempotentByOperationIdAndPutWithoutDataForAnUnknownBlockNeedsData() throws Exception {
        try (Controller dp = Controller.open(dir, SMALL, List.of(new VolumeRef(1, 64)))) {
            DataService d = dataService(dp);
            ByteBuffer a = block(5);
            assertEquals(-Status.NEED_DATA.ordinal() - 2, put(d, a, false), "unknown and no data: NEED_DATA");
            long h = put(d, a, true);
            assertEquals(h, put(d, a, false), "known: a reference without data");
            assertEquals(h, put(d, a, true), "known, data sent anyway: the same handle");
            assertEquals(3, dp.data().refcountForTest(h));
            ProbeCall probe = new ProbeCall(1);
            probe.header(0, 5, 9);
            probe.count = 1;
            PutCall fp = new PutCall(1);
            codec.fingerprint(a, 0, fp.fingerprintBytes, 0);
            probe.fingerprints = fp.fingerprints;
            call(probe, d::probe);
            assertTrue(probe.known[0]);

            DerefCall x = new DerefCall(2);
            x.header(0, 1000, 0); // sender 0: the local C's outbox stream, op id = position after the batch
            x.count = 2;
            x.handles[0] = h;
            x.handles[1] = h;
            call(x, d::deref);
            assertEquals(Status.OK, x.status);
            assertFalse(x.duplicate);
            assertEquals(1, dp.data().refcountForTest(h));
            call(x, d::deref); // a retry of the same operation
            assertEquals(Status.OK, x.status);
            assertTrue(x.duplicate, "the retry is recognised");
            assertEquals(1, dp.data().refcountForTest(h), "and changes nothing");

            // A resend need not have the first attempt's bounds: the outbox grew meanwhile, so the
            // batch covering position 1001 comes again as positions 1001..1002. Only 1002 is new.
            assertEquals(h, put(d, a, false));
            assertEquals(h, put(d, a, false));
            assertEquals(3, dp.data().refcountForTest(h));
            x.header(0, 1002, 0);
            x.count = 1;
            call(x, d::deref);
            assertEquals(2, dp.data().refcountForTest(h));
            x.header(0, 1003, 0);
            x.count = 2;
            call(x, d::deref);
            assertEquals(Status.OK, x.status);
            assertFalse(x.duplicate, "a batch with new positions is not a duplicate");
            assertEquals(
                    1, dp.data().refcountForTest(h), "its first handle was applied before: dropped once, not twice");

            x.header(1, 1001, 0);
            call(x, d::deref);
            assertEquals(Status.STALE_EPOCH, x.status, "a call at another epoch is refused");
            assertEquals(1, dp.data().refcountForTest(h));
        }
    }

    /** A remote map that waited at C past its server's budget is refused before anything changes. */
    @Test
    void aMapPastItsServersBudgetChangesNothing() throws Exception {
        try (Controller dp = Controller.open(dir, SMALL, List.of(new VolumeRef(1, 64)))) {
            long h = put(dataService(dp), block(13), true);
            MapCall m = new MapCall(1);
            m.header(0, 3, 9);
            m.volume = 1;
            m.firstBlock = 5;
            m.count = 1;
            m.handles[0] = h;
            m.applyByNs = System.nanoTime() - 1; // as a server stamps it on arrival, long ago
            dp.maps().map(m);
            assertEquals(Status.BACK_PRESSURE, m.status, "refused: its sender is about to give up on it");
            assertEquals(Handles.NONE, resolve(mapService(dp), 5), "nothing mapped");
            m.header(0, 4, 9);
            dp.maps().map(m);
            assertEquals(Status.OK, m.status, "within its budget (none: a local call)");
            assertEquals(h, resolve(mapService(dp), 5));
        }
    }

    @Test
    void aConditionalMapThatLostARaceChangesNothing() throws Exception {
        try (Controller dp = Controller.open(dir, SMALL, List.of(new VolumeRef(1, 64)))) {
            DataService d = dataService(dp);
            MapService c = mapService(dp);
            long ha = put(d, block(11), true);
            long hb = put(d, block(12), true);
            assertEquals(Status.OK, map(c, 3, ha, Handles.NONE, null), "unmapped as expected");
            assertEquals(Status.MAP_CONFLICT, map(c, 3, hb, Handles.NONE, null), "it maps A now");
            assertEquals(ha, resolve(c, 3));
            long[] replaced = new long[1];
            assertEquals(Status.OK, map(c, 3, hb, ha, replaced));
            assertEquals(ha, replaced[0]);
            assertEquals(Status.OUT_OF_RANGE, map(c, 64, hb, null, null));
            assertEquals(1, dp.data().refcountForTest(hb), "the refused maps took no reference");
        }
    }

    @Test
    void aPutWhoseMapNeverBecameDurableIsReclaimedAtStartUp() throws Exception {
        long h;
        Controller dp = Controller.open(dir, SMALL, List.of(new VolumeRef(1, 64)));
        DataService d = dataService(dp);
        ByteBuffer kept = block(21);
        assertEquals(IoStatus.OK, Host.write(dp, 1, 0, 1, kept.duplicate()));
        h = put(d, block(22), true); // R's put is durable; R dies before its map
        long dup = put(d, kept, false); // a second reference to a mapped block, never mapped
        assertEquals(2, dp.data().refcountForTest(dup));
        assertEquals(1, dp.audit(false).excessReferences() - 1, "two excess references, one per put");
        dp.crashForTest();
        try (Controller again = Controller.open(dir, SMALL, List.of(new VolumeRef(1, 64)))) {
            assertEquals(-1, again.data().refcountForTest(h), "the unmapped block is reclaimed");
            assertEquals(1, again.data().refcountForTest(dup), "the extra reference is dropped");
            assertEquals(2L, again.stats().get("references_reclaimed"));
            DataPath.AuditReport r = again.audit(true);
            assertEquals(0, r.discrepancies());
            assertEquals(0, r.excessReferences());
            ByteBuffer out = ByteBuffer.allocateDirect(B);
            assertEquals(IoStatus.OK, Host.read(again, 1, 0, 1, out));
            assertEquals(kept, out.flip());
        }
    }

    @Test
    void overwrittenBlocksLeaveThroughTheOutboxOnceEvenAcrossACrash() throws Exception {
        ByteBuffer[] v = new ByteBuffer[40];
        Controller dp = Controller.open(dir, SMALL, List.of(new VolumeRef(1, 64)));
        dp.maps().pauseOutboxDrainForTest();
        for (int i = 0; i < v.length; i++) { // each block written twice: the first versions are replaced
            assertEquals(IoStatus.OK, Host.write(dp, 1, i, 1, block(100 + i)));
            v[i] = block(200 + i);
            assertEquals(IoStatus.OK, Host.write(dp, 1, i, 1, v[i].duplicate()));
        }
        assertEquals(v.length, dp.maps().outboxSizeForTest(), "replaced handles wait in the outbox");
        dp.crashForTest(); // before any drain: the outbox is rebuilt from C's records
        dp = Controller.open(dir, SMALL, List.of(new VolumeRef(1, 64)));
        assertEquals(0, dp.maps().outboxSizeForTest(), "drained at start-up");
        assertEquals((long) v.length, dp.stats().get("derefs_applied"));
        DataPath.AuditReport r = dp.audit(true);
        assertEquals(0, r.discrepancies());
        assertEquals(0, r.excessReferences());
        assertEquals((long) v.length, r.uniqueBlocks(), "only the second versions are stored");
        // overwrite again and crash after the drain's derefs: replay applies each batch once
        dp.maps().pauseOutboxDrainForTest();
        for (int i = 0; i < v.length; i++) {
            v[i] = block(300 + i);
            assertEquals(IoStatus.OK, Host.write(dp, 1, i, 1, v[i].duplicate()));
        }
        drain(dp);
        dp.crashForTest();
        try (Controller again = Controller.open(dir, SMALL, List.of(new VolumeRef(1, 64)))) {
            r = again.audit(true);
            assertEquals(0, r.discrepancies(), r.toLogString());
            assertEquals(0, r.excessReferences());
            assertEquals((long) v.length, r.uniqueBlocks());
            ByteBuffer out = ByteBuffer.allocateDirect(B * v.length);
            assertEquals(IoStatus.OK, Host.read(again, 1, 0, v.length, out));
            for (int i = 0; i < v.length; i++) {
                byte[] want = new byte[B];
                byte[] got = new byte[B];
                v[i].duplicate().get(want);
                out.get(i * B, got);
                assertArrayEquals(want, got, "block " + i);
            }
        }
    }

    /**
     * Drains C's outbox to D until it is empty: the controller's own drainer thread may be draining
     * (one drainer at a time: a second call returns at once), which CI once caught (a reference still
     * held right after a drain call that found the drainer busy).
     */
    private static void drain(Controller dp) throws InterruptedException {
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(10);
        while (!dp.maps().drainOutbox()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(
                        "C's outbox did not drain in 10 s: size=" + dp.maps().outboxSize());
            }
            Thread.sleep(1);
        }
    }
}
