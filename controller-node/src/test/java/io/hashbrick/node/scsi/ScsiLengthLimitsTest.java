package io.hashbrick.node.scsi;

import static io.hashbrick.node.scsi.ScsiHarness.A;
import static io.hashbrick.node.scsi.ScsiHarness.assertGood;
import static io.hashbrick.node.scsi.ScsiHarness.assertSense;
import static io.hashbrick.node.scsi.ScsiHarness.rw10;
import static io.hashbrick.node.scsi.ScsiHarness.rw16;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Transfer lengths against the CDB and the Block Limits VPD: the cases libiscsi 1.19's CompareAndWrite,
 * WriteSame*.InvalidDataOutSize, WriteSame16.Unmap and GetLBAStatus.UnmapSingle tests exercise.
 */
class ScsiLengthLimitsTest {
    static final int BS = 512, BLOCKS = 4096;

    @TempDir
    Path dir;

    ScsiHarness h;

    @BeforeEach
    void setUp() throws Exception {
        h = new ScsiHarness(dir, BS, BLOCKS);
    }

    @AfterEach
    void tearDown() {
        h.close();
    }

    static byte[] filled(int bytes, int value) {
        byte[] b = new byte[bytes];
        Arrays.fill(b, (byte) value);
        return b;
    }

    static int[] caw(long lba, int numberOfBlocksField) {
        int[] c = rw16(0x89, lba, 0);
        c[13] = numberOfBlocksField & 0xff;
        return c;
    }

    @Test
    void compareAndWriteZeroBlocksWithDataOutIsInvalidFieldInCdb() {
        // 256 blocks wrap to NUMBER OF LOGICAL BLOCKS 0 while the transport still carries 2 * 256 blocks
        byte[] a = filled(256 * BS, 'A');
        assertGood(h.run(A, 0, a, rw16(0x8A, 0, 256)));
        byte[] out = new byte[2 * 256 * BS];
        Arrays.fill(out, 0, 256 * BS, (byte) 'A');
        Arrays.fill(out, 256 * BS, out.length, (byte) 'B');
        ScsiTask t = h.run(A, 0, out, caw(0, 256));
        assertSense(t, 0x5, 0x24, 0x00);
        assertEquals(0xC0, t.sense[15] & 0xff, "SKSV and C/D");
        assertEquals(13, ByteBuffer.wrap(t.sense).getShort(16), "FIELD POINTER: NUMBER OF LOGICAL BLOCKS");
        assertGood(h.run(rw16(0x88, 0, 256)));
        assertArrayEquals(a, h.dataIn(), "nothing written");
        // zero blocks and no Data-Out: not an error (SBC-4 §5.3)
        assertGood(h.run(A, 0, null, caw(0, 0)));
        // above MAXIMUM COMPARE AND WRITE LENGTH
        assertSense(h.run(A, 0, new byte[2 * 65 * BS], caw(0, 65)), 0x5, 0x24, 0x00);
    }

    @Test
    void writeSameDataOutOtherThanOneBlockIsIllegalRequest() {
        assertGood(h.run(A, 0, filled(BS, 0x5A), rw10(0x2A, 0, 1)));
        int[] ws10 = {0x41, 0x08, 0, 0, 0, 0, 0, 0, 1, 0}; // UNMAP, LBA 0, 1 block
        int[] ws16 = rw16(0x93, 0, 1);
        ws16[1] = 0x08;
        for (int[] cdb : new int[][] {ws10, ws16}) {
            assertSense(h.run(A, 0, new byte[BS / 2], cdb), 0x5, 0x0E, 0x03);
            assertSense(h.run(A, 0, new byte[2 * BS], cdb), 0x5, 0x0E, 0x03);
        }
        assertGood(h.run(rw10(0x28, 0, 1)));
        assertArrayEquals(filled(BS, 0x5A), h.dataIn(), "nothing unmapped");
        assertGood(h.run(A, 0, new byte[BS], ws16));
    }

    @Test
    void maximumWriteSameLengthFitsWriteSame10AndIsEnforced() {
        assertGood(h.run(0x12, 1, 0xB0, 0, 255, 0));
        ByteBuffer vpd = ByteBuffer.wrap(h.dataIn());
        assertEquals(0xFFFF, vpd.getLong(36), "MAXIMUM WRITE SAME LENGTH");
        try (ScsiHarness big = bigLun()) {
            int[] ws16 = rw16(0x93, 0, 0x10000);
            ws16[1] = 0x08;
            assertSense(big.run(A, 0, new byte[BS], ws16), 0x5, 0x24, 0x00);
            ws16[11] = 0x00;
            ws16[12] = 0xFF;
            ws16[13] = 0xFF;
            assertGood(big.run(A, 0, new byte[BS], ws16));
        }
    }

    private ScsiHarness bigLun() {
        try {
            return new ScsiHarness(Files.createDirectories(dir.resolve("big")), BS, 1 << 17);
        } catch (Exception e) {
            throw new IllegalStateException("big LUN dir=" + dir, e);
        }
    }

    @Test
    void getLbaStatusFirstDescriptorStartsAtRequestedLba() {
        assertGood(h.run(A, 0, filled(264 * BS, 'A'), rw10(0x2A, 0, 264)));
        byte[] list = new byte[24];
        ByteBuffer.wrap(list)
                .putShort(0, (short) 22)
                .putShort(2, (short) 16)
                .putLong(8, 0)
                .putInt(16, 8);
        assertGood(h.run(A, 0, list, 0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0));
        for (long lba : new long[] {0, 3, 8, 9, 100}) {
            assertGood(h.run(0x9E, 0x12, 0, 0, 0, 0, 0, 0, 0, (int) lba, 0, 0, 0, 24, 0, 0));
            ByteBuffer d = ByteBuffer.wrap(h.dataIn());
            assertEquals(lba, d.getLong(8), "first descriptor LBA for request " + lba);
            long end = lba + (d.getInt(16) & 0xFFFFFFFFL);
            if (h.device.thin()) {
                assertEquals(lba < 8 ? 1 : 0, d.get(20), "PROVISIONING STATUS at " + lba);
                assertEquals(lba < 8 ? 8 : 264, Math.min(end, 264), "extent end from " + lba);
            }
        }
    }
}
