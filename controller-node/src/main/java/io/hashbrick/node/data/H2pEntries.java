package io.hashbrick.node.data;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The entry array of one H2P bucket: fixed-width 37-byte entries, byte-packed, in one malloc'd block
 * that grows by realloc. A slot number is an index into the array, so it survives every growth: that
 * is what makes handles stable (A2H holds them). Freed slots are chained through their own location
 * field and reused before the array grows.
 *
 * <pre>
 * slot s lives at byte s * 37 of the block (little-endian, unaligned):
 *
 *  0                                            27               35        37
 *  +--------------------------------------------+----------------+---------+
 *  | fingerprint bytes 5..31 (27 bytes)         | word (8 bytes) | meta (2)|
 *  +--------------------------------------------+----------------+---------+
 *
 *  word: bits  0..39 location  (40 bits, opaque: the D role's journal or stripe address)
 *        bits 40..63 refcount  (24 bits; 0 = free slot; 0xFFFFFF with SPILLED = true count in the side map)
 *  meta: bits  0..8  length    (9 bits, opaque: the caller's length in 16-byte units)
 *        bits  9..14 flags     (6 caller bits, e.g. IN_JOURNAL)
 *        bit  15     SPILLED   (refcount lives in {@link RefcountSpill})
 *
 *  free slot: fingerprint zeroed, refcount 0, meta 0, location = next free slot + 1 (0 = end of list)
 * </pre>
 *
 * Fingerprint bytes 0 and the high nibble of byte 1 are the bucket number (implicit); the low nibble of
 * byte 1 and bytes 2..4 are not kept. 12 + 216 = 228 bits of the SHA-256 are held in RAM: a birthday
 * collision needs ~2^114 blocks, far beyond any array. The full 32 bytes are stored with the block on
 * SSD and verified on every read by the read path (DESIGN.md, "Read path").
 *
 * <p>Growth: capacity += max(capacity / 8, 8) slots, so at most 12.5% of the array is slack once a
 * bucket holds 64 slots or more (below that the slack is at most 8 slots = 296 bytes per bucket).
 * Not thread-safe: the owning {@link H2pBucket}'s single writer only.
 */
final class H2pEntries {
    static final int ENTRY_BYTES = 37;
    /** The first fingerprint byte stored; bytes 0..4 are the bucket (implicit) or dropped. */
    static final int FP_FIRST_STORED = 5;
    static final int FP_STORED_BYTES = 27;
    static final long MAX_LOCATION = (1L << 40) - 1;
    static final int MAX_LENGTH = (1 << 9) - 1;
    static final int MAX_INLINE_REFCOUNT = (1 << 24) - 1;
    static final int CALLER_FLAGS_MASK = 0x3F;
    /** The index stores slot + 1 in at most 32 bits (0 = empty cell). */
    static final long MAX_SLOTS = 0xFFFF_FFFEL;

    static final ValueLayout.OfLong LONG_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort SHORT_LE =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final long WORD_OFFSET = 27;
    private static final long META_OFFSET = 35;
    private static final int SPILLED_BIT = 1 << 15;
    private static final int MIN_GROWTH_SLOTS = 8;

    private MemorySegment block = MemorySegment.NULL;
    private long capacity;
    /** Slots ever handed out: every slot below is live or on the free list. */
    private long highWater;
    /** First free slot + 1, 0 when the list is empty. */
    private long freeHead;

    /** @return a slot to fill: the most recently freed one, else a fresh one (growing the array) */
    long take() {
        if (freeHead != 0) {
            long slot = freeHead - 1;
            assert refcountField(slot) == 0 : "free slot in use: slot=" + slot;
            freeHead = location(slot);
            return slot;
        }
        if (highWater == capacity) {
            grow();
        }
        return highWater++;
    }

    /** Puts a slot on the free list; the caller removed it from the index first. */
    void give(long slot) {
        long at = slot * ENTRY_BYTES;
        block.set(LONG_LE, at, 0L); // four overlapping stores zero bytes 0..26 without a slice object
        block.set(LONG_LE, at + 8, 0L);
        block.set(LONG_LE, at + 16, 0L);
        block.set(LONG_LE, at + 19, 0L);
        block.set(LONG_LE, at + WORD_OFFSET, freeHead); // link in the location field, refcount 0
        block.set(SHORT_LE, at + META_OFFSET, (short) 0);
        freeHead = slot + 1;
    }

    private void grow() {
        if (capacity >= MAX_SLOTS) {
            throw new IllegalStateException("H2P bucket is full: slots=" + capacity + " max_slots=" + MAX_SLOTS);
        }
        long next = Math.min(MAX_SLOTS, capacity + Math.max(capacity >>> 3, MIN_GROWTH_SLOTS));
        block = NativeMemory.reallocate(block, next * ENTRY_BYTES);
        capacity = next;
    }

    /** @return whether {@code slot} holds a live entry (handed out and referenced) */
    boolean isLive(long slot) {
        return slot >= 0 && slot < highWater && refcountField(slot) != 0;
    }

    /** Writes a whole live entry. */
    void write(long slot, MemorySegment fp, long fpOffset, long location, int length, int flags, int refcount) {
        long at = slot * ENTRY_BYTES;
        MemorySegment.copy(fp, fpOffset + FP_FIRST_STORED, block, at, FP_STORED_BYTES);
        block.set(LONG_LE, at + WORD_OFFSET, location | (long) refcount << 40);
        block.set(SHORT_LE, at + META_OFFSET, (short) (length | flags << 9));
    }

    /** @return fingerprint bytes 5..12 as a little-endian long: the index hashes this */
    long word0(long slot) {
        return block.get(LONG_LE, slot * ENTRY_BYTES);
    }

    /** Compares the stored 27 bytes with fingerprint bytes 5..31, the last 8 overlapping (19..26). */
    boolean matches(long slot, MemorySegment fp, long fpOffset, long word0) {
        long at = slot * ENTRY_BYTES;
        return block.get(LONG_LE, at) == word0
                && block.get(LONG_LE, at + 8) == fp.get(LONG_LE, fpOffset + 13)
                && block.get(LONG_LE, at + 16) == fp.get(LONG_LE, fpOffset + 21)
                && block.get(LONG_LE, at + 19) == fp.get(LONG_LE, fpOffset + 24);
    }

    void copyStored(long slot, MemorySegment dst, long dstOffset) {
        MemorySegment.copy(block, slot * ENTRY_BYTES, dst, dstOffset, FP_STORED_BYTES);
    }

    long location(long slot) {
        return word(slot) & MAX_LOCATION;
    }

    int refcountField(long slot) {
        return (int) (word(slot) >>> 40);
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
        long at = slot * ENTRY_BYTES;
        block.set(LONG_LE, at + WORD_OFFSET, (word(slot) & MAX_LOCATION) | (long) refcount << 40);
        int meta = spilled ? meta(slot) | SPILLED_BIT : meta(slot) & ~SPILLED_BIT;
        block.set(SHORT_LE, at + META_OFFSET, (short) meta);
    }

    /** Replaces location, length and caller flags, keeping the refcount and SPILLED. */
    void setPlacement(long slot, long location, int length, int flags) {
        long at = slot * ENTRY_BYTES;
        block.set(LONG_LE, at + WORD_OFFSET, (word(slot) & ~MAX_LOCATION) | location);
        block.set(SHORT_LE, at + META_OFFSET, (short) ((meta(slot) & SPILLED_BIT) | length | flags << 9));
    }

    private long word(long slot) {
        return block.get(LONG_LE, slot * ENTRY_BYTES + WORD_OFFSET);
    }

    private int meta(long slot) {
        return block.get(SHORT_LE, slot * ENTRY_BYTES + META_OFFSET) & 0xFFFF;
    }

    long highWater() {
        return highWater;
    }

    long capacity() {
        return capacity;
    }

    long nativeBytes() {
        return block.byteSize();
    }

    void free() {
        NativeMemory.free(block);
        block = MemorySegment.NULL;
        capacity = 0;
        highWater = 0;
        freeHead = 0;
    }
}
