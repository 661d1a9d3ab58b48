package io.hashbrick.node.data;

import io.hashbrick.routing.placement.Placement;
import java.lang.foreign.MemorySegment;

/**
 * A handle names a stored fingerprint for as long as it is referenced: (generation, bucket, slot)
 * packed in the low 54 bits of a long (DESIGN.md, "Vocabulary"; the wire form is proto/ roles.proto's
 * Handle).
 *
 * <pre>
 *   53     48 47          36 35                                   0
 *  +---------+--------------+--------------------------------------+
 *  | gen (6) | bucket (12)  | slot (36)                            |    bits 54..63 zero
 *  +---------+--------------+--------------------------------------+
 * </pre>
 *
 * The generation changes each time a slot is freed, so a handle kept across a free and a reuse of its
 * slot (a read that resolved the handle just before an overwrite freed it) is refused as stale instead
 * of naming the new block. Six bits: a stale handle passes only if its slot was freed and reused a
 * multiple of 64 times between the resolve and the check, which D makes under its lock right when a
 * request arrives (the data read that follows is verified against the fingerprint captured then).
 *
 * <p>The slot field has room for 2^36 slots; {@link H2pEntries#MAX_SLOTS} caps it at what an A2H cell
 * holds (2^22 - 2 per bucket, 17 G unique blocks in all). {@link #NONE} (-1) is "not found".
 * {@link H2pBucket#addOrInsert} returns a handle with {@link #INSERTED} set when it created the entry.
 */
public final class H2pHandle {
    public static final int BUCKET_BITS = Placement.BUCKET_BITS;
    public static final int BUCKETS = Placement.BUCKETS;
    public static final int SLOT_BITS = Placement.SLOT_BITS;
    public static final long SLOT_MASK = (1L << SLOT_BITS) - 1;
    public static final int GENERATION_BITS = 6;
    public static final int GENERATIONS = 1 << GENERATION_BITS;
    public static final int GENERATION_SHIFT = BUCKET_BITS + SLOT_BITS;
    public static final long HANDLE_MASK = (1L << (GENERATION_SHIFT + GENERATION_BITS)) - 1;
    public static final long NONE = -1;
    /** Set in the result of {@code addOrInsert} when the fingerprint was new. */
    public static final long INSERTED = 1L << 62;
    /** SHA-256 (FIPS 180-4). */
    public static final int FINGERPRINT_BYTES = 32;

    private H2pHandle() {}

    /** A handle of generation 0 (tests, and slots that were never freed). */
    public static long of(int bucket, long slot) {
        return of(bucket, slot, 0);
    }

    public static long of(int bucket, long slot, int generation) {
        return (long) generation << GENERATION_SHIFT | (long) bucket << SLOT_BITS | slot;
    }

    public static int bucket(long handle) {
        return (int) (handle >>> SLOT_BITS) & (BUCKETS - 1);
    }

    public static int generation(long handle) {
        return (int) (handle >>> GENERATION_SHIFT) & (GENERATIONS - 1);
    }

    public static long slot(long handle) {
        return handle & SLOT_MASK;
    }

    /** @return whether an {@code addOrInsert} result says the entry was created */
    public static boolean inserted(long result) {
        return (result & INSERTED) != 0;
    }

    /** @return the handle part of an {@code addOrInsert} result */
    public static long handle(long result) {
        return result & HANDLE_MASK;
    }

    /** @return the bucket of a fingerprint: {@link Placement#bucket(MemorySegment, long)} */
    public static int bucketOf(MemorySegment fp, long offset) {
        return Placement.bucket(fp, offset);
    }
}
