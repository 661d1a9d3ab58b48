package io.hashbrick.node.volume;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.hashbrick.node.CorruptCheckpointException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.channels.Channels;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A2H's incremental checkpoints ({@link A2hLeaves}): a whole section and deltas of the changed leaves
 * (freed ones as zeros), applied in order, give back the live map, grown volume included; a delta holds
 * only the changed leaves; damaged sections are refused. Replay one run with {@code -Dseed=N}.
 */
class A2hLeavesTest {
    static long[] seeds() {
        Long seed = Long.getLong("seed");
        return seed != null ? new long[] {seed} : new long[] {1, 0xBEEF, 20_261_207};
    }

    @ParameterizedTest
    @MethodSource("seeds")
    void wholeThenDeltasGiveBackTheMap(long seed) throws IOException {
        System.out.println("A2hLeavesTest seed=" + seed);
        SplittableRandom random = new SplittableRandom(seed);
        long blocks = 3L << 18; // 3 regions
        Map<Long, Long> model = new HashMap<>();
        try (A2hMap live = new A2hMap(blocks)) {
            mutate(random, live, model, 20_000, blocks);
            byte[] whole = write(live, true);
            mutate(random, live, model, 2_000, blocks);
            for (long b = 0; b < 64; b++) { // a whole leaf unmapped: the delta frees it
                live.remove(b);
                model.remove(b);
            }
            byte[] delta1 = write(live, false);
            live.grow(blocks + (1L << 18)); // a region more
            mutate(random, live, model, 3_000, blocks + (1L << 18));
            byte[] delta2 = write(live, false);
            assertEquals(A2hLeaves.HEADER_BYTES + 8, write(live, false).length, "nothing changed: no leaf");
            try (A2hMap restored = read(whole, null)) {
                read(delta1, restored);
                read(delta2, restored);
                assertEquals(live.blocks(), restored.blocks());
                assertEquals(model.size(), restored.mappedBlocks(), "seed=" + seed);
                assertEquals(live.allocations(), restored.allocations(), "seed=" + seed);
                for (long b = 0; b < live.blocks(); b++) {
                    assertEquals(live.get(b), restored.get(b), "seed=" + seed + " block=" + b);
                }
                for (Map.Entry<Long, Long> e : model.entrySet()) {
                    assertEquals(e.getValue(), restored.get(e.getKey()));
                }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("seeds")
    void aDeltaHoldsOnlyTheChangedLeaves(long seed) throws IOException {
        SplittableRandom random = new SplittableRandom(seed);
        try (A2hMap live = new A2hMap(1L << 20)) {
            mutate(random, live, new HashMap<>(), 5_000, 1L << 20);
            assertEquals(true, live.fresh());
            write(live, true);
            assertEquals(false, live.fresh());
            assertEquals(0, live.dirtyLeaves());
            live.put(70, 12345);
            live.put(71, 12346);
            live.put(900_000, 7);
            assertEquals(2, live.dirtyLeaves());
            byte[] delta = write(live, false);
            assertEquals(A2hLeaves.HEADER_BYTES + 2L * A2hLeaves.LEAF_RECORD_BYTES + 8, delta.length);
        }
    }

    @ParameterizedTest
    @MethodSource("seeds")
    void refusesDamagedSections(long seed) throws IOException {
        SplittableRandom random = new SplittableRandom(seed);
        try (A2hMap live = new A2hMap(1L << 19)) {
            mutate(random, live, new HashMap<>(), 5_000, 1L << 19);
            byte[] whole = write(live, true);
            mutate(random, live, new HashMap<>(), 500, 1L << 19);
            byte[] delta = write(live, false);
            for (int n = 0; n < 200; n++) {
                byte[] bad = delta.clone();
                int p = random.nextInt(bad.length);
                bad[p] ^= (byte) (1 << random.nextInt(8));
                try (A2hMap t = read(whole, null)) {
                    assertThrows(CorruptCheckpointException.class, () -> read(bad, t), "seed=" + seed + " at=" + p);
                }
            }
            for (int n : new int[] {0, 39, 40, delta.length / 2, delta.length - 1}) {
                byte[] cut = Arrays.copyOf(delta, n);
                try (A2hMap t = read(whole, null)) {
                    assertThrows(CorruptCheckpointException.class, () -> read(cut, t), "seed=" + seed + " cut=" + n);
                }
            }
            assertThrows(CorruptCheckpointException.class, () -> read(delta, null), "a delta without its base");
        }
    }

    private static void mutate(SplittableRandom random, A2hMap map, Map<Long, Long> model, int ops, long blocks) {
        for (int i = 0; i < ops; i++) {
            // clustered: many blocks share leaves, some leaves empty out
            long block = random.nextInt(8) == 0 ? random.nextLong(blocks) : random.nextLong(Math.min(blocks, 4096));
            if (random.nextInt(3) == 0) {
                map.remove(block);
                model.remove(block);
            } else {
                long handle = random.nextLong(1L << 22) | (long) random.nextInt(4096) << 36;
                map.put(block, handle);
                model.put(block, handle);
            }
        }
    }

    private static byte[] write(A2hMap map, boolean whole) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        A2hLeaves.write(map, Channels.newChannel(bytes), whole);
        return bytes.toByteArray();
    }

    private static A2hMap read(byte[] image, A2hMap onto) throws IOException {
        return A2hLeaves.read(Channels.newChannel(new ByteArrayInputStream(image)), onto);
    }
}
