package io.hashbrick.node.xdp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hashbrick.node.api.BlockCodec;
import io.hashbrick.sim.Dae;
import io.hashbrick.sim.IoStatus;
import io.hashbrick.sim.SsdOptions;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The refill allocator on its own: raw and compressed records written into the free cells of sealed
 * stripes read back, and every stripe's parity verifies afterwards. Seeded ({@code -Dseed=N}).
 */
class SegmentStoreRefillTest {
    @TempDir
    Path dir;

    record Rec(long location, byte[] stored) {}

    static byte[] record(SplittableRandom r) {
        int len = r.nextInt(4) == 0 ? 100 + r.nextInt(3000) : BlockCodec.RAW;
        byte[] b = new byte[len];
        r.nextBytes(b);
        return b;
    }

    static void check(SegmentStore st, Rec e, String why) {
        ByteBuffer scratch = io.hashbrick.sim.Ssd.allocateAligned(SegmentStore.READ_SCRATCH_BYTES);
        int bytes = SegmentStore.HEADER_BYTES + e.stored.length;
        int off = st.read(e.location, bytes, scratch);
        assertTrue(off >= 0, "unreadable location=" + e.location + " " + why);
        int len = (scratch.get(off) & 0xFF) | (scratch.get(off + 1) & 0xFF) << 8;
        assertEquals(e.stored.length, len, "header location=" + e.location + " " + why);
        byte[] got = new byte[len];
        scratch.get(off + 2, got, 0, len);
        assertTrue(java.util.Arrays.equals(e.stored, got), "content location=" + e.location + " " + why);
    }

    @Test
    void recordsWrittenIntoFreeCellsReadBackAndParityVerifies() throws Exception {
        long seed = Long.getLong("seed", System.nanoTime());
        String why = "seed=" + seed;
        SplittableRandom r = new SplittableRandom(seed);
        try (Dae dae = Dae.open(dir, 8, 16L << 20, 1, SsdOptions.defaults())) {
            StripeLayout layout = StripeLayout.forDae(8, 16L << 20, 2L << 20);
            SegmentStore st = new SegmentStore(dae, layout);
            List<Rec> live = new ArrayList<>();
            for (int round = 0; round < 12; round++) {
                // Write until the store refuses (no free stripe beyond 2, no refill target worth it).
                List<Rec> batch = new ArrayList<>();
                for (int k = 0; k < 3000; k++) {
                    byte[] b = record(r);
                    long loc = st.append(ByteBuffer.wrap(b), 0, b.length, 2);
                    if (loc < 0) {
                        break;
                    }
                    batch.add(new Rec(loc, b));
                    if (r.nextInt(50) == 0) {
                        assertEquals(IoStatus.OK, st.flush(), why);
                        for (Rec e : batch) {
                            st.placed(e.location, SegmentStore.HEADER_BYTES + e.stored.length);
                        }
                        live.addAll(batch);
                        batch.clear();
                    }
                }
                assertEquals(IoStatus.OK, st.flush(), why);
                for (Rec e : batch) {
                    st.placed(e.location, SegmentStore.HEADER_BYTES + e.stored.length);
                }
                live.addAll(batch);
                for (Rec e : live) {
                    check(st, e, why + " round=" + round);
                }
                assertEquals(IoStatus.OK, st.seal(), why);
                // Kill about half, at random; a checkpoint makes their cells free.
                List<Rec> keep = new ArrayList<>();
                for (Rec e : live) {
                    if (r.nextBoolean()) {
                        st.released(e.location, SegmentStore.HEADER_BYTES + e.stored.length);
                    } else {
                        keep.add(e);
                    }
                }
                live = keep;
                st.captureForCheckpoint(); // a checkpoint: captured, then durable
                st.checkpointed();
            }
            long[] rf = st.refillCounters();
            assertTrue(rf[0] > 0 && rf[1] > 0, "refills=" + rf[0] + " cells=" + rf[1] + " " + why);
            for (Rec e : live) {
                check(st, e, why + " end");
            }
            for (long s = 0; s < layout.stripes(); s++) {
                SegmentStore.ScrubResult res = st.scrub(s);
                assertTrue(res != SegmentStore.ScrubResult.MISMATCH, "stripe=" + s + " parity mismatch " + why);
            }

            // A stop in the middle of a refill: data cells written, P not yet (here: P garbled). The
            // next start finds the intent record and recomputes P and Q from the data.
            long target = st.lastIntentStripe();
            assertTrue(target >= 0, why);
            int[] slots = st.slotsOf(target);
            ByteBuffer junk = io.hashbrick.sim.Ssd.allocateAligned(4 * StripeLayout.CELL);
            while (junk.hasRemaining()) {
                junk.put((byte) r.nextInt());
            }
            junk.flip();
            long pOffset = layout.metadataBytes() + target * StripeLayout.COLUMN_BYTES + 3L * StripeLayout.CELL;
            assertEquals(IoStatus.OK, dae.slot(slots[slots.length - 2]).write(pOffset, junk), why);
            assertEquals(SegmentStore.ScrubResult.MISMATCH, st.scrub(target), why);
            java.io.ByteArrayOutputStream table = new java.io.ByteArrayOutputStream();
            st.writeSection(java.nio.channels.Channels.newChannel(table));
            SegmentStore restarted = new SegmentStore(dae, layout);
            restarted.readSection(
                    java.nio.channels.Channels.newChannel(new java.io.ByteArrayInputStream(table.toByteArray())));
            assertEquals(target, restarted.resyncInterrupted(), why);
            assertEquals(SegmentStore.ScrubResult.CLEAN, restarted.scrub(target), why);
            for (Rec e : live) {
                check(restarted, e, why + " after resync");
            }
        }
    }
}
