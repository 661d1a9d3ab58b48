package io.hashbrick.node.iscsi;

import io.hashbrick.node.block.BlockDevice;
import io.hashbrick.node.block.IoStatus;
import java.nio.ByteBuffer;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A block device whose reads and writes of one block wait at a gate until the test opens it: a
 * command held in flight on a worker for as long as a test needs (test code, allocation is fine). Reads
 * of the other blocks count as in memory ({@link #readIfInMemory}).
 */
final class GatedDevice implements BlockDevice {
    private final BlockDevice inner;
    private volatile long gatedLba = -1;
    private volatile CountDownLatch reached = new CountDownLatch(1);
    private volatile CountDownLatch open = new CountDownLatch(0);
    /** I/Os that went through (any block), to show a command did or did not run. */
    volatile int ios;

    GatedDevice(BlockDevice inner) {
        this.inner = inner;
    }

    /** Closes the gate on {@code lba}: the next I/O that covers it waits for {@link #open()}. */
    void close(long lba) {
        reached = new CountDownLatch(1);
        open = new CountDownLatch(1);
        gatedLba = lba;
    }

    /** Waits until an I/O is held at the gate. */
    void awaitHeld() throws InterruptedException {
        if (!reached.await(5, TimeUnit.SECONDS)) {
            throw new AssertionError("no I/O reached the gate on lba=" + gatedLba);
        }
    }

    void open() {
        gatedLba = -1;
        open.countDown();
    }

    private void pass(long lba, int blocks) {
        long g = gatedLba;
        if (g >= lba && g < lba + blocks) {
            reached.countDown();
            try {
                if (!open.await(10, TimeUnit.SECONDS)) {
                    throw new IllegalStateException("gate never opened lba=" + g);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        ios++;
    }

    @Override
    public int blockSize() {
        return inner.blockSize();
    }

    @Override
    public long blockCount() {
        return inner.blockCount();
    }

    @Override
    public IoStatus read(long lba, int blocks, ByteBuffer dst) {
        pass(lba, blocks);
        return inner.read(lba, blocks, dst);
    }

    /**
     * Every block but the gated one counts as in memory (as a cache hit would): a read that covers the
     * gate would wait, so it is refused here and held at the gate by the {@link #read} that follows.
     */
    @Override
    public IoStatus readIfInMemory(long lba, int blocks, ByteBuffer dst) {
        long g = gatedLba;
        if (g >= lba && g < lba + blocks) {
            return IoStatus.WOULD_BLOCK;
        }
        ios++;
        return inner.read(lba, blocks, dst);
    }

    @Override
    public IoStatus write(long lba, int blocks, ByteBuffer src, boolean fua) {
        pass(lba, blocks);
        return inner.write(lba, blocks, src, fua);
    }

    @Override
    public IoStatus flush() {
        return inner.flush();
    }

    @Override
    public IoStatus unmap(long lba, long blocks) {
        return inner.unmap(lba, blocks);
    }

    @Override
    public long provisioningRun(long lba) {
        return inner.provisioningRun(lba);
    }

    @Override
    public boolean thin() {
        return inner.thin();
    }

    @Override
    public void close() {
        open();
        inner.close();
    }
}
