package io.hashbrick.sim;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The simulation-only record behind {@link Ssd#powerCut}: every write that returned OK and no
 * successful flush has covered yet, oldest first, with the bytes it overwrote. Guarded by its
 * {@link Ssd}'s monitor, which also orders the record as the writes reached the file.
 *
 * <p><b>Memory.</b> Allocated once, at open: a ring of {@code bytesMax} bytes holding each write's
 * previous contents back to back, and per-write arrays sized for the most writes that fit
 * ({@code bytesMax / 4096}). Offsets, lengths and {@code bytesMax} are multiples of 4096 and the ring
 * is 4 KiB-aligned, so the previous contents are read straight into it, {@code O_DIRECT} or not, and a
 * cell is never split by the ring's wrap. Nothing is allocated per write.
 *
 * <p><b>Over the cap.</b> A write that does not fit evicts the oldest writes first: they leave the
 * record and count as flushed, as a real drive destages the oldest part of its cache when it fills.
 * The model then loses less than it could, never bytes the drive kept: only a prefix of the writes in
 * issue order is treated as durable. Evictions are counted ({@link #evictedWrites}) and reported in
 * the next {@link PowerCutSummary}; the {@link Ssd} logs the first of each flush interval.
 */
final class VolatileWriteCache {
    private static final int SECTORS_PER_CELL = Ssd.CELL_BYTES / Ssd.SECTOR_BYTES;
    private static final int ALL_SECTORS = (1 << SECTORS_PER_CELL) - 1;

    private final int bytesMax;
    private final int entriesMax;
    private final ByteBuffer ring;
    /** The ring's memory, freed when the drive closes (not left to the collector: a simulation opens
     *  thousands of drives, and direct buffers are freed only after a GC noticed them). */
    private final Arena arena = Arena.ofShared();

    private boolean freed;
    /** One cell for the read-modify-write of a partly restored cell. */
    private final ByteBuffer cell = Ssd.allocateAligned(Ssd.CELL_BYTES);

    private final long[] offsets;
    private final int[] lengths;
    private final int[] ringStarts;
    private int first; // index of the oldest write
    private int count;
    private int ringTail; // where the next write's previous contents go
    private int usedBytes;
    private long retired; // writes that ever left the record: the sequence number of the oldest one
    private long evictedWrites; // since the last successful flush or cut
    private long evictedBytes;

    VolatileWriteCache(long bytesMax) {
        this.bytesMax = Math.toIntExact(bytesMax); // validated by SsdOptions: a multiple of 4096, at most 1 GiB
        this.entriesMax = this.bytesMax / Ssd.CELL_BYTES;
        this.ring = arena.allocate(this.bytesMax, Ssd.CELL_BYTES).asByteBuffer();
        this.offsets = new long[entriesMax];
        this.lengths = new int[entriesMax];
        this.ringStarts = new int[entriesMax];
    }

    /** Frees the ring (the drive closed); the record is not used afterwards. Idempotent. */
    void free() {
        if (!freed) {
            freed = true;
            arena.close();
        }
    }

    /**
     * Before a write of {@code length} bytes at data offset {@code offset}: makes room (evicting the
     * oldest writes) and reads the bytes it will overwrite into the ring. Returns how many writes were
     * evicted. The write joins the record only on {@link #commit}; if it fails, the next one reuses the
     * room.
     */
    int saveBefore(FileChannel ch, long offset, int length) throws IOException {
        int evicted = 0;
        while (bytesMax - usedBytes < length) { // bounded: length <= IO_BYTES_MAX <= bytesMax
            evictOldest();
            evicted++;
        }
        long position = Ssd.HEADER_BYTES + offset;
        int firstPart = Math.min(length, bytesMax - ringTail);
        Ssd.readFully(ch, position, ring.limit(ringTail + firstPart).position(ringTail));
        if (firstPart < length) { // wraps: the rest goes to the ring's start
            Ssd.readFully(
                    ch, position + firstPart, ring.limit(length - firstPart).position(0));
        }
        return evicted;
    }

    /** The write {@link #saveBefore} prepared returned OK: it is now at risk until a flush. */
    void commit(long offset, int length) {
        assert count < entriesMax : "record full count=" + count + " entries_max=" + entriesMax;
        int i = index(count);
        offsets[i] = offset;
        lengths[i] = length;
        ringStarts[i] = ringTail;
        count++;
        usedBytes += length;
        ringTail = (ringTail + length) % bytesMax;
    }

    /** The sequence number the next write will get; a flush that returns OK covers every one before it. */
    long issued() {
        return retired + count;
    }

    /** A flush that started when {@link #issued} was {@code upTo} returned OK. */
    void retire(long upTo) {
        while (count > 0 && retired < upTo) { // bounded by count
            dropOldest();
        }
        evictedWrites = 0;
        evictedBytes = 0;
    }

    /**
     * Power fails: decides each recorded write from {@code seed}, newest first, and undoes what did not
     * persist. A sector takes the bytes of the newest write that persisted it, or, if none did, the
     * bytes it had before the oldest recorded write. Undoing newest first gets that: a dropped sector
     * gets the write's previous contents, which are the next older write's bytes (or the flushed ones),
     * and a sector some newer write persisted is {@code settled} and not touched again.
     *
     * <p>If an {@link IOException} stops it, the record stays: a repeat with the same seed makes the
     * same decisions and rewrites the same bytes in the same order, so it ends where a clean run would.
     */
    PowerCutSummary cut(FileChannel ch, long seed) throws IOException {
        SplittableRandom random = new SplittableRandom(seed);
        Map<Long, Integer> settled = new HashMap<>(); // cell -> mask of sectors a newer write persisted
        long kept = 0, dropped = 0, torn = 0, bytesKept = 0, bytesLost = 0;
        for (int k = count - 1; k >= 0; k--) {
            int i = index(k);
            int sectors = lengths[i] / Ssd.SECTOR_BYTES;
            int keptSectors = keptSectors(random, sectors);
            undo(ch, i, keptSectors * Ssd.SECTOR_BYTES, settled);
            if (keptSectors == sectors) {
                kept++;
            } else if (keptSectors == 0) {
                dropped++;
            } else {
                torn++;
            }
            bytesKept += (long) keptSectors * Ssd.SECTOR_BYTES;
            bytesLost += lengths[i] - (long) keptSectors * Ssd.SECTOR_BYTES;
        }
        PowerCutSummary summary = new PowerCutSummary(1, kept, dropped, torn, bytesKept, bytesLost, evictedWrites);
        discard();
        return summary;
    }

    /**
     * One write's fate, drawn from the cut's generator: KEEP (all sectors), DROP (none) or TEAR (a
     * prefix of 1 to {@code sectors - 1} whole sectors), each a third of the time. Package-private so a
     * test can replay the decisions against its own model of the result.
     */
    static int keptSectors(SplittableRandom random, int sectors) {
        return switch (random.nextInt(3)) {
            case 0 -> sectors;
            case 1 -> 0;
            default -> random.nextInt(1, sectors);
        };
    }

    /** Restores, cell by cell, the sectors of write {@code i} past {@code keptBytes} no newer write persisted. */
    private void undo(FileChannel ch, int i, int keptBytes, Map<Long, Integer> settled) throws IOException {
        long offset = offsets[i];
        for (int rel = 0; rel < lengths[i]; rel += Ssd.CELL_BYTES) {
            long cellIndex = (offset + rel) / Ssd.CELL_BYTES;
            int keep = prefixMask(keptBytes - rel);
            int restore = ~keep & ALL_SECTORS & ~settled.getOrDefault(cellIndex, 0);
            if (restore != 0) {
                restoreSectors(ch, offset + rel, (ringStarts[i] + rel) % bytesMax, restore);
            }
            if (keep != 0) {
                settled.merge(cellIndex, keep, (a, b) -> a | b);
            }
        }
    }

    /** The sectors of a cell that {@code bytes} (may be negative or past the cell) of a prefix cover. */
    private static int prefixMask(int bytes) {
        int sectors = bytes <= 0 ? 0 : Math.min(bytes / Ssd.SECTOR_BYTES, SECTORS_PER_CELL);
        return (1 << sectors) - 1;
    }

    /** Read-modify-write of one whole cell: {@code O_DIRECT} takes no 512-byte writes on a 4 KiB file system. */
    private void restoreSectors(FileChannel ch, long dataOffset, int ringPos, int mask) throws IOException {
        long position = Ssd.HEADER_BYTES + dataOffset;
        Ssd.readFully(ch, position, cell.clear());
        ring.clear(); // an absolute put still checks the source's limit, which saveBefore moved
        for (int s = 0; s < SECTORS_PER_CELL; s++) {
            if ((mask & (1 << s)) != 0) {
                int at = s * Ssd.SECTOR_BYTES;
                cell.put(at, ring, ringPos + at, Ssd.SECTOR_BYTES);
            }
        }
        Ssd.writeFully(ch, position, cell.clear());
    }

    /** Forgets every write: after a cut, or when the drive is replaced (the new drive is empty). */
    void discard() {
        retired += count;
        count = 0;
        first = 0;
        ringTail = 0;
        usedBytes = 0;
        evictedWrites = 0;
        evictedBytes = 0;
    }

    private void evictOldest() {
        evictedBytes += lengths[first];
        evictedWrites++;
        dropOldest();
    }

    private void dropOldest() {
        usedBytes -= lengths[first];
        first = index(1);
        count--;
        retired++;
    }

    private int index(int k) {
        return (first + k) % entriesMax;
    }

    int pendingWrites() {
        return count;
    }

    long pendingBytes() {
        return usedBytes;
    }

    long evictedWrites() {
        return evictedWrites;
    }

    long evictedBytes() {
        return evictedBytes;
    }

    int bytesMax() {
        return bytesMax;
    }
}
