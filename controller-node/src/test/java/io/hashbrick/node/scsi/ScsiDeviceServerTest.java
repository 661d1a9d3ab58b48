package io.hashbrick.node.scsi;

import static io.hashbrick.node.scsi.ScsiHarness.A;
import static io.hashbrick.node.scsi.ScsiHarness.B;
import static io.hashbrick.node.scsi.ScsiHarness.assertGood;
import static io.hashbrick.node.scsi.ScsiHarness.assertSense;
import static io.hashbrick.node.scsi.ScsiHarness.rw10;
import static io.hashbrick.node.scsi.ScsiHarness.rw16;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ScsiDeviceServerTest {
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

    static byte[] pattern(int bytes, int seed) {
        byte[] b = new byte[bytes];
        for (int i = 0; i < bytes; i++) {
            b[i] = (byte) (i * 31 + seed);
        }
        return b;
    }

    @Test
    void write10Read16RoundTrip() {
        byte[] data = pattern(4 * BS, 3);
        assertGood(h.run(A, 0, data, rw10(0x2A, 100, 4)));
        assertEquals(4 * BS, h.task.transferLength);
        assertGood(h.run(rw16(0x88, 100, 4)));
        assertArrayEquals(data, h.dataIn());
    }

    @Test
    void outOfRangeAndZeroLength() {
        assertSense(h.run(rw10(0x28, BLOCKS - 1, 2)), 0x5, 0x21, 0x00);
        assertSense(h.run(rw10(0x28, BLOCKS + 1, 0)), 0x5, 0x21, 0x00);
        assertSense(h.run(rw16(0x88, -1L, 1)), 0x5, 0x21, 0x00);
        assertGood(h.run(rw10(0x28, BLOCKS, 0)));
        assertEquals(0, h.dataIn().length);
        // READ(6) length 0 means 256 blocks (SBC-4 §5.12)
        assertGood(h.run(0x08, 0, 0, 0, 0, 0));
        assertEquals(256 * BS, h.dataIn().length);
    }

    @Test
    void badOpcodeBadFieldBadLun() {
        assertSense(h.run(0xEE, 0, 0, 0, 0, 0), 0x5, 0x20, 0x00);
        int[] rdprotect = rw10(0x28, 0, 1);
        rdprotect[1] = 0x20;
        assertSense(h.run(rdprotect), 0x5, 0x24, 0x00);
        assertSense(h.run(A, 7, null, 0x00, 0, 0, 0, 0, 0), 0x5, 0x25, 0x00);
        assertGood(h.run(A, 7, null, 0x12, 0, 0, 0, 96, 0));
        assertEquals(0x7F, h.dataIn()[0] & 0xff);
    }

    @Test
    void unitAttentionAfterLunResetButNotForInquiry() {
        assertGood(h.run(0x00, 0, 0, 0, 0, 0)); // nexus A known to the LU
        assertEquals(ScsiTarget.TMF_COMPLETE, h.server.taskManagement(B, ScsiTarget.TMF_LUN_RESET, 0));
        assertGood(h.run(0x12, 0, 0, 0, 96, 0));
        assertSense(h.run(0x00, 0, 0, 0, 0, 0), 0x6, 0x29, 0x03);
        assertGood(h.run(0x00, 0, 0, 0, 0, 0));
    }

    @Test
    void reportLunsDataChangedAfterAdd() throws Exception {
        assertGood(h.run(0x00, 0, 0, 0, 0, 0));
        var dev = io.hashbrick.node.block.FileBlockDevice.open(dir.resolve("lun1.img"), 1 << 20, 512);
        try {
            h.server.addLogicalUnit(new LogicalUnit(1, dev, "lun1"));
            assertSense(h.run(0x00, 0, 0, 0, 0, 0), 0x6, 0x3F, 0x0E);
            assertGood(h.run(0xA0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0));
            assertEquals(16, ByteBuffer.wrap(h.dataIn()).getInt(0));
        } finally {
            dev.close();
        }
    }

    @Test
    void thinUnmapReadsZerosAndGetLbaStatus() {
        assertGood(h.run(A, 0, pattern(8 * BS, 9), rw10(0x2A, 64, 8)));
        byte[] list = new byte[24];
        ByteBuffer l = ByteBuffer.wrap(list);
        l.putShort(0, (short) 22).putShort(2, (short) 16).putLong(8, 64).putInt(16, 8);
        assertGood(h.run(A, 0, list, 0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0));
        assertGood(h.run(rw10(0x28, 64, 8)));
        assertArrayEquals(new byte[8 * BS], h.dataIn());
        if (h.device.thin()) {
            assertGood(h.run(0x9E, 0x12, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 64, 0, 0));
            byte[] d = h.dataIn();
            assertEquals(64, ByteBuffer.wrap(d).getLong(8));
            assertEquals(1, d[20], "deallocated");
        }
        // descriptor past the end: LBA OUT OF RANGE
        l.putLong(8, BLOCKS - 1).putInt(16, 2);
        assertSense(h.run(A, 0, list, 0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0), 0x5, 0x21, 0x00);
    }

    @Test
    void writeSameUnmapAndPattern() {
        byte[] block = pattern(BS, 5);
        assertGood(h.run(A, 0, block, 0x41, 0, 0, 0, 0, 10, 0, 0, 3, 0));
        assertGood(h.run(rw10(0x28, 10, 3)));
        byte[] d = h.dataIn();
        for (int i = 0; i < 3; i++) {
            assertArrayEquals(block, Arrays.copyOfRange(d, i * BS, (i + 1) * BS));
        }
        assertSense(h.run(A, 0, block, 0x41, 0, 0, 0, 0, 10, 0, 0, 0, 0), 0x5, 0x24, 0x00); // WSNZ
        assertGood(h.run(A, 0, new byte[BS], 0x41, 0x08, 0, 0, 0, 10, 0, 0, 3, 0));
        assertGood(h.run(rw10(0x28, 10, 3)));
        assertArrayEquals(new byte[3 * BS], h.dataIn());
    }

    @Test
    void compareAndWriteMiscompareCarriesOffset() {
        byte[] old = pattern(BS, 1);
        assertGood(h.run(A, 0, old, rw10(0x2A, 5, 1)));
        byte[] fresh = pattern(BS, 2);
        byte[] wrong = old.clone();
        wrong[100] ^= 1;
        int[] caw = rw16(0x89, 5, 0);
        caw[13] = 1;
        ScsiTask t = h.run(A, 0, concat(wrong, fresh), caw);
        assertSense(t, 0xE, 0x1D, 0x00);
        assertEquals(100, ByteBuffer.wrap(t.sense).getInt(3), "INFORMATION");
        assertGood(h.run(A, 0, concat(old, fresh), caw));
        assertGood(h.run(rw10(0x28, 5, 1)));
        assertArrayEquals(fresh, h.dataIn());
    }

    @Test
    void verifyBytchkMiscompare() {
        byte[] data = pattern(2 * BS, 4);
        assertGood(h.run(A, 0, data, rw10(0x2A, 0, 2)));
        int[] verify = rw10(0x2F, 0, 2);
        verify[1] = 0x02; // BYTCHK=01b
        assertGood(h.run(A, 0, data, verify));
        byte[] bad = data.clone();
        bad[BS + 7] ^= 0x40;
        ScsiTask t = h.run(A, 0, bad, verify);
        assertSense(t, 0xE, 0x1D, 0x00);
        assertEquals(BS + 7, ByteBuffer.wrap(t.sense).getInt(3));
    }

    @Test
    void persistentReservationConflict() {
        byte[] reg = new byte[24];
        ByteBuffer.wrap(reg).putLong(8, 0xAAL);
        assertGood(h.run(A, 0, reg, 0x5F, 0x00, 0, 0, 0, 0, 0, 0, 24, 0)); // REGISTER
        byte[] res = new byte[24];
        ByteBuffer.wrap(res).putLong(0, 0xAAL);
        assertGood(h.run(A, 0, res, 0x5F, 0x01, 0x01, 0, 0, 0, 0, 0, 24, 0)); // RESERVE, Write Exclusive
        assertGood(h.run(B, 0, null, rw10(0x28, 0, 1))); // reads allowed to others
        assertEquals(ScsiTask.RESERVATION_CONFLICT, h.run(B, 0, new byte[BS], rw10(0x2A, 0, 1)).status);
        assertGood(h.run(A, 0, new byte[BS], rw10(0x2A, 0, 1)));
        // READ RESERVATION shows key and type
        assertGood(h.run(B, 0, null, 0x5E, 0x01, 0, 0, 0, 0, 0, 0, 64, 0));
        ByteBuffer rr = ByteBuffer.wrap(h.dataIn());
        assertEquals(0xAAL, rr.getLong(8));
        assertEquals(1, rr.get(21));
        // B unregistered with a non-zero key: conflict
        assertEquals(ScsiTask.RESERVATION_CONFLICT, h.run(B, 0, res, 0x5F, 0x00, 0, 0, 0, 0, 0, 0, 24, 0).status);
    }

    @Test
    void reserve6ConflictsForOtherNexusAndClearsOnLunReset() {
        assertGood(h.run(0x16, 0, 0, 0, 0, 0));
        assertEquals(ScsiTask.RESERVATION_CONFLICT, h.run(B, 0, null, 0x1A, 0, 0x3F, 0, 255, 0).status);
        assertGood(h.run(B, 0, null, 0x17, 0, 0, 0, 0, 0)); // RELEASE from another initiator: no-op
        h.server.taskManagement(A, ScsiTarget.TMF_LUN_RESET, 0);
        assertSense(h.run(B, 0, null, 0x00, 0, 0, 0, 0, 0), 0x6, 0x29, 0x03);
        assertGood(h.run(B, 0, null, 0x16, 0, 0, 0, 0, 0));
    }

    @Test
    void writeResidualsFollowEdtl() {
        // EDTL one block, CDB two blocks: one block written, GOOD, overflow = transferLength - EDTL
        byte[] one = pattern(BS, 8);
        assertGood(h.run(A, 0, pattern(2 * BS, 0), rw10(0x2A, 0, 2)));
        ScsiTask t = h.run(A, 0, one, rw10(0x2A, 0, 2));
        assertGood(t);
        assertEquals(2 * BS, t.transferLength);
        assertGood(h.run(rw10(0x28, 0, 1)));
        assertArrayEquals(one, h.dataIn());
        // a partial block cannot be written
        assertSense(h.run(A, 0, new byte[200], rw10(0x2A, 0, 1)), 0x5, 0x0E, 0x03);
    }

    @Test
    void readCapacity16ReportsThinAndPhysicalExponent() {
        assertGood(h.run(0x9E, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0));
        ByteBuffer d = ByteBuffer.wrap(h.dataIn());
        assertEquals(BLOCKS - 1, d.getLong(0));
        assertEquals(BS, d.getInt(8));
        assertEquals(0, d.get(13));
        assertEquals(h.device.thin() ? 0xC0 : 0, d.get(14) & 0xC0);
    }

    @Test
    void modeSelectSwpWriteProtectsAndDSenseSwitchesFormat() {
        assertGood(h.run(B, 0, null, 0x00, 0, 0, 0, 0, 0)); // B knows the unit
        assertGood(h.run(0x1A, 0x08, 0x0A, 0, 255, 0));
        byte[] page = h.dataIn();
        assertEquals(0x0A, page[4] & 0x3F);
        byte[] sel = Arrays.copyOf(page, 4 + 12);
        sel[0] = 0;
        sel[4 + 4] |= 0x08; // SWP
        sel[4 + 2] |= 0x04; // D_SENSE
        assertGood(h.run(A, 0, sel, 0x15, 0x10, 0, 0, sel.length, 0));
        ScsiTask t = h.run(A, 0, new byte[BS], rw10(0x2A, 0, 1));
        assertSense(t, 0x7, 0x27, 0x02);
        assertEquals(0x72, t.sense[0]);
        assertGood(h.run(A, 0, null, 0x00, 0, 0, 0, 0, 0)); // the changer gets no unit attention
        assertSense(h.run(B, 0, null, 0x00, 0, 0, 0, 0, 0), 0x6, 0x2A, 0x01); // SPC-4 §7.5.2
    }

    @Test
    void modeSenseSavedValuesNotSupported() {
        assertSense(h.run(0x1A, 0, 0xC0 | 0x3F, 0, 255, 0), 0x5, 0x39, 0x00);
        assertGood(h.run(0x1A, 0, 0x3F, 0, 255, 0));
        byte[] d = h.dataIn();
        assertEquals(d.length - 1, d[0] & 0xff);
        assertEquals(8, d[3]);
    }

    @Test
    void inquiryVpdPages() {
        assertGood(h.run(0x12, 1, 0xB0, 0, 255, 0));
        ByteBuffer b0 = ByteBuffer.wrap(h.dataIn());
        assertEquals(0x3C + 4, b0.limit());
        assertEquals((1 << 20) / BS, b0.getInt(8));
        assertEquals(8, b0.getShort(6));
        assertGood(h.run(0x12, 1, 0x83, 0, 255, 0));
        byte[] d83 = h.dataIn();
        assertEquals(0x03, d83[5] & 0x0F); // first designator NAA
        assertEquals(0x60, d83[8] & 0xF0); // NAA 6
        assertGood(h.run(0x12, 1, 0x80, 0, 255, 0));
        assertTrue(new String(h.dataIn(), 4, h.dataIn().length - 4).startsWith("HB"));
        assertSense(h.run(0x12, 1, 0x99, 0, 255, 0), 0x5, 0x24, 0x00);
        assertGood(h.run(0x12, 0, 0, 0, 255, 0));
        assertEquals(0x10, h.dataIn()[5] & 0x30); // TPGS implicit
    }

    @Test
    void reportSupportedOpcodesOneCommand() {
        assertGood(h.run(0xA3, 0x0C, 0x01, 0x28, 0, 0, 0, 0, 1, 0, 0, 0));
        byte[] d = h.dataIn();
        assertEquals(0x03, d[1] & 0x07);
        assertEquals(10, ByteBuffer.wrap(d).getShort(2));
        assertEquals(0x28, d[4] & 0xff);
        assertSense(h.run(0xA3, 0x0C, 0x01, 0x9E, 0, 0, 0, 0, 1, 0, 0, 0), 0x5, 0x24, 0x00);
    }

    static byte[] concat(byte[] a, byte[] b) {
        byte[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }
}
