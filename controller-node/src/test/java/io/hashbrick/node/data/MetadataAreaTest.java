package io.hashbrick.node.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.hashbrick.sim.Dae;
import io.hashbrick.sim.SsdOptions;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Path;
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
}
