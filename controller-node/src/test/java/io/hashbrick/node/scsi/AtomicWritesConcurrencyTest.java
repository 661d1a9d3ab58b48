package io.hashbrick.node.scsi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hashbrick.node.block.BlockDevice;
import io.hashbrick.node.block.FileBlockDevice;
import io.hashbrick.node.block.IoStatus;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * COMPARE AND WRITE and WRITE ATOMIC stay atomic (SBC-4 §4.29) against concurrent commands on the same
 * blocks now that the unit locks LBA ranges instead of the whole unit, and an atomic command waiting
 * on its device I/O no longer holds up commands on other blocks.
 */
class AtomicWritesConcurrencyTest {
    static final int BS = 512;

    @TempDir
    Path dir;

    /** One thread's task, as a transport would fill it in. */
    private static ScsiTask task(ScsiDeviceServer server) {
        ScsiTask t = new ScsiTask();
        t.dataIn = ByteBuffer.allocateDirect(64 * 1024);
        t.nexus = ScsiHarness.A;
        return t;
    }

    private static void run(ScsiDeviceServer server, ScsiTask t, byte[] cdb, ByteBuffer out) {
        System.arraycopy(cdb, 0, t.cdb, 0, cdb.length);
        java.util.Arrays.fill(t.cdb, cdb.length, ScsiTask.CDB_MAX, (byte) 0);
        t.cdbLength = cdb.length;
        t.dataIn.clear();
        t.dataOut = out;
        t.expectedLength = out == null ? 0 : out.remaining();
        server.execute(t);
    }

    private static byte[] read16(long lba, int blocks) {
        byte[] c = new byte[16];
        c[0] = (byte) 0x88;
        ByteBuffer.wrap(c).putLong(2, lba).putInt(10, blocks);
        return c;
    }

    private static byte[] write16(int op, long lba, int blocks) {
        byte[] c = new byte[16];
        c[0] = (byte) op;
        ByteBuffer.wrap(c).putLong(2, lba);
        if (op == 0x9C) { // WRITE ATOMIC 16: NUMBER OF LOGICAL BLOCKS at 12
            ByteBuffer.wrap(c).putShort(12, (short) blocks);
        } else {
            ByteBuffer.wrap(c).putInt(10, blocks);
        }
        return c;
    }

    private static byte[] caw(long lba) {
        byte[] c = new byte[16];
        c[0] = (byte) 0x89;
        ByteBuffer.wrap(c).putLong(2, lba);
        c[13] = 1;
        return c;
    }

    /** {@code blocks} blocks each filled with the long {@code v}. */
    private static ByteBuffer filled(ByteBuffer b, long v, int blocks) {
        b.clear();
        for (int i = 0; i < blocks * BS / 8; i++) {
            b.putLong(v);
        }
        return b.flip();
    }

    /** The one value the first {@code blocks} blocks of dataIn hold, or a failure when they differ (torn). */
    private static long uniform(ScsiTask t, int blocks, AtomicReference<String> torn) {
        long v = t.dataIn.getLong(0);
        for (int i = 8; i < blocks * BS; i += 8) {
            if (t.dataIn.getLong(i) != v) {
                torn.compareAndSet(null, "torn read: offset=" + i + " first=" + v + " here=" + t.dataIn.getLong(i));
            }
        }
        return v;
    }

    @Test
    void compareAndWriteIncrementsAndWriteAtomicAreNeverInterleavedOrSeenTorn() throws Exception {
        try (FileBlockDevice dev = FileBlockDevice.open(dir.resolve("lun.img"), 4096L * BS, BS)) {
            ScsiDeviceServer server = new ScsiDeviceServer("HASHBRCK", "T", List.of(new LogicalUnit(0, dev, "lun0")));
            AtomicInteger increments = new AtomicInteger();
            AtomicReference<String> torn = new AtomicReference<>();
            AtomicReference<Throwable> failed = new AtomicReference<>();
            int threads = 4;
            int perThread = 300;
            Thread[] ts = new Thread[threads * 2];
            for (int n = 0; n < threads; n++) {
                ts[n] = new Thread(
                        () -> { // COMPARE AND WRITE: counter at LBA 0, +1 a success
                            ScsiTask t = task(server);
                            ByteBuffer out = ByteBuffer.allocateDirect(2 * BS);
                            try {
                                for (int done = 0; done < perThread; ) {
                                    run(server, t, read16(0, 1), null);
                                    long v = uniform(t, 1, torn);
                                    out.clear();
                                    filled(out.slice(0, BS), v, 1);
                                    filled(out.slice(BS, BS), v + 1, 1);
                                    run(server, t, caw(0), out.clear());
                                    if (t.status == ScsiTask.GOOD) {
                                        increments.incrementAndGet();
                                        done++;
                                    }
                                }
                            } catch (Throwable e) {
                                failed.compareAndSet(null, e);
                            }
                        });
                int me = n;
                ts[threads + n] = new Thread(
                        () -> { // WRITE ATOMIC of 8 blocks at 64, plain writes, reads
                            ScsiTask t = task(server);
                            ByteBuffer out = ByteBuffer.allocateDirect(8 * BS);
                            try {
                                for (int i = 0; i < perThread; i++) {
                                    run(server, t, write16(0x9C, 64, 8), filled(out, me * 1_000_000L + i, 8));
                                    assertEquals(ScsiTask.GOOD, t.status, "WRITE ATOMIC");
                                    run(server, t, read16(64, 8), null);
                                    uniform(t, 8, torn);
                                    run(server, t, write16(0x8A, 128 + me * 8L, 8), filled(out, i, 8));
                                    run(server, t, read16(0, 1), null);
                                    uniform(t, 1, torn);
                                }
                            } catch (Throwable e) {
                                failed.compareAndSet(null, e);
                            }
                        });
            }
            for (Thread t : ts) {
                t.start();
            }
            for (Thread t : ts) {
                t.join(60_000);
            }
            assertEquals(null, failed.get());
            assertEquals(null, torn.get());
            ScsiTask t = task(server);
            run(server, t, read16(0, 1), null);
            assertEquals(threads * perThread, increments.get());
            assertEquals(
                    threads * perThread, t.dataIn.getLong(0), "no increment lost: each COMPARE AND WRITE was atomic");
        }
    }

    /** A device whose writes of one LBA wait at a gate. */
    private static final class GatedWrites implements BlockDevice {
        final BlockDevice inner;
        final CountDownLatch reached = new CountDownLatch(1);
        final CountDownLatch open = new CountDownLatch(1);
        final long gated;

        GatedWrites(BlockDevice inner, long gated) {
            this.inner = inner;
            this.gated = gated;
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
            return inner.read(lba, blocks, dst);
        }

        @Override
        public IoStatus readIfInMemory(long lba, int blocks, ByteBuffer dst) {
            return inner.read(lba, blocks, dst);
        }

        @Override
        public IoStatus write(long lba, int blocks, ByteBuffer src, boolean fua) {
            if (lba <= gated && gated < lba + blocks) {
                reached.countDown();
                try {
                    open.await(10, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
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
            return false;
        }

        @Override
        public void close() {
            inner.close();
        }
    }

    @Test
    void anAtomicWriteWaitingOnItsDeviceIoHoldsUpOnlyItsOwnBlocks() throws Exception {
        try (FileBlockDevice file = FileBlockDevice.open(dir.resolve("lun.img"), 4096L * BS, BS)) {
            GatedWrites dev = new GatedWrites(file, 5);
            ScsiDeviceServer server = new ScsiDeviceServer("HASHBRCK", "T", List.of(new LogicalUnit(0, dev, "lun0")));
            ScsiTask a = task(server);
            ByteBuffer out = ByteBuffer.allocateDirect(2 * BS); // zeros compare equal to the fresh file
            Thread cawThread = new Thread(() -> run(server, a, caw(5), out));
            cawThread.start();
            assertTrue(dev.reached.await(5, TimeUnit.SECONDS), "the COMPARE AND WRITE waits in its write");
            ScsiTask b = task(server);
            run(server, b, read16(100, 1), null);
            assertEquals(ScsiTask.GOOD, b.status, "a read elsewhere runs meanwhile");
            run(server, b, write16(0x8A, 6, 1), filled(ByteBuffer.allocateDirect(BS), 7, 1));
            assertEquals(ScsiTask.GOOD, b.status, "so does a write next to it");
            b.memoryOnly = true;
            run(server, b, read16(5, 1), null);
            assertTrue(b.wouldBlock, "a read of its block that must not wait is refused");
            b.memoryOnly = false;
            CountDownLatch sameBlock = new CountDownLatch(1);
            ScsiTask c = task(server);
            Thread reader = new Thread(() -> {
                run(server, c, read16(5, 1), null);
                sameBlock.countDown();
            });
            reader.start();
            assertFalse(sameBlock.await(200, TimeUnit.MILLISECONDS), "a read of its block waits");
            dev.open.countDown();
            assertTrue(sameBlock.await(5, TimeUnit.SECONDS));
            cawThread.join(5000);
            assertEquals(ScsiTask.GOOD, a.status);
            assertEquals(ScsiTask.GOOD, c.status);
        }
    }
}
