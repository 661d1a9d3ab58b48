package io.hashbrick.node.block;

import java.nio.ByteBuffer;

/**
 * A fixed-size array of logical blocks: what a SCSI logical unit stores its data in. The file-backed
 * device is the first implementation; the content-addressed dedup path implements it later.
 *
 * <p>Buffers: {@code read} fills {@code dst} from its position and advances it by
 * {@code blocks * blockSize()}; {@code write} consumes the same amount from {@code src}. Callers pass
 * direct buffers on the hot path. Arguments out of range are the caller's bug
 * ({@link IllegalArgumentException}); the SCSI layer checks ranges before calling.
 */
public interface BlockDevice extends AutoCloseable {

    /** Logical block size in bytes: 512 or 4096. */
    int blockSize();

    /** Number of logical blocks. */
    long blockCount();

    IoStatus read(long lba, int blocks, ByteBuffer dst);

    /**
     * {@link #read} if it can complete without waiting (no SSD or disk read, no remote call, no lock
     * that is held across I/O): for the transport's receiving thread, which must not stall its other
     * commands. Else {@link IoStatus#WOULD_BLOCK}, having read nothing durable-side: {@code dst}'s
     * position is unchanged (its bytes may not be) and the caller reads again with {@link #read}.
     * By default nothing is known to be in memory.
     */
    default IoStatus readIfInMemory(long lba, int blocks, ByteBuffer dst) {
        return IoStatus.WOULD_BLOCK;
    }

    /** @param fua force unit access: the data is on stable storage when this returns OK */
    IoStatus write(long lba, int blocks, ByteBuffer src, boolean fua);

    /**
     * COMPARE AND WRITE's verify and write (SBC-4 §5.3) of blocks {@code [lba, lba + blocks)}: compares
     * them with {@code verify}'s next {@code blocks * blockSize()} bytes; if equal, writes {@code src}'s
     * next as many. Neither buffer's position moves. This default reads, compares and writes: atomic only
     * against writers that hold the caller's range lock (one process). A device whose blocks other
     * processes write (a cluster's) overrides it with a compare and write the blocks' owner orders.
     *
     * @param miscompareAt set to the offset of the first byte that differs (nothing written), or -1
     * @return the I/O's outcome (OK with {@code miscompareAt[0] >= 0}: a miscompare)
     */
    default IoStatus compareAndWrite(
            long lba, int blocks, ByteBuffer verify, ByteBuffer src, boolean fua, int[] miscompareAt) {
        int bytes = blocks * blockSize();
        ByteBuffer current = ByteBuffer.allocate(bytes); // COMPARE AND WRITE is rare: off the hot path
        IoStatus s = read(lba, blocks, current);
        if (s != IoStatus.OK) {
            return s;
        }
        int mismatch = current.flip().mismatch(verify.slice(verify.position(), bytes));
        miscompareAt[0] = mismatch;
        if (mismatch >= 0) {
            return IoStatus.OK;
        }
        return write(lba, blocks, src.duplicate(), fua);
    }

    /** Makes every completed write durable (SYNCHRONIZE CACHE). */
    IoStatus flush();

    /** Deallocates the range; afterwards it reads back as zeros (LBPRZ = 1). */
    IoStatus unmap(long lba, long blocks);

    /**
     * Provisioning status of the run of blocks that starts at {@code lba} (GET LBA STATUS, SBC-4 §5.7):
     * a positive count of mapped blocks, or a negative count of deallocated blocks. Never 0 for a
     * valid {@code lba}. A device that does not track mapping reports the whole rest as mapped.
     */
    long provisioningRun(long lba);

    /** Whether the device is thin-provisioned (unmapped blocks take no space). */
    boolean thin();

    @Override
    void close();
}
