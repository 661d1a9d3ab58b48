package io.hashbrick.sim;

import com.sun.nio.file.ExtendedOpenOption;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.UUID;

/**
 * One simulated SSD: a file of {@code 4096 + capacity} bytes, a label ({@link SsdHeader}) in the first
 * 4 KiB cell, the data area after it. Offsets passed to {@link #read}/{@link #write} are data-area
 * offsets; the label is out of the caller's reach.
 *
 * <p><b>I/O contract.</b> Offsets and lengths are multiples of 4 KiB, at most {@link #IO_BYTES_MAX} per
 * command; buffers are direct and 4 KiB-aligned in memory ({@link #allocateAligned}), the same in
 * either {@link IoMode}, so code that works on a buffered drive works on an {@code O_DIRECT} one.
 * Breaking it is the caller's bug: {@link IllegalArgumentException}. Device conditions are returned as
 * {@link IoStatus}. On anything but OK the buffer's position is unchanged; on OK it is at its limit.
 * Nothing is allocated per command.
 *
 * <p><b>Durability</b> (see {@link IoMode}): a write that returned OK survives a process crash; it
 * survives a power loss once {@link #flush()} has returned OK. The file itself cannot forget, so a
 * power loss is modelled only when asked for ({@link SsdOptions#volatileCacheBytesMax}, off by
 * default): with the volatile write-cache model on, only what a flush covered survives a power cut
 * ({@link #powerCut}); the writes since then persist, vanish or tear, as the cut's seed decides. With
 * it off, a power cut loses nothing, as on a drive with power-loss protection.
 *
 * <p><b>Threads.</b> Reads, writes and flushes may run concurrently (positional {@link FileChannel}
 * I/O); overlapping writes to one cell from two threads are the caller's race, as on a real drive.
 * Health transitions and fault application serialise on this object, and so do writes when the
 * volatile write-cache model is on (its record must list them in the order they reached the file).
 *
 * <p><b>Shared drives.</b> The health word lives in {@link SlotState}, which a {@link Dae} maps from a
 * shared file: a pull by one controller is seen by the other's next command. A controller whose own
 * file channel was closed by a pull reopens it on the first command after someone reinserts the drive;
 * one that sees the slot's generation change (a replace) re-reads the label before going on.
 */
public final class Ssd implements AutoCloseable {
    public static final int CELL_BYTES = 4096;
    /** The atomic write unit of the torn-write model: a 512-byte sector, as on a 512e SAS SSD. */
    public static final int SECTOR_BYTES = 512;

    public static final int HEADER_BYTES = CELL_BYTES;
    /** Bounds one command, as a drive's maximum transfer length does (SBC-4 Block Limits VPD). */
    public static final int IO_BYTES_MAX = 1 << 20;

    public static final long CAPACITY_BYTES_MAX = 1L << 40;

    private final Path file;
    private final SsdOptions options;
    private final SlotState state;
    private final SsdCounters counters = new SsdCounters();
    private final SsdFaults faults = new SsdFaults();
    /** One aligned cell for the label, torn-write read-modify-write and bit flips. Guarded by this. */
    private final ByteBuffer scratch = allocateAligned(CELL_BYTES);
    /** The volatile write-cache model's record, null when it is off. Guarded by this. */
    private final VolatileWriteCache cache;

    private volatile FileChannel channel; // null while this process holds the drive pulled
    private volatile IoMode mode;
    private volatile SsdHeader header;
    private volatile int generationSeen;
    private volatile boolean closed;

    private Ssd(Path file, SsdOptions options, SlotState state) {
        this.file = file;
        this.options = options;
        this.state = state;
        this.cache = options.volatileCacheOn() ? new VolatileWriteCache(options.volatileCacheBytesMax()) : null;
    }

    /** Creates a new drive file (it must not exist) and opens it standalone, outside any DAE. */
    public static Ssd create(Path file, int slot, long capacityBytes, UUID uuid, SsdOptions options)
            throws IOException {
        format(file, new SsdHeader(slot, capacityBytes, uuid));
        return open(file, SlotState.inMemory(), options);
    }

    /** Opens an existing drive file standalone; its label must be intact. */
    public static Ssd open(Path file, SsdOptions options) throws IOException {
        return open(file, SlotState.inMemory(), options);
    }

    static Ssd open(Path file, SlotState state, SsdOptions options) throws IOException {
        Ssd ssd = new Ssd(file, options, state);
        synchronized (ssd) {
            try {
                ssd.openChannelLocked();
                ssd.loadHeaderLocked();
            } catch (IOException | RuntimeException e) {
                ssd.closeChannelLocked();
                throw e;
            }
            ssd.generationSeen = state.generation();
        }
        ssd.event(
                "ssd_opened",
                "mode=" + ssd.mode + " uuid=" + ssd.header.uuid() + " capacity_bytes=" + ssd.header.capacityBytes());
        return ssd;
    }

    /** Writes a fresh drive file: label, then a sparse data area (reads as zeros). */
    static void format(Path file, SsdHeader header) throws IOException {
        checkCapacity(header.capacityBytes(), file);
        ByteBuffer cell = ByteBuffer.allocate(CELL_BYTES);
        header.encode(cell);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            writeFully(ch, 0, cell);
            ch.write(ByteBuffer.allocate(1), HEADER_BYTES + header.capacityBytes() - 1); // sets the size
            ch.force(true); // size and label durable before anyone trusts the file
        }
        syncDirectory(file.toAbsolutePath().getParent()); // and the directory entry
    }

    /** A direct buffer of {@code bytes} whose memory starts on a 4 KiB boundary. Allocate at start-up. */
    public static ByteBuffer allocateAligned(int bytes) {
        // capacity exactly {@code bytes}: alignedSlice may keep up to a cell more, which a later clear() would expose
        return ByteBuffer.allocateDirect(bytes + CELL_BYTES)
                .alignedSlice(CELL_BYTES)
                .limit(bytes)
                .slice();
    }

    // ---------------------------------------------------------------- I/O

    /** Reads {@code dst.remaining()} bytes at data offset {@code offset}. */
    public IoStatus read(long offset, ByteBuffer dst) {
        checkIo("read", offset, dst);
        int length = dst.remaining();
        IoStatus admitted = admit();
        if (admitted != IoStatus.OK) {
            return admitted;
        }
        long startNs = options.clock().nanoTime();
        slowDown();
        if (faults.anyLatent(offset / CELL_BYTES, length / CELL_BYTES)) {
            counters.mediumErrors.increment();
            return IoStatus.MEDIUM_ERROR;
        }
        int start = dst.position();
        try {
            readFully(channel(), HEADER_BYTES + offset, dst);
        } catch (IOException e) {
            dst.position(start);
            return failedIo("read", offset, length, e);
        }
        observe(startNs);
        counters.reads.increment();
        counters.bytesRead.add(length);
        return IoStatus.OK;
    }

    /** Writes {@code src.remaining()} bytes at data offset {@code offset}; see the class's durability note. */
    public IoStatus write(long offset, ByteBuffer src) {
        checkIo("write", offset, src);
        IoStatus admitted = admit();
        if (admitted != IoStatus.OK) {
            return admitted;
        }
        long startNs = options.clock().nanoTime();
        slowDown();
        if (cache != null) {
            return cachedWrite(offset, src, startNs);
        }
        return admittedWrite(offset, src, startNs);
    }

    private IoStatus admittedWrite(long offset, ByteBuffer src, long startNs) {
        int length = src.remaining();
        if (faults.tornArmed()) {
            long draw = faults.takeTorn();
            if (draw >= 0) {
                return tornWrite(offset, src, draw);
            }
        }
        int start = src.position();
        try {
            writeFully(channel(), HEADER_BYTES + offset, src);
        } catch (IOException e) {
            src.position(start);
            return failedIo("write", offset, length, e);
        }
        observe(startNs);
        faults.clearLatent(offset / CELL_BYTES, length / CELL_BYTES);
        counters.writes.increment();
        counters.bytesWritten.add(length);
        return IoStatus.OK;
    }

    /**
     * With the volatile write-cache model on: saves the bytes the write overwrites, writes, and records
     * the write if it returned OK. Under this object's monitor, so the record's order is the order the
     * writes reached the file, which the cut's undo depends on (simulation only: writes serialise).
     */
    private synchronized IoStatus cachedWrite(long offset, ByteBuffer src, long startNs) {
        int length = src.remaining();
        int evicted;
        try {
            evicted = cache.saveBefore(channel(), offset, length);
        } catch (IOException e) {
            return failedIo("write", offset, length, e);
        }
        if (evicted > 0 && cache.evictedWrites() == evicted) { // the first overflow since the last flush or cut
            event(
                    "ssd_volatile_cache_overflow",
                    "volatile_cache_bytes_max=" + cache.bytesMax() + " evicted_writes=" + evicted
                            + " outcome=oldest_treated_as_flushed");
        }
        IoStatus status = admittedWrite(offset, src, startNs);
        if (status == IoStatus.OK) {
            cache.commit(offset, length);
        }
        return status;
    }

    /**
     * {@code fdatasync}: everything written before survives a power loss once this returns OK. A slow
     * drive is slow here too (the injected latency is per command), but the flush's time is not counted
     * in {@link SsdCounters#serviceNs}: it depends on what the host's page cache holds, not the drive.
     */
    public IoStatus flush() {
        IoStatus admitted = admit();
        if (admitted != IoStatus.OK) {
            return admitted;
        }
        slowDown();
        long covered = cache == null ? 0 : cacheIssued();
        try {
            channel().force(false);
        } catch (IOException e) {
            return failedIo("flush", 0, 0, e);
        }
        if (cache != null) {
            cacheRetire(covered);
        }
        counters.flushes.increment();
        return IoStatus.OK;
    }

    /**
     * The torn-write model (armed by {@link FaultInjector#tornWrite}): the write persists only a prefix
     * of whole 512-byte sectors, {@code (draw mod sectors) * 512} bytes, so from nothing up to all but
     * the last sector, possibly ending mid-cell (the rest of that cell keeps its old bytes). Then either
     * the drive fails (power cut mid-command: {@link IoStatus#DEVICE_FAILED}), or the call reports OK
     * (a lost write from lying firmware: only fingerprints above can notice).
     */
    private IoStatus tornWrite(long offset, ByteBuffer src, long draw) {
        int length = src.remaining();
        int keptBytes = (int) (draw % (length / SECTOR_BYTES)) * SECTOR_BYTES;
        int fullCells = keptBytes / CELL_BYTES;
        int tailBytes = keptBytes % CELL_BYTES;
        int start = src.position();
        int limit = src.limit();
        synchronized (this) {
            try {
                FileChannel ch = channel();
                if (fullCells > 0) {
                    src.limit(start + fullCells * CELL_BYTES);
                    writeFully(ch, HEADER_BYTES + offset, src);
                }
                if (tailBytes > 0) {
                    long cellPosition = HEADER_BYTES + offset + (long) fullCells * CELL_BYTES;
                    readFully(ch, cellPosition, scratch.clear());
                    src.limit(start + keptBytes);
                    scratch.clear().put(src).clear();
                    writeFully(ch, cellPosition, scratch);
                }
            } catch (IOException e) {
                src.limit(limit).position(start);
                return failedIo("write", offset, length, e);
            }
            src.limit(limit);
        }
        faults.clearLatent(offset / CELL_BYTES, (keptBytes + CELL_BYTES - 1) / CELL_BYTES);
        boolean failsDrive = faults.tornFailsDrive();
        event(
                "fault_fired",
                "kind=TORN_WRITE offset=" + offset + " length=" + length + " kept_bytes=" + keptBytes + " outcome="
                        + (failsDrive ? "drive_failed" : "reported_ok"));
        if (failsDrive) {
            src.position(start);
            state.fail(slot());
            counters.deviceErrors.increment();
            return IoStatus.DEVICE_FAILED;
        }
        src.position(limit);
        counters.writes.increment();
        counters.bytesWritten.add(length);
        return IoStatus.OK;
    }

    // ---------------------------------------------------------------- power cut

    /**
     * Power fails, as the simulation decides (the volatile write-cache model, {@link
     * SsdOptions#volatileCacheBytesMax}): each write that returned OK since the last successful flush
     * is, from {@code seed}, KEEP (it persists), DROP (its previous contents are back) or TEAR (a prefix
     * of 1 to n-1 of its n 512-byte sectors persists, {@link #SECTOR_BYTES}), a third each, decided
     * newest first. Overlapping writes come out right per sector: a sector holds the newest write that
     * persisted it, else what it held before the oldest unflushed write. The record is then empty. Call
     * it with I/O quiesced (the node has crashed). Nothing else changes: health, counters, faults (a
     * latent error a dropped write had cleared stays cleared) and
     * any {@link BatteryBackedMemory} (the battery kept it; see {@link BatteryBackedMemory#simulatePowerLoss}).
     *
     * <ul>
     *   <li>Model off: returns {@link PowerCutSummary#NONE}; the drive keeps every write (power-loss
     *       protection).
     *   <li>A failed drive: the cut applies to its file as to a healthy one (its media still holds
     *       what it held); it stays failed.
     *   <li>A pulled drive lost its power when it left the slot; the model settles that loss here, on
     *       the file, through a short-lived channel if this process closed its own. A pulled drive
     *       reinserted before any cut keeps its unflushed writes, as a drive that destaged in time would.
     *   <li>A drive replaced since the writes (here, or by the other controller): the record belongs to
     *       the old drive, which is gone; it is discarded and the new drive is not touched.
     * </ul>
     *
     * Same writes, flushes and seed: same file bytes and same summary. On an {@link IOException} the
     * record stays and a repeat with the same seed ends the same (see {@link VolatileWriteCache#cut}).
     *
     * @throws IllegalStateException if this drive is closed
     */
    public synchronized PowerCutSummary powerCut(long seed) throws IOException {
        if (closed) {
            throw new IllegalStateException("ssd is closed slot=" + slot() + " file=" + file + " seed=" + seed);
        }
        if (cache == null) {
            return PowerCutSummary.NONE;
        }
        if (state.generation() != generationSeen) {
            event("ssd_power_cut", "seed=" + seed + " discarded_writes=" + cache.pendingWrites() + " reason=replaced");
            cache.discard();
            return new PowerCutSummary(1, 0, 0, 0, 0, 0, 0);
        }
        PowerCutSummary summary;
        FileChannel ch = channel;
        if (ch != null) {
            summary = cache.cut(ch, seed);
        } else {
            try (FileChannel pulled = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                summary = cache.cut(pulled, seed);
                pulled.force(false); // written back before an O_DIRECT reopen reads around the page cache
            }
        }
        event("ssd_power_cut", "seed=" + seed + " health=" + state.health() + " " + summary);
        return summary;
    }

    /** Writes that returned OK, not yet covered by a flush, that a power cut would decide (0: model off). */
    public synchronized int unflushedWrites() {
        return cache == null ? 0 : cache.pendingWrites();
    }

    /** Their bytes: at most {@link SsdOptions#volatileCacheBytesMax}. */
    public synchronized long unflushedBytes() {
        return cache == null ? 0 : cache.pendingBytes();
    }

    private synchronized long cacheIssued() {
        return cache.issued();
    }

    private synchronized void cacheRetire(long covered) {
        cache.retire(covered);
    }

    /** Flips one bit of a cell on the medium, silently: no counter moves, reads still return OK. */
    synchronized void flipBit(long cell, int bit) throws IOException {
        if (cell < 0 || cell >= cells() || bit < 0 || bit >= CELL_BYTES * Byte.SIZE) {
            throw new IllegalArgumentException(
                    "bit outside the drive slot=" + slot() + " cell=" + cell + " bit=" + bit + " cells=" + cells());
        }
        FileChannel ch = channel;
        if (ch == null) {
            throw new IllegalStateException("cannot corrupt a pulled drive slot=" + slot() + " cell=" + cell);
        }
        long position = HEADER_BYTES + cell * CELL_BYTES;
        readFully(ch, position, scratch.clear());
        int index = bit >>> 3;
        scratch.put(index, (byte) (scratch.get(index) ^ (1 << (bit & 7))));
        writeFully(ch, position, scratch.clear());
    }

    // ---------------------------------------------------------------- health

    /** The drive dies: every command returns {@link IoStatus#DEVICE_FAILED} until it is replaced. */
    public void fail() {
        state.fail(slot());
        event("ssd_failed", "");
    }

    /** The drive leaves its slot: commands return {@link IoStatus#NOT_PRESENT}; this process closes its file. */
    public void pull() {
        state.pull(slot());
        synchronized (this) {
            closeChannelLocked();
        }
        event("ssd_pulled", "");
    }

    /** The same drive goes back in, with its data (and its failure, if it had failed). */
    public Health reinsert() throws IOException {
        Health back = state.reinsert(slot());
        synchronized (this) {
            if (channel == null) {
                openChannelLocked();
            }
            loadHeaderLocked(); // the label must still be ours and intact
        }
        event("ssd_reinserted", "health=" + back);
        return back;
    }

    /**
     * A new, empty drive takes the slot (from any state): the file is reformatted in place (same inode,
     * so the other controller's open descriptor sees the new drive), its data area reads as zeros, it
     * carries {@code newUuid}, the slot's generation goes up by one, and this process's counters and
     * injected faults start over. A drive in a shelf is replaced through {@link Dae#replace}, which
     * takes the shelf's lock and derives the UUID from the shelf's seed.
     */
    public synchronized void replace(UUID newUuid) throws IOException {
        SsdHeader old = header;
        state.beginReplace();
        if (channel == null) {
            openChannelLocked();
        }
        FileChannel ch = channel;
        SsdHeader fresh = new SsdHeader(old.slot(), old.capacityBytes(), newUuid);
        ch.truncate(HEADER_BYTES); // drops the old data: the new drive is empty
        fresh.encode(scratch);
        writeFully(ch, 0, scratch.clear());
        scratch.clear();
        for (int i = 0; i < CELL_BYTES; i += Long.BYTES) {
            scratch.putLong(i, 0L);
        }
        writeFully(ch, HEADER_BYTES + old.capacityBytes() - CELL_BYTES, scratch.clear()); // full size again, sparse
        ch.force(true);
        header = fresh;
        discardCacheLocked();
        faults.clear();
        counters.reset();
        int generation = state.generation() + 1;
        state.endReplace(generation);
        generationSeen = generation;
        event("ssd_replaced", "old_uuid=" + old.uuid() + " uuid=" + newUuid + " generation=" + generation);
    }

    // ---------------------------------------------------------------- accessors

    public Path file() {
        return file;
    }

    public int slot() {
        return header.slot();
    }

    public long capacityBytes() {
        return header.capacityBytes();
    }

    public long cells() {
        return header.capacityBytes() / CELL_BYTES;
    }

    public UUID uuid() {
        return header.uuid();
    }

    /** How many times the slot's drive has been replaced, as this process last saw it. */
    public int generation() {
        return generationSeen;
    }

    public Health health() {
        return state.health();
    }

    /** The mode this process's file channel uses (last opened); see {@link IoMode} for durability. */
    public IoMode mode() {
        return mode;
    }

    public SsdCounters counters() {
        return counters;
    }

    /** Latency a {@link FaultInjector#slow} added to every command of this drive (0: none). */
    public long injectedLatencyNs() {
        return faults.latencyNs();
    }

    SsdFaults faults() {
        return faults;
    }

    SsdOptions options() {
        return options;
    }

    @Override
    public synchronized void close() {
        closed = true;
        closeChannelLocked();
        if (cache != null) {
            cache.free();
        }
    }

    // ---------------------------------------------------------------- internals

    /**
     * The fast path is one acquire load of the health word plus two volatile reads. Anything unusual (a
     * failed or pulled drive, our channel closed by our own pull, a replace by the other controller)
     * takes the synchronised slow path.
     */
    private IoStatus admit() {
        if (state.isOk() && channel != null && state.generation() == generationSeen && !closed) {
            return IoStatus.OK;
        }
        return admitSlow();
    }

    private synchronized IoStatus admitSlow() {
        if (closed) {
            throw new IllegalStateException("ssd is closed slot=" + slot() + " file=" + file);
        }
        Health health = state.health();
        if (health != Health.OK) {
            counters.deviceErrors.increment();
            return health == Health.PULLED ? IoStatus.NOT_PRESENT : IoStatus.DEVICE_FAILED;
        }
        try {
            if (channel == null) {
                openChannelLocked(); // the other controller reinserted the drive we pulled
            }
            int generation = state.generation();
            if (generation != generationSeen) {
                loadHeaderLocked(); // the other controller replaced the drive
                discardCacheLocked();
                faults.clear();
                counters.reset();
                generationSeen = generation;
                event("ssd_replaced_seen", "uuid=" + header.uuid() + " generation=" + generation);
            }
        } catch (IOException e) {
            return failedIo("reopen", 0, 0, e);
        }
        return IoStatus.OK;
    }

    /** A new drive has no unflushed writes of the old one. */
    private void discardCacheLocked() {
        if (cache != null) {
            cache.discard();
        }
    }

    private FileChannel channel() throws ClosedChannelException {
        FileChannel ch = channel;
        if (ch == null) {
            throw new ClosedChannelException(); // pulled between admit and I/O
        }
        return ch;
    }

    /**
     * A command that raced with a pull sees its channel closed: that is the pull, not a fault of the
     * drive. Any other host I/O error means the backing file is unusable, which a controller would treat
     * as a dead drive, so the slot is failed and the event logged.
     */
    private IoStatus failedIo(String op, long offset, int length, IOException e) {
        counters.deviceErrors.increment();
        if (e instanceof ClosedChannelException) {
            if (closed) {
                throw new IllegalStateException("ssd closed during io slot=" + slot() + " op=" + op);
            }
            return state.health() == Health.PULLED ? IoStatus.NOT_PRESENT : IoStatus.DEVICE_FAILED;
        }
        event(
                "ssd_host_io_error",
                "op=" + op + " offset=" + offset + " length=" + length + " error=\""
                        + e.toString().replace('"', '\'') + "\"");
        if (state.health() == Health.OK) {
            state.fail(slot());
        }
        return IoStatus.DEVICE_FAILED;
    }

    /** Counts the command's time from admission to completion ({@link SsdCounters#serviceNs}). */
    private void observe(long startNs) {
        counters.serviceNs.add(options.clock().nanoTime() - startNs);
    }

    private void slowDown() {
        long ns = faults.latencyNs();
        if (ns > 0) {
            options.sleeper().sleepNanos(ns);
        }
    }

    /**
     * Opens the file, {@code O_DIRECT} first if preferred and the file system's block size divides
     * 4 KiB (the JDK checks alignment against it). Some file systems accept the open flag and refuse the
     * I/O (EINVAL), so the label read is the probe: if it fails, buffered I/O it is.
     */
    private void openChannelLocked() throws IOException {
        if (options.preferredMode() == IoMode.DIRECT && directPossible(file)) {
            FileChannel ch = null;
            try {
                ch = FileChannel.open(
                        file, StandardOpenOption.READ, StandardOpenOption.WRITE, ExtendedOpenOption.DIRECT);
                readFully(ch, 0, scratch.clear());
                channel = ch;
                mode = IoMode.DIRECT;
                return;
            } catch (IOException | UnsupportedOperationException e) {
                if (ch != null) {
                    ch.close();
                }
                event(
                        "ssd_direct_refused",
                        "fallback=BUFFERED error=\"" + e.toString().replace('"', '\'') + "\"");
            }
        }
        channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
        mode = IoMode.BUFFERED;
    }

    private static boolean directPossible(Path file) {
        try {
            long blockSize = Files.getFileStore(file).getBlockSize();
            return blockSize > 0 && blockSize <= CELL_BYTES && CELL_BYTES % blockSize == 0;
        } catch (IOException | UnsupportedOperationException e) {
            return false;
        }
    }

    private void loadHeaderLocked() throws IOException {
        FileChannel ch = channel;
        readFully(ch, 0, scratch.clear());
        SsdHeader h = SsdHeader.decode(scratch, file);
        long expectedSize = HEADER_BYTES + h.capacityBytes();
        if (h.capacityBytes() <= 0 || h.capacityBytes() % CELL_BYTES != 0 || ch.size() != expectedSize) {
            throw new CorruptHeaderException("ssd size does not match its label file=" + file + " capacity_bytes="
                    + h.capacityBytes() + " expected_size=" + expectedSize + " size=" + ch.size());
        }
        SsdHeader known = header;
        if (known != null && known.slot() != h.slot()) {
            throw new CorruptHeaderException(
                    "ssd label names another slot file=" + file + " expected=" + known.slot() + " found=" + h.slot());
        }
        header = h;
    }

    private void closeChannelLocked() {
        FileChannel ch = channel;
        channel = null;
        if (ch != null) {
            try {
                ch.close();
            } catch (IOException e) {
                event("ssd_close_failed", "error=\"" + e.toString().replace('"', '\'') + "\"");
            }
        }
    }

    private void checkIo(String op, long offset, ByteBuffer buf) {
        int length = buf.remaining();
        long capacity = header.capacityBytes();
        boolean ok = offset >= 0
                && (offset & (CELL_BYTES - 1)) == 0
                && length > 0
                && (length & (CELL_BYTES - 1)) == 0
                && length <= IO_BYTES_MAX
                && offset <= capacity - length
                && buf.isDirect()
                && buf.alignmentOffset(buf.position(), CELL_BYTES) == 0
                && !(op.equals("read") && buf.isReadOnly());
        if (!ok) {
            throw new IllegalArgumentException("ssd io must be 4 KiB-aligned in offset, length and memory, direct,"
                    + " at most " + IO_BYTES_MAX + " bytes and within capacity op=" + op + " slot=" + slot()
                    + " offset=" + offset + " length=" + length + " capacity_bytes=" + capacity + " direct="
                    + buf.isDirect() + " read_only=" + buf.isReadOnly()
                    + (buf.isDirect() ? " address_mod_4096=" + buf.alignmentOffset(buf.position(), CELL_BYTES) : ""));
        }
    }

    private static void checkCapacity(long capacityBytes, Path file) {
        if (capacityBytes < CELL_BYTES || capacityBytes % CELL_BYTES != 0 || capacityBytes > CAPACITY_BYTES_MAX) {
            throw new IllegalArgumentException("ssd capacity must be a positive multiple of 4096 up to "
                    + CAPACITY_BYTES_MAX + " capacity_bytes=" + capacityBytes + " file=" + file);
        }
    }

    /** Loops because a positional read may return short; bounded: each turn moves at least one byte. */
    static void readFully(FileChannel ch, long position, ByteBuffer dst) throws IOException {
        long p = position;
        while (dst.hasRemaining()) {
            int n = ch.read(dst, p);
            if (n < 0) {
                throw new IOException("unexpected end of file position=" + p + " remaining=" + dst.remaining());
            }
            p += n;
        }
    }

    static void writeFully(FileChannel ch, long position, ByteBuffer src) throws IOException {
        long p = position;
        while (src.hasRemaining()) {
            p += ch.write(src, p);
        }
    }

    static void syncDirectory(Path dir) throws IOException {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        }
    }

    private void event(String event, String fields) {
        SsdHeader h = header;
        String slot = h == null ? "" : "slot=" + h.slot() + " ";
        EventSink.emit(
                options.events(),
                options.clock(),
                event,
                slot + "file=" + file.getFileName() + (fields.isEmpty() ? "" : " " + fields));
    }
}
