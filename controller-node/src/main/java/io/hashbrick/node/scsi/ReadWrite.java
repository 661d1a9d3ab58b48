package io.hashbrick.node.scsi;

import io.hashbrick.node.block.BlockDevice;
import io.hashbrick.node.block.IoStatus;
import java.nio.ByteBuffer;

/**
 * READ, WRITE, WRITE AND VERIFY and VERIFY in their 6/10/12/16-byte forms (SBC-4 §5.12-§5.16, §5.31-
 * §5.38): the hot path. The CDB is parsed in place and data moves straight between the task's buffers
 * and the device; nothing is allocated.
 */
final class ReadWrite {
    private ReadWrite() {}

    static final int MAX = ScsiDeviceServer.MAX_TRANSFER_BYTES;

    static long lba(byte[] c) {
        return switch (c[0] & 0xff) {
            case 0x08, 0x0A -> Cdb.u24(c, 1) & 0x1FFFFF;
            case 0x88, 0x8A, 0x8E, 0x8F, 0x8B, 0x89, 0x90, 0x91, 0x93, 0x9C -> Cdb.u64(c, 2);
            default -> Cdb.u32(c, 2);
        };
    }

    /** The TRANSFER LENGTH (or NUMBER OF LOGICAL BLOCKS) field; READ(6)/WRITE(6) 0 means 256 (SBC-4 §5.12). */
    static long blocks(byte[] c) {
        return switch (c[0] & 0xff) {
            case 0x08, 0x0A -> c[4] == 0 ? 256 : c[4] & 0xff;
            case 0x88, 0x8A, 0x8E, 0x8F, 0x8B, 0x90, 0x91, 0x93 -> Cdb.u32(c, 10);
            case 0x9C -> Cdb.u16(c, 12);
            case 0x89 -> c[13] & 0xff;
            case 0xA8, 0xAA, 0xAE, 0xAF -> Cdb.u32(c, 6);
            default -> Cdb.u16(c, 7);
        };
    }

    static int lengthOffset(byte[] c) {
        return switch (c[0] & 0xff) {
            case 0x08, 0x0A -> 4;
            case 0x88, 0x8A, 0x8E, 0x8F, 0x8B, 0x90, 0x91, 0x93 -> 10;
            case 0x9C -> 12;
            case 0x89 -> 13;
            case 0xA8, 0xAA, 0xAE, 0xAF -> 6;
            default -> 7;
        };
    }

    static void read(ScsiTask t, LogicalUnit lu) {
        byte[] c = t.cdb;
        long lba = lba(c);
        long blocks = blocks(c);
        if ((c[0] & 0xff) != 0x08 && !BlockIo.noProtect(t, lu)) {
            return;
        }
        if (!BlockIo.inRange(t, lu, lba, blocks) || !BlockIo.lengthOk(t, lu, blocks, MAX, lengthOffset(c))) {
            return;
        }
        BlockDevice dev = lu.device();
        int bytes = (int) blocks * dev.blockSize();
        t.transferLength = bytes;
        if (blocks == 0) {
            return;
        }
        if (t.dataIn.remaining() < bytes) {
            throw new IllegalStateException("dataIn smaller than the transfer tag=" + t.tag + " capacity="
                    + t.dataIn.remaining() + " bytes=" + bytes);
        }
        if (t.memoryOnly) {
            readIfInMemory(t, lu, dev, lba, (int) blocks);
            return;
        }
        lu.ranges.lockShared(lba, blocks); // an atomic write over these blocks is never seen torn
        try {
            BlockIo.done(t, lu, dev.read(lba, (int) blocks, t.dataIn), false);
        } finally {
            lu.ranges.unlockShared(lba, blocks);
        }
    }

    /**
     * The read of a task that must not wait: its range only if no atomic write holds or awaits it (an
     * atomic write keeps its range through its I/O), the data only if the device has it in memory; else {@link
     * ScsiTask#wouldBlock}, and the checks above run again when the task is executed where it may wait.
     */
    private static void readIfInMemory(ScsiTask t, LogicalUnit lu, BlockDevice dev, long lba, int blocks) {
        if (!lu.ranges.tryLockShared(lba, blocks)) {
            t.wouldBlock = true;
            return;
        }
        try {
            IoStatus s = dev.readIfInMemory(lba, blocks, t.dataIn);
            if (s == IoStatus.WOULD_BLOCK) {
                t.wouldBlock = true;
                return;
            }
            BlockIo.done(t, lu, s, false);
        } finally {
            lu.ranges.unlockShared(lba, blocks);
        }
    }

    /** WRITE 6/10/12/16, WRITE AND VERIFY 10/12/16 (the verify is of data we just wrote: nothing to compare). */
    static void write(ScsiTask t, LogicalUnit lu) {
        byte[] c = t.cdb;
        int op = c[0] & 0xff;
        long lba = lba(c);
        long blocks = blocks(c);
        boolean verify = op == 0x2E || op == 0xAE || op == 0x8E;
        if (op != 0x0A && !BlockIo.noProtect(t, lu)) {
            return;
        }
        if (verify && (c[1] & 0x04) != 0) { // BYTCHK 10b/11b are reserved for WRITE AND VERIFY (SBC-4 §5.40)
            Sense.invalidField(t, lu.descriptorSense(), true, 1);
            return;
        }
        if (!BlockIo.inRange(t, lu, lba, blocks)
                || !BlockIo.lengthOk(t, lu, blocks, MAX, lengthOffset(c))
                || !BlockIo.writable(t, lu)) {
            return;
        }
        BlockDevice dev = lu.device();
        int bs = dev.blockSize();
        t.transferLength = (int) blocks * bs;
        int n = received(t, lu, (int) blocks);
        if (n <= 0) {
            return;
        }
        boolean fua = (op != 0x0A && (c[1] & 0x08) != 0) || verify || !lu.modePages.writeCacheEnabled;
        lu.ranges.lockShared(lba, n);
        try {
            BlockIo.done(t, lu, dev.write(lba, n, t.dataOut, fua), true);
        } finally {
            lu.ranges.unlockShared(lba, n);
        }
    }

    /**
     * How many whole blocks of Data-Out arrived. A transport whose EDTL was smaller than the CDB's transfer
     * length (RFC 7143 §11.4.5.1 overflow) delivers fewer: we write the whole blocks that came, as tgt
     * and LIO do; a partial block is INVALID FIELD IN COMMAND INFORMATION UNIT (SAM-5 §5.4.3).
     *
     * @return blocks to write; 0 or less when there is nothing to do (status already set if an error)
     */
    static int received(ScsiTask t, LogicalUnit lu, int blocks) {
        int bs = lu.device().blockSize();
        int got = t.dataOut == null ? 0 : t.dataOut.remaining();
        if (got >= blocks * bs) {
            return blocks;
        }
        if (got % bs != 0) {
            Sense.check(t, lu.descriptorSense(), Sense.ILLEGAL_REQUEST, Sense.INVALID_FIELD_IN_COMMAND_IU);
            return -1;
        }
        return got / bs;
    }

    /** VERIFY 10/12/16 (SBC-4 §5.36): BYTCHK 00b medium check, 01b compare all, 11b compare one block to each. */
    static void verify(ScsiTask t, LogicalUnit lu) {
        byte[] c = t.cdb;
        long lba = lba(c);
        long blocks = blocks(c);
        int bytchk = (c[1] >>> 1) & 3;
        if (!BlockIo.noProtect(t, lu)) {
            return;
        }
        if (bytchk == 2) {
            Sense.invalidField(t, lu.descriptorSense(), true, 1);
            return;
        }
        if (!BlockIo.inRange(t, lu, lba, blocks)
                || !BlockIo.lengthOk(t, lu, blocks, MAX, lengthOffset(c))
                || blocks == 0) {
            return;
        }
        BlockDevice dev = lu.device();
        int bs = dev.blockSize();
        Scratch s = Scratch.get(MAX);
        if (!BlockIo.done(t, lu, dev.read(lba, (int) blocks, s.a), false) || bytchk == 0) {
            return;
        }
        int need = bytchk == 1 ? (int) blocks * bs : bs;
        t.transferLength = need;
        ByteBuffer out = t.dataOut;
        if (out == null || out.remaining() < need) {
            Sense.check(t, lu.descriptorSense(), Sense.ILLEGAL_REQUEST, Sense.INVALID_FIELD_IN_COMMAND_IU);
            return;
        }
        int base = out.position();
        int total = (int) blocks * bs;
        for (int i = 0; i < total; i++) {
            int j = bytchk == 1 ? i : i % bs;
            if (s.a.get(i) != out.get(base + j)) {
                Sense.checkInfo(t, lu.descriptorSense(), Sense.MISCOMPARE, Sense.MISCOMPARE_DURING_VERIFY, i);
                return;
            }
        }
    }
}
