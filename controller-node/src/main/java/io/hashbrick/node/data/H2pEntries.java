package io.hashbrick.node.data;

import io.hashbrick.node.api.Handles;
import io.hashbrick.node.mem.NativeMemory;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * The entries of one H2P bucket: fixed-width 37-byte entries, byte-packed, in native pages of 32 entries
 * (1184 bytes, one malloc each) found through a directory of page addresses. A slot number is an index
 * into this paged array, so it survives every growth: that is what makes handles stable (A2H holds
 * them). Freed slots are chained through their own location field and reused before a page is added.
 *
 * <pre>
 * slot s lives in page s / 32 at byte (s % 32) * 37 (little-endian, unaligned):
 *
 *  directory (heap long[]):  | page 0 addr | page 1 addr | ... |      8 bytes per 32 entries
 *
 *  page:  | entry 0 | entry 1 | ... | entry 31 |                       32 * 37 = 1184 bytes
 *
 *  entry:
 *  0                                            27               35        37
 *  +--------------------------------------------+----------------+---------+
 *  | fingerprint bytes 5..31 (27 bytes)         | word (8 bytes) | meta (2)|
 *  +--------------------------------------------+----------------+---------+
 *
 *  word: bits  0..39 location  (40 bits, opaque: the D role's journal or stripe address)
 *        bits 40..57 refcount  (18 bits; 0 = free slot; 0x3FFFF with SPILLED = true count in the side map)
 *        bits 58..63 generation (6 bits; advanced when the slot is freed, kept while it is free)
 *  meta: bits  0..8  length    (9 bits, opaque: the caller's length in 16-byte units)
 *        bits  9..14 flags     (6 caller bits, e.g. IN_JOURNAL)
 *        bit  15     SPILLED   (refcount lives in {@link RefcountSpill})
 *
 *  free slot: fingerprint zeroed, refcount 0, meta 0, location = next free slot + 1 (0 = end of list),
 *             generation = the one the next entry in the slot gets
 * </pre>
 *
 * Fingerprint byte 0 and the high nibble of byte 1 are the bucket number (implicit); the low nibble of
 * byte 1 and bytes 2..4 are not kept. 12 + 216 = 228 bits of the SHA-256 are held in RAM: a birthday
 * collision needs ~2^114 blocks, far beyond any array. The full 32 bytes are stored with the block on
 * SSD and verified on every read by the read path (DESIGN.md, "Read path").
 *
 * <p>Why pages and not one array grown by realloc: measured with the 4096 buckets growing side by side
 * (H2pMemoryTest), 12.5% realloc steps left glibc's heap full of holes too small for the next, larger
 * request: resident memory grew 1.43x (4M blocks) to 1.6x (1M) the bytes counted, ~60 real bytes per
 * ALL. Same-size pages that are never freed while the bucket lives leave no holes; slack is at most
 * one partly filled page per bucket (592 bytes on average: 2.4 bytes per block at 1M blocks, 0.6 at
 * 4M), plus malloc's 16 bytes per page (0.5 bytes per entry) and the directory (0.25). 32 entries per
 * page rather than 64 measured 1.4 bytes per block less at 1M blocks and 0.6 less at 4M.
 *
 * <p>Pages are addressed through {@link #ALL}, a segment spanning the address space, so a page costs
 * 8 heap bytes and no segment object; there are no bounds checks below this class, which is why every
 * public entry point validates the slot (live, below the high-water mark) first. Not thread-safe: the
 * owning {@link H2pBucket}'s single writer only.
 */
@SuppressWarnings("restricted") // raw native memory by design; the JVM runs with --enable-native-access
final class H2pEntries {
    static final int ENTRY_BYTES = 37;
    /** The first fingerprint byte stored; bytes 0..4 are the bucket (implicit) or dropped. */
    static final int FP_FIRST_STORED = 5;

    static final int FP_STORED_BYTES = 27;
    static final long MAX_LOCATION = (1L << 40) - 1;
    static final int MAX_LENGTH = (1 << 9) - 1;
    /** Blocks with more references than this keep their count in {@link RefcountSpill} (rare: 262 k). */
    static final int MAX_INLINE_REFCOUNT = (1 << 18) - 1;

    private static final int REFCOUNT_SHIFT = 40;
    private static final int GENERATION_SHIFT = 58;
    private static final long REFCOUNT_MASK = (long) MAX_INLINE_REFCOUNT << REFCOUNT_SHIFT;
    private static final long GENERATION_MASK = (long) (H2pHandle.GENERATIONS - 1) << GENERATION_SHIFT;
    static final int CALLER_FLAGS_MASK = 0x3F;
    /**
     * Slots per bucket: what an A2H cell holds ({@link Handles}: 22 slot bits beside the generation and
     * the bucket), well inside what the index can (slot + 1 in at most 32 bits, 0 = empty cell).
     */
    static final long MAX_SLOTS = Handles.MAX_SLOTS;

    static final ValueLayout.OfLong LONG_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort SHORT_LE =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final long WORD_OFFSET = 27;
    private static final long META_OFFSET = 35;
    private static final int SPILLED_BIT = 1 << 15;
    static final int PAGE_SHIFT = 5;
    static final int ENTRIES_PER_PAGE = 1 << PAGE_SHIFT;
    static final long PAGE_BYTES = (long) ENTRIES_PER_PAGE * ENTRY_BYTES;
    private static final int MIN_DIRECTORY = 4;
    /** All of memory: pages are reached by absolute address (see the class comment). */
    private static final MemorySegment ALL = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);

    /** {@link #MAX_SLOTS}, or less for tests (a bucket filled without 2^28 entries). */
    private final long maxSlots;

    private long[] pages = new long[0];
    /**
     * Pages changed since the last checkpoint capture, a bit each (incremental checkpoints: a delta
     * holds these pages whole). Every mutation below marks its slot's page.
     */
    private long[] dirty = new long[0];

    private int pageCount;
    private long capacity;
    /** Slots ever handed out: every slot below is live or on the free list. */
    private long highWater;
    /** First free slot + 1, 0 when the list is empty. */
    private long freeHead;

    H2pEntries() {
        this(MAX_SLOTS);
    }

    /** Tests: a bucket that holds at most {@code maxSlots} entries. */
    H2pEntries(long maxSlots) {
        if (maxSlots < 1 || maxSlots > MAX_SLOTS) {
            throw new IllegalArgumentException("max_slots must be 1.." + MAX_SLOTS + ": max_slots=" + maxSlots);
        }
        this.maxSlots = maxSlots;
    }

    long maxSlots() {
        return maxSlots;
    }

    /** @return a slot to fill: the most recently freed one, else a fresh one (growing the array) */
    long take() {
        if (freeListStale) {
            rebuildFreeList();
        }
        if (freeHead != 0) {
            long slot = freeHead - 1;
            assert refcountField(slot) == 0 : "free slot in use: slot=" + slot;
            freeHead = location(slot);
            return slot;
        }
        if (highWater >= maxSlots) { // callers check H2pBucket.slotsFree first: this is the backstop
            throw new IllegalStateException("H2P bucket is full: slots=" + highWater + " max_slots=" + maxSlots);
        }
        if (highWater == capacity) {
            grow();
        }
        ALL.set(LONG_LE, at(highWater) + WORD_OFFSET, 0L); // generation 0
        markDirty(highWater);
        return highWater++;
    }

    /** Slots were placed by {@link #placeAt} since the free list was last built: it must not be used. */
    private boolean freeListStale;

    /**
     * Journal replay: makes exactly {@code slot} available for an entry, whatever the free list says (a
     * replayed put names the slot the live node gave it). Slots passed on the way up are free. The
     * free list is rebuilt before the next {@link #take}.
     */
    void placeAt(long slot) {
        if (slot < 0 || slot >= maxSlots) {
            throw new IllegalStateException("replayed slot out of range: slot=" + slot + " max_slots=" + maxSlots);
        }
        while (highWater <= slot) { // bounded by slot - highWater; grows a page each 32 slots
            if (highWater == capacity) {
                grow();
            }
            long at = at(highWater);
            ALL.set(LONG_LE, at + WORD_OFFSET, 0L);
            ALL.set(SHORT_LE, at + META_OFFSET, (short) 0);
            markDirty(highWater);
            highWater++;
        }
        if (refcountField(slot) != 0) {
            throw new IllegalStateException("replayed slot is in use: slot=" + slot);
        }
        freeListStale = true;
    }

    /** After a replay: the free list rebuilt if {@link #placeAt} made it stale. */
    void rebuildFreeListIfStale() {
        if (freeListStale) {
            rebuildFreeList();
        }
    }

    /** Links every slot below the high-water mark that holds no entry, keeping each one's generation. */
    void rebuildFreeList() {
        freeHead = 0;
        for (long slot = highWater - 1; slot >= 0; slot--) {
            if (refcountField(slot) == 0) {
                long at = at(slot);
                ALL.set(LONG_LE, at + WORD_OFFSET, freeHead | (word(slot) & GENERATION_MASK));
                freeHead = slot + 1;
            }
        }
        freeListStale = false;
    }

    /**
     * Restore only (checkpoints, {@link H2pCheckpoint}): hands out exactly {@code slot}, which must lie at
     * or above the high-water mark, so restored entries come in ascending slot order. Slots skipped on the
     * way were free when the checkpoint was taken and go on the free list.
     */
    void takeAt(long slot) {
        if (slot < highWater || slot >= maxSlots) {
            throw new IllegalStateException(
                    "restore out of slot order: slot=" + slot + " high_water=" + highWater + " max_slots=" + maxSlots);
        }
        freeUpTo(slot);
        if (highWater == capacity) {
            grow();
        }
        ALL.set(LONG_LE, at(highWater) + WORD_OFFSET, 0L);
        markDirty(highWater);
        highWater++;
    }

    /** Restore only: raises the high-water mark to {@code slots}, every slot added going on the free list. */
    void freeUpTo(long slots) {
        if (slots < highWater || slots > maxSlots) {
            throw new IllegalStateException("restore lowers the high-water mark: slots=" + slots + " high_water="
                    + highWater + " max_slots=" + maxSlots);
        }
        while (highWater < slots) { // bounded by slots - highWater; grows a page each 32 slots
            if (highWater == capacity) {
                grow();
            }
            ALL.set(LONG_LE, at(highWater) + WORD_OFFSET, 0L);
            give(highWater++);
        }
    }

    /** Puts a slot on the free list, advancing its generation; the caller removed it from the index first. */
    void give(long slot) {
        long at = at(slot);
        long nextGeneration = (word(slot) + (1L << GENERATION_SHIFT)) & GENERATION_MASK;
        ALL.set(LONG_LE, at, 0L); // four overlapping stores zero bytes 0..26 without a slice object
        ALL.set(LONG_LE, at + 8, 0L);
        ALL.set(LONG_LE, at + 16, 0L);
        ALL.set(LONG_LE, at + 19, 0L);
        ALL.set(LONG_LE, at + WORD_OFFSET, freeHead | nextGeneration); // link in the location field, refcount 0
        ALL.set(SHORT_LE, at + META_OFFSET, (short) 0);
        freeHead = slot + 1;
        markDirty(slot);
    }

    private void grow() {
        if (pageCount == pages.length) {
            pages = Arrays.copyOf(pages, Math.max(MIN_DIRECTORY, pages.length * 2));
        }
        // zeroed: a checkpoint writes pages whole, slots above the high-water mark too
        pages[pageCount++] = NativeMemory.allocateZeroed(PAGE_BYTES).address();
        if (dirty.length * 64 < pages.length) {
            dirty = Arrays.copyOf(dirty, (pages.length + 63) / 64);
        }
        capacity += ENTRIES_PER_PAGE;
    }

    /** @return the absolute address of {@code slot}'s entry */
    private long at(long slot) {
        assert slot >= 0 && slot < capacity : "slot=" + slot + " capacity=" + capacity;
        return pages[(int) (slot >>> PAGE_SHIFT)] + (slot & (ENTRIES_PER_PAGE - 1)) * ENTRY_BYTES;
    }

    /** @return whether {@code slot} holds a live entry (handed out and referenced) */
    boolean isLive(long slot) {
        return slot >= 0 && slot < highWater && refcountField(slot) != 0;
    }

    /** Writes a whole live entry into a slot just taken, keeping the slot's generation. */
    void write(long slot, MemorySegment fp, long fpOffset, long location, int length, int flags, int refcount) {
        long at = at(slot);
        long generation = word(slot) & GENERATION_MASK;
        MemorySegment.copy(fp, fpOffset + FP_FIRST_STORED, ALL, at, FP_STORED_BYTES);
        ALL.set(LONG_LE, at + WORD_OFFSET, location | (long) refcount << REFCOUNT_SHIFT | generation);
        ALL.set(SHORT_LE, at + META_OFFSET, (short) (length | flags << 9));
        markDirty(slot);
    }

    /** @return fingerprint bytes 5..12 as a little-endian long: the index hashes this */
    long word0(long slot) {
        return ALL.get(LONG_LE, at(slot));
    }

    /** Compares the stored 27 bytes with fingerprint bytes 5..31, the last 8 overlapping (19..26). */
    boolean matches(long slot, MemorySegment fp, long fpOffset, long word0) {
        long at = at(slot);
        return ALL.get(LONG_LE, at) == word0
                && ALL.get(LONG_LE, at + 8) == fp.get(LONG_LE, fpOffset + 13)
                && ALL.get(LONG_LE, at + 16) == fp.get(LONG_LE, fpOffset + 21)
                && ALL.get(LONG_LE, at + 19) == fp.get(LONG_LE, fpOffset + 24);
    }

    void copyStored(long slot, MemorySegment dst, long dstOffset) {
        MemorySegment.copy(ALL, at(slot), dst, dstOffset, FP_STORED_BYTES);
    }

    long location(long slot) {
        return word(slot) & MAX_LOCATION;
    }

    int refcountField(long slot) {
        return (int) ((word(slot) & REFCOUNT_MASK) >>> REFCOUNT_SHIFT);
    }

    /** The slot's generation: its live entry's, or for a free slot the one its next entry gets. */
    int generation(long slot) {
        return (int) (word(slot) >>> GENERATION_SHIFT);
    }

    /** Restore only: the generation a checkpoint recorded for a live slot just written. */
    void setGeneration(long slot, int generation) {
        long at = at(slot);
        ALL.set(
                LONG_LE,
                at + WORD_OFFSET,
                (word(slot) & ~GENERATION_MASK) | ((long) generation << GENERATION_SHIFT) & GENERATION_MASK);
        markDirty(slot);
    }

    int length(long slot) {
        return meta(slot) & MAX_LENGTH;
    }

    int flags(long slot) {
        return (meta(slot) >>> 9) & CALLER_FLAGS_MASK;
    }

    boolean spilled(long slot) {
        return (meta(slot) & SPILLED_BIT) != 0;
    }

    void setRefcountField(long slot, int refcount, boolean spilled) {
        long at = at(slot);
        ALL.set(LONG_LE, at + WORD_OFFSET, (word(slot) & ~REFCOUNT_MASK) | (long) refcount << REFCOUNT_SHIFT);
        int meta = spilled ? meta(slot) | SPILLED_BIT : meta(slot) & ~SPILLED_BIT;
        ALL.set(SHORT_LE, at + META_OFFSET, (short) meta);
        markDirty(slot);
    }

    /** Replaces location, length and caller flags, keeping the refcount and SPILLED. */
    void setPlacement(long slot, long location, int length, int flags) {
        long at = at(slot);
        ALL.set(LONG_LE, at + WORD_OFFSET, (word(slot) & ~MAX_LOCATION) | location);
        ALL.set(SHORT_LE, at + META_OFFSET, (short) ((meta(slot) & SPILLED_BIT) | length | flags << 9));
        markDirty(slot);
    }

    private long word(long slot) {
        return ALL.get(LONG_LE, at(slot) + WORD_OFFSET);
    }

    private int meta(long slot) {
        return ALL.get(SHORT_LE, at(slot) + META_OFFSET) & 0xFFFF;
    }

    long highWater() {
        return highWater;
    }

    long capacity() {
        return capacity;
    }

    long nativeBytes() {
        return pageCount * PAGE_BYTES;
    }

    /** The directory array (16-byte header, 8 bytes per page). */
    long heapBytes() {
        return 16L + 8L * pages.length;
    }

    private void markDirty(long slot) {
        int page = (int) (slot >>> PAGE_SHIFT);
        dirty[page >>> 6] |= 1L << page;
    }

    /** Pages with an entry changed since {@link #clearDirty}. */
    int dirtyPages() {
        int n = 0;
        for (long w : dirty) {
            n += Long.bitCount(w);
        }
        return n;
    }

    /** @return the first dirty page at or after {@code from}, or -1 */
    int nextDirtyPage(int from) {
        for (int w = from >>> 6; w < dirty.length; w++) {
            long bits = dirty[w] & (w == from >>> 6 ? -1L << from : -1L);
            if (bits != 0) {
                return w * 64 + Long.numberOfTrailingZeros(bits);
            }
        }
        return -1;
    }

    /** A checkpoint captured every page: none is dirty any more. */
    void clearDirty() {
        Arrays.fill(dirty, 0L);
    }

    int pageCount() {
        return pageCount;
    }

    /** Copies page {@code page} whole ({@link #PAGE_BYTES}) to {@code dst} at {@code offset}. */
    void copyPageOut(int page, MemorySegment dst, long offset) {
        MemorySegment.copy(ALL, pages[page], dst, offset, PAGE_BYTES);
    }

    /**
     * Restore only (a checkpoint's pages): raises the high-water mark to {@code slots} (pages added
     * are zeroed: free slots of generation 0 until a page overwrites them). The free list is stale.
     */
    void restoreHighWaterRaw(long slots) {
        if (slots < highWater || slots > maxSlots) {
            throw new IllegalStateException("restore lowers the high-water mark: slots=" + slots + " high_water="
                    + highWater + " max_slots=" + maxSlots);
        }
        while (capacity < slots) { // bounded by slots / 32 pages
            grow();
        }
        highWater = slots;
        freeListStale = true;
    }

    /** Restore only: page {@code page} (below the high-water mark) takes {@code src}'s bytes at {@code offset}. */
    void copyPageIn(int page, MemorySegment src, long offset) {
        if (page < 0 || page >= pageCount) {
            throw new IllegalStateException("restored page out of range: page=" + page + " pages=" + pageCount);
        }
        MemorySegment.copy(src, offset, ALL, pages[page], PAGE_BYTES);
        freeListStale = true;
    }

    void free() {
        for (int p = 0; p < pageCount; p++) {
            NativeMemory.free(MemorySegment.ofAddress(pages[p]).reinterpret(PAGE_BYTES));
        }
        pages = new long[0];
        dirty = new long[0];
        pageCount = 0;
        capacity = 0;
        highWater = 0;
        freeHead = 0;
    }
}
