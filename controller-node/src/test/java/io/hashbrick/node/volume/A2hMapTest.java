package io.hashbrick.node.volume;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hashbrick.node.mem.NativeMemory;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

class A2hMapTest {
    @Test
    void unmappedSpaceCostsNothingAndMappingsRoundTrip() {
        long before = NativeMemory.liveBytes();
        try (A2hMap m = new A2hMap(1L << 30)) { // a 4 PiB volume
            assertEquals(before, NativeMemory.liveBytes());
            assertEquals(A2hMap.UNMAPPED, m.get(123_456_789L));
            assertEquals(A2hMap.UNMAPPED, m.put(5, 0L), "handle 0 is a valid handle");
            assertEquals(0L, m.get(5));
            assertEquals(0L, m.put(5, A2hMap.MAX_HANDLE));
            assertEquals(A2hMap.MAX_HANDLE, m.get(5));
            assertEquals(1, m.mappedBlocks());
            assertEquals(A2hMap.MAX_HANDLE, m.remove(5));
            assertEquals(A2hMap.UNMAPPED, m.remove(5));
            assertEquals(0, m.mappedBlocks());
            assertEquals(before, NativeMemory.liveBytes(), "empty leaves and directories are freed");
        }
    }

    @Test
    void denseMappingCostsAtMostEightBytesPerBlock() {
        long before = NativeMemory.liveBytes();
        long blocks = 3L << 18; // 3 GiB
        try (A2hMap m = new A2hMap(blocks)) {
            for (long b = 0; b < blocks; b++) {
                m.put(b, (b * 7) % (1L << 22) | (b % 4096) << 36); // 22-bit slots, every bucket
            }
            double perBlock = (double) (m.nativeBytes() + m.heapBytes()) / m.mappedBlocks();
            System.out.printf(
                    "a2h dense: %.2f bytes per mapped 4 KiB (native %d, heap %d, blocks %d)%n",
                    perBlock, m.nativeBytes(), m.heapBytes(), m.mappedBlocks());
            assertEquals(
                    NativeMemory.liveBytes() - before,
                    m.nativeBytes() - NativeMemory.OVERHEAD_BYTES * m.allocations(),
                    "the map's figure is what it asked libc for, plus malloc's header per allocation");
            assertTrue(perBlock <= 8.0, "A2H budget: " + perBlock);
        }
        assertEquals(before, NativeMemory.liveBytes(), "close frees everything");
    }

    @Test
    void randomizedAgainstAModel() {
        long seed = Long.getLong("seed", 0xA2AL);
        SplittableRandom rnd = new SplittableRandom(seed);
        long before = NativeMemory.liveBytes();
        long blocks = 1L << 21;
        Map<Long, Long> model = new HashMap<>();
        try (A2hMap m = new A2hMap(blocks)) {
            for (int op = 0; op < 400_000; op++) {
                long b = rnd.nextInt(4) == 0 ? rnd.nextLong(blocks) : rnd.nextLong(4096); // hot + cold
                long h = (rnd.nextLong(64) << 48)
                        | (rnd.nextLong(4096) << 36)
                        | rnd.nextLong(1L << 22); // any storable handle
                h = Math.min(h, A2hMap.MAX_HANDLE);
                if (rnd.nextInt(3) == 0) {
                    Long old = model.remove(b);
                    assertEquals(old == null ? A2hMap.UNMAPPED : old, m.remove(b), "seed=" + seed + " op=" + op);
                } else {
                    Long old = model.put(b, h);
                    assertEquals(old == null ? A2hMap.UNMAPPED : old, m.put(b, h), "seed=" + seed + " op=" + op);
                }
            }
            assertEquals(model.size(), m.mappedBlocks(), "seed=" + seed);
            TreeMap<Long, Long> seen = new TreeMap<>();
            m.forEachMapped((b, h) -> seen.put(b, h));
            assertEquals(new TreeMap<>(model), seen, "seed=" + seed);
            model.forEach((b, h) -> assertEquals(h, m.get(b), "seed=" + seed));
        }
        assertEquals(before, NativeMemory.liveBytes(), "seed=" + seed);
    }

    @Test
    void badArgumentsCarryTheirValues() {
        try (A2hMap m = new A2hMap(100)) {
            var e = assertThrows(IllegalArgumentException.class, () -> m.get(100));
            assertTrue(e.getMessage().contains("block=100"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> m.put(-1, 1));
            assertThrows(IllegalArgumentException.class, () -> m.put(1, A2hMap.MAX_HANDLE + 1));
            assertThrows(IllegalArgumentException.class, () -> m.put(1, 1L << 22), "slot beyond a cell's 22 bits");
        }
        assertThrows(IllegalArgumentException.class, () -> new A2hMap(0));
    }
}
