package io.hashbrick.routing.placement;

/**
 * Where a block belongs, as pure functions of its fingerprint (DESIGN.md "Vocabulary"): the bucket is
 * the top 12 bits of the SHA-256 fingerprint, one of 4096 slices of the fingerprint space that are
 * the unit of ownership, rebalancing and failover; a handle names a stored fingerprint inside its
 * bucket's H2P table as (bucket, slot), packed in 48 bits so an A2H cell holds it in 6 bytes.
 *
 * <pre>
 *  handle:  47        36 35                                 0
 *          | bucket (12) |            slot (36)              |
 * </pre>
 */
public final class Placement {
    public static final int BUCKET_BITS = 12;
    public static final int BUCKETS = 1 << BUCKET_BITS;
    public static final int SLOT_BITS = 36;
    public static final long MAX_SLOT = (1L << SLOT_BITS) - 1;
    public static final int FINGERPRINT_BYTES = 32;

    private Placement() {}

    /** The bucket of a fingerprint, from its first two bytes (big-endian: SHA-256's output order). */
    public static int bucket(byte firstByte, byte secondByte) {
        return ((firstByte & 0xff) << 4) | ((secondByte & 0xff) >>> 4);
    }

    public static long handle(int bucket, long slot) {
        if (bucket < 0 || bucket >= BUCKETS || slot < 0 || slot > MAX_SLOT) {
            throw new IllegalArgumentException("handle out of range: bucket=" + bucket + " slot=" + slot);
        }
        return ((long) bucket << SLOT_BITS) | slot;
    }

    public static int bucketOf(long handle) {
        return (int) (handle >>> SLOT_BITS);
    }

    public static long slotOf(long handle) {
        return handle & MAX_SLOT;
    }
}
