package io.hashbrick.node.scsi;

import io.hashbrick.node.block.BlockDevice;
import java.nio.ByteBuffer;

/** Logical block provisioning commands (SBC-4 §4.7): WRITE SAME 10/16, UNMAP and GET LBA STATUS. */
final class Provisioning {
    private Provisioning() {}

    /** WRITE SAME 10/16 (SBC-4 §5.43/§5.44), with UNMAP and NDOB; ANCHOR is not supported (ANC_SUP=0). */
    static void writeSame(ScsiTask t, LogicalUnit lu) {
        byte[] c = t.cdb;
        boolean d = lu.descriptorSense();
        boolean sixteen = (c[0] & 0xff) == 0x93;
        boolean anchor = (c[1] & 0x10) != 0;
        boolean unmap = (c[1] & 0x08) != 0;
        boolean ndob = sixteen && (c[1] & 0x01) != 0;
        long lba = ReadWrite.lba(c);
        long blocks = ReadWrite.blocks(c);
        if (!BlockIo.noProtect(t, lu)) {
            return;
        }
        if (anchor || (unmap && !lu.device().thin())) {
            Sense.invalidField(t, d, true, 1);
            return;
        }
        if (blocks == 0 || blocks > Inquiry.MAX_WRITE_SAME_BLOCKS) { // WSNZ=1 (Block Limits VPD)
            Sense.invalidField(t, d, true, sixteen ? 10 : 7);
            return;
        }
        if (!BlockIo.inRange(t, lu, lba, blocks) || !BlockIo.writable(t, lu)) {
            return;
        }
        BlockDevice dev = lu.device();
        int bs = dev.blockSize();
        t.transferLength = ndob ? 0 : bs;
        ByteBuffer src = t.dataOut;
        // SBC-4 §5.43/§5.44: the Data-Out buffer is exactly one block. A transport length that is
        // shorter or longer (iSCSI EDTL) disagrees with the CDB; extra bytes are not silently dropped.
        if (!ndob && (src == null || src.remaining() < bs || t.expectedLength != bs)) {
            Sense.check(t, d, Sense.ILLEGAL_REQUEST, Sense.INVALID_FIELD_IN_COMMAND_IU);
            return;
        }
        boolean zero = ndob || isZero(src, bs);
        lu.ranges.lockShared(lba, blocks);
        try {
            if (unmap && zero) { // LBPRZ=1: deallocated blocks read as zeros, the pattern asked for
                BlockIo.done(t, lu, dev.unmap(lba, blocks), true);
                return;
            }
            fillPattern(t, lu, lba, blocks, zero ? null : src);
        } finally {
            lu.ranges.unlockShared(lba, blocks);
        }
    }

    private static boolean isZero(ByteBuffer b, int n) {
        int p = b.position();
        for (int i = 0; i < n; i++) {
            if (b.get(p + i) != 0) {
                return false;
            }
        }
        return true;
    }

    private static void fillPattern(ScsiTask t, LogicalUnit lu, long lba, long blocks, ByteBuffer pattern) {
        BlockDevice dev = lu.device();
        int bs = dev.blockSize();
        Scratch s = Scratch.get(ScsiDeviceServer.MAX_TRANSFER_BYTES);
        int perChunk = ScsiDeviceServer.MAX_TRANSFER_BYTES / bs;
        for (int i = 0; i < perChunk; i++) {
            for (int j = 0; j < bs; j++) {
                s.a.put(i * bs + j, pattern == null ? 0 : pattern.get(pattern.position() + j));
            }
        }
        boolean fua = !lu.modePages.writeCacheEnabled;
        for (long done = 0; done < blocks; ) {
            int n = (int) Math.min(perChunk, blocks - done);
            s.a.clear();
            if (!BlockIo.done(t, lu, dev.write(lba + done, n, s.a, fua), true)) {
                return;
            }
            done += n;
        }
    }

    /** UNMAP (SBC-4 §5.30): parameter list of 16-byte block descriptors; ANCHOR is not supported. */
    static void unmap(ScsiTask t, LogicalUnit lu) {
        byte[] c = t.cdb;
        boolean d = lu.descriptorSense();
        if (!lu.device().thin()) {
            Sense.check(t, d, Sense.ILLEGAL_REQUEST, Sense.INVALID_COMMAND_OPCODE); // LBPU=0
            return;
        }
        if ((c[1] & 0x01) != 0) {
            Sense.invalidField(t, d, true, 1);
            return;
        }
        int len = Cdb.u16(c, 7);
        t.transferLength = len;
        if (len == 0) {
            return;
        }
        ByteBuffer p = t.dataOut;
        if (len < 8 || p == null || p.remaining() < len) {
            Sense.check(t, d, Sense.ILLEGAL_REQUEST, Sense.PARAMETER_LIST_LENGTH_ERROR);
            return;
        }
        int base = p.position();
        int descBytes = Math.min(p.getShort(base + 2) & 0xffff, len - 8) & ~15;
        int count = descBytes / 16;
        if (count > Inquiry.MAX_UNMAP_DESCRIPTORS) {
            Sense.invalidField(t, d, false, 2);
            return;
        }
        long capacity = lu.device().blockCount();
        for (int i = 0; i < count; i++) { // validate all before changing anything
            long lba = p.getLong(base + 8 + 16 * i);
            long blocks = p.getInt(base + 16 + 16 * i) & 0xFFFFFFFFL;
            if (lba < 0 || lba > capacity || blocks > capacity - lba) {
                Sense.check(t, d, Sense.ILLEGAL_REQUEST, Sense.LBA_OUT_OF_RANGE);
                return;
            }
            if (blocks > Inquiry.MAX_UNMAP_BLOCKS) {
                Sense.invalidField(t, d, false, 16 + 16 * i);
                return;
            }
        }
        if (!BlockIo.writable(t, lu)) {
            return;
        }
        for (int i = 0; i < count; i++) { // each descriptor's range in turn
            long lba = p.getLong(base + 8 + 16 * i);
            long blocks = p.getInt(base + 16 + 16 * i) & 0xFFFFFFFFL;
            lu.ranges.lockShared(lba, blocks);
            try {
                if (!BlockIo.done(t, lu, lu.device().unmap(lba, blocks), true)) {
                    return;
                }
            } finally {
                lu.ranges.unlockShared(lba, blocks);
            }
        }
    }

    /** GET LBA STATUS (SBC-4 §5.7): descriptors of mapped/deallocated runs from the starting LBA. */
    static void getLbaStatus(ScsiTask t, LogicalUnit lu) {
        byte[] c = t.cdb;
        long lba = Cdb.u64(c, 2);
        long alloc = Cdb.u32(c, 10);
        long capacity = lu.device().blockCount();
        if (lba < 0 || lba >= capacity) {
            Sense.check(t, lu.descriptorSense(), Sense.ILLEGAL_REQUEST, Sense.LBA_OUT_OF_RANGE);
            return;
        }
        Out o = Out.get(8);
        int n = 8;
        int max = (int) Math.min(64, Math.max(1, (Math.min(alloc, Out.CAPACITY) - 8) / 16));
        for (int i = 0; i < max && lba < capacity; i++) {
            long run = lu.device().provisioningRun(lba);
            long blocks = Math.min(Math.abs(run), 0xFFFFFFFFL);
            java.util.Arrays.fill(o.b, n, n + 16, (byte) 0);
            Cdb.put64(o.b, n, lba);
            Cdb.put32(o.b, n + 8, blocks);
            o.u8(n + 12, run > 0 ? 0 : 1); // PROVISIONING STATUS: 0 mapped, 1 deallocated
            n += 16;
            lba += blocks;
        }
        Cdb.put32(o.b, 0, n - 4);
        o.length = n;
        o.sendTo(t, (int) Math.min(alloc, Integer.MAX_VALUE));
    }
}
