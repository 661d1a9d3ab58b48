package io.hashbrick.node.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ReadCacheTest {
    /** Random puts, gets and removes against a map: a hit always returns exactly what was put for that handle. */
    @Test
    void hitsReturnWhatWasPutAndRemovedHandlesMiss() {
        long seed = Long.getLong("seed", System.nanoTime());
        Random r = new Random(seed);
        ReadCache cache = new ReadCache(64 * 4096L);
        Map<Long, byte[]> model = new HashMap<>();
        byte[] out = new byte[4096];
        try {
            for (int op = 0; op < 200_000; op++) {
                long h = r.nextInt(300);
                switch (r.nextInt(3)) {
                    case 0 -> {
                        byte[] b = new byte[1 + r.nextInt(4096)];
                        r.nextBytes(b);
                        cache.remove(h); // a handle's content never changes while it lives
                        cache.put(h, b, 0, b.length);
                        model.put(h, b);
                    }
                    case 1 -> {
                        cache.remove(h);
                        model.remove(h);
                    }
                    default -> {
                        int n = cache.get(h, out);
                        if (n >= 0) {
                            assertTrue(model.containsKey(h), "hit for a removed handle: seed=" + seed);
                            assertArrayEquals(model.get(h), Arrays.copyOf(out, n), "seed=" + seed);
                        }
                    }
                }
            }
            assertTrue(cache.hits() > 0 && cache.evictions() > 0, "seed=" + seed);
            assertTrue(cache.usedBytes() <= cache.capacityBytes(), "seed=" + seed);
        } finally {
            cache.free();
        }
    }

    @Test
    void zeroSizeCacheNeverHits() {
        ReadCache cache = new ReadCache(0);
        cache.put(1, new byte[10], 0, 10);
        assertEquals(-1, cache.get(1, new byte[4096]));
    }

    /**
     * Under churn (a block freed for each block cached, as random overwrites do) the cache reuses the
     * freed slots: no never-used slot, whose page is not yet in memory, is touched. Before, every put
     * of the cache's first pass took a never-used slot and faulted a page in (~10 us here).
     */
    @Test
    void churnReusesFreedSlotsAndTouchesNoNewPage() {
        ReadCache cache = new ReadCache(4096 * 4096L);
        byte[] b = new byte[100];
        try {
            for (long h = 0; h < 1000; h++) {
                cache.put(h, b, 0, b.length);
            }
            assertEquals(1000, cache.slotsEverUsed());
            for (long h = 1000; h < 50_000; h++) {
                cache.remove(h - 1000);
                cache.put(h, b, 0, b.length);
            }
            assertEquals(1000, cache.slotsEverUsed(), "freed slots reused, no page touched anew");
            byte[] out = new byte[4096];
            assertEquals(100, cache.get(49_999, out));
            assertEquals(-1, cache.get(48_999, out));
        } finally {
            cache.free();
        }
    }
}
