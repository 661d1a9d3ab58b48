package io.hashbrick.node.data;

import io.hashbrick.node.mem.NativeMemory;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The fingerprint index of one H2P bucket: open addressing with linear probing over cells that hold
 * slot + 1 (0 = empty), in one malloc'd block. Deletion shifts later cells of the probe run back
 * (Knuth, TAOCP vol. 3, §6.4, Algorithm R) instead of leaving tombstones, so probe runs never lengthen
 * with churn and no periodic rehash is needed.
 *
 * <pre>
 * cells (little-endian), capacity C (any integer, not a power of two):
 *
 *   narrow, while every slot + 1 fits in 16 bits:  | u16 | u16 | u16 | ... |  2 * C bytes
 *   wide, once the bucket hands out slot 65535:     | u32 | u32 | u32 | ... |  4 * C bytes
 *
 *   home(fp) = unsignedMultiplyHigh(mix(word0 ^ seed), C)
 *   word0    = fingerprint bytes 5..12 as a little-endian long (= entry bytes 0..7)
 * </pre>
 *
 * The home is "fastrange" (Lemire, "A fast alternative to the modulo reduction", 2016): the product's
 * high half maps a 64-bit hash onto [0, C) without a division, so C can grow by 1.25x rather than by
 * doubling. Load stays in [0.64, 0.8]: growth at 0.8 to 1.25x. The hash comes from stored bytes so the
 * index can be rebuilt from the entries alone. SHA-256 output is uniform already; mixing with a secret
 * per-table seed is there because a tenant can grind ~20 bits of a fingerprint cheaply and could
 * otherwise pile blocks into one probe run. (A keyed PRF such as SipHash would be the stricter choice.)
 */
final class H2pIndex {
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Narrow cells hold slot + 1 up to 0xFFFF. */
    static final long NARROW_SLOT_LIMIT = 0xFFFF;

    private static final long MIN_CELLS = 16;

    private final H2pEntries entries;
    private final long seed;
    private MemorySegment cells = MemorySegment.NULL;
    private long capacity;
    private long count;
    private boolean wide;

    H2pIndex(H2pEntries entries, long seed) {
        this.entries = entries;
        this.seed = seed;
    }

    /** @return the slot holding fingerprint {@code fp} (whose bytes 5..12 are {@code word0}), or -1 */
    long find(MemorySegment fp, long fpOffset, long word0) {
        if (capacity == 0) {
            return -1;
        }
        long i = home(word0);
        for (long probes = 0; probes < capacity; probes++) { // bounded: load <= 0.8 leaves an empty cell
            long v = cell(i);
            if (v == 0) {
                return -1;
            }
            if (entries.matches(v - 1, fp, fpOffset, word0)) {
                return v - 1;
            }
            i = next(i);
        }
        throw new IllegalStateException("H2P index has no empty cell: capacity=" + capacity + " count=" + count);
    }

    /** Adds a slot whose fingerprint the caller found absent. */
    void add(long slot, long word0) {
        if (slot + 1 > NARROW_SLOT_LIMIT && !wide) {
            rebuild(Math.max(capacity, MIN_CELLS), true);
        }
        if ((count + 1) * 5 > capacity * 4) {
            rebuild(Math.max(MIN_CELLS, capacity + (capacity + 3) / 4), wide);
        }
        long i = home(word0);
        while (cell(i) != 0) {
            i = next(i);
        }
        setCell(i, slot + 1);
        count++;
    }

    /** Removes a slot that is in the index; {@code word0} is its stored fingerprint word. */
    void remove(long slot, long word0) {
        long i = home(word0);
        for (long probes = 0; cell(i) != slot + 1; probes++) {
            if (probes >= capacity || cell(i) == 0) {
                throw new IllegalStateException("H2P index lost a slot: slot=" + slot + " capacity=" + capacity);
            }
            i = next(i);
        }
        // Backward shift: an entry at j may move to the hole i unless its home lies cyclically in (i, j].
        for (long j = next(i), probes = 0; probes < capacity; j = next(j), probes++) {
            long v = cell(j);
            if (v == 0) {
                break;
            }
            long h = home(entries.word0(v - 1));
            boolean homeInHoleToJ = i <= j ? (h > i && h <= j) : (h > i || h <= j);
            if (!homeInHoleToJ) {
                setCell(i, v);
                i = j;
            }
        }
        setCell(i, 0);
        count--;
    }

    private void rebuild(long newCapacity, boolean newWide) {
        MemorySegment old = cells;
        long oldCapacity = capacity;
        boolean oldWide = wide;
        cells = NativeMemory.allocate(newCapacity * (newWide ? 4 : 2));
        cells.fill((byte) 0);
        capacity = newCapacity;
        wide = newWide;
        for (long c = 0; c < oldCapacity; c++) {
            long v = oldWide ? Integer.toUnsignedLong(old.getAtIndex(U32, c)) : old.getAtIndex(U16, c) & 0xFFFF;
            if (v != 0) {
                long i = home(entries.word0(v - 1));
                while (cell(i) != 0) {
                    i = next(i);
                }
                setCell(i, v);
            }
        }
        NativeMemory.free(old);
    }

    private long home(long word0) {
        return Math.unsignedMultiplyHigh(mix(word0 ^ seed), capacity);
    }

    /** The MurmurHash3 64-bit finalizer (Appleby): a bijection whose every output bit depends on every input bit. */
    private static long mix(long h) {
        h ^= h >>> 33;
        h *= 0xff51afd7ed558ccdL;
        h ^= h >>> 33;
        h *= 0xc4ceb9fe1a85ec53L;
        return h ^ (h >>> 33);
    }

    private long next(long i) {
        return i + 1 == capacity ? 0 : i + 1;
    }

    private long cell(long i) {
        return wide ? Integer.toUnsignedLong(cells.getAtIndex(U32, i)) : cells.getAtIndex(U16, i) & 0xFFFF;
    }

    private void setCell(long i, long v) {
        if (wide) {
            cells.setAtIndex(U32, i, (int) v);
        } else {
            assert v <= NARROW_SLOT_LIMIT : "narrow cell overflow: v=" + v;
            cells.setAtIndex(U16, i, (short) v);
        }
    }

    long count() {
        return count;
    }

    long capacity() {
        return capacity;
    }

    boolean wide() {
        return wide;
    }

    long nativeBytes() {
        return cells.byteSize();
    }

    void free() {
        NativeMemory.free(cells);
        cells = MemorySegment.NULL;
        capacity = 0;
        count = 0;
        wide = false;
    }
}
