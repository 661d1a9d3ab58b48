package io.hashbrick.node.data;

import io.hashbrick.node.api.BlockCodec;
import io.hashbrick.node.mem.NativeMemory;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * The D role's content-addressed read cache (DESIGN.md "Read path"): stored blocks (LZ4 or raw, as on
 * the SSD) keyed by H2P handle, so one cached copy serves every volume and LBA that maps the block.
 * Blocks enter when destage places them and when a verified SSD read returns them; they leave on
 * CLOCK eviction, or when their handle is freed (the slot may be reused for other content).
 *
 * <p>Memory: {@code slots x 4 KiB} off-heap, plus an open-addressing index (16 bytes per slot x 2) and
 * 13 bytes per slot of bookkeeping on the heap. Not thread-safe: {@link DataPath} calls it under its
 * lock.
 */
final class ReadCache {
    private static final int SLOT_BYTES = BlockCodec.BLOCK_BYTES;

    private final int slots;
    private final MemorySegment slab;
    private final long[] handleOf;
    private final short[] lengthOf;
    private final boolean[] referenced;
    private final long[] keys; // handle + 1, 0 = empty
    private final int[] values;
    private final int mask;
    private int used;
    private int hand;
    /**
     * Slots whose entry was removed, reused first (a stack): their pages are in memory already. The
     * slab is malloc'd and its pages committed on first touch, which costs a page fault and the
     * kernel's zeroing of 4 KiB (~10 us measured here): taking never-used slots while freed ones wait
     * made every destaged block of the cache's first pass fault a page (27 % of the CPU samples of
     * unique random writes in a 15 s run).
     */
    private final int[] freeSlots;

    private int freeCount;
    /** Slots below this were handed out at least once. */
    private int fresh;

    private long hits;
    private long misses;
    private long evictions;

    ReadCache(long bytes) {
        this.slots = (int) Math.max(0, Math.min(bytes / SLOT_BYTES, 1 << 24));
        // malloc, not a zeroing arena: the pages are committed as blocks arrive, not at start-up
        this.slab = slots == 0 ? MemorySegment.NULL : NativeMemory.allocate((long) slots * SLOT_BYTES);
        this.handleOf = new long[slots];
        Arrays.fill(handleOf, -1);
        this.lengthOf = new short[slots];
        this.referenced = new boolean[slots];
        this.freeSlots = new int[slots];
        int cap = Integer.highestOneBit(Math.max(2, slots * 2 - 1)) << 1;
        this.keys = new long[cap];
        this.values = new int[cap];
        this.mask = cap - 1;
    }

    /** Frees the slab (the data path is closing). */
    void free() {
        if (slots > 0) {
            NativeMemory.free(slab);
        }
    }

    /** Drops every entry (a drill wants the next reads to go to the SSDs). */
    void clear() {
        Arrays.fill(keys, 0);
        Arrays.fill(handleOf, -1);
        Arrays.fill(referenced, false);
        used = 0;
        hand = 0;
        freeCount = 0;
        fresh = 0;
    }

    long capacityBytes() {
        return (long) slots * SLOT_BYTES;
    }

    /** Copies the cached stored bytes of {@code handle} into {@code dst[0..]}. @return their length, or -1 */
    int get(long handle, byte[] dst) {
        return get(handle, dst, true);
    }

    /** {@link #get}; a miss counts only with {@code countMiss} (a caller that will ask again does not). */
    int get(long handle, byte[] dst, boolean countMiss) {
        int slot = find(handle);
        if (slot < 0) {
            if (countMiss) {
                misses++;
            }
            return -1;
        }
        hits++;
        referenced[slot] = true;
        int len = lengthOf[slot] & 0xFFFF;
        MemorySegment.copy(slab, ValueLayout.JAVA_BYTE, (long) slot * SLOT_BYTES, dst, 0, len);
        return len;
    }

    void put(long handle, byte[] stored, int off, int len) {
        if (slots == 0 || len > SLOT_BYTES || find(handle) >= 0) {
            return;
        }
        int slot = victim();
        MemorySegment.copy(stored, off, slab, ValueLayout.JAVA_BYTE, (long) slot * SLOT_BYTES, len);
        place(handle, slot, len);
    }

    void put(long handle, ByteBuffer stored, int off, int len) {
        if (slots == 0 || len > SLOT_BYTES || find(handle) >= 0) {
            return;
        }
        int slot = victim();
        MemorySegment.copy(
                MemorySegment.ofBuffer(stored), off - stored.position(), slab, (long) slot * SLOT_BYTES, len);
        place(handle, slot, len);
    }

    /** The handle was freed: its content must not be served for a new block that reuses it. */
    void remove(long handle) {
        if (slots == 0) {
            return;
        }
        int i = indexOf(handle);
        if (i < 0) {
            return;
        }
        int slot = values[i];
        handleOf[slot] = -1;
        used--;
        deleteAt(i);
        freeSlots[freeCount++] = slot;
    }

    private void place(long handle, int slot, int len) {
        handleOf[slot] = handle;
        lengthOf[slot] = (short) len;
        referenced[slot] = false;
        used++;
        int i = (int) (mix(handle) & mask);
        while (keys[i] != 0) {
            i = (i + 1) & mask;
        }
        keys[i] = handle + 1;
        values[i] = slot;
    }

    /**
     * A slot freed before, else one never used, else the first unreferenced one under the clock hand
     * (its entry is dropped: its slot goes on the free stack and is taken right back).
     */
    private int victim() {
        if (freeCount > 0) {
            return freeSlots[--freeCount];
        }
        if (fresh < slots) {
            return fresh++;
        }
        while (true) { // every slot holds an entry: bounded by two turns of the hand
            int s = hand;
            hand = hand + 1 == slots ? 0 : hand + 1;
            if (handleOf[s] < 0) {
                return s;
            }
            if (referenced[s]) {
                referenced[s] = false;
                continue;
            }
            evictions++;
            remove(handleOf[s]);
            return freeSlots[--freeCount];
        }
    }

    private int find(long handle) {
        int i = indexOf(handle);
        return i < 0 ? -1 : values[i];
    }

    private int indexOf(long handle) {
        if (slots == 0) {
            return -1;
        }
        long key = handle + 1;
        int i = (int) (mix(handle) & mask);
        while (keys[i] != 0) {
            if (keys[i] == key) {
                return i;
            }
            i = (i + 1) & mask;
        }
        return -1;
    }

    /** Linear probing's backward-shift deletion: no tombstones. */
    private void deleteAt(int i) {
        int hole = i;
        int j = i;
        while (true) {
            j = (j + 1) & mask;
            if (keys[j] == 0) {
                break;
            }
            int home = (int) (mix(keys[j] - 1) & mask);
            boolean movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
            if (movable) {
                keys[hole] = keys[j];
                values[hole] = values[j];
                hole = j;
            }
        }
        keys[hole] = 0;
    }

    private static long mix(long x) {
        x *= 0x9E3779B97F4A7C15L;
        return x ^ (x >>> 29);
    }

    /** Slots handed out at least once: the slab's pages touched (tests). */
    int slotsEverUsed() {
        return fresh;
    }

    long hits() {
        return hits;
    }

    long misses() {
        return misses;
    }

    long evictions() {
        return evictions;
    }

    long usedBytes() {
        return (long) used * SLOT_BYTES;
    }
}
