package io.hashbrick.node.volume;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.hashbrick.node.CorruptCheckpointException;
import io.hashbrick.node.mem.NativeMemory;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.channels.Channels;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

class A2hCheckpointTest {
    private static byte[] checkpoint(A2hMap m) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        long n = A2hCheckpoint.write(m, Channels.newChannel(out));
        assertEquals(out.size(), n);
        return out.toByteArray();
    }

    private static A2hMap restore(byte[] b) throws Exception {
        return A2hCheckpoint.read(Channels.newChannel(new ByteArrayInputStream(b)));
    }

    @Test
    void restoresEveryMapping() throws Exception {
        long seed = Long.getLong("seed", 77L);
        SplittableRandom rnd = new SplittableRandom(seed);
        TreeMap<Long, Long> model = new TreeMap<>();
        byte[] image;
        try (A2hMap m = new A2hMap(1L << 22)) {
            for (int i = 0; i < 50_000; i++) {
                long b = rnd.nextLong(1L << 22);
                long h = (rnd.nextLong(64) << 48)
                        | (rnd.nextLong(4096) << 36)
                        | rnd.nextLong(1L << 22); // any storable handle
                h = Math.min(h, A2hMap.MAX_HANDLE);
                m.put(b, h);
                model.put(b, h);
            }
            image = checkpoint(m);
            assertEquals(A2hCheckpoint.HEADER_BYTES + 16L * model.size() + 4, image.length, "seed=" + seed);
        }
        try (A2hMap r = restore(image)) {
            assertEquals(model.size(), r.mappedBlocks(), "seed=" + seed);
            TreeMap<Long, Long> seen = new TreeMap<>();
            r.forEachMapped(seen::put);
            assertEquals(model, seen, "seed=" + seed);
        }
    }

    @Test
    void damagedCheckpointsAreRefusedWhole() throws Exception {
        byte[] image;
        try (A2hMap m = new A2hMap(1000)) {
            for (long b = 0; b < 1000; b += 3) {
                m.put(b, b * 11);
            }
            image = checkpoint(m);
        }
        long before = NativeMemory.liveBytes();
        for (int at : new int[] {0, 9, 20, 40, 500, image.length - 1}) {
            byte[] bad = image.clone();
            bad[at] ^= 0x10;
            assertThrows(CorruptCheckpointException.class, () -> restore(bad), "flip at " + at);
        }
        assertThrows(CorruptCheckpointException.class, () -> restore(Arrays.copyOf(image, image.length - 3)));
        assertThrows(CorruptCheckpointException.class, () -> restore(new byte[0]));
        assertEquals(before, NativeMemory.liveBytes(), "a refused checkpoint leaves no memory behind");
    }

    @Test
    void emptyMapRoundTrips() throws Exception {
        try (A2hMap m = new A2hMap(10);
                A2hMap r = restore(checkpoint(m))) {
            assertEquals(0, r.mappedBlocks());
            assertEquals(10, r.blocks());
        }
    }
}
