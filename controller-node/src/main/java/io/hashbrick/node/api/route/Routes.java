package io.hashbrick.node.api.route;

import io.hashbrick.routing.placement.Placement;

/**
 * One version (epoch) of the cluster map as the I/O path routes by it: the owner of each of the 4096
 * buckets (D) and of each region partition (C), and which controller this is. Immutable; a new epoch is
 * a new object, read through {@link RouteSource#current} once per call.
 */
public final class Routes {
    private final long epoch;
    private final int self;
    private final int[] bucketOwners;
    private final int[] partitionOwners;

    /**
     * @param bucketOwners {@link Placement#BUCKETS} controller numbers
     * @param partitionOwners {@link Placement#REGION_PARTITIONS} controller numbers
     */
    public Routes(long epoch, int self, int[] bucketOwners, int[] partitionOwners) {
        if (bucketOwners.length != Placement.BUCKETS || partitionOwners.length != Placement.REGION_PARTITIONS) {
            throw new IllegalArgumentException("routes need " + Placement.BUCKETS + " bucket owners and "
                    + Placement.REGION_PARTITIONS + " partition owners: got " + bucketOwners.length + " and "
                    + partitionOwners.length);
        }
        this.epoch = epoch;
        this.self = self;
        this.bucketOwners = bucketOwners.clone();
        this.partitionOwners = partitionOwners.clone();
    }

    public long epoch() {
        return epoch;
    }

    /** This controller's number. */
    public int self() {
        return self;
    }

    public int bucketOwner(int bucket) {
        return bucketOwners[bucket];
    }

    /** The owner of the bucket a handle names (its generation masked off). */
    public int handleOwner(long handle) {
        return bucketOwners[(int) (handle >>> Placement.SLOT_BITS) & (Placement.BUCKETS - 1)];
    }

    /** The C owner of 4 KiB block {@code block} of volume {@code volume}. */
    public int regionOwner(int volume, long block) {
        return partitionOwners[Placement.regionPartition(volume, Placement.region(block))];
    }

    /** Blocks from {@code block} to the end of its region (a call to C never crosses one). */
    public static long toRegionEnd(long block) {
        return Placement.BLOCKS_PER_REGION - (block & (Placement.BLOCKS_PER_REGION - 1));
    }

    @Override
    public String toString() {
        return "Routes{epoch=" + epoch + " self=" + self + "}";
    }
}
