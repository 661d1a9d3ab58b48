package io.hashbrick.node.volume;

import io.hashbrick.node.block.BlockDevice;
import io.hashbrick.node.block.IoStatus;
import io.hashbrick.node.data.BlockCodec;
import io.hashbrick.node.data.DataPath;
import java.nio.ByteBuffer;

/**
 * A thin volume on the content-addressed data path: logical blocks of 512 or 4096 bytes over the 4 KiB
 * blocks {@link DataPath} stores. Unaligned parts of a write are read-modify-written inside their 4 KiB
 * block; an unmap of part of a block writes zeros there (so unmapped sectors read back as zeros,
 * LBPRZ = 1). Every write is durable when it returns (the journal is in NVRAM), so FUA and SYNCHRONIZE
 * CACHE cost nothing.
 */
public final class ContentAddressedDevice implements BlockDevice {
    private static final int B = BlockCodec.BLOCK_BYTES;
    private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(B);

    private final DataPath data;
    private final int volumeId;
    private final int blockSize;
    private volatile long blockCount;
    private final ThreadLocal<ByteBuffer> bounce = ThreadLocal.withInitial(() -> ByteBuffer.allocateDirect(2 * B));

    public ContentAddressedDevice(DataPath data, int volumeId, long sizeBytes, int blockSize) {
        this.data = data;
        this.volumeId = volumeId;
        this.blockSize = blockSize;
        this.blockCount = sizeBytes / blockSize;
    }

    public int volumeId() {
        return volumeId;
    }

    /** The volume grew (the catalog and {@link DataPath#growVolume} already know). */
    void grow(long sizeBytes) {
        blockCount = sizeBytes / blockSize;
    }

    @Override
    public int blockSize() {
        return blockSize;
    }

    @Override
    public long blockCount() {
        return blockCount;
    }

    @Override
    public IoStatus read(long lba, int blocks, ByteBuffer dst) {
        check(lba, blocks);
        return walk(
                lba * blockSize,
                (long) blocks * blockSize,
                256,
                (block, n) -> data.read(volumeId, block, (int) n, dst),
                (block, inBlock, len) -> {
                    ByteBuffer b = bounce.get().clear();
                    IoStatus s = data.read(volumeId, block, 1, b);
                    if (s == IoStatus.OK) {
                        dst.put(dst.position(), b, inBlock, len);
                        dst.position(dst.position() + len);
                    }
                    return s;
                });
    }

    @Override
    public IoStatus write(long lba, int blocks, ByteBuffer src, boolean fua) {
        check(lba, blocks);
        return walk(
                lba * blockSize,
                (long) blocks * blockSize,
                256,
                (block, n) -> data.write(volumeId, block, (int) n, src),
                (block, inBlock, len) -> data.writePartial(volumeId, block, inBlock, len, src));
    }

    /** Whole 4 KiB blocks {@code [block, block + n)}. */
    @FunctionalInterface
    private interface Whole {
        IoStatus run(long block, long n);
    }

    /** {@code len} bytes at {@code inBlock} inside 4 KiB block {@code block}. */
    @FunctionalInterface
    private interface Part {
        IoStatus run(long block, int inBlock, int len);
    }

    /** Splits the byte range into runs of whole 4 KiB blocks (at most {@code maxWhole} a call) and partial blocks, in order. */
    private static IoStatus walk(long pos, long bytes, long maxWhole, Whole whole, Part part) {
        long end = pos + bytes;
        while (pos < end) {
            long block = pos / B;
            int inBlock = (int) (pos % B);
            IoStatus s;
            if (inBlock == 0 && end - pos >= B) {
                long n = Math.min((end - pos) / B, maxWhole);
                s = whole.run(block, n);
                pos += n * B;
            } else {
                int len = (int) Math.min(B - inBlock, end - pos);
                s = part.run(block, inBlock, len);
                pos += len;
            }
            if (s != IoStatus.OK) {
                return s;
            }
        }
        return IoStatus.OK;
    }

    @Override
    public IoStatus flush() {
        return IoStatus.OK; // acknowledged writes are in the NVRAM journal already
    }

    @Override
    public IoStatus unmap(long lba, long blocks) {
        if (lba < 0 || blocks < 0 || lba + blocks > blockCount) {
            throw new IllegalArgumentException(
                    "unmap out of range: lba=" + lba + " blocks=" + blocks + " block_count=" + blockCount);
        }
        ByteBuffer zeros = ZEROS.duplicate();
        return walk(
                lba * blockSize,
                blocks * blockSize,
                Long.MAX_VALUE,
                (block, n) -> data.unmap(volumeId, block, n),
                (block, inBlock, len) -> data.writePartial(volumeId, block, inBlock, len, zeros.clear()));
    }

    @Override
    public long provisioningRun(long lba) {
        int perBlock = B / blockSize;
        long block = lba / perBlock;
        long run = data.run(volumeId, block);
        long lbas = Math.abs(run) * perBlock - lba % perBlock;
        lbas = Math.min(lbas, blockCount - lba);
        return run > 0 ? lbas : -lbas;
    }

    @Override
    public boolean thin() {
        return true;
    }

    @Override
    public void close() {
        // the data path outlives its volumes; VolumeService drops a deleted volume's mappings
    }

    private void check(long lba, int blocks) {
        if (lba < 0 || blocks < 0 || lba + blocks > blockCount) {
            throw new IllegalArgumentException(
                    "I/O out of range: lba=" + lba + " blocks=" + blocks + " block_count=" + blockCount);
        }
    }
}
