package io.hashbrick.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** STYLE.md "Hot path": no allocation per I/O after warm-up, measured with the thread's allocation counter. */
class SsdAllocationTest {
    private static final int ROUNDS = 2_000;

    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(IoMode.class)
    void readWriteFlushAllocateNothingAfterWarmUp(IoMode mode) throws IOException {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        assumeTrue(threads.isThreadAllocatedMemorySupported());
        try (Ssd ssd = Ssd.create(
                dir.resolve("ssd.img"),
                0,
                256 * 1024,
                new UUID(1, 2),
                SsdOptions.simulated(new ManualClock(0), EventSink.NONE).withMode(mode))) {
            ByteBuffer buf = Ssd.allocateAligned(8192);
            run(ssd, buf); // warm-up: class loading, JIT, lazily created channel state
            long tid = Thread.currentThread().threadId();
            long before = threads.getThreadAllocatedBytes(tid);
            run(ssd, buf);
            long after = threads.getThreadAllocatedBytes(tid);
            // The counter itself may report a few hundred bytes of noise; per-I/O allocation would be
            // at least ROUNDS * 3 * 16 bytes.
            long perIo = (after - before) / (ROUNDS * 3L);
            System.out.println("mode=" + ssd.mode() + " allocated_bytes=" + (after - before) + " ios=" + ROUNDS * 3);
            assertEquals(0, perIo, "bytes allocated per I/O mode=" + ssd.mode() + " total=" + (after - before));
        }
    }

    /** The volatile write-cache model saves previous contents into its ring, allocated at open. */
    @Test
    void withTheVolatileCacheModelOnWritesAllocateNothingEither() throws IOException {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        assumeTrue(threads.isThreadAllocatedMemorySupported());
        try (Ssd ssd = Ssd.create(
                dir.resolve("cached.img"),
                0,
                256 * 1024,
                new UUID(1, 2),
                SsdOptions.simulated(new ManualClock(0), EventSink.NONE).withVolatileCache(Ssd.IO_BYTES_MAX))) {
            ByteBuffer buf = Ssd.allocateAligned(8192);
            run(ssd, buf);
            long tid = Thread.currentThread().threadId();
            long before = threads.getThreadAllocatedBytes(tid);
            run(ssd, buf);
            long after = threads.getThreadAllocatedBytes(tid);
            assertEquals(0, (after - before) / (ROUNDS * 3L), "bytes per I/O total=" + (after - before));
        }
    }

    private static void run(Ssd ssd, ByteBuffer buf) {
        for (int i = 0; i < ROUNDS; i++) {
            long offset = (long) (i % 30) * Ssd.CELL_BYTES;
            if (ssd.write(offset, buf.clear()) != IoStatus.OK || ssd.read(offset, buf.clear()) != IoStatus.OK) {
                throw new AssertionError("io failed i=" + i);
            }
            if (ssd.flush() != IoStatus.OK) {
                throw new AssertionError("flush failed i=" + i);
            }
        }
    }

    @Test
    void refusedCommandsAllocateNothingEither() throws IOException {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        try (Ssd ssd = Ssd.create(
                dir.resolve("f.img"),
                0,
                64 * 1024,
                new UUID(1, 2),
                SsdOptions.simulated(new ManualClock(0), EventSink.NONE))) {
            ByteBuffer buf = Ssd.allocateAligned(4096);
            ssd.fail();
            for (int i = 0; i < ROUNDS; i++) {
                ssd.read(0, buf.clear());
            }
            long tid = Thread.currentThread().threadId();
            long before = threads.getThreadAllocatedBytes(tid);
            for (int i = 0; i < ROUNDS; i++) {
                ssd.read(0, buf.clear());
            }
            assertEquals(0, (threads.getThreadAllocatedBytes(tid) - before) / ROUNDS, "bytes per refused read");
        }
    }
}
