package io.hashbrick.node.data;

import io.hashbrick.routing.placement.Placement;
import java.lang.foreign.MemorySegment;

/**
 * A handle names a stored fingerprint for as long as it is referenced: (bucket, slot) packed in the
 * low 48 bits of a long, so A2H can keep it in 6 bytes (DESIGN.md, "Vocabulary").
 *
 * <pre>
 *   47          36 35                                   0
 *  +--------------+--------------------------------------+
 *  | bucket (12)  | slot (36)                            |    bits 48..63 zero
 *  +--------------+--------------------------------------+
 * </pre>
 *
 * The slot field has room for 2^36 slots; a bucket hands out at most {@link H2pEntries#MAX_SLOTS}
 * (2^28 - 1, what an A2H cell stores: {@code api.Handles}), i.e. 1.1 T unique blocks in all. {@link #NONE} (-1) is "not found".
 * {@link H2pBucket#addOrInsert} returns a handle with {@link #INSERTED} set when it created the entry.
 */
public final class H2pHandle {
    public static final int BUCKET_BITS = Placement.BUCKET_BITS;
    public static final int BUCKETS = Placement.BUCKETS;
    public static final int SLOT_BITS = Placement.SLOT_BITS;
    public static final long SLOT_MASK = (1L << SLOT_BITS) - 1;
    public static final long HANDLE_MASK = (1L << (BUCKET_BITS + SLOT_BITS)) - 1;
    public static final long NONE = -1;
    /** Set in the result of {@code addOrInsert} when the fingerprint was new. */
    public static final long INSERTED = 1L << 48;
    /** SHA-256 (FIPS 180-4). */
    public static final int FINGERPRINT_BYTES = 32;

    private H2pHandle() {}

    public static long of(int bucket, long slot) {
        return (long) bucket << SLOT_BITS | slot;
    }

    public static int bucket(long handle) {
        return (int) (handle >>> SLOT_BITS);
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
