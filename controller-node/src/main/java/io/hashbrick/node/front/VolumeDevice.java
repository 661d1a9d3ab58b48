package io.hashbrick.node.front;

import io.hashbrick.node.Log;
import io.hashbrick.node.api.BlockCodec;
import io.hashbrick.node.api.DataService;
import io.hashbrick.node.api.MapService;
import io.hashbrick.node.api.Status;
import io.hashbrick.node.api.UnmapCall;
import io.hashbrick.node.api.route.Routes;
import io.hashbrick.node.block.GrowableDevice;
import io.hashbrick.node.block.IoStatus;
import java.nio.ByteBuffer;

/**
 * A thin volume as the SCSI layer sees it (R role): logical blocks of 512 or 4096 bytes over the 4 KiB
 * blocks the roles store, through the roles' contracts only ({@link DataService}, {@link MapService}).
 * Whole 4 KiB blocks go through the {@link WritePipeline} and {@link ReadPipeline} in batches; a part
 * of a block is read, modified and mapped on condition that the block still maps what was read (a
 * concurrent write to the block makes it start over), so concurrent writes to different sectors of
 * one block are never lost and no lock is held across the roles' I/O. An unmap of part of a block
 * writes zeros there (unmapped sectors read back as zeros, LBPRZ = 1). Every write is durable when it
 * returns (the journal is in NVRAM), so FUA and SYNCHRONIZE CACHE cost nothing.
 */
public final class VolumeDevice implements GrowableDevice {
    private static final int B = BlockCodec.BLOCK_BYTES;
    /** Read-modify-writes of one block that lose to concurrent writes before giving up (bounded loop). */
    private static final int RMW_ATTEMPTS = 1000;

    private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(B);

    private final DataService data;
    private final MapService maps;
    private final long epoch;
    private final int volumeId;
    private final int blockSize;
    private volatile long blockCount;
    /** Per connection thread until the front end keeps per-task contexts (issue 16 step d). */
    private final ThreadLocal<Context> contexts;

    public VolumeDevice(DataService data, MapService maps, long epoch, int volumeId, long sizeBytes, int blockSize) {
        this.data = data;
        this.maps = maps;
        this.epoch = epoch;
        this.volumeId = volumeId;
        this.blockSize = blockSize;
        this.blockCount = sizeBytes / blockSize;
        this.contexts = ThreadLocal.withInitial(() -> new Context(data, maps, epoch));
    }

    /** What one thread's I/O needs, allocated once. */
    private static final class Context {
        final WritePipeline writes;
        final ReadPipeline reads;
        final ByteBuffer rmw = ByteBuffer.allocateDirect(B);
        final long[] expected = new long[1];
        /** COMPARE AND WRITE's blocks and the handles it compared (allocated at its first use). */
        ByteBuffer caw;

        final long[] cawExpected = new long[Pipelines.BATCH];
        final UnmapCall unmap = new UnmapCall();
        final Await await = new Await();
        long operations;

        Context(DataService data, MapService maps, long epoch) {
            writes = new WritePipeline(data, maps, epoch);
            reads = new ReadPipeline(data, maps, epoch);
        }
    }

    public int volumeId() {
        return volumeId;
    }

    @Override
    public void grow(long sizeBytes) {
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
        return read(lba, blocks, dst, false);
    }

    /**
     * From memory only: every block in D's read cache or journal (or unmapped), both roles in this
     * process; else {@link IoStatus#WOULD_BLOCK} with {@code dst}'s position unchanged.
     */
    @Override
    public IoStatus readIfInMemory(long lba, int blocks, ByteBuffer dst) {
        int start = dst.position();
        IoStatus s = read(lba, blocks, dst, true);
        if (s == IoStatus.WOULD_BLOCK) {
            dst.position(start);
        }
        return s;
    }

    private IoStatus read(long lba, int blocks, ByteBuffer dst, boolean noWait) {
        check(lba, blocks);
        Context c = contexts.get();
        long pos = lba * blockSize;
        long end = pos + (long) blocks * blockSize;
        while (pos < end) {
            long block = pos / B;
            int inBlock = (int) (pos % B);
            if (inBlock == 0 && end - pos >= B) {
                int n = (int) Math.min(Math.min((end - pos) / B, Pipelines.BATCH), Routes.toRegionEnd(block));
                Status s = c.reads.read(volumeId, block, n, dst, dst.position(), noWait);
                if (s != Status.OK) {
                    return Pipelines.io(s);
                }
                dst.position(dst.position() + n * B);
                pos += (long) n * B;
            } else {
                int len = (int) Math.min(B - inBlock, end - pos);
                Status s = c.reads.read(volumeId, block, 1, c.rmw.clear(), 0, noWait);
                if (s != Status.OK) {
                    return Pipelines.io(s);
                }
                dst.put(dst.position(), c.rmw, inBlock, len);
                dst.position(dst.position() + len);
                pos += len;
            }
        }
        return IoStatus.OK;
    }

    @Override
    public IoStatus write(long lba, int blocks, ByteBuffer src, boolean fua) {
        check(lba, blocks);
        return writeRange(lba * blockSize, (long) blocks * blockSize, src, true);
    }

    /** Writes bytes {@code [pos, pos + bytes)} from {@code src} (advanced), or zeros when {@code src} is null-filled. */
    private IoStatus writeRange(long pos, long bytes, ByteBuffer src, boolean advance) {
        Context c = contexts.get();
        long end = pos + bytes;
        while (pos < end) {
            long block = pos / B;
            int inBlock = (int) (pos % B);
            Status s;
            if (inBlock == 0 && end - pos >= B) {
                int n = (int) Math.min(Math.min((end - pos) / B, Pipelines.BATCH), Routes.toRegionEnd(block));
                s = c.writes.write(volumeId, block, n, src, src.position(), null);
                if (s == Status.OK && advance) {
                    src.position(src.position() + n * B);
                }
                pos += (long) n * B;
            } else {
                int len = (int) Math.min(B - inBlock, end - pos);
                s = writePart(c, block, inBlock, len, src);
                if (s == Status.OK && advance) {
                    src.position(src.position() + len);
                }
                pos += len;
            }
            if (s != Status.OK) {
                return Pipelines.io(s);
            }
        }
        return IoStatus.OK;
    }

    /**
     * COMPARE AND WRITE, atomic through every controller: the 4 KiB blocks under the range are read
     * (their handles from C), compared with {@code verify}, merged with {@code src}, and mapped only on
     * condition that they still map the handles compared (C, the owner of the blocks' region, decides:
     * one order for every controller's writers). A block rewritten meanwhile (MAP_CONFLICT) makes it
     * start again from the read. A range over more than {@link Pipelines#BATCH} blocks or across a
     * region's end (never an ATS heartbeat: one sector) falls back to {@link BlockDevice}'s.
     */
    @Override
    public IoStatus compareAndWrite(
            long lba, int blocks, ByteBuffer verify, ByteBuffer src, boolean fua, int[] miscompareAt) {
        check(lba, blocks);
        long pos = lba * blockSize;
        int bytes = blocks * blockSize;
        long first = pos / B;
        int n = (int) ((pos + bytes - 1) / B - first + 1);
        if (n > Pipelines.BATCH || n > Routes.toRegionEnd(first)) {
            return GrowableDevice.super.compareAndWrite(lba, blocks, verify, src, fua, miscompareAt);
        }
        Context c = contexts.get();
        if (c.caw == null) {
            c.caw = ByteBuffer.allocateDirect(Pipelines.BATCH * B);
        }
        ByteBuffer buf = c.caw.clear();
        int at = (int) (pos - first * B);
        for (int attempt = 0; attempt < RMW_ATTEMPTS; attempt++) {
            Status s = c.reads.read(volumeId, first, n, buf, 0);
            if (s != Status.OK) {
                return Pipelines.io(s);
            }
            long[] read = c.reads.handles();
            for (int i = 0; i < bytes; i++) {
                if (buf.get(at + i) != verify.get(verify.position() + i)) {
                    miscompareAt[0] = i;
                    return IoStatus.OK;
                }
            }
            System.arraycopy(read, 0, c.cawExpected, 0, n);
            buf.put(at, src, src.position(), bytes);
            s = c.writes.write(volumeId, first, n, buf, 0, c.cawExpected, false); // never redone: see there
            if (s != Status.MAP_CONFLICT) {
                miscompareAt[0] = -1;
                return Pipelines.io(s);
            }
        }
        Log.error(
                "compare_and_write_gave_up",
                "volume=" + volumeId + " block=" + first + " attempts=" + RMW_ATTEMPTS
                        + " reason=blocks_rewritten_by_others_each_time");
        return IoStatus.MEDIUM_ERROR;
    }

    /** Read-modify-write of part of one block, mapped only if the block did not change meanwhile. */
    private Status writePart(Context c, long block, int inBlock, int len, ByteBuffer src) {
        for (int attempt = 0; attempt < RMW_ATTEMPTS; attempt++) {
            Status s = c.reads.read(volumeId, block, 1, c.rmw.clear(), 0);
            if (s != Status.OK) {
                return s;
            }
            c.expected[0] = c.reads.handles()[0];
            c.rmw.put(inBlock, src, src.position(), len);
            s = c.writes.write(volumeId, block, 1, c.rmw, 0, c.expected);
            if (s != Status.MAP_CONFLICT) {
                return s;
            }
        }
        Log.error(
                "partial_write_gave_up",
                "volume=" + volumeId + " block=" + block + " attempts=" + RMW_ATTEMPTS
                        + " reason=block_rewritten_by_others_each_time");
        return Status.MEDIUM_ERROR;
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
        Context c = contexts.get();
        long pos = lba * blockSize;
        long end = pos + blocks * blockSize;
        while (pos < end) {
            long block = pos / B;
            int inBlock = (int) (pos % B);
            Status s;
            if (inBlock == 0 && end - pos >= B) {
                long n = Math.min((end - pos) / B, Routes.toRegionEnd(block)); // one region a call
                UnmapCall u = c.unmap;
                u.header(epoch, ++c.operations, WritePipeline.SENDER);
                u.volume = volumeId;
                u.firstBlock = block;
                u.count = n;
                u.countRun = false;
                maps.unmap(u, c.await.arm());
                c.await.await();
                s = u.status;
                pos += n * B;
            } else {
                int len = (int) Math.min(B - inBlock, end - pos);
                s = writePart(c, block, inBlock, len, ZEROS.duplicate().clear());
                pos += len;
            }
            if (s != Status.OK) {
                return Pipelines.io(s);
            }
        }
        return IoStatus.OK;
    }

    @Override
    public long provisioningRun(long lba) {
        Context c = contexts.get();
        int perBlock = B / blockSize;
        UnmapCall u = c.unmap;
        u.header(epoch, ++c.operations, WritePipeline.SENDER);
        u.volume = volumeId;
        u.firstBlock = lba / perBlock;
        u.count = 0;
        u.countRun = true;
        maps.unmap(u, c.await.arm());
        c.await.await();
        if (u.status != Status.OK) {
            throw new IllegalStateException(
                    "provisioning run refused: volume=" + volumeId + " lba=" + lba + " status=" + u.status);
        }
        long run = u.run;
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
        // the roles outlive a device; VolumeService drops a deleted volume's mappings
    }

    private void check(long lba, int blocks) {
        if (lba < 0 || blocks < 0 || lba + blocks > blockCount) {
            throw new IllegalArgumentException(
                    "I/O out of range: lba=" + lba + " blocks=" + blocks + " block_count=" + blockCount);
        }
    }
}
