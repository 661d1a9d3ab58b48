package io.hashbrick.node.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hashbrick.node.CorruptCheckpointException;
import io.hashbrick.node.xdp.StripeLayout;
import io.hashbrick.sim.Dae;
import io.hashbrick.sim.Ssd;
import io.hashbrick.sim.SsdOptions;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MetadataAreaTest {
    @TempDir
    Path dir;

    static byte[] read(MetadataArea area, MetadataArea.Checkpoint c, MetadataArea.Section s) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteBuffer b = ByteBuffer.allocate(7777);
        try (ReadableByteChannel ch = area.open(c, s)) {
            while (ch.read(b.clear()) > 0) {
                out.write(b.array(), 0, b.position());
            }
        }
        return out.toByteArray();
    }

    /** A checkpoint bigger than one SSD's slot is striped, survives a failed SSD, and a torn newer one is ignored. */
    @Test
    void stripedMirroredAndTheNewestWholeOneWins() throws Exception {
        long seed = Long.getLong("seed", System.nanoTime());
        Random r = new Random(seed);
        try (Dae dae = Dae.open(dir, 6, 32L << 20, 1, SsdOptions.defaults())) {
            StripeLayout layout = StripeLayout.forDae(6, 32L << 20, 4L << 20);
            MetadataArea area = new MetadataArea(dae, layout);
            assertNull(area.latest());
            byte[] big = new byte[(int) (layout.metadataBytes() / 2 + 777)]; // more than one SSD's slot
            r.nextBytes(big);
            byte[] small = new byte[100];
            r.nextBytes(small);
            MetadataArea.Writer w = area.begin(1);
            WritableByteChannel ch = w.section(1, 0);
            ch.write(ByteBuffer.wrap(big));
            w.endSection();
            w.section(2, 7).write(ByteBuffer.wrap(small));
            w.endSection();
            w.commit(42);
            MetadataArea.Checkpoint c = area.latest();
            assertEquals(1, c.generation(), "seed=" + seed);
            assertEquals(42, c.journalSequence());
            assertArrayEquals(big, read(area, c, c.sections().get(0)), "seed=" + seed);
            assertArrayEquals(small, read(area, c, c.sections().get(1)));
            // a newer checkpoint whose header never got written (crash) does not count
            MetadataArea.Writer torn = area.begin(2);
            torn.section(1, 0).write(ByteBuffer.wrap(small));
            torn.endSection();
            assertEquals(1, area.latest().generation());
            // an SSD fails: every chunk it held is read from its mirror
            dae.fail(3);
            c = area.latest();
            assertArrayEquals(big, read(area, c, c.sections().get(0)), "seed=" + seed);
        }
    }

    private static MetadataArea.Checkpoint write(MetadataArea area, long gen, boolean delta, byte[] payload)
            throws Exception {
        MetadataArea.Writer w = area.begin(gen, 1, delta);
        w.section(1, (int) gen).write(ByteBuffer.wrap(payload));
        w.endSection();
        w.commit(gen * 10);
        return area.latest();
    }

    /**
     * Deltas append to the base's chain and load in order; a delta torn by a crash ends the chain there;
     * a new base goes to the other slot and the older chain's leftovers never join it.
     */
    @Test
    void chainsOfDeltas() throws Exception {
        long seed = Long.getLong("seed", System.nanoTime());
        Random r = new Random(seed);
        try (Dae dae = Dae.open(dir, 6, 32L << 20, 1, SsdOptions.defaults())) {
            StripeLayout layout = StripeLayout.forDae(6, 32L << 20, 4L << 20);
            MetadataArea area = new MetadataArea(dae, layout);
            assertFalse(area.canAppend(100, 1), "no chain yet: the first checkpoint is a base");
            byte[][] payload = new byte[8][];
            for (int i = 0; i < payload.length; i++) {
                // up to 1.5 MiB (two 1 MiB chunks): a base, three deltas and a torn one always fit the
                // 12 MiB slot (up to 3 MiB each overflowed it for about one seed in a few hundred)
                payload[i] = new byte[100 + r.nextInt(3 << 19)];
                r.nextBytes(payload[i]);
            }
            write(area, 1, false, payload[1]);
            for (int g = 2; g <= 4; g++) {
                assertTrue(area.canAppend(payload[g].length, 1), "seed=" + seed);
                write(area, g, true, payload[g]);
            }
            List<MetadataArea.Checkpoint> chain = new MetadataArea(dae, layout).latestChain();
            assertEquals(4, chain.size(), "seed=" + seed);
            for (int g = 1; g <= 4; g++) {
                MetadataArea.Checkpoint c = chain.get(g - 1);
                assertEquals(g, c.generation());
                assertEquals(g > 1, c.delta());
                assertEquals(g * 10L, c.journalSequence());
                assertArrayEquals(payload[g], read(area, c, c.sections().get(0)), "seed=" + seed + " g=" + g);
            }
            // a delta whose header never got written (crash): the chain ends at 4
            MetadataArea.Writer torn = area.begin(5, 1, true);
            torn.section(1, 5).write(ByteBuffer.wrap(payload[5]));
            torn.endSection();
            MetadataArea reopened = new MetadataArea(dae, layout);
            chain = reopened.latestChain();
            assertEquals(4, chain.get(chain.size() - 1).generation());
            // after a restart the next checkpoint is a base, in the other slot; its chain does not pick
            // up the old chain's deltas
            reopened.continueChain(chain);
            assertFalse(reopened.canAppend(100, 1));
            MetadataArea.Checkpoint base = write(reopened, 6, false, payload[6]);
            assertNotEquals(chain.get(0).slot(), base.slot());
            write(reopened, 7, true, payload[7]);
            chain = new MetadataArea(dae, layout).latestChain();
            assertEquals(
                    List.of(6L, 7L),
                    chain.stream().map(MetadataArea.Checkpoint::generation).toList());
            // the next base lands on the first chain's slot: the old deltas behind it are not its
            reopened.endChain();
            write(reopened, 8, false, payload[1]);
            chain = new MetadataArea(dae, layout).latestChain();
            assertEquals(
                    List.of(8L),
                    chain.stream().map(MetadataArea.Checkpoint::generation).toList());
            // a drive of the chain fails: deltas stop (the next checkpoint is a base), and the chain reads
            assertTrue(reopened.canAppend(1000, 1));
            dae.fail(2);
            assertFalse(reopened.canAppend(1000, 1));
            chain = new MetadataArea(dae, layout).latestChain();
            assertArrayEquals(
                    payload[1], read(area, chain.get(0), chain.get(0).sections().get(0)), "seed=" + seed);
        }
    }

    /** A delta that would not fit behind the chain is refused: the caller writes a base instead. */
    @Test
    void aFullSlotTakesNoMoreDeltas() throws Exception {
        try (Dae dae = Dae.open(dir, 6, 32L << 20, 1, SsdOptions.defaults())) {
            StripeLayout layout = StripeLayout.forDae(6, 32L << 20, 4L << 20);
            MetadataArea area = new MetadataArea(dae, layout);
            long capacity = area.capacityBytes(6);
            write(area, 1, false, new byte[(int) (capacity / 2)]);
            assertTrue(area.canAppend(capacity / 4, 1));
            assertFalse(area.canAppend(capacity / 2 + (2 << 20), 1));
        }
    }

    static long[] place(MetadataArea.Checkpoint c, long chunk, int copy, StripeLayout layout) {
        // copy i of chunk k: SSD (k + i) mod n of the mask, in the i-th third of the slot, row k / n
        long slotBytes = layout.metadataBytes() / 2;
        long third = (slotBytes - MetadataArea.HEADER_AREA) / MetadataArea.COPIES / (1 << 20) * (1 << 20);
        int n = c.ssds().length;
        return new long[] {
            c.ssds()[(int) ((chunk + copy) % n)],
            c.slot() * slotBytes + MetadataArea.HEADER_AREA + copy * third + (chunk / n) * (1 << 20)
        };
    }

    private static void zero(Dae dae, long[] at, int bytes) {
        assertEquals(io.hashbrick.sim.IoStatus.OK, dae.slot((int) at[0]).write(at[1], Ssd.allocateAligned(bytes)));
    }

    /**
     * A damaged copy of a delta's chunk is read from another copy (the chain stays whole); a delta whose
     * header names its place in the chain but whose sections no copy holds is refused, never dropped.
     */
    @Test
    void aBadCopyIsReadAroundAndADeltaBadOnEveryCopyIsRefused() throws Exception {
        Random r = new Random(11);
        try (Dae dae = Dae.open(dir, 6, 32L << 20, 1, SsdOptions.defaults())) {
            StripeLayout layout = StripeLayout.forDae(6, 32L << 20, 4L << 20);
            MetadataArea area = new MetadataArea(dae, layout);
            byte[] p = new byte[200_000];
            r.nextBytes(p);
            write(area, 1, false, p);
            MetadataArea.Checkpoint d2 = write(area, 2, true, p);
            write(area, 3, true, p);
            long[] copy0 = place(d2, d2.firstChunk(), 0, layout);
            zero(dae, new long[] {copy0[0], copy0[1] + MetadataArea.HEADER_AREA}, 64 << 10); // its section
            List<MetadataArea.Checkpoint> chain = new MetadataArea(dae, layout).latestChain();
            assertEquals(
                    List.of(1L, 2L, 3L),
                    chain.stream().map(MetadataArea.Checkpoint::generation).toList());
            assertArrayEquals(
                    p, read(area, chain.get(1), chain.get(1).sections().get(0)));
            for (int copy = 1; copy < 3; copy++) {
                long[] at = place(d2, d2.firstChunk(), copy, layout);
                zero(dae, new long[] {at[0], at[1] + MetadataArea.HEADER_AREA}, 64 << 10);
            }
            assertThrows(CorruptCheckpointException.class, () -> new MetadataArea(dae, layout).latestChain());
        }
    }

    /** A drive of the chain replaced by an empty one (healthy at once, same slot): the next checkpoint is a base. */
    @Test
    void aReplacedDriveEndsTheChain() throws Exception {
        try (Dae dae = Dae.open(dir, 6, 32L << 20, 1, SsdOptions.defaults())) {
            StripeLayout layout = StripeLayout.forDae(6, 32L << 20, 4L << 20);
            MetadataArea area = new MetadataArea(dae, layout);
            MetadataArea.Checkpoint base = write(area, 1, false, new byte[1000]);
            write(area, 2, true, new byte[1000]);
            assertTrue(area.canAppend(1000, 1));
            dae.replace(base.ssds()[0]);
            assertFalse(area.canAppend(1000, 1));
        }
    }

    /**
     * A delta whose header reached only a drive missing at the next start is invisible then; the
     * checkpoint after that start skips its generation (the floor of every header seen, plus one), so
     * when the drive comes back the newer chain still wins.
     */
    @Test
    void aDeltaSeenOnlyLaterNeverTiesWithANewerCheckpoint() throws Exception {
        try (Dae dae = Dae.open(dir, 6, 32L << 20, 1, SsdOptions.defaults())) {
            StripeLayout layout = StripeLayout.forDae(6, 32L << 20, 4L << 20);
            MetadataArea area = new MetadataArea(dae, layout);
            write(area, 1, false, new byte[4096]);
            write(area, 2, true, new byte[4096]);
            MetadataArea.Checkpoint d3 = write(area, 3, true, new byte[4096]);
            for (int copy = 1; copy < 3; copy++) { // its header reached copy 0 only (a crash)
                zero(dae, place(d3, d3.firstChunk(), copy, layout), MetadataArea.HEADER_AREA);
            }
            int drive = (int) place(d3, d3.firstChunk(), 0, layout)[0];
            dae.pull(drive);
            MetadataArea reopened = new MetadataArea(dae, layout);
            List<MetadataArea.Checkpoint> chain = reopened.latestChain();
            assertEquals(2, chain.get(chain.size() - 1).generation());
            reopened.continueChain(chain);
            long next = Math.max(2, reopened.generationFloor()) + 2; // as DataPath.open does
            MetadataArea.Writer w = reopened.begin(next, 1, false);
            w.section(1, 0).write(ByteBuffer.wrap(new byte[4096]));
            w.endSection();
            w.commit(35);
            dae.reinsert(drive);
            chain = new MetadataArea(dae, layout).latestChain();
            assertEquals(35, chain.get(chain.size() - 1).journalSequence());
        }
    }
}
