package io.hashbrick.node.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hashbrick.node.Controller;
import io.hashbrick.node.block.IoStatus;
import io.hashbrick.node.volume.VolumeRef;
import io.hashbrick.sim.FaultInjector;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A checkpoint captures its sections under the data path's lock and writes them to the metadata area
 * after it (issue 16 item 4: no lock across SSD I/O): with every SSD taking 100 ms a command, host
 * writes go on while a checkpoint spends seconds writing, none of them waiting for one SSD command.
 * (Before: each waited for the whole capture and commit, 3 copies of each chunk and the flushes.)
 */
class CheckpointLockTest {
    static final long LATENCY_NS = TimeUnit.MILLISECONDS.toNanos(100);

    @TempDir
    Path dir;

    @Test
    @Timeout(120)
    void hostWritesDoNotWaitForTheCheckpointsMetadataWrites() throws Exception {
        long seed = Long.getLong("seed", System.nanoTime());
        Random r = new Random(seed);
        try (Controller dp = Controller.open(dir, DataPathTest.SMALL, List.of(new VolumeRef(1, 4096)))) {
            for (int i = 0; i < 64; i++) {
                assertEquals(IoStatus.OK, Host.write(dp, 1, i, 1, DataPathTest.random(r, 1, false)), "seed=" + seed);
            }
            dp.checkpoint();
            FaultInjector faults = new FaultInjector(seed);
            for (int s = 0; s < DataPathTest.SMALL.ssds(); s++) {
                faults.slow(dp.data().dae().slot(s), LATENCY_NS); // all alike: none is "the slow one"
            }
            for (int i = 64; i < 128; i++) { // a checkpoint with something to write
                assertEquals(IoStatus.OK, Host.write(dp, 1, i, 1, DataPathTest.random(r, 1, false)), "seed=" + seed);
            }
            long before = (Long) dp.stats().get("checkpoints");
            CompletableFuture<Void> checkpoint = CompletableFuture.runAsync(() -> {
                try {
                    dp.checkpoint();
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            // Duplicates of a few blocks, a thousand a second: the journal does not fill and make a write
            // wait for the checkpoint to release it (that wait is the journal's capacity, not a lock).
            ByteBuffer[] few = new ByteBuffer[32];
            for (int i = 0; i < few.length; i++) {
                few[i] = DataPathTest.random(r, 1, false);
            }
            long slowestNs = 0;
            int writes = 0;
            while (!checkpoint.isDone()) {
                ByteBuffer b = few[writes % few.length].duplicate();
                long t0 = System.nanoTime();
                assertEquals(IoStatus.OK, Host.write(dp, 1, 128 + (writes % 1024), 1, b), "seed=" + seed);
                slowestNs = Math.max(slowestNs, System.nanoTime() - t0);
                writes++;
                Thread.sleep(1); // a host's pace: the journal keeps room (a park may return at once: a permit left)
            }
            checkpoint.join();
            assertTrue((Long) dp.stats().get("checkpoints") > before, "no checkpoint counted");
            long checkpointMs = (Long) dp.stats().get("checkpoint_last_ms");
            System.out.println("checkpoint_lock event=measured seed=" + seed + " checkpoint_ms=" + checkpointMs
                    + " host_writes_during=" + writes + " slowest_write_us=" + slowestNs / 1000
                    + " locked_us_max=" + dp.stats().get("checkpoint_locked_us_max"));
            assertTrue(checkpointMs >= 3 * LATENCY_NS / 1_000_000, "the checkpoint did not wait for the SSDs");
            assertTrue(writes > 1, "no host write ran during the checkpoint: seed=" + seed);
            assertTrue(
                    slowestNs < LATENCY_NS * 3 / 4,
                    "a host write waited for the checkpoint's SSD I/O: slowest_us=" + slowestNs / 1000 + " seed="
                            + seed);
            for (int s = 0; s < DataPathTest.SMALL.ssds(); s++) {
                faults.clearSlow(dp.data().dae().slot(s));
            }
        }
    }
}
