package io.hashbrick.node.scsi;

import static io.hashbrick.node.scsi.ScsiHarness.A;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Random READ/WRITE/UNMAP/WRITE SAME against an in-memory model. {@code -Dseed=N} replays one run; the
 * seed is printed on failure.
 */
class RandomizedIoTest {
    static final int BS = 512, BLOCKS = 512;

    @TempDir
    Path dir;

    @Test
    void matchesModel() throws Exception {
        long seed = Long.getLong("seed", 0x5EEDL);
        try (ScsiHarness h = new ScsiHarness(dir, BS, BLOCKS)) {
            run(h, new SplittableRandom(seed));
        } catch (AssertionError e) {
            throw new AssertionError("seed=" + seed + " " + e.getMessage(), e);
        }
    }

    private static void run(ScsiHarness h, SplittableRandom rnd) {
        byte[] model = new byte[BLOCKS * BS];
        for (int step = 0; step < 300; step++) {
            int lba = rnd.nextInt(BLOCKS);
            int blocks = 1 + rnd.nextInt(Math.min(32, BLOCKS - lba));
            switch (rnd.nextInt(4)) {
                case 0 -> {
                    byte[] data = new byte[blocks * BS];
                    rnd.nextBytes(data);
                    ScsiHarness.assertGood(h.run(A, 0, data, ScsiHarness.rw16(0x8A, lba, blocks)));
                    System.arraycopy(data, 0, model, lba * BS, data.length);
                }
                case 1 -> {
                    ScsiHarness.assertGood(h.run(ScsiHarness.rw10(0x28, lba, blocks)));
                    assertArrayEquals(
                            Arrays.copyOfRange(model, lba * BS, (lba + blocks) * BS),
                            h.dataIn(),
                            "step=" + step + " lba=" + lba + " blocks=" + blocks);
                }
                case 2 -> {
                    byte[] list = new byte[24];
                    var l = java.nio.ByteBuffer.wrap(list);
                    l.putShort(0, (short) 22)
                            .putShort(2, (short) 16)
                            .putLong(8, lba)
                            .putInt(16, blocks);
                    ScsiHarness.assertGood(h.run(A, 0, list, 0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0));
                    Arrays.fill(model, lba * BS, (lba + blocks) * BS, (byte) 0);
                }
                default -> {
                    byte[] block = new byte[BS];
                    rnd.nextBytes(block);
                    ScsiHarness.assertGood(h.run(
                            A,
                            0,
                            block,
                            0x41,
                            0,
                            lba >>> 24,
                            (lba >>> 16) & 0xff,
                            (lba >>> 8) & 0xff,
                            lba & 0xff,
                            0,
                            blocks >>> 8,
                            blocks & 0xff,
                            0));
                    for (int i = 0; i < blocks; i++) {
                        System.arraycopy(block, 0, model, (lba + i) * BS, BS);
                    }
                }
            }
            assertEquals(ScsiTask.GOOD, h.task.status);
        }
    }
}
