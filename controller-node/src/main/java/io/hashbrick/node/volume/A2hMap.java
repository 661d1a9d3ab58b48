package io.hashbrick.node.volume;

import io.hashbrick.node.api.Handles;
import io.hashbrick.node.mem.NativeMemory;
import io.hashbrick.routing.placement.Placement;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A2H of one volume (DESIGN.md "Metadata", C role): logical 4 KiB block number → handle of the
 * stored block in H2P. Unmapped space costs nothing; mapped space costs about 6.3 bytes per 4 KiB
 * when dense (budget: 8).
 *
 * <p>A two-level radix in native memory, one region per GiB (the unit C-role ownership is
 * partitioned by), allocated on the region's first write:
 * <pre>
 *  regions[block >>> 18] ──► directory: 4096 leaf addresses (8 bytes each, 32 KiB)
 *                              └─► leaf: 64 cells x 5 bytes (320 bytes), one per 4 KiB block
 *  cell = (generation << 34 | bucket << 22 | slot) + 1, little-endian 40 bits; 0 = unmapped
 * </pre>
 * Handles are 54 bits ({@code generation << 48 | bucket << 36 | slot}, see H2P's H2pHandle); a cell
 * keeps the 6-bit generation, the 12-bit bucket and 22 bits of slot, which is as many slots as H2P
 * hands out per bucket, so a cell holds any handle but the all-ones value. A leaf is freed when its last cell is unmapped, a directory when its last leaf is.
 *
 * <p>Single writer: the thread that owns this volume's C role. Not for concurrent use.
 */
public final class A2hMap implements AutoCloseable {
    public static final long UNMAPPED = -1L;
    /**
     * A cell keeps a handle in 40 bits: its 6-bit generation, 12-bit bucket and the low 22 bits of its
     * 36-bit slot (4 M entries per bucket, 17 G in all: H2P hands out no more, see H2pEntries.MAX_SLOTS).
     */
    public static final int CELL_SLOT_BITS = Handles.SLOT_BITS;

    private static final long CELL_SLOT_MASK = (1L << CELL_SLOT_BITS) - 1;
    private static final int HANDLE_SLOT_BITS = 36;
    private static final int BUCKET_BITS = 12;
    private static final int GENERATION_BITS = 6;
    private static final int CELL_BUCKET_SHIFT = CELL_SLOT_BITS;
    private static final int CELL_GENERATION_SHIFT = CELL_SLOT_BITS + BUCKET_BITS;
    private static final int HANDLE_GENERATION_SHIFT = HANDLE_SLOT_BITS + BUCKET_BITS;
    private static final long BUCKET_MASK = (1L << BUCKET_BITS) - 1;
    private static final long GENERATION_MASK = (1L << GENERATION_BITS) - 1;
    /** The largest handle a cell holds (all-ones is "unmapped + 1"). */
    public static final long MAX_HANDLE =
            (GENERATION_MASK << HANDLE_GENERATION_SHIFT) | (BUCKET_MASK << HANDLE_SLOT_BITS) | (CELL_SLOT_MASK - 1);

    static final int REGION_SHIFT = Placement.REGION_SHIFT; // 2^18 blocks of 4 KiB = 1 GiB
    static final int LEAF_SHIFT = 6; // 64 blocks per leaf
    static final int LEAVES_PER_REGION = 1 << (REGION_SHIFT - LEAF_SHIFT);
    static final int CELL_BYTES = 5;
    static final int LEAF_BYTES = CELL_BYTES << LEAF_SHIFT;
    static final long DIRECTORY_BYTES = 8L * LEAVES_PER_REGION;

    private static final ValueLayout.OfLong ADDRESS = ValueLayout.JAVA_LONG_UNALIGNED;
    /** All of native memory as one segment: cells are read by absolute address, with no segment object per access. */
    private static final MemorySegment ALL = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);

    private long blocks;
    private MemorySegment[] directories;
    /** Mapped cells per leaf, per region (heap: 4 KiB per touched GiB), so empty leaves can be freed. */
    private short[][] leafCounts;

    private int[] regionLeaves;
    /**
     * Leaves changed since the last checkpoint capture, a bit each, per region (incremental checkpoints:
     * a delta holds these leaves whole, a freed one as zeros). Kept while the region's directory goes.
     */
    private long[][] dirty;
    /** Created since the last capture: its next checkpoint section is whole (a base), whatever the checkpoint. */
    private boolean fresh = true;

    private long mapped;

    public A2hMap(long blocks) {
        if (blocks <= 0 || blocks > (1L << 40)) {
            throw new IllegalArgumentException("volume size out of range: blocks=" + blocks);
        }
        this.blocks = blocks;
        int regions = Placement.regions(blocks);
        this.directories = new MemorySegment[regions];
        this.leafCounts = new short[regions][];
        this.regionLeaves = new int[regions];
        this.dirty = new long[regions][];
    }

    public long blocks() {
        return blocks;
    }

    /** Grows the volume to {@code newBlocks}; existing mappings stay, the new space is unmapped. */
    public void grow(long newBlocks) {
        if (newBlocks < blocks || newBlocks > (1L << 40)) {
            throw new IllegalArgumentException("a map only grows: blocks=" + blocks + " new_blocks=" + newBlocks);
        }
        int regions = Placement.regions(newBlocks);
        directories = java.util.Arrays.copyOf(directories, regions);
        leafCounts = java.util.Arrays.copyOf(leafCounts, regions);
        regionLeaves = java.util.Arrays.copyOf(regionLeaves, regions);
        dirty = java.util.Arrays.copyOf(dirty, regions);
        blocks = newBlocks;
    }

    /** The handle mapped at {@code block}, or {@link #UNMAPPED}. */
    public long get(long block) {
        checkBlock(block);
        MemorySegment dir = directories[Placement.region(block)];
        if (dir == null) {
            return UNMAPPED;
        }
        long leaf = dir.get(ADDRESS, 8L * leafIndex(block));
        if (leaf == 0) {
            return UNMAPPED;
        }
        return unpack(readCell(leaf + cellOffset(block)));
    }

    /** Whether a cell can hold {@code handle} (no bits above the generation, slot below 2^22, not all-ones). */
    public static boolean storable(long handle) {
        long slot = handle & ((1L << HANDLE_SLOT_BITS) - 1);
        return handle >= 0
                && (handle >>> (HANDLE_GENERATION_SHIFT + GENERATION_BITS)) == 0
                && slot <= CELL_SLOT_MASK
                && pack(handle) != (1L << 40);
    }

    /** Cell value (0 = unmapped) to handle. */
    private static long unpack(long cell) {
        if (cell == 0) {
            return UNMAPPED;
        }
        long p = cell - 1;
        return ((p >>> CELL_GENERATION_SHIFT) << HANDLE_GENERATION_SHIFT)
                | (((p >>> CELL_BUCKET_SHIFT) & BUCKET_MASK) << HANDLE_SLOT_BITS)
                | (p & CELL_SLOT_MASK);
    }

    /** Handle to cell value. */
    private static long pack(long handle) {
        return (((handle >>> HANDLE_GENERATION_SHIFT) & GENERATION_MASK) << CELL_GENERATION_SHIFT
                        | ((handle >>> HANDLE_SLOT_BITS) & BUCKET_MASK) << CELL_BUCKET_SHIFT
                        | (handle & CELL_SLOT_MASK))
                + 1;
    }

    /** Maps {@code block} to {@code handle}; returns the handle it replaced, or {@link #UNMAPPED}. */
    public long put(long block, long handle) {
        checkBlock(block);
        if (!storable(handle)) {
            throw new IllegalArgumentException("handle out of range: handle=" + handle + " block=" + block);
        }
        int region = Placement.region(block);
        MemorySegment dir = directories[region];
        if (dir == null) {
            dir = NativeMemory.allocateZeroed(DIRECTORY_BYTES);
            directories[region] = dir;
            leafCounts[region] = new short[LEAVES_PER_REGION];
        }
        int li = leafIndex(block);
        long leaf = dir.get(ADDRESS, 8L * li);
        if (leaf == 0) {
            leaf = NativeMemory.allocateZeroed(LEAF_BYTES).address();
            dir.set(ADDRESS, 8L * li, leaf);
            regionLeaves[region]++;
        }
        long cell = leaf + cellOffset(block);
        long old = unpack(readCell(cell));
        writeCell(cell, pack(handle));
        markDirty(region, li);
        if (old == UNMAPPED) {
            leafCounts[region][li]++;
            mapped++;
        }
        return old;
    }

    /** Unmaps {@code block}; returns the handle it held, or {@link #UNMAPPED}. */
    public long remove(long block) {
        checkBlock(block);
        int region = Placement.region(block);
        MemorySegment dir = directories[region];
        if (dir == null) {
            return UNMAPPED;
        }
        int li = leafIndex(block);
        long leaf = dir.get(ADDRESS, 8L * li);
        if (leaf == 0) {
            return UNMAPPED;
        }
        long cell = leaf + cellOffset(block);
        long old = unpack(readCell(cell));
        if (old == UNMAPPED) {
            return UNMAPPED;
        }
        writeCell(cell, 0);
        markDirty(region, li);
        mapped--;
        if (--leafCounts[region][li] == 0) {
            NativeMemory.free(MemorySegment.ofAddress(leaf).reinterpret(LEAF_BYTES));
            dir.set(ADDRESS, 8L * li, 0L);
            if (--regionLeaves[region] == 0) {
                NativeMemory.free(dir);
                directories[region] = null;
                leafCounts[region] = null;
            }
        }
        return old;
    }

    private void markDirty(int region, int li) {
        long[] d = dirty[region];
        if (d == null) {
            d = new long[LEAVES_PER_REGION / 64];
            dirty[region] = d;
        }
        d[li >>> 6] |= 1L << li;
    }

    /** Whether the next checkpoint section of this map must be whole (created since the last capture). */
    boolean fresh() {
        return fresh;
    }

    /** Leaves changed since the last capture (what a delta of this map holds). */
    long dirtyLeaves() {
        long n = 0;
        for (long[] d : dirty) {
            if (d != null) {
                for (long w : d) {
                    n += Long.bitCount(w);
                }
            }
        }
        return n;
    }

    /** Leaves allocated now (what a whole section holds). */
    long leaves() {
        long n = 0;
        for (int c : regionLeaves) {
            n += c;
        }
        return n;
    }

    /** Receives a leaf of {@link #forEachLeaf}: its 320 bytes at {@code address}, or 0 for a leaf freed. */
    @FunctionalInterface
    interface LeafVisitor {
        void leaf(int region, int leaf, long address) throws java.io.IOException;
    }

    /**
     * Calls {@code visitor} for every allocated leaf ({@code all}) or every leaf changed since the last
     * capture (address 0 for one freed since), in ascending order; then forgets the changes (a capture).
     */
    void forEachLeaf(boolean all, LeafVisitor visitor) throws java.io.IOException {
        for (int r = 0; r < directories.length; r++) {
            MemorySegment dir = directories[r];
            long[] d = dirty[r];
            if (all) {
                for (int li = 0; dir != null && li < LEAVES_PER_REGION; li++) {
                    long leaf = dir.get(ADDRESS, 8L * li);
                    if (leaf != 0) {
                        visitor.leaf(r, li, leaf);
                    }
                }
            } else if (d != null) {
                for (int w = 0; w < d.length; w++) {
                    for (long bits = d[w]; bits != 0; bits &= bits - 1) {
                        int li = w * 64 + Long.numberOfTrailingZeros(bits);
                        visitor.leaf(r, li, dir == null ? 0 : dir.get(ADDRESS, 8L * li));
                    }
                }
            }
            if (d != null) {
                java.util.Arrays.fill(d, 0L);
            }
        }
        fresh = false;
    }

    /** Copies the leaf at {@code address} ({@link #LEAF_BYTES}) to {@code dst} at {@code offset}. */
    static void copyLeafOut(long address, MemorySegment dst, long offset) {
        MemorySegment.copy(ALL, address, dst, offset, LEAF_BYTES);
    }

    /** Planted bug only ({@code checkpoint-skips-dirty-entry}): forgets that {@code block}'s leaf changed. */
    void forgetChange(long block) {
        long[] d = dirty[Placement.region(block)];
        if (d != null) {
            int li = leafIndex(block);
            d[li >>> 6] &= ~(1L << li);
        }
    }

    /**
     * Restore only: leaf {@code li} of region {@code region} takes {@link #LEAF_BYTES} bytes of
     * {@code src} at {@code offset} (all zeros: the leaf is freed). The counts follow its cells.
     */
    void restoreLeaf(int region, int li, MemorySegment src, long offset) {
        if (region < 0 || region >= directories.length || li < 0 || li >= LEAVES_PER_REGION) {
            throw new IllegalArgumentException(
                    "leaf out of range: region=" + region + " leaf=" + li + " regions=" + directories.length);
        }
        int cells = 0;
        for (int c = 0; c < (1 << LEAF_SHIFT); c++) {
            long lo = src.get(ValueLayout.JAVA_INT_UNALIGNED, offset + (long) c * CELL_BYTES) & 0xffff_ffffL;
            long hi = src.get(ValueLayout.JAVA_BYTE, offset + (long) c * CELL_BYTES + 4) & 0xffL;
            if ((lo | hi << 32) != 0) {
                cells++;
            }
        }
        long first = Placement.firstBlock(region) | ((long) li << LEAF_SHIFT);
        if (cells > 0 && first >= blocks) {
            throw new IllegalArgumentException(
                    "leaf past the volume's end: region=" + region + " leaf=" + li + " blocks=" + blocks);
        }
        MemorySegment dir = directories[region];
        long leaf = dir == null ? 0 : dir.get(ADDRESS, 8L * li);
        int before = leaf == 0 ? 0 : leafCounts[region][li];
        if (cells == 0) {
            if (leaf != 0) {
                NativeMemory.free(MemorySegment.ofAddress(leaf).reinterpret(LEAF_BYTES));
                dir.set(ADDRESS, 8L * li, 0L);
                mapped -= before;
                if (--regionLeaves[region] == 0) {
                    NativeMemory.free(dir);
                    directories[region] = null;
                    leafCounts[region] = null;
                }
            }
            return;
        }
        if (dir == null) {
            dir = NativeMemory.allocateZeroed(DIRECTORY_BYTES);
            directories[region] = dir;
            leafCounts[region] = new short[LEAVES_PER_REGION];
        }
        if (leaf == 0) {
            leaf = NativeMemory.allocateZeroed(LEAF_BYTES).address();
            dir.set(ADDRESS, 8L * li, leaf);
            regionLeaves[region]++;
        }
        MemorySegment.copy(src, offset, ALL, leaf, LEAF_BYTES);
        leafCounts[region][li] = (short) cells;
        mapped += cells - before;
    }

    /** Restore only: the map as loaded is the one its checkpoints hold (nothing changed since, not fresh). */
    void restored() {
        for (long[] d : dirty) {
            if (d != null) {
                java.util.Arrays.fill(d, 0L);
            }
        }
        fresh = false;
    }

    /** Calls {@code visitor} for every mapped block in ascending order; no allocation per block. */
    public void forEachMapped(MappingVisitor visitor) {
        for (int r = 0; r < directories.length; r++) {
            MemorySegment dir = directories[r];
            if (dir == null) {
                continue;
            }
            for (int li = 0; li < LEAVES_PER_REGION; li++) {
                long leaf = dir.get(ADDRESS, 8L * li);
                if (leaf == 0) {
                    continue;
                }
                long base = Placement.firstBlock(r) | ((long) li << LEAF_SHIFT);
                for (int c = 0; c < (1 << LEAF_SHIFT); c++) {
                    long v = readCell(leaf + (long) c * CELL_BYTES);
                    if (v != 0) {
                        visitor.mapped(base + c, unpack(v));
                    }
                }
            }
        }
    }

    /** Receives one mapping of {@link #forEachMapped}. */
    @FunctionalInterface
    public interface MappingVisitor {
        void mapped(long block, long handle);
    }

    public long mappedBlocks() {
        return mapped;
    }

    /** Native bytes this map holds (directories and leaves, malloc headers included). */
    public long nativeBytes() {
        long n = 0;
        for (int r = 0; r < directories.length; r++) {
            if (directories[r] != null) {
                n += DIRECTORY_BYTES
                        + NativeMemory.OVERHEAD_BYTES
                        + (long) regionLeaves[r] * (LEAF_BYTES + NativeMemory.OVERHEAD_BYTES);
            }
        }
        return n;
    }

    /** Native allocations this map holds (directories and leaves). */
    public long allocations() {
        long n = 0;
        for (int r = 0; r < directories.length; r++) {
            if (directories[r] != null) {
                n += 1 + regionLeaves[r];
            }
        }
        return n;
    }

    /** Heap bytes of the per-region bookkeeping (leaf counts), for the stats' all-in figure. */
    public long heapBytes() {
        long n = 16L + 8L * directories.length * 3;
        for (short[] c : leafCounts) {
            if (c != null) {
                n += 16L + 2L * c.length;
            }
        }
        return n;
    }

    @Override
    public void close() {
        for (int r = 0; r < directories.length; r++) {
            MemorySegment dir = directories[r];
            if (dir == null) {
                continue;
            }
            for (int li = 0; li < LEAVES_PER_REGION; li++) {
                long leafAddress = dir.get(ADDRESS, 8L * li);
                if (leafAddress != 0) {
                    NativeMemory.free(MemorySegment.ofAddress(leafAddress).reinterpret(LEAF_BYTES));
                }
            }
            NativeMemory.free(dir);
            directories[r] = null;
            leafCounts[r] = null;
            regionLeaves[r] = 0;
        }
        mapped = 0;
    }

    private void checkBlock(long block) {
        if (block < 0 || block >= blocks) {
            throw new IllegalArgumentException("block out of range: block=" + block + " blocks=" + blocks);
        }
    }

    private static int leafIndex(long block) {
        return (int) (block >>> LEAF_SHIFT) & (LEAVES_PER_REGION - 1);
    }

    private static int cellOffset(long block) {
        return (int) (block & ((1 << LEAF_SHIFT) - 1)) * CELL_BYTES;
    }

    private static long readCell(long address) {
        long lo = ALL.get(ValueLayout.JAVA_INT_UNALIGNED, address) & 0xffff_ffffL;
        long hi = ALL.get(ValueLayout.JAVA_BYTE, address + 4) & 0xffL;
        return lo | (hi << 32);
    }

    private static void writeCell(long address, long v) {
        ALL.set(ValueLayout.JAVA_INT_UNALIGNED, address, (int) v);
        ALL.set(ValueLayout.JAVA_BYTE, address + 4, (byte) (v >>> 32));
    }
}
