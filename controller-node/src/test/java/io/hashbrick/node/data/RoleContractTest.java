package io.hashbrick.node.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hashbrick.node.api.BlockCodec;
import io.hashbrick.node.api.DerefCall;
import io.hashbrick.node.api.FetchCall;
import io.hashbrick.node.api.Handles;
import io.hashbrick.node.api.MapCall;
import io.hashbrick.node.api.ProbeCall;
import io.hashbrick.node.api.PutCall;
import io.hashbrick.node.api.ResolveCall;
import io.hashbrick.node.api.RoleCall;
import io.hashbrick.node.api.Status;
import io.hashbrick.node.api.local.LocalDataService;
import io.hashbrick.node.api.local.LocalMapService;
import io.hashbrick.node.block.IoStatus;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The roles' contracts through the in-process bindings: what D and C answer, stale handles, idempotent
 * derefs, conditional maps, and the write ordering's crash cases (put durable but never mapped; a
 * deref durable but its outbox ACK lost).
 */
class RoleContractTest {
    static final DataPath.Config SMALL = DataPathTest.SMALL;
    private static final int B = BlockCodec.BLOCK_BYTES;

    @TempDir
    Path dir;

    private final BlockCodec codec = new BlockCodec();
    private RoleCall last;

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
    private long put(LocalDataService d, ByteBuffer data, boolean withData) {
        PutCall p = new PutCall(1);
        p.header(0, 1, 9);
        p.count = 1;
        codec.fingerprint(data, 0, p.fingerprintBytes, 0);
        p.lengths[0] = withData ? codec.compress(data, 0, p.data, 0) : 0;
        d.put(p, c -> last = c);
        assertEquals(p, last, "completed with its own call");
        return p.status == Status.OK ? p.handles[0] : -p.status.ordinal() - 2;
    }

    private Status map(LocalMapService c, long block, long handle, Long expected, long[] replaced) {
        MapCall m = new MapCall(1);
        m.header(0, 2, 9);
        m.volume = 1;
        m.firstBlock = block;
        m.count = 1;
        m.handles[0] = handle;
        m.conditional = expected != null;
        m.expected[0] = expected == null ? 0 : expected;
        c.map(m, x -> {});
        if (replaced != null) {
            replaced[0] = m.replaced[0];
        }
        return m.status;
    }

    private long resolve(LocalMapService c, long block) {
        ResolveCall r = new ResolveCall(1);
        r.header(0, 3, 9);
        r.volume = 1;
        r.firstBlock = block;
        r.count = 1;
        c.resolve(r, x -> {});
        assertEquals(Status.OK, r.status);
        return r.handles[0];
    }

    private Status fetch(LocalDataService d, long handle, ByteBuffer dst) {
        FetchCall f = new FetchCall(1);
        f.header(0, 4, 9);
        f.count = 1;
        f.handles[0] = handle;
        f.dst = dst;
        f.dstOffset = 0;
        d.fetch(f, x -> {});
        return f.blockStatus[0];
    }

    @Test
    void aHandleWhoseSlotWasFreedAndReusedIsStaleAndNeverServesTheNewBlock() throws Exception {
        try (DataPath dp = DataPath.open(dir, SMALL, List.of(new DataPath.VolumeRef(1, 64)))) {
            LocalDataService d = new LocalDataService(dp, 0);
            LocalMapService c = new LocalMapService(dp, 0);
            ByteBuffer a = block(1);
            long ha = put(d, a, true);
            assertEquals(Status.OK, map(c, 0, ha, null, null));
            long resolved = resolve(c, 0);
            assertEquals(ha, resolved);
            // overwrite: A's only reference goes to the outbox, the drain drops it and frees the slot
            long hb = put(d, block(2), true);
            assertEquals(Status.OK, map(c, 0, hb, null, null));
            dp.drainOutbox();
            assertEquals(-1, dp.refcountForTest(ha), "A is gone");
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
            d.deref(x, y -> {});
            assertEquals(Status.STALE_HANDLE, x.status, "a deref of the stale handle takes nothing from C");
            assertEquals(1, dp.refcountForTest(hc));
            DerefCall undo = new DerefCall(1); // give back the test's put of C (never mapped)
            undo.header(0, 78, 9);
            undo.count = 1;
            undo.handles[0] = hc;
            d.deref(undo, y -> {});
            assertEquals(Status.OK, undo.status);
            assertEquals(0, dp.audit(true).discrepancies());
        }
    }

    @Test
    void derefIsIdempotentByOperationIdAndPutWithoutDataForAnUnknownBlockNeedsData() throws Exception {
        try (DataPath dp = DataPath.open(dir, SMALL, List.of(new DataPath.VolumeRef(1, 64)))) {
            LocalDataService d = new LocalDataService(dp, 0);
            ByteBuffer a = block(5);
            assertEquals(-Status.NEED_DATA.ordinal() - 2, put(d, a, false), "unknown and no data: NEED_DATA");
            long h = put(d, a, true);
            assertEquals(h, put(d, a, false), "known: a reference without data");
            assertEquals(h, put(d, a, true), "known, data sent anyway: the same handle");
            assertEquals(3, dp.refcountForTest(h));
            ProbeCall probe = new ProbeCall(1);
            probe.header(0, 5, 9);
            probe.count = 1;
            PutCall fp = new PutCall(1);
            codec.fingerprint(a, 0, fp.fingerprintBytes, 0);
            probe.fingerprints = fp.fingerprints;
            d.probe(probe, x -> {});
            assertTrue(probe.known[0]);

            DerefCall x = new DerefCall(2);
            x.header(0, 1000, 0); // sender 0: the local C's outbox stream, de-duplicated by op id
            x.count = 2;
            x.handles[0] = h;
            x.handles[1] = h;
            d.deref(x, y -> {});
            assertEquals(Status.OK, x.status);
            assertFalse(x.duplicate);
            assertEquals(1, dp.refcountForTest(h));
            d.deref(x, y -> {}); // a retry of the same operation
            assertEquals(Status.OK, x.status);
            assertTrue(x.duplicate, "the retry is recognised");
            assertEquals(1, dp.refcountForTest(h), "and changes nothing");

            x.header(1, 1001, 0);
            d.deref(x, y -> {});
            assertEquals(Status.STALE_EPOCH, x.status, "a call at another epoch is refused");
            assertEquals(1, dp.refcountForTest(h));
        }
    }

    @Test
    void aConditionalMapThatLostARaceChangesNothing() throws Exception {
        try (DataPath dp = DataPath.open(dir, SMALL, List.of(new DataPath.VolumeRef(1, 64)))) {
            LocalDataService d = new LocalDataService(dp, 0);
            LocalMapService c = new LocalMapService(dp, 0);
            long ha = put(d, block(11), true);
            long hb = put(d, block(12), true);
            assertEquals(Status.OK, map(c, 3, ha, Handles.NONE, null), "unmapped as expected");
            assertEquals(Status.MAP_CONFLICT, map(c, 3, hb, Handles.NONE, null), "it maps A now");
            assertEquals(ha, resolve(c, 3));
            long[] replaced = new long[1];
            assertEquals(Status.OK, map(c, 3, hb, ha, replaced));
            assertEquals(ha, replaced[0]);
            assertEquals(Status.OUT_OF_RANGE, map(c, 64, hb, null, null));
            assertEquals(1, dp.refcountForTest(hb), "the refused maps took no reference");
        }
    }

    @Test
    void aPutWhoseMapNeverBecameDurableIsReclaimedAtStartUp() throws Exception {
        long h;
        DataPath dp = DataPath.open(dir, SMALL, List.of(new DataPath.VolumeRef(1, 64)));
        LocalDataService d = new LocalDataService(dp, 0);
        ByteBuffer kept = block(21);
        assertEquals(IoStatus.OK, Host.write(dp, 1, 0, 1, kept.duplicate()));
        h = put(d, block(22), true); // R's put is durable; R dies before its map
        long dup = put(d, kept, false); // a second reference to a mapped block, never mapped
        assertEquals(2, dp.refcountForTest(dup));
        assertEquals(1, dp.audit(false).excessReferences() - 1, "two excess references, one per put");
        dp.crashForTest();
        try (DataPath again = DataPath.open(dir, SMALL, List.of(new DataPath.VolumeRef(1, 64)))) {
            assertEquals(-1, again.refcountForTest(h), "the unmapped block is reclaimed");
            assertEquals(1, again.refcountForTest(dup), "the extra reference is dropped");
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
        DataPath dp = DataPath.open(dir, SMALL, List.of(new DataPath.VolumeRef(1, 64)));
        dp.pauseOutboxDrainForTest();
        for (int i = 0; i < v.length; i++) { // each block written twice: the first versions are replaced
            assertEquals(IoStatus.OK, Host.write(dp, 1, i, 1, block(100 + i)));
            v[i] = block(200 + i);
            assertEquals(IoStatus.OK, Host.write(dp, 1, i, 1, v[i].duplicate()));
        }
        assertEquals(v.length, dp.outboxSizeForTest(), "replaced handles wait in the outbox");
        dp.crashForTest(); // before any drain: the outbox is rebuilt from C's records
        dp = DataPath.open(dir, SMALL, List.of(new DataPath.VolumeRef(1, 64)));
        assertEquals(0, dp.outboxSizeForTest(), "drained at start-up");
        assertEquals((long) v.length, dp.stats().get("derefs_applied"));
        DataPath.AuditReport r = dp.audit(true);
        assertEquals(0, r.discrepancies());
        assertEquals(0, r.excessReferences());
        assertEquals((long) v.length, r.uniqueBlocks(), "only the second versions are stored");
        // overwrite again and crash after the drain's derefs: replay applies each batch once
        dp.pauseOutboxDrainForTest();
        for (int i = 0; i < v.length; i++) {
            v[i] = block(300 + i);
            assertEquals(IoStatus.OK, Host.write(dp, 1, i, 1, v[i].duplicate()));
        }
        dp.drainOutbox();
        dp.crashForTest();
        try (DataPath again = DataPath.open(dir, SMALL, List.of(new DataPath.VolumeRef(1, 64)))) {
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
}
