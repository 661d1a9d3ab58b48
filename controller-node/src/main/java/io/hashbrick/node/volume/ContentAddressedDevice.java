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
        long pos = lba * blockSize;
        long end = pos + (long) blocks * blockSize;
        while (pos < end) {
            long block = pos / B;
            int inBlock = (int) (pos % B);
            if (inBlock == 0 && end - pos >= B) {
                int n = (int) Math.min((end - pos) / B, 256);
                IoStatus s = data.read(volumeId, block, n, dst);
                if (s != IoStatus.OK) {
                    return s;
                }
                pos += (long) n * B;
                continue;
            }
            int len = (int) Math.min(B - inBlock, end - pos);
            ByteBuffer b = bounce.get().clear();
            IoStatus s = data.read(volumeId, block, 1, b);
            if (s != IoStatus.OK) {
                return s;
            }
            dst.put(dst.position(), b, inBlock, len);
            dst.position(dst.position() + len);
            pos += len;
        }
        return IoStatus.OK;
    }

    @Override
    public IoStatus write(long lba, int blocks, ByteBuffer src, boolean fua) {
        check(lba, blocks);
        long pos = lba * blockSize;
        long end = pos + (long) blocks * blockSize;
        while (pos < end) {
            long block = pos / B;
            int inBlock = (int) (pos % B);
            if (inBlock == 0 && end - pos >= B) {
                int n = (int) Math.min((end - pos) / B, 256);
                IoStatus s = data.write(volumeId, block, n, src);
                if (s != IoStatus.OK) {
                    return s;
                }
                pos += (long) n * B;
                continue;
            }
            int len = (int) Math.min(B - inBlock, end - pos);
            IoStatus s = data.writePartial(volumeId, block, inBlock, len, src);
            if (s != IoStatus.OK) {
                return s;
            }
            pos += len;
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
        long pos = lba * blockSize;
        long end = pos + blocks * blockSize;
        while (pos < end) {
            long block = pos / B;
            int inBlock = (int) (pos % B);
            if (inBlock == 0 && end - pos >= B) {
                long n = (end - pos) / B;
                IoStatus s = data.unmap(volumeId, block, n);
                if (s != IoStatus.OK) {
                    return s;
                }
                pos += n * B;
                continue;
            }
            int len = (int) Math.min(B - inBlock, end - pos);
            IoStatus s = data.writePartial(
                    volumeId, block, inBlock, len, ZEROS.duplicate().clear());
            if (s != IoStatus.OK) {
                return s;
            }
            pos += len;
        }
        return IoStatus.OK;
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
