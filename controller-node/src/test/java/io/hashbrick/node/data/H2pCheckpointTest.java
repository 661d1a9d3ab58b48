package io.hashbrick.node.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hashbrick.node.CorruptCheckpointException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Checkpoint and restore of the H2P table over a seeded random table: inserts, addRef up and down to
 * zero (free slots below the high-water mark), refcounts spilled past 24 bits. Replay one run with
 * {@code -Dseed=N}; a failure names its seed.
 */
class H2pCheckpointTest {
    private static final int POOL = 6_000;
    private static final int OPS = 40_000;
    /** Few buckets, so each has many slots and holes; bucket 4095 checks the last section. */
    static final int[] BUCKETS = {0, 7, 4095};

    private static final int FLIPS = 200;

    static long[] seeds() {
        Long seed = Long.getLong("seed");
        return seed != null ? new long[] {seed} : new long[] {1, 0xC0FFEE, 20_240_601};
    }

    @ParameterizedTest
    @MethodSource("seeds")
    void restoresEveryEntryIntoItsSlot(long seed, @TempDir Path dir) throws IOException {
        System.out.println("H2pCheckpointTest seed=" + seed);
        try {
            roundTrip(seed, dir);
        } catch (AssertionError | RuntimeException | IOException e) {
            throw new AssertionError(
                    "H2P checkpoint test failed: seed=" + seed + " (replay with -Dseed=" + seed + ")", e);
        }
    }

    @ParameterizedTest
    @MethodSource("seeds")
    void refusesFlippedAndTruncatedCheckpoints(long seed) throws IOException {
        System.out.println("H2pCheckpointTest seed=" + seed);
        SplittableRandom random = new SplittableRandom(seed);
        MemorySegment fps = pool(random);
        long[] handle = new long[POOL];
        long[] refcount = new long[POOL];
        byte[] image;
        try (H2pTable table = fill(random, fps, handle, refcount)) {
            image = write(table);
        }
        Set<Integer> positions = new HashSet<>();
        for (int p :
                new int[] {0, 7, 8, 12, 16, 24, 31, 32, 35, 44, 48, image.length - 9, image.length - 5, image.length - 1
                }) {
            positions.add(p);
        }
        while (positions.size() < FLIPS) {
            positions.add(random.nextInt(image.length));
        }
        for (int p : positions) {
            byte[] bad = image.clone();
            bad[p] ^= (byte) (1 << random.nextInt(8));
            assertThrows(
                    CorruptCheckpointException.class,
                    () -> read(bad),
                    "flipped byte not refused: seed=" + seed + " position=" + p + " length=" + image.length);
        }
        for (int n : new int[] {0, 1, 31, 32, 33, image.length / 2, image.length - 8, image.length - 1}) {
            byte[] cut = Arrays.copyOf(image, n);
            assertThrows(
                    CorruptCheckpointException.class,
                    () -> read(cut),
                    "truncation not refused: seed=" + seed + " length=" + n);
        }
        byte[] longer = Arrays.copyOf(image, image.length + 1);
        assertThrows(CorruptCheckpointException.class, () -> read(longer), "trailing byte not refused: seed=" + seed);
        read(image).close();
    }

    private static void roundTrip(long seed, Path dir) throws IOException {
        SplittableRandom random = new SplittableRandom(seed);
        MemorySegment fps = pool(random);
        long[] handle = new long[POOL];
        long[] refcount = new long[POOL];
        Path file = dir.resolve("h2p.ckpt");
        long[] location = new long[POOL];
        int[] length = new int[POOL];
        int[] flags = new int[POOL];
        long[] highWater = new long[BUCKETS.length];
        try (H2pTable table = fill(random, fps, handle, refcount)) {
            for (int i = 0; i < POOL; i++) {
                if (refcount[i] > 0) {
                    location[i] = table.location(handle[i]);
                    length[i] = table.length(handle[i]);
                    flags[i] = table.flags(handle[i]);
                }
            }
            for (int k = 0; k < BUCKETS.length; k++) {
                highWater[k] = table.bucket(BUCKETS[k]).highWater();
            }
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                assertEquals(Files.size(file), 0);
                assertEquals(table.writeCheckpoint(ch), ch.size());
            }
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
                H2pTable restored = H2pTable.readCheckpoint(ch)) {
            long live = 0;
            for (int i = 0; i < POOL; i++) {
                long off = 32L * i;
                if (refcount[i] == 0) {
                    assertEquals(H2pHandle.NONE, restored.lookup(fps, off), "i=" + i);
                    continue;
                }
                live++;
                long h = handle[i];
                assertEquals(h, restored.lookup(fps, off), "i=" + i);
                assertTrue(restored.fingerprintMatches(h, fps, off), "i=" + i);
                assertEquals(refcount[i], restored.refcount(h), "i=" + i);
                assertEquals(location[i], restored.location(h), "i=" + i);
                assertEquals(length[i], restored.length(h), "i=" + i);
                assertEquals(flags[i], restored.flags(h), "i=" + i);
            }
            assertEquals(live, restored.uniqueBlocks());
            assertTrue(spilled(restored) > 0, "the run spilled no refcount");
            insertAfterRestore(random, restored, handle, refcount, highWater);
        }
    }

    /** New inserts take the free slots below the high-water mark first, and never a live slot. */
    static void insertAfterRestore(
            SplittableRandom random, H2pTable table, long[] handle, long[] refcount, long[] highWater) {
        Set<Long> liveHandles = new HashSet<>();
        for (int i = 0; i < POOL; i++) {
            if (refcount[i] > 0) {
                liveHandles.add(handle[i]);
            }
        }
        MemorySegment fp = Fingerprints.newSegment();
        for (int k = 0; k < BUCKETS.length; k++) {
            H2pBucket bucket = table.bucket(BUCKETS[k]);
            long free = highWater[k] - bucket.uniqueBlocks();
            assertTrue(free > 0, "no free slot in bucket=" + BUCKETS[k]);
            for (long n = 0; n <= free; n++) {
                Fingerprints.randomInBucket(random, fp, 0, BUCKETS[k]);
                long h = bucket.insert(fp, 0, 1, 1, 0);
                assertTrue(
                        liveHandles.add(h), "insert after restore got a live handle: handle=0x" + Long.toHexString(h));
                long slot = H2pHandle.slot(h);
                if (n < free) {
                    assertTrue(
                            slot < highWater[k], "free slot not reused: slot=" + slot + " high_water=" + highWater[k]);
                } else {
                    assertEquals(highWater[k], slot, "after the free slots comes the high-water mark");
                }
            }
        }
    }

    static H2pTable fill(SplittableRandom random, MemorySegment fps, long[] handle, long[] refcount) {
        H2pTable table = new H2pTable(random.nextLong());
        for (int op = 0; op < OPS; op++) {
            int i = random.nextInt(POOL);
            long off = 32L * i;
            int r = random.nextInt(100);
            if (r < 55) {
                long result = table.addOrInsert(
                        fps,
                        off,
                        random.nextLong(H2pEntries.MAX_LOCATION + 1),
                        random.nextInt(H2pEntries.MAX_LENGTH + 1),
                        random.nextInt(64));
                handle[i] = H2pHandle.handle(result);
                refcount[i]++;
            } else if (r < 90 && refcount[i] > 0) {
                refcount[i] = table.addRef(handle[i], -1);
            } else if (r < 91 && refcount[i] > 0) {
                refcount[i] = table.addRef(handle[i], H2pEntries.MAX_INLINE_REFCOUNT); // spills past 24 bits
            }
        }
        for (int i = 0; i < POOL; i++) { // a last drain, so every bucket ends with holes below its mark
            if (refcount[i] > 0 && refcount[i] <= Integer.MAX_VALUE && random.nextInt(4) == 0) {
                refcount[i] = table.addRef(handle[i], -(int) refcount[i]);
            }
        }
        return table;
    }

    static MemorySegment pool(SplittableRandom random) {
        MemorySegment fps = MemorySegment.ofArray(new byte[32 * POOL]);
        for (int i = 0; i < POOL; i++) {
            Fingerprints.randomInBucket(random, fps, 32L * i, BUCKETS[random.nextInt(BUCKETS.length)]);
        }
        return fps;
    }

    static long spilled(H2pTable table) {
        long n = 0;
        for (int b : BUCKETS) {
            n += table.bucket(b).spilledCount();
        }
        return n;
    }

    private static byte[] write(H2pTable table) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        long written = table.writeCheckpoint(Channels.newChannel(bytes));
        assertEquals(bytes.size(), written);
        assertNotEquals(0, written);
        assertFalse(bytes.size() < H2pCheckpoint.HEADER_BYTES + H2pCheckpoint.TRAILER_BYTES);
        return bytes.toByteArray();
    }

    private static H2pTable read(byte[] image) throws IOException {
        return H2pTable.readCheckpoint(Channels.newChannel(new java.io.ByteArrayInputStream(image)));
    }
}
