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
 *   <li>the region partition of (volume, region): one of 4096 slots the unbounded space of A2H regions
 *       is folded into, so that a fixed-size table ({@link Assignment}) gives every region an owner;
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
    /** Slots the A2H regions of all volumes are folded into; C ownership is assigned per slot. */
    public static final int REGION_PARTITION_BITS = 12;

    public static final int REGION_PARTITIONS = 1 << REGION_PARTITION_BITS;

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

    /**
     * The region partition of region {@code region} of volume {@code volume}: a scramble of the volume id
     * (Murmur3's 32-bit finalizer) plus the region index, modulo 4096. A volume's consecutive regions land
     * in consecutive partitions, so one volume of up to 4 TiB never puts two regions in one partition,
     * and an interleaved partition table spreads its regions over all controllers; the scramble staggers
     * where each volume starts, so many small volumes do not all begin on partition 0.
     *
     * <p>This function is part of the cluster map's format: changing it moves every region, so it
     * changes only with the map's format version.
     */
    public static int regionPartition(int volume, int region) {
        assert region >= 0 && region < (1 << 22) : "region=" + region;
        return (scramble(volume) + region) & (REGION_PARTITIONS - 1);
    }

    /** Murmur3's fmix32 (Appleby, public domain): every input bit affects every output bit. */
    static int scramble(int x) {
        int h = x;
        h ^= h >>> 16;
        h *= 0x85eb_ca6b;
        h ^= h >>> 13;
        h *= 0xc2b2_ae35;
        h ^= h >>> 16;
        return h;
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
