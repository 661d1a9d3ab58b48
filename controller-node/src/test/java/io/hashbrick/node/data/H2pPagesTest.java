package io.hashbrick.node.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hashbrick.node.CorruptCheckpointException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.channels.Channels;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * H2P's incremental checkpoints ({@link H2pPages}): a base of every page and deltas of the changed pages,
 * applied in order, give back the live table (every entry in its slot, refcounts spilled or not, free
 * slots reused, never a live one); a delta holds only the pages changed; a damaged section is refused.
 * Replay one run with {@code -Dseed=N}; a failure names its seed.
 */
class H2pPagesTest {
    private static final int POOL = 6_000;

    static long[] seeds() {
        Long seed = Long.getLong("seed");
        return seed != null ? new long[] {seed} : new long[] {1, 0xC0FFEE, 20_261_207};
    }

    @ParameterizedTest
    @MethodSource("seeds")
    void aBaseAndItsDeltasGiveBackTheTable(long seed) throws IOException {
        System.out.println("H2pPagesTest seed=" + seed);
        SplittableRandom random = new SplittableRandom(seed);
        MemorySegment fps = H2pCheckpointTest.pool(random);
        long[] handle = new long[POOL];
        long[] refcount = new long[POOL];
        try (H2pTable live = H2pCheckpointTest.fill(random, fps, handle, refcount)) {
            byte[] base = write(live, true);
            byte[] delta1 = mutateAndWrite(random, live, fps, handle, refcount, 300);
            byte[] delta2 = mutateAndWrite(random, live, fps, handle, refcount, 3_000);
            byte[] empty = write(live, false); // nothing changed since: no page
            assertEquals(H2pPages.HEADER_BYTES + 8, empty.length, "seed=" + seed);
            try (H2pTable restored = read(base, null)) {
                read(delta1, restored);
                read(delta2, restored);
                read(empty, restored);
                restored.finishRestore();
                long[] highWater = new long[H2pCheckpointTest.BUCKETS.length];
                for (int k = 0; k < highWater.length; k++) {
                    int b = H2pCheckpointTest.BUCKETS[k];
                    highWater[k] = live.bucket(b).highWater();
                    assertEquals(highWater[k], restored.bucket(b).highWater(), "seed=" + seed + " bucket=" + b);
                    assertEquals(
                            live.bucket(b).spilledCount(), restored.bucket(b).spilledCount(), "seed=" + seed);
                }
                assertEquals(live.uniqueBlocks(), restored.uniqueBlocks(), "seed=" + seed);
                for (int i = 0; i < POOL; i++) {
                    long off = 32L * i;
                    String at = "seed=" + seed + " i=" + i;
                    assertEquals(live.lookup(fps, off), restored.lookup(fps, off), at);
                    if (refcount[i] == 0) {
                        continue;
                    }
                    long h = handle[i];
                    assertEquals(refcount[i], restored.refcount(h), at);
                    assertEquals(live.location(h), restored.location(h), at);
                    assertEquals(live.length(h), restored.length(h), at);
                    assertEquals(live.flags(h), restored.flags(h), at);
                }
                assertTrue(H2pCheckpointTest.spilled(restored) > 0, "the run spilled no refcount: seed=" + seed);
                H2pCheckpointTest.insertAfterRestore(random, restored, handle, refcount, highWater);
            }
        }
    }

    /** A delta holds the pages changed since the last capture, and no others. */
    @ParameterizedTest
    @MethodSource("seeds")
    void aDeltaHoldsOnlyTheChangedPages(long seed) throws IOException {
        SplittableRandom random = new SplittableRandom(seed);
        MemorySegment fps = H2pCheckpointTest.pool(random);
        long[] handle = new long[POOL];
        long[] refcount = new long[POOL];
        try (H2pTable live = H2pCheckpointTest.fill(random, fps, handle, refcount)) {
            long pages = 0;
            for (int b : H2pCheckpointTest.BUCKETS) {
                pages += live.bucket(b).entries().pageCount();
            }
            assertEquals(pages, live.writePages(Channels.newChannel(new ByteArrayOutputStream()), true));
            assertEquals(0, live.dirtyPages());
            int i = findLive(refcount, random);
            live.addRef(handle[i], 1);
            refcount[i]++;
            assertEquals(1, live.dirtyPages(), "seed=" + seed);
            assertEquals(1, live.writePages(Channels.newChannel(new ByteArrayOutputStream()), false));
            assertEquals(0, live.dirtyPages());
        }
    }

    @ParameterizedTest
    @MethodSource("seeds")
    void refusesDamagedSections(long seed) throws IOException {
        SplittableRandom random = new SplittableRandom(seed);
        MemorySegment fps = H2pCheckpointTest.pool(random);
        long[] handle = new long[POOL];
        long[] refcount = new long[POOL];
        try (H2pTable live = H2pCheckpointTest.fill(random, fps, handle, refcount)) {
            byte[] base = write(live, true);
            byte[] delta = mutateAndWrite(random, live, fps, handle, refcount, 500);
            for (int n = 0; n < 200; n++) {
                byte[] bad = delta.clone();
                int p = random.nextInt(bad.length);
                bad[p] ^= (byte) (1 << random.nextInt(8));
                try (H2pTable t = read(base, null)) {
                    assertThrows(
                            CorruptCheckpointException.class,
                            () -> read(bad, t),
                            "flipped byte not refused: seed=" + seed + " position=" + p);
                }
            }
            for (int n : new int[] {0, 8, 31, 32, 47, delta.length / 2, delta.length - 1}) {
                byte[] cut = Arrays.copyOf(delta, n);
                try (H2pTable t = read(base, null)) {
                    assertThrows(CorruptCheckpointException.class, () -> read(cut, t), "seed=" + seed + " cut=" + n);
                }
            }
            assertThrows(CorruptCheckpointException.class, () -> read(delta, null), "a delta without its base");
            try (H2pTable t = read(base, null)) {
                assertThrows(CorruptCheckpointException.class, () -> read(base, t), "a base onto a table");
            }
        }
    }

    private static int findLive(long[] refcount, SplittableRandom random) {
        for (int n = 0; n < 10 * POOL; n++) {
            int i = random.nextInt(POOL);
            if (refcount[i] > 0 && refcount[i] < H2pEntries.MAX_INLINE_REFCOUNT) {
                return i;
            }
        }
        throw new AssertionError("no live entry");
    }

    /** {@code ops} more random changes (inserts, references up and down to zero), then a delta. */
    private static byte[] mutateAndWrite(
            SplittableRandom random, H2pTable table, MemorySegment fps, long[] handle, long[] refcount, int ops)
            throws IOException {
        for (int op = 0; op < ops; op++) {
            int i = random.nextInt(POOL);
            long off = 32L * i;
            int r = random.nextInt(100);
            if (r < 55) {
                long result = table.addOrInsert(fps, off, random.nextLong(1 << 30), random.nextInt(256), 0);
                handle[i] = H2pHandle.handle(result);
                refcount[i]++;
            } else if (r < 98 && refcount[i] > 0 && refcount[i] <= Integer.MAX_VALUE) {
                refcount[i] = table.addRef(handle[i], -(int) Math.min(refcount[i], 1 + random.nextInt(2)));
            } else if (refcount[i] > 0) {
                refcount[i] = table.addRef(handle[i], H2pEntries.MAX_INLINE_REFCOUNT);
            }
        }
        return write(table, false);
    }

    private static byte[] write(H2pTable table, boolean base) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        table.writePages(Channels.newChannel(bytes), base);
        return bytes.toByteArray();
    }

    private static H2pTable read(byte[] image, H2pTable onto) throws IOException {
        return H2pTable.readPages(Channels.newChannel(new ByteArrayInputStream(image)), onto);
    }
}
