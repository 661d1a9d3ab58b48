package io.hashbrick.node.block;

import io.hashbrick.node.Log;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;

/**
 * A {@link BlockDevice} in one sparse file: positional {@link FileChannel} I/O on the caller's direct
 * buffers (nothing allocated per call), {@code force(false)} for FUA and SYNCHRONIZE CACHE.
 *
 * <p>Thin provisioning: UNMAP punches a hole ({@code fallocate(PUNCH_HOLE|KEEP_SIZE)}) and GET LBA
 * STATUS asks {@code lseek(SEEK_DATA/SEEK_HOLE)}, both through {@link LibC} on a libc descriptor of our
 * own. Where FFM or the file system cannot punch holes, UNMAP writes zeros and the device reports
 * itself thick (every block mapped).
 */
public final class FileBlockDevice implements BlockDevice {
    private static final int ZERO_CHUNK_BYTES = 1 << 20;

    private final Path file;
    private final RandomAccessFile raf;
    private final FileChannel channel;
    private final int blockSize;
    /** Grows online (volume resize); read on every command, so volatile. */
    private volatile long blockCount;

    private final LibC libc;
    private final int fd;
    private final Arena arena;
    /** errno capture for the (rare, serialised) libc calls. */
    private final MemorySegment errnoCapture;

    private volatile boolean thin;
    private ByteBuffer zeros; // lazily, only for the no-FFM fallback

    private FileBlockDevice(
            Path file, RandomAccessFile raf, int blockSize, long blockCount, LibC libc, int fd, Arena arena) {
        this.file = file;
        this.raf = raf;
        this.channel = raf.getChannel();
        this.blockSize = blockSize;
        this.blockCount = blockCount;
        this.libc = libc;
        this.fd = fd;
        this.arena = arena;
        this.errnoCapture = arena == null ? null : LibC.newErrnoSegment(arena);
        this.thin = fd >= 0;
    }

    /**
     * Opens (creating if needed) a sparse file of {@code sizeBytes} holding {@code sizeBytes / blockSize}
     * blocks. An existing larger file is not truncated.
     */
    public static FileBlockDevice open(Path file, long sizeBytes, int blockSize) throws IOException {
        if (blockSize != 512 && blockSize != 4096) {
            throw new IllegalArgumentException("blockSize must be 512 or 4096 blockSize=" + blockSize);
        }
        if (sizeBytes <= 0 || sizeBytes % blockSize != 0) {
            throw new IllegalArgumentException("sizeBytes must be a positive multiple of blockSize sizeBytes="
                    + sizeBytes + " blockSize=" + blockSize);
        }
        RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw");
        if (raf.length() < sizeBytes) {
            raf.setLength(sizeBytes); // sparse: no blocks allocated
        }
        LibC libc = LibC.load();
        int fd = -1;
        Arena arena = null;
        if (libc != null) {
            arena = Arena.ofShared();
            fd = libc.open(file.toAbsolutePath().toString(), LibC.newErrnoSegment(arena));
            if (fd < 0) {
                Log.warn("libc_open_failed", "file=" + file + " errno=" + (-fd));
            }
        } else {
            Log.warn("ffm_unavailable", "file=" + file + " unmap=write_zeros");
        }
        return new FileBlockDevice(file, raf, blockSize, sizeBytes / blockSize, libc, fd, arena);
    }

    @Override
    public int blockSize() {
        return blockSize;
    }

    @Override
    public long blockCount() {
        return blockCount;
    }

    /**
     * Grows the device to {@code newSizeBytes} (a volume resize): the file is extended sparsely, the new
     * blocks read as zeros, and the SCSI layer reports CAPACITY DATA HAS CHANGED. Shrinking would drop
     * data the host may still use, so it is refused.
     */
    public synchronized void grow(long newSizeBytes) throws IOException {
        long current = blockCount * blockSize;
        if (newSizeBytes % blockSize != 0 || newSizeBytes < current) {
            throw new IllegalArgumentException("a volume can only grow, in whole blocks: current_bytes=" + current
                    + " new_bytes=" + newSizeBytes + " block_size=" + blockSize);
        }
        if (raf.length() < newSizeBytes) {
            raf.setLength(newSizeBytes);
        }
        blockCount = newSizeBytes / blockSize;
    }

    @Override
    public boolean thin() {
        return thin;
    }

    @Override
    public IoStatus read(long lba, int blocks, ByteBuffer dst) {
        checkRange(lba, blocks);
        int bytes = blocks * blockSize;
        checkBuffer(dst, bytes, "dst");
        int oldLimit = dst.limit();
        dst.limit(dst.position() + bytes);
        long pos = lba * blockSize;
        try {
            while (dst.hasRemaining()) {
                int n = channel.read(dst, pos);
                if (n < 0) { // past EOF of a file shorter than we made it: someone truncated it
                    Log.error("read_eof", "file=" + file + " offset=" + pos);
                    return IoStatus.MEDIUM_ERROR;
                }
                pos += n;
            }
            return IoStatus.OK;
        } catch (IOException e) {
            Log.error("read_failed", "file=" + file + " lba=" + lba + " blocks=" + blocks + " error=" + Log.q(e));
            return IoStatus.MEDIUM_ERROR;
        } finally {
            dst.limit(oldLimit);
        }
    }

    @Override
    public IoStatus write(long lba, int blocks, ByteBuffer src, boolean fua) {
        checkRange(lba, blocks);
        int bytes = blocks * blockSize;
        checkBuffer(src, bytes, "src");
        int oldLimit = src.limit();
        src.limit(src.position() + bytes);
        try {
            writeFully(src, lba * blockSize);
            if (fua) {
                channel.force(false);
            }
            return IoStatus.OK;
        } catch (IOException e) {
            return writeFailed(e, lba, blocks);
        } finally {
            src.limit(oldLimit);
        }
    }

    private void writeFully(ByteBuffer src, long pos) throws IOException {
        while (src.hasRemaining()) {
            pos += channel.write(src, pos);
        }
    }

    private IoStatus writeFailed(IOException e, long lba, long blocks) {
        String msg = String.valueOf(e.getMessage());
        if (msg.contains("No space left")) {
            Log.warn("no_space", "file=" + file + " lba=" + lba + " blocks=" + blocks);
            return IoStatus.NO_SPACE;
        }
        Log.error("write_failed", "file=" + file + " lba=" + lba + " blocks=" + blocks + " error=" + Log.q(e));
        return IoStatus.MEDIUM_ERROR;
    }

    @Override
    public IoStatus flush() {
        try {
            channel.force(false);
            return IoStatus.OK;
        } catch (IOException e) {
            Log.error("flush_failed", "file=" + file + " error=" + Log.q(e));
            return IoStatus.MEDIUM_ERROR;
        }
    }

    @Override
    public IoStatus unmap(long lba, long blocks) {
        checkRange(lba, blocks);
        if (blocks == 0) {
            return IoStatus.OK;
        }
        if (thin) {
            int rc;
            synchronized (errnoCapture) {
                rc = libc.punchHole(fd, lba * blockSize, blocks * blockSize, errnoCapture);
            }
            if (rc == 0) {
                return IoStatus.OK;
            }
            Log.warn("punch_hole_failed", "file=" + file + " errno=" + (-rc) + " unmap=write_zeros");
            thin = false;
        }
        return writeZeros(lba, blocks);
    }

    private synchronized IoStatus writeZeros(long lba, long blocks) {
        if (zeros == null) {
            zeros = ByteBuffer.allocateDirect(ZERO_CHUNK_BYTES);
        }
        long pos = lba * blockSize;
        long end = (lba + blocks) * blockSize;
        try {
            while (pos < end) {
                zeros.clear().limit((int) Math.min(ZERO_CHUNK_BYTES, end - pos));
                int n = zeros.remaining();
                writeFully(zeros, pos);
                pos += n;
            }
            return IoStatus.OK;
        } catch (IOException e) {
            return writeFailed(e, lba, blocks);
        }
    }

    @Override
    public long provisioningRun(long lba) {
        checkRange(lba, 1);
        long rest = blockCount - lba;
        if (!thin) {
            return rest;
        }
        long offset = lba * blockSize;
        long end = blockCount * blockSize;
        synchronized (errnoCapture) {
            long data = libc.lseek(fd, offset, LibC.SEEK_DATA, errnoCapture);
            if (data == -LibC.ENXIO || data >= end) {
                return -rest; // no data from here to the end
            }
            if (data < 0) {
                Log.warn("seek_data_failed", "file=" + file + " errno=" + (-data));
                return rest;
            }
            if (data > offset) {
                return -Math.max(1, (data - offset) / blockSize);
            }
            long hole = libc.lseek(fd, offset, LibC.SEEK_HOLE, errnoCapture);
            if (hole < 0 || hole > end) {
                hole = end;
            }
            return Math.max(1, (hole - offset + blockSize - 1) / blockSize);
        }
    }

    @Override
    public void close() {
        try {
            channel.close();
            raf.close();
        } catch (IOException e) {
            Log.warn("close_failed", "file=" + file + " error=" + Log.q(e));
        }
        if (fd >= 0) {
            libc.close(fd);
        }
        if (arena != null) {
            arena.close();
        }
    }

    private void checkRange(long lba, long blocks) {
        if (lba < 0 || blocks < 0 || lba > blockCount || blocks > blockCount - lba) {
            throw new IllegalArgumentException(
                    "range outside device lba=" + lba + " blocks=" + blocks + " blockCount=" + blockCount);
        }
    }

    private static void checkBuffer(ByteBuffer buf, int bytes, String name) {
        if (buf.remaining() < bytes) {
            throw new IllegalArgumentException(
                    "buffer too small buffer=" + name + " remaining=" + buf.remaining() + " bytes=" + bytes);
        }
    }
}
