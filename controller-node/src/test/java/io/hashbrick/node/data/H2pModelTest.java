package io.hashbrick.node.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * H2P against a model (plain arrays and a HashMap of handle -> fingerprint) under a seeded random mix
 * of addOrInsert, addRef (to zero too), lookup and setLocation, alternating phases that fill and drain
 * three buckets so the index grows, churns and keeps long probe runs. A tenth of the fingerprints
 * share bytes 5..12 (the hashed word) with another, so they share a home cell and differ only later.
 * Replay one run with {@code -Dseed=N}; a failure names its seed.
 */
class H2pModelTest {
    private static final int POOL = 24_000;
    private static final int OPS = 1_500_000;
    private static final int PHASE_OPS = 150_000;
    private static final int AUDIT_EVERY_OPS = 250_000;
    private static final int[] BUCKETS = {0, 1, 4095};

    static long[] seeds() {
        Long seed = Long.getLong("seed");
        return seed != null ? new long[] {seed} : new long[] {1, 0xC0FFEE, 20_240_601};
    }

    @ParameterizedTest
    @MethodSource("seeds")
    void matchesTheModel(long seed) {
        try {
            run(seed);
        } catch (AssertionError | RuntimeException e) {
            throw new AssertionError("H2P model test failed: seed=" + seed + " (replay with -Dseed=" + seed + ")", e);
        }
    }

    private static void run(long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        MemorySegment fps = pool(random);
        long[] refcount = new long[POOL];
        long[] handle = new long[POOL];
        long[] location = new long[POOL];
        int[] lengthAndFlags = new int[POOL];
        Map<Long, Integer> byHandle = new HashMap<>();
        try (H2pTable table = new H2pTable(random.nextLong())) {
            for (int op = 0; op < OPS; op++) {
                boolean filling = (op / PHASE_OPS) % 2 == 0;
                int i = random.nextInt(POOL);
                long off = 32L * i;
                int r = random.nextInt(100);
                if (r < (filling ? 50 : 20)) {
                    long loc = random.nextLong(H2pEntries.MAX_LOCATION + 1);
                    int len = random.nextInt(512);
                    int flags = random.nextInt(64);
                    long result = table.addOrInsert(fps, off, loc, len, flags);
                    long h = H2pHandle.handle(result);
                    assertEquals(refcount[i] == 0, H2pHandle.inserted(result), "op=" + op);
                    if (refcount[i] == 0) {
                        assertNull(byHandle.put(h, i), "a new entry got a live handle: op=" + op);
                        handle[i] = h;
                        location[i] = loc;
                        lengthAndFlags[i] = len | flags << 9;
                    } else {
                        assertEquals(handle[i], h, "handles are stable: op=" + op);
                    }
                    refcount[i]++;
                } else if (r < 85) {
                    if (refcount[i] == 0) {
                        assertEquals(H2pHandle.NONE, table.lookup(fps, off), "op=" + op);
                        continue;
                    }
                    int delta = random.nextInt(4) == 0 ? (int) -refcount[i] : random.nextBoolean() ? -1 : 1;
                    assertEquals(refcount[i] + delta, table.addRef(handle[i], delta), "op=" + op);
                    refcount[i] += delta;
                    if (refcount[i] == 0) {
                        byHandle.remove(handle[i]);
                    }
                } else if (r < 95) {
                    assertEquals(refcount[i] == 0 ? H2pHandle.NONE : handle[i], table.lookup(fps, off), "op=" + op);
                } else if (refcount[i] != 0) {
                    location[i] = random.nextLong(H2pEntries.MAX_LOCATION + 1);
                    lengthAndFlags[i] = random.nextInt(512) | random.nextInt(64) << 9;
                    table.setLocation(handle[i], location[i], lengthAndFlags[i] & 511, lengthAndFlags[i] >>> 9);
                }
                if (op % AUDIT_EVERY_OPS == AUDIT_EVERY_OPS - 1) {
                    audit(table, fps, refcount, handle, location, lengthAndFlags, byHandle);
                }
            }
            audit(table, fps, refcount, handle, location, lengthAndFlags, byHandle);
        }
    }

    private static void audit(
            H2pTable table,
            MemorySegment fps,
            long[] refcount,
            long[] handle,
            long[] location,
            int[] lengthAndFlags,
            Map<Long, Integer> byHandle) {
        for (int i = 0; i < POOL; i++) {
            long off = 32L * i;
            if (refcount[i] == 0) {
                assertEquals(H2pHandle.NONE, table.lookup(fps, off), "i=" + i);
                continue;
            }
            long h = handle[i];
            assertEquals(h, table.lookup(fps, off), "i=" + i);
            assertEquals(refcount[i], table.refcount(h), "i=" + i);
            assertEquals(location[i], table.location(h), "i=" + i);
            assertEquals(lengthAndFlags[i] & 511, table.length(h), "i=" + i);
            assertEquals(lengthAndFlags[i] >>> 9, table.flags(h), "i=" + i);
            assertTrue(table.fingerprintMatches(h, fps, off), "i=" + i);
        }
        assertEquals(byHandle.size(), table.uniqueBlocks());
        long[] visited = new long[1];
        for (int b : BUCKETS) {
            table.bucket(b).forEachLive((h, loc, len, flags, rc) -> {
                Integer i = byHandle.get(h);
                assertTrue(i != null && refcount[i] == rc && location[i] == loc, "handle=" + h);
                assertEquals(lengthAndFlags[i], len | flags << 9);
                visited[0]++;
            });
        }
        assertEquals(byHandle.size(), visited[0]);
        assertFalse(table.bucket(2).nativeBytes() != 0, "untouched buckets hold no native memory");
    }

    /** POOL fingerprints over three buckets, distinct in their 228 kept bits; 10% share word0 with another. */
    private static MemorySegment pool(SplittableRandom random) {
        MemorySegment fps = MemorySegment.ofArray(new byte[POOL * 32]);
        Set<String> kept = new HashSet<>();
        HexFormat hex = HexFormat.of();
        for (int i = 0; i < POOL; i++) {
            long off = 32L * i;
            do {
                Fingerprints.randomInBucket(random, fps, off, BUCKETS[random.nextInt(BUCKETS.length)]);
                if (i > 0 && random.nextInt(10) == 0) { // same bucket and word0 as an earlier one
                    long from = 32L * random.nextInt(i);
                    MemorySegment.copy(fps, from, fps, off, 13);
                    if (random.nextBoolean()) { // and all but the last byte (the overlapped compare)
                        MemorySegment.copy(fps, from, fps, off, 31);
                    }
                }
            } while (!kept.add(hex.formatHex(keptBits(fps, off))));
        }
        return fps;
    }

    private static byte[] keptBits(MemorySegment fps, long off) {
        byte[] key = new byte[29];
        key[0] = fps.get(ValueLayout.JAVA_BYTE, off);
        key[1] = (byte) (fps.get(ValueLayout.JAVA_BYTE, off + 1) & 0xF0);
        MemorySegment.copy(fps, ValueLayout.JAVA_BYTE, off + 5, key, 2, 27);
        return key;
    }
}
