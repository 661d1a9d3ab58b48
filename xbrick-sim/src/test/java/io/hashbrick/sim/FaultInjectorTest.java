package io.hashbrick.sim;

import static io.hashbrick.sim.SsdTest.bytes;
import static io.hashbrick.sim.SsdTest.pattern;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.stream.LongStream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Each fault kind, over a fixed list of seeds plus {@code -Dseed=N}. A failure names its seed; rerun
 * with {@code mvn -o test -pl xbrick-sim -Dtest=FaultInjectorTest -Dseed=N} to replay it.
 */
class FaultInjectorTest {
    private static final int SLOTS = 5;
    private static final long CAPACITY = 64 * 1024;
    private static final int CELLS = (int) (CAPACITY / Ssd.CELL_BYTES);

    @TempDir
    Path dir;

    private final List<String> events = new ArrayList<>();
    private final ManualClock clock = new ManualClock(0);

    static LongStream seeds() {
        Long asked = Long.getLong("seed");
        return asked != null ? LongStream.of(asked) : LongStream.of(1, 2, 3, 0x5EED, 0xC0FFEE, -7);
    }

    interface Body {
        void run() throws Exception;
    }

    /** Runs the body and, if it fails, says which seed to replay. */
    static void withSeed(long seed, Body body) throws Exception {
        try {
            body.run();
        } catch (AssertionError | Exception e) {
            throw new AssertionError("failed with seed=" + seed + " (replay: -Dseed=" + seed + ")", e);
        }
    }

    private Dae shelf(Path where) throws IOException {
        return Dae.open(where, SLOTS, CAPACITY, 99, SsdOptions.simulated(clock, events::add));
    }

    private FaultInjector injector(long seed) {
        return new FaultInjector(seed, clock, events::add);
    }

    /** Fills every cell of a drive with a pattern unique to (slot, cell), so any change is visible. */
    private static void fill(Ssd ssd) {
        for (int cell = 0; cell < CELLS; cell++) {
            assertEquals(IoStatus.OK, ssd.write((long) cell * Ssd.CELL_BYTES, pattern(4096, ssd.slot() * 1000 + cell)));
        }
    }

    @ParameterizedTest
    @MethodSource("seeds")
    void latentErrorFailsReadsUntilTheCellIsRewritten(long seed) throws Exception {
        withSeed(seed, () -> {
            try (Dae dae = shelf(dir)) {
                FaultEvent e = injector(seed).inject(dae, FaultKind.LATENT_ERROR);
                Ssd ssd = dae.slot(e.slot());
                long offset = e.cell() * Ssd.CELL_BYTES;
                ByteBuffer one = Ssd.allocateAligned(4096);
                assertEquals(IoStatus.MEDIUM_ERROR, ssd.read(offset, one));
                assertEquals(0, one.position());
                long rangeStart = Math.max(0, offset - 4096);
                ByteBuffer range = Ssd.allocateAligned((int) Math.min(12288, CAPACITY - rangeStart));
                assertEquals(IoStatus.MEDIUM_ERROR, ssd.read(rangeStart, range), "a range covering the cell");
                long neighbour = e.cell() == 0 ? 4096 : offset - 4096;
                assertEquals(IoStatus.OK, ssd.read(neighbour, one.clear()), "other cells read fine");
                assertEquals(2, ssd.counters().mediumErrors());
                assertEquals(Health.OK, ssd.health(), "a latent error does not fail the drive");

                assertEquals(IoStatus.OK, ssd.write(offset, pattern(4096, 77)));
                assertEquals(IoStatus.OK, ssd.read(offset, one.clear()), "rewriting the cell clears it");
                assertArrayEquals(bytes(pattern(4096, 77)), bytes(one));
            }
        });
    }

    @ParameterizedTest
    @MethodSource("seeds")
    void bitFlipChangesExactlyOneBitAndReadsStillSucceed(long seed) throws Exception {
        withSeed(seed, () -> {
            try (Dae dae = shelf(dir)) {
                for (int i = 0; i < SLOTS; i++) {
                    fill(dae.slot(i));
                }
                FaultEvent e = injector(seed).inject(dae, FaultKind.BIT_FLIP);
                Ssd ssd = dae.slot(e.slot());
                ByteBuffer got = Ssd.allocateAligned(4096);
                assertEquals(IoStatus.OK, ssd.read(e.cell() * Ssd.CELL_BYTES, got), "silent: the read succeeds");
                byte[] expected = bytes(pattern(4096, ssd.slot() * 1000 + (int) e.cell()));
                byte[] actual = bytes(got);
                int differing = 0;
                for (int i = 0; i < 4096; i++) {
                    differing += Integer.bitCount((expected[i] ^ actual[i]) & 0xFF);
                }
                assertEquals(1, differing, "one bit differs");
                assertEquals(1 << (e.bit() & 7), (expected[e.bit() >>> 3] ^ actual[e.bit() >>> 3]) & 0xFF);
                assertEquals(0, ssd.counters().errors(), "nothing counts a silent corruption");
            }
        });
    }

    @ParameterizedTest
    @MethodSource("seeds")
    void tornWriteThatFailsTheDriveKeepsASectorPrefix(long seed) throws Exception {
        withSeed(seed, () -> {
            try (Dae dae = shelf(dir)) {
                FaultEvent e = injector(seed).inject(dae, FaultKind.TORN_WRITE_FAIL);
                Ssd ssd = dae.slot(e.slot());
                fillRaw(ssd, (byte) 0x11);
                ByteBuffer src = pattern(32768, 3); // 8 cells, 64 sectors
                assertEquals(IoStatus.DEVICE_FAILED, ssd.write(8192, src));
                assertEquals(0, src.position(), "a failed write leaves the buffer alone");
                assertEquals(Health.FAILED, ssd.health());
                int kept = (int) (e.value() % 64) * Ssd.SECTOR_BYTES;
                assertPrefix(ssd, 8192, bytes(pattern(32768, 3)), kept, (byte) 0x11);
                assertTrue(
                        events.stream()
                                .anyMatch(l -> l.contains("event=fault_fired")
                                        && l.contains("kept_bytes=" + kept)
                                        && l.contains("outcome=drive_failed")),
                        events.toString());
            }
        });
    }

    @ParameterizedTest
    @MethodSource("seeds")
    void silentTornWriteReportsOkAndKeepsASectorPrefix(long seed) throws Exception {
        withSeed(seed, () -> {
            try (Dae dae = shelf(dir)) {
                FaultEvent e = injector(seed).inject(dae, FaultKind.TORN_WRITE_SILENT);
                Ssd ssd = dae.slot(e.slot());
                fillRaw(ssd, (byte) 0x22);
                ByteBuffer src = pattern(8192, 4); // 2 cells, 16 sectors: often ends mid-cell
                assertEquals(IoStatus.OK, ssd.write(0, src));
                assertEquals(Health.OK, ssd.health());
                int kept = (int) (e.value() % 16) * Ssd.SECTOR_BYTES;
                ByteBuffer back = Ssd.allocateAligned(8192);
                assertEquals(IoStatus.OK, ssd.read(0, back));
                byte[] expected = bytes(pattern(8192, 4));
                byte[] actual = bytes(back);
                for (int i = 0; i < 8192; i++) {
                    assertEquals(i < kept ? expected[i] : 0x22, actual[i], "byte " + i + " kept=" + kept);
                }
                assertEquals(IoStatus.OK, ssd.write(0, pattern(8192, 4)), "one-shot: the next write is whole");
                assertEquals(IoStatus.OK, ssd.read(0, back.clear()));
                assertArrayEquals(expected, bytes(back));
            }
        });
    }

    /**
     * A slow drive's reads and writes count their time in its service counter (what a controller
     * measures it by); a flush waits too but is not counted; healed, its commands add nothing more.
     */
    @ParameterizedTest
    @MethodSource("seeds")
    void slowDriveCountsItsServiceTimeAndSlowsItsFlushes(long seed) throws Exception {
        withSeed(seed, () -> {
            try (Dae dae = shelf(dir)) {
                FaultInjector faults = injector(seed);
                FaultEvent e = faults.inject(dae, FaultKind.SLOW);
                Ssd ssd = dae.slot(e.slot());
                assertEquals(e.value(), ssd.injectedLatencyNs());
                assertEquals(IoStatus.OK, ssd.write(0, pattern(4096, 1)));
                assertEquals(e.value(), ssd.counters().serviceNs());
                long before = clock.nanoTime();
                assertEquals(IoStatus.OK, ssd.flush());
                assertEquals(e.value(), clock.nanoTime() - before, "the flush waited too");
                assertEquals(e.value(), ssd.counters().serviceNs(), "but is not counted");
                assertEquals(IoStatus.OK, ssd.read(0, Ssd.allocateAligned(4096)));
                assertEquals(2 * e.value(), ssd.counters().serviceNs());
                faults.clearSlow(ssd);
                assertEquals(0, ssd.injectedLatencyNs());
                assertEquals(IoStatus.OK, ssd.read(0, Ssd.allocateAligned(4096)));
                assertEquals(2 * e.value(), ssd.counters().serviceNs(), "fast again");
                assertEquals(3, ssd.counters().reads() + ssd.counters().writes());
                Ssd other = dae.slot((e.slot() + 1) % SLOTS);
                assertEquals(IoStatus.OK, other.read(0, Ssd.allocateAligned(4096)));
                assertEquals(0, other.counters().serviceNs(), "others untouched");
                assertEquals("", dae.injectedLatencySummary());
                faults.slow(ssd, 2_500_000L);
                faults.slow(other, 100_000_000L);
                String expected = e.slot() < other.slot()
                        ? e.slot() + "=2.5," + other.slot() + "=100"
                        : other.slot() + "=100," + e.slot() + "=2.5";
                assertEquals(expected, dae.injectedLatencySummary());
            }
        });
    }

    @ParameterizedTest
    @MethodSource("seeds")
    void slowDriveSpendsVirtualTimeNotRealTime(long seed) throws Exception {
        withSeed(seed, () -> {
            try (Dae dae = shelf(dir)) {
                FaultInjector faults = injector(seed);
                FaultEvent e = faults.inject(dae, FaultKind.SLOW);
                assertTrue(
                        e.value() >= FaultInjector.SLOW_LATENCY_NS_MIN
                                && e.value() <= FaultInjector.SLOW_LATENCY_NS_MAX,
                        e.toString());
                Ssd ssd = dae.slot(e.slot());
                long before = clock.nanoTime();
                assertEquals(IoStatus.OK, ssd.write(0, pattern(4096, 1)));
                assertEquals(IoStatus.OK, ssd.read(0, Ssd.allocateAligned(4096)));
                assertEquals(2 * e.value(), clock.nanoTime() - before);
                faults.clearSlow(ssd);
                assertEquals(IoStatus.OK, ssd.read(0, Ssd.allocateAligned(4096)));
                assertEquals(2 * e.value(), clock.nanoTime() - before, "fast again");
                Ssd other = dae.slot((e.slot() + 1) % SLOTS);
                assertEquals(IoStatus.OK, other.read(0, Ssd.allocateAligned(4096)));
                assertEquals(2, clock.sleeps(), "only the slow drive slept");
            }
        });
    }

    @ParameterizedTest
    @MethodSource("seeds")
    void failAndPullHitADriveThatWasOk(long seed) throws Exception {
        withSeed(seed, () -> {
            try (Dae dae = shelf(dir)) {
                FaultInjector faults = injector(seed);
                FaultEvent failed = faults.inject(dae, FaultKind.FAIL);
                FaultEvent pulled = faults.inject(dae, FaultKind.PULL);
                assertNotEquals(failed.slot(), pulled.slot(), "a fault only hits a drive that is OK");
                assertEquals(Health.FAILED, dae.health(failed.slot()));
                assertEquals(Health.PULLED, dae.health(pulled.slot()));
                assertEquals(IoStatus.DEVICE_FAILED, dae.slot(failed.slot()).read(0, Ssd.allocateAligned(4096)));
                assertEquals(IoStatus.NOT_PRESENT, dae.slot(pulled.slot()).read(0, Ssd.allocateAligned(4096)));
                assertEquals(1, faults.count(FaultKind.FAIL));
                assertEquals(1, faults.count(FaultKind.PULL));
                for (int i = 0; i < SLOTS - 2; i++) {
                    faults.inject(dae, FaultKind.FAIL);
                }
                assertThrows(IllegalStateException.class, () -> faults.inject(dae, FaultKind.FAIL), "no OK drive left");
            }
        });
    }

    /** The whole point: a seed replays exactly. Another seed does something else. */
    @ParameterizedTest
    @MethodSource("seeds")
    void sameSeedSameFaults(long seed) throws Exception {
        withSeed(seed, () -> {
            List<String> first = scenario(seed, dir.resolve("a"));
            List<String> second = scenario(seed, dir.resolve("b"));
            assertTrue(first.size() > 10, first.toString());
            assertEquals(first, second);
            assertNotEquals(first, scenario(seed + 1, dir.resolve("c")));
        });
    }

    /** Random faults at every step of a random workload; returns the fault lines and final data checksum. */
    private List<String> scenario(long seed, Path where) throws IOException {
        events.clear();
        java.util.SplittableRandom work = new java.util.SplittableRandom(seed ^ 0xABCDL);
        EnumSet<FaultKind> kinds =
                EnumSet.of(FaultKind.LATENT_ERROR, FaultKind.BIT_FLIP, FaultKind.TORN_WRITE_SILENT, FaultKind.SLOW);
        ManualClock time = new ManualClock(0); // each run starts at virtual time 0
        try (Dae dae = Dae.open(where, SLOTS, CAPACITY, 99, SsdOptions.simulated(time, events::add))) {
            FaultInjector faults = new FaultInjector(seed, time, events::add);
            ByteBuffer buf = Ssd.allocateAligned(4096);
            List<String> outcome = new ArrayList<>();
            for (int step = 0; step < 200; step++) {
                faults.step(dae, 100_000, kinds);
                Ssd ssd = dae.slot(work.nextInt(SLOTS));
                long offset = (long) work.nextInt(CELLS) * Ssd.CELL_BYTES;
                IoStatus s =
                        work.nextBoolean() ? ssd.write(offset, pattern(4096, step)) : ssd.read(offset, buf.clear());
                outcome.add(step + ":" + s);
            }
            long sum = 0;
            for (int i = 0; i < SLOTS; i++) {
                for (int cell = 0; cell < CELLS; cell++) {
                    dae.slot(i).faults().clearLatent(cell, 1);
                    IoStatus read = dae.slot(i).read((long) cell * 4096, buf.clear());
                    if (read != IoStatus.OK) {
                        assertEquals(
                                IoStatus.OK,
                                read,
                                "slot=" + i + " cell=" + cell + " events="
                                        + events.stream()
                                                .filter(l -> !l.contains("fault_slow"))
                                                .toList());
                    }
                    sum = sum * 31 + java.util.Arrays.hashCode(bytes(buf));
                }
            }
            List<String> lines = new ArrayList<>(
                    events.stream().filter(l -> l.contains("event=fault_")).toList());
            lines.addAll(outcome);
            lines.add("checksum=" + sum + " faults=" + faults.total() + " t_ns=" + time.nanoTime());
            assertNotNull(lines);
            return lines;
        }
    }

    private static void fillRaw(Ssd ssd, byte value) throws IOException {
        try (FileChannel ch = FileChannel.open(ssd.file(), StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.allocate((int) CAPACITY);
            java.util.Arrays.fill(b.array(), value);
            ch.write(b, Ssd.HEADER_BYTES);
            ch.force(false);
        }
    }

    /** Reads the file directly (the drive is failed) and checks: new bytes up to kept, old after. */
    private static void assertPrefix(Ssd ssd, long offset, byte[] written, int kept, byte old) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(written.length);
        try (FileChannel ch = FileChannel.open(ssd.file(), StandardOpenOption.READ)) {
            Ssd.readFully(ch, Ssd.HEADER_BYTES + offset, b);
        }
        for (int i = 0; i < written.length; i++) {
            assertEquals(i < kept ? written[i] : old, b.get(i), "byte " + i + " kept=" + kept);
        }
    }
}
