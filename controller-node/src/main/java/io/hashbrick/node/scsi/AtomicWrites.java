package io.hashbrick.node.scsi;

import io.hashbrick.node.block.BlockDevice;
import io.hashbrick.node.block.IoStatus;
import java.nio.ByteBuffer;

/**
 * The read-modify-write commands, each atomic against every other command on its blocks (their LBA
 * range held exclusively, {@link RangeLock}): COMPARE AND WRITE (SBC-4 §5.3), ORWRITE 16 (§5.8),
 * WRITE ATOMIC 16 (§5.48).
 */
final class AtomicWrites {
    private AtomicWrites() {}

    static void compareAndWrite(ScsiTask t, LogicalUnit lu) {
        byte[] c = t.cdb;
        boolean d = lu.descriptorSense();
        long lba = ReadWrite.lba(c);
        int blocks = c[13] & 0xff;
        if (!BlockIo.noProtect(t, lu)) {
            return;
        }
        if (blocks > Inquiry.maxCawBlocks(lu.device().blockSize())) {
            Sense.invalidField(t, d, true, 13);
            return;
        }
        if (!BlockIo.inRange(t, lu, lba, blocks)) {
            return;
        }
        if (blocks == 0) {
            // SBC-4 §5.3: zero blocks is no error only when nothing is transferred. A Data-Out the CDB
            // does not ask for is a CDB/EDTL mismatch; typically a 256-block request whose one-byte
            // NUMBER OF LOGICAL BLOCKS wrapped to 0, which must not succeed as a no-op.
            if (t.expectedLength != 0) {
                Sense.invalidField(t, d, true, 13);
            }
            return;
        }
        if (!BlockIo.writable(t, lu)) {
            return;
        }
        BlockDevice dev = lu.device();
        int half = blocks * dev.blockSize();
        t.transferLength = 2 * half;
        ByteBuffer src = t.dataOut;
        // SBC-4 §5.3: the Data-Out buffer is exactly verify data + write data; a transport length that
        // disagrees is a CDB/EDTL mismatch
        if (src == null || src.remaining() != 2 * half || t.expectedLength != 2 * half) {
            Sense.invalidField(t, d, true, 13);
            return;
        }
        int[] miscompareAt = MISCOMPARE_AT.get();
        lu.ranges.lockExclusive(lba, blocks); // this port's commands; the device orders other controllers'
        try {
            int base = src.position();
            boolean fua = (c[1] & 0x08) != 0 || !lu.modePages.writeCacheEnabled;
            IoStatus s = dev.compareAndWrite(lba, blocks, src, src.slice(base + half, half), fua, miscompareAt);
            if (!BlockIo.done(t, lu, s, true)) {
                return;
            }
            if (miscompareAt[0] >= 0) {
                Sense.checkInfo(t, d, Sense.MISCOMPARE, Sense.MISCOMPARE_DURING_VERIFY, miscompareAt[0]);
            }
        } finally {
            lu.ranges.unlockExclusive(lba, blocks);
        }
    }

    private static final ThreadLocal<int[]> MISCOMPARE_AT = ThreadLocal.withInitial(() -> new int[1]);

    /** ORWRITE 16: OR the Data-Out into the medium (BMOP 000b, the plain OR; SBC-4 §5.8). */
    static void orWrite(ScsiTask t, LogicalUnit lu) {
        byte[] c = t.cdb;
        long lba = ReadWrite.lba(c);
        long blocks = ReadWrite.blocks(c);
        if (!BlockIo.noProtect(t, lu)) {
            return;
        }
        if (!BlockIo.inRange(t, lu, lba, blocks)
                || !BlockIo.lengthOk(t, lu, blocks, ScsiDeviceServer.MAX_TRANSFER_BYTES, 10)
                || !BlockIo.writable(t, lu)) {
            return;
        }
        BlockDevice dev = lu.device();
        t.transferLength = (int) blocks * dev.blockSize();
        int n = ReadWrite.received(t, lu, (int) blocks);
        if (n <= 0) {
            return;
        }
        Scratch s = Scratch.get(ScsiDeviceServer.MAX_TRANSFER_BYTES);
        lu.ranges.lockExclusive(lba, n);
        try {
            if (!BlockIo.done(t, lu, dev.read(lba, n, s.a), false)) {
                return;
            }
            int bytes = n * dev.blockSize();
            int base = t.dataOut.position();
            for (int i = 0; i < bytes; i++) {
                s.a.put(i, (byte) (s.a.get(i) | t.dataOut.get(base + i)));
            }
            s.a.flip();
            boolean fua = (c[1] & 0x08) != 0 || !lu.modePages.writeCacheEnabled;
            BlockIo.done(t, lu, dev.write(lba, n, s.a, fua), true);
        } finally {
            lu.ranges.unlockExclusive(lba, n);
        }
    }

    /**
     * WRITE ATOMIC 16: a plain write with its range held exclusively; reads hold theirs shared, so none
     * sees it torn, and no other write lands inside it.
     */
    static void writeAtomic(ScsiTask t, LogicalUnit lu) {
        byte[] c = t.cdb;
        long lba = ReadWrite.lba(c);
        long blocks = ReadWrite.blocks(c);
        if (!BlockIo.noProtect(t, lu)) {
            return;
        }
        if (blocks > ScsiDeviceServer.MAX_TRANSFER_BYTES / lu.device().blockSize()) {
            Sense.invalidField(t, lu.descriptorSense(), true, 12);
            return;
        }
        if (!BlockIo.inRange(t, lu, lba, blocks) || !BlockIo.writable(t, lu)) {
            return;
        }
        t.transferLength = (int) blocks * lu.device().blockSize();
        int n = ReadWrite.received(t, lu, (int) blocks);
        if (n <= 0) {
            return;
        }
        boolean fua = (c[1] & 0x08) != 0 || !lu.modePages.writeCacheEnabled;
        lu.ranges.lockExclusive(lba, n);
        try {
            BlockIo.done(t, lu, lu.device().write(lba, n, t.dataOut, fua), true);
        } finally {
            lu.ranges.unlockExclusive(lba, n);
        }
    }
}
