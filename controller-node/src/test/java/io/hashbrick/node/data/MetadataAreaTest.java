package io.hashbrick.node.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hashbrick.sim.Dae;
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
                payload[i] = new byte[100 + r.nextInt(3 << 20)];
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
            // after the restart the chain goes on from 4 (over the torn one's chunks)
            reopened.continueChain(chain);
            write(reopened, 5, true, payload[5]);
            // a new base goes to the other slot; its chain does not pick up the old chain's deltas
            reopened.endChain();
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
}
