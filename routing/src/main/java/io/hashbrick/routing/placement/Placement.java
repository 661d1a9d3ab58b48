package io.hashbrick.routing.placement;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Where a block belongs, as pure functions (DESIGN.md "Vocabulary"); the one place for this arithmetic,
 * which H2P (D: buckets) and A2H (C: regions) call:
 * <ul>
 *   <li>the bucket of a fingerprint: its top 12 bits, one of 4096 slices of the fingerprint space,
 *       the unit of D ownership, rebalancing and failover;
 *   <li>the A2H region of a block: 1 GiB of a volume (2^18 blocks of 4 KiB), the unit C ownership is
 *       partitioned by;
 *   <li>a handle: a stored fingerprint inside its bucket's H2P table as (bucket, slot), 48 bits.
 * </ul>
 * <pre>
 *  fingerprint (SHA-256, big-endian):  byte 0      byte 1
 *                                      bbbbbbbb    bbbb....    bucket = the first 12 bits
 *  block number (4 KiB):               63 ........ 18 17 ..... 0
 *                                      |  region    | in region |
 *  handle:  47        36 35                                 0
 *          | bucket (12) |            slot (36)              |
 * </pre>
 * Static methods on primitives and {@link MemorySegment}s: nothing allocates, so the data path calls
 * them per block. Depends on nothing but the JDK.
 */
public final class Placement {
    public static final int BUCKET_BITS = 12;
    public static final int BUCKETS = 1 << BUCKET_BITS;
    /** The unit of mapping and placement. */
    public static final int BLOCK_BYTES = 4096;
    /** Blocks per A2H region: 2^18 x 4 KiB = 1 GiB. */
    public static final int REGION_SHIFT = 18;

    public static final long BLOCKS_PER_REGION = 1L << REGION_SHIFT;
    public static final long REGION_BYTES = BLOCKS_PER_REGION * BLOCK_BYTES;
    public static final int SLOT_BITS = 36;
    public static final long MAX_SLOT = (1L << SLOT_BITS) - 1;
    public static final int FINGERPRINT_BYTES = 32;

    private Placement() {}

    /** The bucket of a fingerprint, from its first two bytes (big-endian: SHA-256's output order). */
    public static int bucket(byte firstByte, byte secondByte) {
        return ((firstByte & 0xff) << 4) | ((secondByte & 0xff) >>> 4);
    }

    /**
     * The bucket of the fingerprint at {@code fp[offset .. offset+32)}: its first 12 bits. No bounds
     * check beyond the segment's own.
     */
    public static int bucket(MemorySegment fp, long offset) {
        return bucket(fp.get(ValueLayout.JAVA_BYTE, offset), fp.get(ValueLayout.JAVA_BYTE, offset + 1));
    }

    /** The A2H region of 4 KiB block {@code block} (non-negative; volumes stop at 2^40 blocks). */
    public static int region(long block) {
        assert block >= 0 && block < (1L << 40) : "block=" + block;
        return (int) (block >>> REGION_SHIFT);
    }

    /** The first block of region {@code region}. */
    public static long firstBlock(int region) {
        return (long) region << REGION_SHIFT;
    }

    /** Regions a volume of {@code blocks} 4 KiB blocks spans (the last one may be partial). */
    public static int regions(long blocks) {
        assert blocks >= 0 && blocks <= (1L << 40) : "blocks=" + blocks;
        return (int) ((blocks + BLOCKS_PER_REGION - 1) >>> REGION_SHIFT);
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
