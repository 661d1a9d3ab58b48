package io.hashbrick.sim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.SplittableRandom;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The volatile write-cache model of {@link Ssd#powerCut}. Seeded: every assertion names its seed, so a
 * failure replays with that seed alone.
 */
class SsdPowerCutTest {
    static final long CAPACITY = 64 * 1024;
    static final int CELLS = (int) (CAPACITY / Ssd.CELL_BYTES);
    static final long CACHE_BYTES = Ssd.IO_BYTES_MAX;
    private static final UUID UUID_A = new UUID(0x1111L, 0x2222L);

    @TempDir
    Path dir;

    private final List<String> events = new ArrayList<>();
    private final ManualClock clock = new ManualClock(0);

    private SsdOptions cached() {
        return SsdOptions.simulated(clock, events::add).withVolatileCache(CACHE_BYTES);
    }

    private Ssd drive(String name, SsdOptions options) throws IOException {
        return Ssd.create(dir.resolve(name), 0, CAPACITY, UUID_A, options);
    }

    // ---------------------------------------------------------------- off, flush

    @Test
    void offByDefaultAndAPowerCutLosesNothing() throws IOException {
        SsdOptions off = SsdOptions.simulated(clock, events::add);
        assertEquals(0, off.volatileCacheBytesMax());
        assertEquals(off, new SsdOptions(off.preferredMode(), off.sleeper(), off.clock(), off.events(), 0));
        try (Ssd ssd = drive("off.img", off)) {
            ByteBuffer data = SsdTest.pattern(8192, 3);
            assertEquals(IoStatus.OK, ssd.write(4096, data));
            assertEquals(0, ssd.unflushedWrites(), "nothing recorded with the model off");
            assertEquals(PowerCutSummary.NONE, ssd.powerCut(42));
            assertArrayEquals(SsdTest.bytes(data), readBytes(ssd, 4096, 8192), "an unflushed write survived");
        }
        assertTrue(events.stream().noneMatch(l -> l.contains("power_cut")), events.toString());
    }

    @Test
    void aFlushThatReturnedOkClearsTheRecordAndAFailedOneDoesNot() throws IOException {
        try (Ssd ssd = drive("flush.img", cached())) {
            ByteBuffer data = SsdTest.pattern(8192, 5);
            assertEquals(IoStatus.OK, ssd.write(0, data));
            assertEquals(IoStatus.OK, ssd.write(8192, data.clear()));
            assertEquals(2, ssd.unflushedWrites());
            assertEquals(16384, ssd.unflushedBytes());
            assertEquals(IoStatus.OK, ssd.flush());
            assertEquals(0, ssd.unflushedWrites());
            PowerCutSummary cut = ssd.powerCut(7);
            assertEquals(new PowerCutSummary(1, 0, 0, 0, 0, 0, 0), cut);
            assertArrayEquals(SsdTest.bytes(data), readBytes(ssd, 8192, 8192), "flushed data survived the cut");

            assertEquals(IoStatus.OK, ssd.write(0, data.clear()));
            ssd.fail();
            assertEquals(IoStatus.DEVICE_FAILED, ssd.flush());
            assertEquals(1, ssd.unflushedWrites(), "a flush that failed covers nothing");
        }
    }

    // ---------------------------------------------------------------- keep, drop, tear

    @Test
    void keepDropAndTearAreEachSeenOverSeeds() throws IOException {
        int[] seen = new int[3];
        try (Ssd ssd = drive("fates.img", cached())) {
            for (long seed = 0; seed < 60; seed++) {
                byte[] before = randomBytes(new SplittableRandom(seed), 8192);
                byte[] after = randomBytes(new SplittableRandom(~seed), 8192);
                assertEquals(IoStatus.OK, ssd.write(4096, buffer(before)));
                assertEquals(IoStatus.OK, ssd.flush());
                assertEquals(IoStatus.OK, ssd.write(4096, buffer(after)));
                PowerCutSummary cut = ssd.powerCut(seed);
                byte[] now = readBytes(ssd, 4096, 8192);
                int keptSectors = persistedPrefixSectors(now, after, before, seed);
                assertEquals((long) keptSectors * Ssd.SECTOR_BYTES, cut.bytesKept(), "seed=" + seed + " " + cut);
                assertEquals(8192 - cut.bytesKept(), cut.bytesLost(), "seed=" + seed + " " + cut);
                if (keptSectors == 16) {
                    assertEquals(1, cut.writesKept(), "seed=" + seed + " " + cut);
                    seen[0]++;
                } else if (keptSectors == 0) {
                    assertEquals(1, cut.writesDropped(), "seed=" + seed + " " + cut);
                    seen[1]++;
                } else {
                    assertEquals(1, cut.writesTorn(), "seed=" + seed + " " + cut);
                    seen[2]++;
                }
            }
        }
        System.out.println("kept=" + seen[0] + " dropped=" + seen[1] + " torn=" + seen[2]);
        assertTrue(
                seen[0] > 0 && seen[1] > 0 && seen[2] > 0,
                "kept/dropped/torn " + seen[0] + "/" + seen[1] + "/" + seen[2]);
    }

    /**
     * A torn write that reported OK ({@link FaultInjector#tornWrite}, silent) is recorded like any OK
     * write, with all the bytes it was given to overwrite: whatever the cut decides, the cell range
     * holds a prefix of the write's sectors and the old bytes after it.
     */
    @Test
    void aSilentTornWriteIsRecordedLikeAnyOtherOkWrite() throws IOException {
        FaultInjector injector = new FaultInjector(5, clock, events::add);
        try (Ssd ssd = drive("torn.img", cached())) {
            for (long seed = 0; seed < 20; seed++) {
                byte[] before = randomBytes(new SplittableRandom(seed), 8192);
                byte[] after = randomBytes(new SplittableRandom(~seed), 8192);
                assertEquals(IoStatus.OK, ssd.write(0, buffer(before)));
                assertEquals(IoStatus.OK, ssd.flush());
                injector.tornWrite(ssd, false);
                assertEquals(IoStatus.OK, ssd.write(0, buffer(after)), "seed=" + seed);
                assertEquals(1, ssd.unflushedWrites(), "seed=" + seed);
                PowerCutSummary cut = ssd.powerCut(seed);
                int kept = persistedPrefixSectors(readBytes(ssd, 0, 8192), after, before, seed);
                assertTrue(kept * Ssd.SECTOR_BYTES <= cut.bytesKept(), "seed=" + seed + " kept=" + kept + " " + cut);
            }
        }
    }

    /** Sectors {@code [0, n)} hold {@code after} and the rest {@code before}; fails if the bytes are anything else. */
    private static int persistedPrefixSectors(byte[] now, byte[] after, byte[] before, long seed) {
        int sectors = now.length / Ssd.SECTOR_BYTES;
        int n = 0;
        while (n < sectors && sectorEquals(now, after, n)) {
            n++;
        }
        for (int s = n; s < sectors; s++) {
            if (!sectorEquals(now, before, s)) {
                fail("seed=" + seed + " sector " + s + " is neither the write's nor the old bytes past a prefix of "
                        + n);
            }
        }
        return n;
    }

    private static boolean sectorEquals(byte[] a, byte[] b, int sector) {
        int from = sector * Ssd.SECTOR_BYTES;
        return java.util.Arrays.equals(a, from, from + Ssd.SECTOR_BYTES, b, from, from + Ssd.SECTOR_BYTES);
    }

    // ---------------------------------------------------------------- overlap

    /**
     * Random overlapping writes, then a cut; the result is checked sector by sector against a model
     * built forwards (apply each write's persisted prefix in issue order over the flushed bytes), from
     * the decisions the cut draws, newest first ({@link VolatileWriteCache#keptSectors}).
     */
    @Test
    void overlappingWritesComeOutRightPerSector() throws IOException {
        try (Ssd ssd = drive("overlap.img", cached())) {
            for (long seed = 1; seed <= 80; seed++) {
                SplittableRandom workload = new SplittableRandom(seed);
                byte[] expected = randomBytes(workload, (int) CAPACITY);
                assertEquals(IoStatus.OK, ssd.write(0, buffer(expected)));
                assertEquals(IoStatus.OK, ssd.flush());
                List<long[]> writes = new ArrayList<>(); // {offset}
                List<byte[]> datas = new ArrayList<>();
                int count = workload.nextInt(1, 20);
                for (int w = 0; w < count; w++) {
                    int cell = workload.nextInt(CELLS);
                    int cells = workload.nextInt(1, Math.min(4, CELLS - cell) + 1);
                    byte[] data = randomBytes(workload, cells * Ssd.CELL_BYTES);
                    assertEquals(IoStatus.OK, ssd.write((long) cell * Ssd.CELL_BYTES, buffer(data)), "seed=" + seed);
                    writes.add(new long[] {(long) cell * Ssd.CELL_BYTES});
                    datas.add(data);
                }
                long cutSeed = seed * 1_000_003L;
                int[] kept = replayDecisions(cutSeed, datas);
                for (int w = 0; w < count; w++) { // forwards: a newer persisted sector overwrites an older one
                    System.arraycopy(datas.get(w), 0, expected, (int) writes.get(w)[0], kept[w] * Ssd.SECTOR_BYTES);
                }
                PowerCutSummary cut = ssd.powerCut(cutSeed);
                assertEquals(count, cut.writes(), "seed=" + seed + " " + cut);
                assertSectorsEqual(expected, readBytes(ssd, 0, (int) CAPACITY), "seed=" + seed + " " + cut);
            }
        }
    }

    static int[] replayDecisions(long cutSeed, List<byte[]> datas) {
        SplittableRandom random = new SplittableRandom(cutSeed);
        int[] kept = new int[datas.size()];
        for (int w = datas.size() - 1; w >= 0; w--) {
            kept[w] = VolatileWriteCache.keptSectors(random, datas.get(w).length / Ssd.SECTOR_BYTES);
        }
        return kept;
    }

    private static void assertSectorsEqual(byte[] expected, byte[] actual, String context) {
        for (int s = 0; s < expected.length / Ssd.SECTOR_BYTES; s++) {
            if (!sectorEquals(expected, actual, s)) {
                fail(context + " sector=" + s + " cell=" + s / 8 + " differs from the forward model");
            }
        }
    }

    // ---------------------------------------------------------------- determinism

    @Test
    void sameWritesAndSeedGiveTheSameBytes() throws IOException {
        String first = null;
        boolean anotherSeedDiffers = false;
        for (long seed = 11; seed < 16; seed++) {
            List<String> digests = new ArrayList<>();
            for (int run = 0; run < 2; run++) {
                Path file = dir.resolve("det-" + seed + "-" + run + ".img");
                try (Ssd ssd = Ssd.create(file, 0, CAPACITY, UUID_A, cached())) {
                    PowerCutSummary cut = workloadThenCut(ssd, 99, seed);
                    digests.add(cut + " sha256=" + sha256(file));
                }
            }
            assertEquals(digests.get(0), digests.get(1), "seed=" + seed + ": two runs differ");
            System.out.println("seed=" + seed + " " + digests.get(0));
            if (first == null) {
                first = digests.get(0);
            } else if (!first.equals(digests.get(0))) {
                anotherSeedDiffers = true;
            }
        }
        assertTrue(anotherSeedDiffers, "the cut's seed changes nothing: " + first);
    }

    /** {@link #issueWorkload}, then a cut with {@code cutSeed}. */
    static PowerCutSummary workloadThenCut(Ssd ssd, long workloadSeed, long cutSeed) throws IOException {
        issueWorkload(ssd, workloadSeed);
        return ssd.powerCut(cutSeed);
    }

    /**
     * 24 overlapping writes with a flush after the twelfth, so 12 stay unflushed; the same
     * {@code workloadSeed} issues the same I/O.
     */
    static void issueWorkload(Ssd ssd, long workloadSeed) {
        SplittableRandom workload = new SplittableRandom(workloadSeed);
        for (int w = 0; w < 24; w++) {
            int cell = workload.nextInt(CELLS - 2);
            byte[] data = randomBytes(workload, workload.nextInt(1, 3) * Ssd.CELL_BYTES);
            if (ssd.write((long) cell * Ssd.CELL_BYTES, buffer(data)) != IoStatus.OK) {
                throw new AssertionError("write failed w=" + w + " seed=" + workloadSeed);
            }
            if (w == 11 && ssd.flush() != IoStatus.OK) {
                throw new AssertionError("flush failed seed=" + workloadSeed);
            }
        }
    }

    // ---------------------------------------------------------------- cap

    @Test
    void theCapIsValidatedAtStart() {
        SsdOptions base = SsdOptions.simulated(clock, events::add);
        for (long bad : new long[] {-1, 4096, Ssd.IO_BYTES_MAX + 100, SsdOptions.VOLATILE_CACHE_BYTES_MAX + 4096}) {
            IllegalArgumentException e =
                    assertThrows(IllegalArgumentException.class, () -> base.withVolatileCache(bad), "bytes=" + bad);
            assertTrue(e.getMessage().contains("volatile_cache_bytes_max=" + bad), e.getMessage());
        }
        assertEquals(Ssd.IO_BYTES_MAX, base.withVolatileCache(Ssd.IO_BYTES_MAX).volatileCacheBytesMax());
        assertEquals(CACHE_BYTES, cached().withMode(IoMode.BUFFERED).volatileCacheBytesMax(), "withMode keeps it");
    }

    /**
     * Past the cap the oldest writes are treated as flushed: they persist whatever the seed, are
     * counted in the summary and logged once per flush interval; the newest cap's worth is cut.
     */
    @Test
    void pastTheCapTheOldestWritesCountAsFlushed() throws IOException {
        int cacheCells = (int) (CACHE_BYTES / Ssd.CELL_BYTES);
        int writes = cacheCells + 44;
        try (Ssd ssd = Ssd.create(dir.resolve("cap.img"), 0, 2L << 20, UUID_A, cached())) {
            for (long seed = 1; seed <= 3; seed++) {
                for (int w = 0; w < writes; w++) {
                    assertEquals(IoStatus.OK, ssd.write((long) w * Ssd.CELL_BYTES, SsdTest.pattern(4096, (int) seed)));
                }
                assertEquals(cacheCells, ssd.unflushedWrites(), "seed=" + seed);
                assertEquals(CACHE_BYTES, ssd.unflushedBytes(), "seed=" + seed);
                PowerCutSummary cut = ssd.powerCut(seed);
                assertEquals(44, cut.writesEvicted(), "seed=" + seed + " " + cut);
                assertEquals(cacheCells, cut.writes(), "seed=" + seed + " " + cut);
                byte[] evicted = readBytes(ssd, 0, 44 * Ssd.CELL_BYTES);
                for (int c = 0; c < 44; c++) {
                    assertArrayEquals(
                            SsdTest.bytes(SsdTest.pattern(4096, (int) seed)),
                            java.util.Arrays.copyOfRange(evicted, c * 4096, (c + 1) * 4096),
                            "seed=" + seed + " evicted cell " + c + " persisted");
                }
            }
            for (int w = 0; w < writes; w++) {
                assertEquals(IoStatus.OK, ssd.write((long) w * Ssd.CELL_BYTES, SsdTest.pattern(4096, 9)));
            }
            assertEquals(IoStatus.OK, ssd.flush());
            assertEquals(new PowerCutSummary(1, 0, 0, 0, 0, 0, 0), ssd.powerCut(4), "a flush resets the count");
        }
        long overflows = events.stream()
                .filter(l -> l.contains("event=ssd_volatile_cache_overflow"))
                .count();
        assertEquals(4, overflows, "logged once per flush interval: " + events);
    }

    // ---------------------------------------------------------------- helpers

    static byte[] randomBytes(SplittableRandom random, int n) {
        byte[] b = new byte[n];
        random.nextBytes(b);
        return b;
    }

    static ByteBuffer buffer(byte[] data) {
        ByteBuffer b = Ssd.allocateAligned(data.length);
        b.put(0, data);
        return b;
    }

    static byte[] readBytes(Ssd ssd, long offset, int length) {
        ByteBuffer dst = Ssd.allocateAligned(length);
        assertEquals(IoStatus.OK, ssd.read(offset, dst), "read offset=" + offset + " slot=" + ssd.slot());
        return SsdTest.bytes(dst);
    }

    static String sha256(Path file) throws IOException {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void aClosedDriveRefusesACut() throws IOException {
        Ssd ssd = drive("closed.img", cached());
        ssd.close();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> ssd.powerCut(1));
        assertTrue(e.getMessage().contains("seed=1"), e.getMessage());
    }
}
