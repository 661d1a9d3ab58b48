package io.hashbrick.node.scsi;

import java.nio.charset.StandardCharsets;

/** INQUIRY (SPC-4 §6.6): standard data and the vital product data pages of SPC-4 §7.8 and SBC-4 §6.6. */
final class Inquiry {
    private Inquiry() {}

    static final int[] PAGES = {0x00, 0x80, 0x83, 0x86, 0xB0, 0xB1, 0xB2};
    static final int MAX_CAW_BLOCKS = 64, MAX_UNMAP_DESCRIPTORS = 256, MAX_UNMAP_BLOCKS = 1 << 20;
    /** The most bytes a COMPARE AND WRITE covers: what a cluster compares and writes in one map (16 x 4 KiB). */
    static final int MAX_CAW_BYTES = 16 * 4096;

    /** MAXIMUM COMPARE AND WRITE LENGTH for a unit of {@code blockSize}: 64 of 512 bytes, 16 of 4096. */
    static int maxCawBlocks(int blockSize) {
        return Math.min(MAX_CAW_BLOCKS, MAX_CAW_BYTES / blockSize);
    }
    /**
     * MAXIMUM WRITE SAME LENGTH (SBC-4 §6.6.3): 0xFFFF, the largest count WRITE SAME 10 can carry, so
     * both forms share one limit (LIO advertises the same). Not 65536: libiscsi's WriteSame16.Unmap
     * takes MAXIMUM WRITE SAME LENGTH >= 65536 as leave to WRITE 16 65536 blocks at once, which our
     * MAXIMUM TRANSFER LENGTH (1 MiB) rightly refuses; with 0xFFFF it checks the refusal instead.
     */
    static final int MAX_WRITE_SAME_BLOCKS = 0xFFFF;

    /** @param lu null for a LUN that is not there: peripheral qualifier 011b (SPC-4 §6.6.2) */
    static void execute(ScsiTask t, LogicalUnit lu, String vendor, String product, boolean descriptorSense) {
        byte[] c = t.cdb;
        boolean evpd = (c[1] & 0x01) != 0;
        int page = c[2] & 0xff;
        int alloc = Cdb.u16(c, 3);
        if ((c[1] & 0xFE) != 0 || (!evpd && page != 0)) {
            Sense.invalidField(t, descriptorSense, true, (c[1] & 0xFE) != 0 ? 1 : 2);
            return;
        }
        Out o = Out.get(512);
        if (!evpd) {
            standard(o, lu, vendor, product);
        } else if (lu == null) {
            Sense.check(t, descriptorSense, Sense.ILLEGAL_REQUEST, Sense.LU_NOT_SUPPORTED);
            return;
        } else if (!vpd(o, lu, page, t.nexus)) {
            Sense.invalidField(t, descriptorSense, true, 2);
            return;
        }
        o.sendTo(t, alloc);
    }

    private static void standard(Out o, LogicalUnit lu, String vendor, String product) {
        o.u8(0, lu == null ? 0x7F : 0x00); // direct access block device, or PQ 011b / type 1Fh
        o.u8(2, 0x06); // VERSION: SPC-4
        o.u8(3, 0x12); // HISUP, RESPONSE DATA FORMAT 2
        o.u8(5, 0x10); // TPGS 01b: implicit ALUA
        o.u8(7, 0x02); // CMDQUE
        o.ascii(8, vendor, 8).ascii(16, product, 16).ascii(32, "0001", 4);
        // version descriptors (SPC-4 table 141): SAM-5, iSCSI, SPC-4, SBC-3
        int[] versions = {0x00A0, 0x0960, 0x0460, 0x04C0};
        for (int i = 0; i < versions.length; i++) {
            Cdb.put16(o.b, 58 + 2 * i, versions[i]);
        }
        o.length = 74;
        o.u8(4, o.length - 5);
    }

    private static boolean vpd(Out o, LogicalUnit lu, int page, ItNexus nexus) {
        o.u8(1, page);
        int len;
        switch (page) {
            case 0x00 -> {
                for (int i = 0; i < PAGES.length; i++) {
                    o.u8(4 + i, PAGES[i]);
                }
                len = PAGES.length;
            }
            case 0x80 -> {
                o.ascii(4, lu.serial(), lu.serial().length());
                len = lu.serial().length();
            }
            case 0x83 -> len = deviceIdentification(o, lu, nexus);
            case 0x86 -> {
                o.u8(5, 0x07); // HEADSUP ORDSUP SIMPSUP
                o.u8(6, 0x01); // V_SUP: a volatile cache exists
                len = 0x3C;
            }
            case 0xB0 -> len = blockLimits(o, lu);
            case 0xB1 -> {
                Cdb.put16(o.b, 4, 1); // MEDIUM ROTATION RATE 1: non-rotating (SBC-4 §6.6.2)
                len = 0x3C;
            }
            case 0xB2 -> {
                boolean thin = lu.device().thin();
                // LBPU, LBPWS, LBPWS10, LBPRZ=001b (SBC-4 §6.6.4)
                o.u8(5, thin ? 0x80 | 0x40 | 0x20 | 0x04 : 0);
                o.u8(6, thin ? 0x02 : 0x00); // PROVISIONING TYPE: thin / full
                len = 4;
            }
            default -> {
                return false;
            }
        }
        Cdb.put16(o.b, 2, len);
        o.length = 4 + len;
        return true;
    }

    private static int deviceIdentification(Out o, LogicalUnit lu, ItNexus nexus) {
        int n = 4;
        // NAA IEEE Registered Extended, LU association (SPC-4 §7.8.6.6.5)
        o.u8(n, 0x01).u8(n + 1, 0x03).u8(n + 3, 16);
        Cdb.put64(o.b, n + 4, lu.naaHigh());
        Cdb.put64(o.b, n + 12, lu.naaLow());
        n += 20;
        if (nexus != null) {
            // relative target port (type 4) and target port group (type 5), port association, iSCSI protocol
            o.u8(n, 0x51).u8(n + 1, 0x94).u8(n + 3, 4);
            Cdb.put16(o.b, n + 6, nexus.relativeTargetPort());
            n += 8;
            o.u8(n, 0x51).u8(n + 1, 0x95).u8(n + 3, 4);
            Cdb.put16(o.b, n + 6, nexus.targetPortGroup());
            n += 8;
            // SCSI name string of the target port (type 8, UTF-8), null-terminated, padded to 4 (§7.8.6.11)
            byte[] name = nexus.targetPort().getBytes(StandardCharsets.UTF_8);
            int len = Math.min((name.length + 4) & ~3, 252);
            o.u8(n, 0x53).u8(n + 1, 0x98).u8(n + 3, len);
            System.arraycopy(name, 0, o.b, n + 4, Math.min(name.length, len - 1));
            n += 4 + len;
        }
        return n - 4;
    }

    private static int blockLimits(Out o, LogicalUnit lu) {
        int bs = lu.device().blockSize();
        int gran = bs == 512 ? 8 : 1; // 4 KiB: the unit of dedup
        int maxBlocks = ScsiDeviceServer.MAX_TRANSFER_BYTES / bs;
        o.u8(4, 0x01); // WSNZ: WRITE SAME with 0 blocks is not "to the end" but invalid
        o.u8(5, maxCawBlocks(bs));
        Cdb.put16(o.b, 6, gran);
        Cdb.put32(o.b, 8, maxBlocks);
        Cdb.put32(o.b, 12, maxBlocks);
        Cdb.put32(o.b, 16, maxBlocks); // MAXIMUM PREFETCH LENGTH
        if (lu.device().thin()) {
            Cdb.put32(o.b, 20, MAX_UNMAP_BLOCKS);
            Cdb.put32(o.b, 24, MAX_UNMAP_DESCRIPTORS);
            Cdb.put32(o.b, 28, gran);
            Cdb.put32(o.b, 32, 0x80000000L); // UGAVALID, alignment 0
        }
        Cdb.put64(o.b, 36, MAX_WRITE_SAME_BLOCKS);
        // WRITE ATOMIC 16 holds the unit's lock exclusively and reads share it, so any transfer the
        // unit accepts is atomic with respect to other commands (SBC-4 §4.29); alignment and
        // granularity 0: no constraint.
        Cdb.put32(o.b, 44, maxBlocks);
        return 0x3C;
    }
}
