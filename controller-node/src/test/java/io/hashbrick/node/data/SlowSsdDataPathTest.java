package io.hashbrick.node.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.hashbrick.node.Controller;
import io.hashbrick.node.block.IoStatus;
import io.hashbrick.node.volume.VolumeRef;
import io.hashbrick.sim.FaultInjector;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A data path with one SSD slowed to 50 ms per command, in real time (the node's {@code SsdOptions}):
 * host I/O that needs no new block on the SSDs goes on while destage and checkpoints run, and once the
 * store has found the drive slow, nothing is written to it until it is fast again. The only timing
 * assertions are generous bounds (seconds) on single operations and waits.
 */
class SlowSsdDataPathTest {
    static final DataPath.Config CONFIG = new DataPath.Config(8, 64L << 20, 8L << 20, 60_000, 16L << 20);
    static final int SLOW = 2;
    static final long LATENCY_NS = TimeUnit.MILLISECONDS.toNanos(50);
    /** Any one host I/O, or any wait for the data path to notice something, must end within this. */
    static final long BOUND_NS = TimeUnit.SECONDS.toNanos(10);

    @TempDir
    Path dir;

    @Test
    void duplicateWritesAndCachedReadsGoOnWhileDestageWritesAroundASlowSsd() throws Exception {
        long seed = Long.getLong("seed", System.nanoTime());
        Random r = new Random(seed);
        try (Controller dp = Controller.open(dir, CONFIG, List.of(new VolumeRef(1, 65536)))) {
            ByteBuffer[] cached = new ByteBuffer[256];
            for (int i = 0; i < cached.length; i++) {
                cached[i] = DataPathTest.random(r, 1, i % 2 == 0);
                assertEquals(IoStatus.OK, Host.write(dp, 1, i, 1, cached[i].duplicate()), "seed=" + seed);
            }
            dp.checkpoint(); // destaged: the read cache holds them
            ByteBuffer dup = DataPathTest.random(r, 1, true);
            assertEquals(IoStatus.OK, Host.write(dp, 1, 512, 1, dup.duplicate()));

            FaultInjector faults = new FaultInjector(seed);
            faults.slow(dp.data().dae().slot(SLOW), LATENCY_NS);
            UniqueWriter writer = new UniqueWriter(dp, seed);
            writer.start();
            // Duplicates and cached reads while destage and checkpoints run into the slow SSD, until the
            // store has found it slow (its new stripes, then, leave it out), and for a second more.
            ByteBuffer out = ByteBuffer.allocateDirect(4096);
            long found = 0;
            long ops = 0;
            long start = System.nanoTime();
            while (found == 0 || System.nanoTime() - found < TimeUnit.SECONDS.toNanos(1)) {
                assertTrue(System.nanoTime() - start < BOUND_NS, "slow SSD not found in 10 s seed=" + seed);
                long t0 = System.nanoTime();
                int i = (int) (ops % cached.length);
                assertEquals(IoStatus.OK, Host.write(dp, 1, 512 + i % 64, 1, dup.duplicate()), "seed=" + seed);
                out.clear();
                assertEquals(IoStatus.OK, Host.read(dp, 1, i, 1, out), "seed=" + seed);
                assertEquals(cached[i].duplicate().rewind(), out.flip(), "block=" + i + " seed=" + seed);
                long took = System.nanoTime() - t0;
                assertTrue(took < BOUND_NS, "a duplicate write and a cached read took " + took / 1_000_000 + " ms");
                ops++;
                if (found == 0
                        && ops % 64 == 0
                        && String.valueOf(SLOW).equals(dp.stats().get("ssds_slow"))) {
                    found = System.nanoTime();
                }
            }
            writer.check();
            assertTrue(writer.blocks.get() > 0, "unique writes went on");
            assertEquals(CONFIG.ssds() - 1, dp.stats().get("stripe_width_new"), "new stripes leave the slow SSD out");

            // Written around: once the stripe open when it was found is sealed, destage and checkpoints
            // write nothing to the slow SSD (probes only read it).
            dp.checkpoint();
            long writesBefore = dp.data().dae().slot(SLOW).counters().writes();
            long blocksBefore = writer.blocks.get();
            waitFor(() -> writer.blocks.get() > blocksBefore + 2000, "unique writes go on", seed);
            dp.checkpoint();
            writer.check();
            assertEquals(
                    writesBefore,
                    dp.data().dae().slot(SLOW).counters().writes(),
                    "destage and checkpoint wrote to the slow SSD seed=" + seed);

            faults.clearSlow(dp.data().dae().slot(SLOW));
            waitFor(() -> "".equals(dp.stats().get("ssds_slow")), "fast again (probes)", seed);
            writer.stop();
            dp.checkpoint();
            assertEquals(CONFIG.ssds(), dp.stats().get("stripe_width_new"));
            assertTrue(
                    dp.data().dae().slot(SLOW).counters().writes() > writesBefore, "written to again after it healed");
            for (int i = 0; i < cached.length; i++) {
                out.clear();
                assertEquals(IoStatus.OK, Host.read(dp, 1, i, 1, out), "seed=" + seed);
                assertEquals(cached[i].duplicate().rewind(), out.flip(), "block=" + i + " seed=" + seed);
            }
            assertEquals(0, dp.audit(true).discrepancies(), "seed=" + seed);
        }
    }

    /** With no read cache, a block on the slow SSD is rebuilt from the rest of its row, and verifies. */
    @Test
    void readsOfBlocksOnASlowSsdAreRebuiltFromTheirRow() throws Exception {
        long seed = Long.getLong("seed", System.nanoTime());
        Random r = new Random(seed);
        DataPath.Config noCache = new DataPath.Config(8, 64L << 20, 8L << 20, 60_000, 0);
        try (Controller dp = Controller.open(dir, noCache, List.of(new VolumeRef(1, 1024)))) {
            ByteBuffer[] data = new ByteBuffer[400];
            for (int i = 0; i < data.length; i++) {
                data[i] = DataPathTest.random(r, 1, i % 3 == 0);
                assertEquals(IoStatus.OK, Host.write(dp, 1, i, 1, data[i].duplicate()), "seed=" + seed);
            }
            dp.checkpoint(); // on the SSDs
            new FaultInjector(seed).slow(dp.data().dae().slot(SLOW), LATENCY_NS);
            long start = System.nanoTime();
            while (!String.valueOf(SLOW).equals(dp.stats().get("ssds_slow"))) { // its own reads show it slow
                assertTrue(System.nanoTime() - start < BOUND_NS, "slow SSD not found in 10 s seed=" + seed);
                DataPathTest.verify(dp, data, seed);
            }
            long around = (long) dp.stats().get("reads_around_slow_ssd");
            DataPathTest.verify(dp, data, seed);
            assertTrue(
                    (long) dp.stats().get("reads_around_slow_ssd") > around,
                    "reads went around the slow SSD seed=" + seed);
            assertEquals(0L, dp.stats().get("unrecoverable_reads"), "seed=" + seed);
        }
    }

    private static void waitFor(BooleanSupplier condition, String what, long seed) throws InterruptedException {
        long start = System.nanoTime();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - start > BOUND_NS) {
                fail("not within 10 s: " + what + " seed=" + seed);
            }
            Thread.sleep(10);
        }
    }

    /** Writes unique blocks, 8 at a time, over 8192 blocks of the volume, until stopped. */
    private static final class UniqueWriter {
        final AtomicLong blocks = new AtomicLong();
        private final AtomicBoolean stop = new AtomicBoolean();
        private final AtomicReference<Throwable> failure = new AtomicReference<>();
        private final Thread thread;

        UniqueWriter(Controller dp, long seed) {
            this.thread = new Thread(
                    () -> {
                        Random r = new Random(seed + 1);
                        try {
                            for (long i = 0; !stop.get(); i++) {
                                ByteBuffer b = DataPathTest.random(r, 8, i % 2 == 0);
                                IoStatus s = Host.write(dp, 1, 1024 + (i * 8) % 8192, 8, b);
                                if (s != IoStatus.OK) {
                                    throw new AssertionError("unique write: " + s + " seed=" + seed);
                                }
                                blocks.addAndGet(8);
                            }
                        } catch (Throwable t) {
                            failure.set(t);
                        }
                    },
                    "unique-writer");
        }

        void start() {
            thread.start();
        }

        void check() {
            Throwable t = failure.get();
            if (t != null) {
                throw new AssertionError("the unique writer failed", t);
            }
        }

        void stop() throws InterruptedException {
            stop.set(true);
            thread.join(TimeUnit.NANOSECONDS.toMillis(BOUND_NS));
            assertTrue(!thread.isAlive(), "the unique writer did not stop within 10 s");
            check();
        }
    }
}
