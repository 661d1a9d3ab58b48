package io.hashbrick.routing.placement;

import java.util.Arrays;

/**
 * Which controller owns each bucket (D) and each A2H region partition (C) at one epoch of the cluster
 * map: an immutable value, made only by the pure functions below, each of which returns the next map
 * at epoch + 1.
 *
 * <p><b>Home and owner.</b> Each partition has a <i>home</i> controller, given by the placement rule
 * ({@link Balancer}: even shares, fewest moves when a brick joins), and an <i>owner</i>, the controller
 * serving it now: the home, or the home's brick peer while the home is down. Failover and failback
 * only mark a controller down or up, so failback returns exactly what the controller owned before, and
 * the owner tables are a function of (homes, down set).
 *
 * <p><b>Regions.</b> Volume space is unbounded, so A2H regions are not listed one by one: region r of
 * volume v lives in region partition {@link Placement#regionPartition}(v, r), one of 4096, and the
 * 4096 region partitions are placed exactly like the 4096 buckets.
 *
 * <p>Epochs start at 1 ({@link #initial}); every change adds one. Serialized by {@link #toBytes()} and
 * {@link #parse(byte[])} (layout in {@link AssignmentCodec}).
 */
public final class Assignment {
    public static final long FIRST_EPOCH = 1;

    private final long epoch;
    private final ClusterMembers members;
    private final boolean[] down; // by member index
    private final byte[] bucketHome; // member index per bucket
    private final byte[] regionHome; // member index per region partition
    private final int[] bucketOwner; // controller id per bucket
    private final int[] regionOwner; // controller id per region partition

    /** Takes ownership of the arrays; callers pass fresh ones. */
    Assignment(long epoch, ClusterMembers members, boolean[] down, byte[] bucketHome, byte[] regionHome) {
        if (epoch < FIRST_EPOCH) {
            throw new IllegalArgumentException("epoch out of range: epoch=" + epoch);
        }
        if (down.length != members.size()
                || bucketHome.length != Placement.BUCKETS
                || regionHome.length != Placement.REGION_PARTITIONS) {
            throw new IllegalArgumentException("table sizes wrong: down=" + down.length + " members=" + members.size()
                    + " buckets=" + bucketHome.length + " regions=" + regionHome.length);
        }
        for (int i = 0; i < members.size(); i++) {
            if (down[i] && down[members.peerIndex(i)]) {
                throw new IllegalArgumentException(
                        "both controllers of a brick down: brick=" + members.brickAt(i) + " epoch=" + epoch);
            }
        }
        this.epoch = epoch;
        this.members = members;
        this.down = down;
        this.bucketHome = bucketHome;
        this.regionHome = regionHome;
        this.bucketOwner = owners(bucketHome);
        this.regionOwner = owners(regionHome);
    }

    /** Owner per partition: its home, or the home's brick peer while the home is down. */
    private int[] owners(byte[] home) {
        int[] servedBy = new int[members.size()]; // member index -> controller serving its homes
        for (int m = 0; m < servedBy.length; m++) {
            servedBy[m] = members.controller(down[m] ? members.peerIndex(m) : m);
        }
        int[] owner = new int[home.length];
        for (int p = 0; p < home.length; p++) {
            int m = home[p] & 0xff;
            if (m >= servedBy.length) {
                throw new IllegalArgumentException(
                        "home is no member: partition=" + p + " index=" + m + " members=" + servedBy.length);
            }
            owner[p] = servedBy[m];
        }
        return owner;
    }

    /** Every controller up, buckets and region partitions interleaved over them: shares differ by one. */
    public static Assignment initial(ClusterMembers members) {
        return new Assignment(
                FIRST_EPOCH,
                members,
                new boolean[members.size()],
                Balancer.initial(Placement.BUCKETS, members.size()),
                Balancer.initial(Placement.REGION_PARTITIONS, members.size()));
    }

    /**
     * The map with brick {@code brick} (controllers {@code controllerA}, {@code controllerB}, both up)
     * added: the new controllers take an even share each from the controllers that hold the most; no
     * partition moves between the old controllers, and none moves that evenness does not require.
     */
    public Assignment addBrick(int brick, int controllerA, int controllerB) {
        ClusterMembers next = members.withBrick(brick, controllerA, controllerB);
        int[] toNext = new int[members.size()]; // old member index -> new member index
        boolean[] nextDown = new boolean[next.size()];
        for (int i = 0; i < members.size(); i++) {
            toNext[i] = next.indexOf(members.controller(i));
            nextDown[toNext[i]] = down[i];
        }
        return new Assignment(
                epoch + 1,
                next,
                nextDown,
                Balancer.rebalance(remap(bucketHome, toNext), next.size()),
                Balancer.rebalance(remap(regionHome, toNext), next.size()));
    }

    private static byte[] remap(byte[] home, int[] toNext) {
        byte[] out = new byte[home.length];
        for (int p = 0; p < home.length; p++) {
            out[p] = (byte) toNext[home[p] & 0xff];
        }
        return out;
    }

    /**
     * {@code dead} is down: its partitions go to {@code to}, which must be its brick peer (the only other
     * controller that reaches its DAE and holds its mirrored journal) and up.
     */
    public Assignment failover(int dead, int to) {
        int d = members.requireIndex(dead);
        int peer = members.peerIndex(d);
        if (members.controller(peer) != to) {
            throw new IllegalArgumentException("failover target is not the brick peer: dead=" + dead + " to=" + to
                    + " peer=" + members.controller(peer) + " epoch=" + epoch);
        }
        if (down[d]) {
            throw new IllegalStateException("already failed over: controller=" + dead + " epoch=" + epoch);
        }
        if (down[peer]) {
            throw new IllegalStateException("brick peer is down too: dead=" + dead + " peer=" + to + " epoch=" + epoch);
        }
        return withDown(d, true);
    }

    /** {@link #failover(int, int)} to {@code dead}'s brick peer. */
    public Assignment failover(int dead) {
        return failover(dead, members.peerOf(dead));
    }

    /** {@code controller} is back: it owns again exactly its home partitions. */
    public Assignment failback(int controller) {
        int c = members.requireIndex(controller);
        if (!down[c]) {
            throw new IllegalStateException("not failed over: controller=" + controller + " epoch=" + epoch);
        }
        return withDown(c, false);
    }

    private Assignment withDown(int index, boolean isDown) {
        boolean[] nextDown = down.clone();
        nextDown[index] = isDown;
        return new Assignment(epoch + 1, members, nextDown, bucketHome.clone(), regionHome.clone());
    }

    public long epoch() {
        return epoch;
    }

    public ClusterMembers members() {
        return members;
    }

    public boolean isDown(int controller) {
        return down[members.requireIndex(controller)];
    }

    /** The controller serving bucket {@code bucket} now. */
    public int bucketOwner(int bucket) {
        return bucketOwner[bucket];
    }

    /** The controller serving region partition {@code partition} now. */
    public int regionPartitionOwner(int partition) {
        return regionOwner[partition];
    }

    /** The controller serving A2H region {@code region} of volume {@code volume} now. */
    public int regionOwner(int volume, int region) {
        return regionOwner[Placement.regionPartition(volume, region)];
    }

    /** The controller bucket {@code bucket} belongs to when every controller is up. */
    public int bucketHome(int bucket) {
        return members.controller(bucketHome[bucket] & 0xff);
    }

    public int regionPartitionHome(int partition) {
        return members.controller(regionHome[partition] & 0xff);
    }

    /** Bucket owners by bucket (a copy). */
    public int[] bucketOwners() {
        return bucketOwner.clone();
    }

    /** Region partition owners by partition (a copy). */
    public int[] regionPartitionOwners() {
        return regionOwner.clone();
    }

    /** Buckets {@code controller} serves now. */
    public int bucketShare(int controller) {
        return count(bucketOwner, controller);
    }

    /** Region partitions {@code controller} serves now. */
    public int regionShare(int controller) {
        return count(regionOwner, controller);
    }

    private static int count(int[] owners, int controller) {
        int n = 0;
        for (int o : owners) {
            n += o == controller ? 1 : 0;
        }
        return n;
    }

    /** Equal in all but the epoch: same members, same down set, same homes (hence same owners). */
    public boolean sameLayout(Assignment o) {
        return members.equals(o.members)
                && Arrays.equals(down, o.down)
                && Arrays.equals(bucketHome, o.bucketHome)
                && Arrays.equals(regionHome, o.regionHome);
    }

    public byte[] toBytes() {
        return AssignmentCodec.encode(this);
    }

    /** Refuses bad magic, version, length or checksum, and contents no map can have (named exception). */
    public static Assignment parse(byte[] bytes) {
        return AssignmentCodec.decode(bytes);
    }

    boolean downAt(int index) {
        return down[index];
    }

    byte bucketHomeIndex(int bucket) {
        return bucketHome[bucket];
    }

    byte regionHomeIndex(int partition) {
        return regionHome[partition];
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Assignment a && epoch == a.epoch && sameLayout(a);
    }

    @Override
    public int hashCode() {
        int h = Long.hashCode(epoch);
        h = 31 * h + members.hashCode();
        h = 31 * h + Arrays.hashCode(down);
        h = 31 * h + Arrays.hashCode(bucketHome);
        return 31 * h + Arrays.hashCode(regionHome);
    }

    @Override
    public String toString() {
        StringBuilder s = new StringBuilder("Assignment[epoch=").append(epoch).append(", ");
        for (int i = 0; i < members.size(); i++) {
            int c = members.controller(i);
            s.append(i == 0 ? "" : " ").append(c).append(down[i] ? "(down)" : "");
            s.append(":b").append(bucketShare(c)).append("/r").append(regionShare(c));
        }
        return s.append(']').toString();
    }
}
