package io.hashbrick.node.scsi;

import java.nio.ByteBuffer;

/** MODE SENSE 6/10 (SPC-4 §6.11/§6.12) and MODE SELECT 6/10 (§6.9/§6.10) over a unit's {@link ModePages}. */
final class ModeCommands {
    private ModeCommands() {}

    static void sense(ScsiTask t, LogicalUnit lu) {
        byte[] c = t.cdb;
        boolean ten = (c[0] & 0xff) == 0x5A;
        boolean d = lu.descriptorSense();
        boolean dbd = (c[1] & 0x08) != 0;
        boolean llbaa = ten && (c[1] & 0x10) != 0;
        int pc = (c[2] & 0xff) >>> 6;
        int page = c[2] & 0x3F;
        int subpage = c[3] & 0xff;
        int alloc = ten ? Cdb.u16(c, 7) : c[4] & 0xff;
        if (pc == ModePages.PC_SAVED) {
            Sense.check(t, d, Sense.ILLEGAL_REQUEST, Sense.SAVING_PARAMETERS_NOT_SUPPORTED);
            return;
        }
        int index = ModePages.index(page);
        boolean all = page == ModePages.ALL;
        if ((!all && index < 0) || (subpage != 0 && !(all && subpage == 0xFF))) {
            Sense.invalidField(t, d, true, subpage != 0 ? 3 : 2);
            return;
        }
        Out o = Out.get(256);
        int header = ten ? 8 : 4;
        long blocks = lu.device().blockCount();
        int bs = lu.device().blockSize();
        int n = header;
        if (!dbd) {
            if (llbaa) { // long LBA block descriptor, SPC-4 §7.5.6
                Cdb.put64(o.b, n, blocks);
                Cdb.put32(o.b, n + 12, bs);
                n += 16;
            } else { // short block descriptor, SBC-4 §6.5.2
                Cdb.put32(o.b, n, Math.min(blocks, 0xFFFFFFFFL));
                Cdb.put32(o.b, n + 4, bs & 0xFFFFFF);
                n += 8;
            }
        }
        int bdLength = n - header;
        if (all) {
            for (int i = 0; i < ModePages.CODES.length; i++) {
                n = lu.modePages.append(i, pc, o.b, n);
            }
        } else {
            n = lu.modePages.append(index, pc, o.b, n);
        }
        int dsp = 0x10 | (lu.modePages.softwareWriteProtect ? 0x80 : 0); // DPOFUA, WP (SBC-4 §6.5.1)
        if (ten) {
            Cdb.put16(o.b, 0, n - 2);
            o.u8(3, dsp).u8(4, llbaa && !dbd ? 1 : 0);
            Cdb.put16(o.b, 6, bdLength);
        } else {
            o.u8(0, n - 1).u8(2, dsp).u8(3, bdLength);
        }
        o.length = n;
        o.sendTo(t, alloc);
    }

    static int dataOutLength(byte[] c) {
        return (c[0] & 0xff) == 0x55 ? Cdb.u16(c, 7) : c[4] & 0xff;
    }

    static void select(ScsiTask t, LogicalUnit lu) {
        byte[] c = t.cdb;
        boolean ten = (c[0] & 0xff) == 0x55;
        boolean d = lu.descriptorSense();
        int len = dataOutLength(c);
        t.transferLength = len;
        if ((c[1] & 0x01) != 0) { // SP: no saved pages
            Sense.invalidField(t, d, true, 1);
            return;
        }
        if (len == 0) {
            return;
        }
        ByteBuffer p = t.dataOut;
        int header = ten ? 8 : 4;
        if (p == null || p.remaining() < len || len < header) {
            Sense.check(t, d, Sense.ILLEGAL_REQUEST, Sense.PARAMETER_LIST_LENGTH_ERROR);
            return;
        }
        byte[] b = new byte[len]; // MODE SELECT is rare: a copy keeps the parsing simple
        p.get(p.position(), b, 0, len);
        int bdLength = ten ? Cdb.u16(b, 6) : b[3] & 0xff;
        int n = header;
        if (bdLength != 0) {
            int bdSize = ten && (b[4] & 1) != 0 ? 16 : 8;
            if (bdLength != bdSize || header + bdLength > len) {
                Sense.invalidField(t, d, false, ten ? 6 : 3);
                return;
            }
            long bl = bdSize == 16 ? Cdb.u32(b, n + 12) : Cdb.u24(b, n + 5);
            if (bl != 0 && bl != lu.device().blockSize()) { // changing the block size is not supported
                Sense.invalidField(t, d, false, n + (bdSize == 16 ? 12 : 5));
                return;
            }
            n += bdLength;
        }
        while (n < len) {
            if (!selectPage(t, lu, b, n, len)) {
                return;
            }
            n += 2 + (b[n + 1] & 0xff);
        }
    }

    private static boolean selectPage(ScsiTask t, LogicalUnit lu, byte[] b, int n, int len) {
        boolean d = lu.descriptorSense();
        if (n + 2 > len) {
            Sense.check(t, d, Sense.ILLEGAL_REQUEST, Sense.PARAMETER_LIST_LENGTH_ERROR);
            return false;
        }
        int index = ModePages.index(b[n] & 0x3F);
        if ((b[n] & 0x40) != 0 || index < 0) { // SPF (subpages) or an unknown page
            Sense.invalidField(t, d, false, n);
            return false;
        }
        if ((b[n + 1] & 0xff) + 2 != ModePages.pageLength(index)) {
            Sense.invalidField(t, d, false, n + 1);
            return false;
        }
        if (n + ModePages.pageLength(index) > len) {
            Sense.check(t, d, Sense.ILLEGAL_REQUEST, Sense.PARAMETER_LIST_LENGTH_ERROR);
            return false;
        }
        int bad = lu.modePages.select(index, b, n);
        if (bad >= 0) {
            Sense.invalidField(t, d, false, n + bad);
            return false;
        }
        lu.raise(Sense.MODE_PARAMETERS_CHANGED, t.nexus); // SPC-4 §7.5.2: tell the other nexuses
        return true;
    }
}
