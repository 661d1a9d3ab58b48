package io.hashbrick.node.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hashbrick.journal.Journal;
import io.hashbrick.journal.JournalConfig;
import io.hashbrick.journal.JournalEntry;
import io.hashbrick.journal.JournalMirror;
import io.hashbrick.journal.JournalRegion;
import io.hashbrick.journal.NanoClock;
import io.hashbrick.journal.RecordType;
import io.hashbrick.node.Controller;
import io.hashbrick.node.api.Handles;
import io.hashbrick.node.api.ResolveCall;
import io.hashbrick.node.block.IoStatus;
import io.hashbrick.node.volume.MapStore;
import io.hashbrick.node.volume.VolumeRef;
import io.hashbrick.sim.BatteryBackedMemory;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * C and D apart (issue 16 step b): C journals in its own region ({@code map-nvram.bbm}), its journal is
 * released by the checkpoints that carry its sections, a C journal lost after a checkpoint is refused,
 * C's records that D's journal holds from before C had a journal (a pool upgraded in place) replay,
 * and the census counts references right while C's outbox drains to D under load.
 */
class RolesApartTest {
    static final DataPath.Config SMALL = DataPathTest.SMALL;
    static final List<VolumeRef> ONE = List.of(new VolumeRef(1, 1024));

    @TempDir
    Path dir;

    @Test
    void cJournalsInItsOwnRegionAndReplaysItAfterACrash() throws Exception {
        ByteBuffer data = DataPathTest.random(new Random(1), 4, true);
        Controller dp = Controller.open(dir, SMALL, ONE);
        assertEquals(IoStatus.OK, Host.write(dp, 1, 8, 4, data.duplicate()));
        assertEquals(IoStatus.OK, Host.write(dp, 1, 100, 4, ByteBuffer.allocateDirect(4 * 4096))); // zeros: C only
        assertTrue((Long) dp.stats().get("map_journal_reserved_bytes") > 0, "C's records are in C's journal");
        assertTrue(Files.exists(dir.resolve(MapStore.NVRAM_FILE)));
        dp.crashForTest();
        try (Controller again = Controller.open(dir, SMALL, ONE)) {
            ByteBuffer back = ByteBuffer.allocateDirect(4 * 4096);
            assertEquals(IoStatus.OK, Host.read(again, 1, 8, 4, back));
            assertEquals(data.duplicate().rewind(), back.flip());
            assertEquals(4L, again.stats().get("mapped_blocks"));
            assertEquals(0, again.audit(true).discrepancies());
        }
    }

    @Test
    void aLostCJournalAfterACheckpointIsRefusedClearly() throws Exception {
        try (Controller dp = Controller.open(dir, SMALL, ONE)) {
            assertEquals(IoStatus.OK, Host.write(dp, 1, 0, 1, DataPathTest.random(new Random(2), 1, false)));
            dp.checkpoint();
            assertEquals(IoStatus.OK, Host.write(dp, 1, 1, 1, DataPathTest.random(new Random(3), 1, false)));
        }
        Files.delete(dir.resolve(MapStore.NVRAM_FILE));
        IOException e = assertThrows(IOException.class, () -> Controller.open(dir, SMALL, ONE));
        assertTrue(e.getMessage().contains("C's NVRAM journal is missing"), e.getMessage());
        assertTrue(Files.exists(dir.resolve("nvram.bbm")), "D's journal is left as it was");
    }

    /**
     * Zero writes touch only C (they unmap): 2.5 times C's journal of them, with the checkpoint interval
     * far away, go through because C's back-pressure asks D's destage thread for the checkpoint that
     * releases C's journal.
     */
    @Test
    void cJournalBackPressureBringsTheCheckpointThatReleasesIt() throws Exception {
        ByteBuffer zeros = ByteBuffer.allocateDirect(16 * 4096);
        long capacity = MapStore.nvramBytesFor(SMALL.nvramBytes());
        long records = capacity * 5 / 2 / (MapStore.CHUNK * 8 + 16 + 32);
        try (Controller dp = Controller.open(dir, SMALL, ONE)) {
            for (long i = 0; i < records; i++) {
                assertEquals(IoStatus.OK, Host.write(dp, 1, (i * 16) % 1024, 16, zeros.duplicate()), "record " + i);
            }
            assertTrue((Long) dp.stats().get("checkpoints") >= 1, dp.stats().toString());
            assertTrue((Long) dp.stats().get("map_journal_reserved_bytes") < capacity);
        }
    }

    /**
     * A pool written before C had a journal of its own holds C's records in D's journal: they replay
     * into C, in D's journal order, and the next checkpoint carries them. Made here by appending an
     * A2H_SET to D's journal as the earlier version did.
     */
    @Test
    void cRecordsInDsJournalFromBeforeTheSplitReplayIntoC() throws Exception {
        ByteBuffer data = DataPathTest.random(new Random(4), 1, false);
        long handle;
        Controller dp = Controller.open(dir, SMALL, ONE);
        assertEquals(IoStatus.OK, Host.write(dp, 1, 5, 1, data.duplicate()));
        handle = resolve(dp, 5);
        dp.crashForTest();
        // The earlier version's record: block 9 of volume 1 maps the same handle (one more reference,
        // which the earlier version's put would have taken: append that too, as a one-block dedup put).
        try (BatteryBackedMemory nvram = BatteryBackedMemory.open(dir.resolve("nvram.bbm"), 0, SMALL.nvramBytes())) {
            JournalRegion region = new JournalRegion() {
                @Override
                public MemorySegment segment() {
                    return nvram.data();
                }

                @Override
                public void persist(long offset, long length) {
                    VarHandle.fullFence();
                }

                @Override
                public void close() {}
            };
            Journal j = Journal.open(
                    region,
                    JournalConfig.defaults().withMaxPayloadBytes(DataPath.MAX_PAYLOAD),
                    NanoClock.SYSTEM,
                    JournalMirror.NONE,
                    (type, seq, epoch, r, off, len) -> {});
            MemorySegment p = Arena.ofAuto().allocate(256, 8);
            ValueLayout.OfLong u64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
            ValueLayout.OfInt u32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
            ValueLayout.OfShort u16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
            byte[] fp = java.security.MessageDigest.getInstance("SHA-256").digest(toArray(data));
            p.set(u16, 0, (short) 1); // PUT: one dedup reference
            p.set(u16, 2, (short) 0);
            p.set(u32, 4, 0);
            p.set(ValueLayout.JAVA_BYTE, 8, DataPath.KIND_DEDUP);
            MemorySegment.copy(MemorySegment.ofArray(fp), 0, p, 9, 32);
            append(j, RecordType.BLOCK_PUT, p.asSlice(0, 8 + 33));
            p.set(u32, 0, 1); // A2H_SET: volume 1, one block at 9
            p.set(u16, 4, (short) 1);
            p.set(u16, 6, (short) 0);
            p.set(u64, 8, 9L);
            p.set(u64, 16, handle);
            append(j, RecordType.A2H_SET, p.asSlice(0, 24));
            j.close();
        }
        try (Controller again = Controller.open(dir, SMALL, ONE)) {
            assertEquals(handle, resolve(again, 9), "the record in D's journal mapped block 9");
            ByteBuffer back = ByteBuffer.allocateDirect(4096);
            assertEquals(IoStatus.OK, Host.read(again, 1, 9, 1, back));
            assertEquals(data.duplicate().rewind(), back.flip());
            assertEquals(2, again.data().refcountForTest(handle));
            assertEquals(0, again.audit(true).discrepancies());
            again.checkpoint(); // carries C's state: D's journal (and the old record) released
        }
        try (Controller third = Controller.open(dir, SMALL, ONE)) {
            assertEquals(handle, resolve(third, 9), "from C's checkpoint sections now");
            assertEquals(0, third.audit(false).discrepancies());
        }
    }

    /**
     * While writers overwrite (so C's outbox drains to D all the time, a batch applied by D before C
     * journals its ACK), the census never counts a reference D dropped already: no discrepancy.
     */
    @Test
    void theCensusIsExactWhileTheOutboxDrains() throws Exception {
        long seed = Long.getLong("seed", System.nanoTime());
        try (Controller dp = Controller.open(dir, SMALL, ONE)) {
            AtomicReference<Throwable> failed = new AtomicReference<>();
            long end = System.nanoTime() + 2_000_000_000L;
            Thread[] writers = new Thread[2];
            for (int t = 0; t < writers.length; t++) {
                Random r = new Random(seed + t);
                writers[t] = new Thread(() -> {
                    try {
                        while (System.nanoTime() < end) {
                            ByteBuffer b = DataPathTest.random(r, 4, r.nextBoolean());
                            if (r.nextInt(3) == 0) { // a duplicate of a small set: references come and go
                                b = DataPathTest.random(new Random(r.nextInt(8)), 4, false);
                            }
                            IoStatus s = Host.write(dp, 1, r.nextInt(256) * 4L, 4, b);
                            if (s != IoStatus.OK) {
                                throw new AssertionError("write " + s);
                            }
                        }
                    } catch (Throwable e) {
                        failed.compareAndSet(null, e);
                    }
                });
                writers[t].start();
            }
            int audits = 0;
            while (System.nanoTime() < end) {
                DataPath.AuditReport r = dp.audit(false);
                assertEquals(0, r.discrepancies(), "seed=" + seed + " " + r.toLogString());
                audits++;
            }
            for (Thread w : writers) {
                w.join(30_000);
            }
            if (failed.get() != null) {
                throw new AssertionError("seed=" + seed, failed.get());
            }
            assertTrue(audits > 3, "seed=" + seed + " audits=" + audits);
            assertTrue((Long) dp.stats().get("deref_outbox_batches") > 0, "seed=" + seed);
        }
    }

    private static long resolve(Controller dp, long block) {
        ResolveCall x = new ResolveCall(1);
        x.header(0, 1, 0);
        x.volume = 1;
        x.firstBlock = block;
        x.count = 1;
        dp.maps().resolve(x);
        assertEquals(io.hashbrick.node.api.Status.OK, x.status);
        assertTrue(x.handles[0] != Handles.NONE);
        return x.handles[0];
    }

    private static byte[] toArray(ByteBuffer b) {
        byte[] a = new byte[b.remaining()];
        b.duplicate().get(a);
        return a;
    }

    private static void append(Journal j, byte type, MemorySegment payload) {
        JournalEntry e = new JournalEntry();
        e.set(type, 0, payload, x -> {});
        long seq = j.append(e);
        assertTrue(seq > 0, "append " + seq);
        j.writeInline();
        assertEquals(JournalEntry.DURABLE, e.status());
    }
}
