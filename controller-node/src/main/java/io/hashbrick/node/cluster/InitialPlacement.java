package io.hashbrick.node.cluster;

import io.hashbrick.proto.cluster.v1.ClusterMap;
import io.hashbrick.proto.cluster.v1.Member;
import io.hashbrick.proto.cluster.v1.MemberState;
import io.hashbrick.proto.cluster.v1.SetAssignment;
import io.hashbrick.routing.placement.Assignment;
import io.hashbrick.routing.placement.ClusterMembers;

/**
 * The first placement of a new cluster, as pure functions of the map: once every expected controller
 * has registered, routing.placement's {@link Assignment#initial} spreads the 4096 buckets and the 4096
 * region partitions over them, and one controller commits it as a {@code SetAssignment} against the
 * map's epoch (a compare-and-set: if two propose, one is refused {@code STALE_EPOCH} and finds the map
 * placed).
 */
public final class InitialPlacement {
    private InitialPlacement() {}

    /**
     * The assignment to commit now, or null: when the map is placed already, or not every expected
     * controller is an ACTIVE member yet.
     *
     * @throws IllegalArgumentException when the members cannot be placed (a brick without its two
     *     controllers once all have registered): a launch mistake, with the offending members named
     */
    public static SetAssignment compute(ClusterMap map, int expectedControllers) {
        if (map.getBucketsCount() > 0 || activeMembers(map) != expectedControllers) {
            return null;
        }
        int[] ids = new int[expectedControllers];
        int[] bricks = new int[expectedControllers];
        int i = 0;
        for (Member m : map.getMembersList()) {
            if (m.getState() == MemberState.ACTIVE) {
                ids[i] = m.getId();
                bricks[i] = m.getBrick();
                i++;
            }
        }
        Assignment a = Assignment.initial(ClusterMembers.of(ids, bricks));
        SetAssignment.Builder b = SetAssignment.newBuilder().setExpectedEpoch(map.getEpoch());
        for (int owner : a.bucketOwners()) {
            b.addBuckets(owner);
        }
        for (int owner : a.regionPartitionOwners()) {
            b.addRegionPartitions(owner);
        }
        return b.build();
    }

    /**
     * Which controller proposes the placement: the Raft leader when it is a registered controller (its
     * proposal commits without a hop), else the lowest-numbered member (the witness may lead a one-brick
     * cluster, and it proposes nothing). -1 while there is no member.
     */
    public static int proposer(ClusterMap map, String leaderId) {
        int leader = ControllerIdentity.controllerOf(leaderId);
        int lowest = -1;
        for (Member m : map.getMembersList()) {
            if (m.getState() != MemberState.ACTIVE) {
                continue;
            }
            if (m.getId() == leader) {
                return leader;
            }
            if (lowest < 0 || m.getId() < lowest) {
                lowest = m.getId();
            }
        }
        return lowest;
    }

    /** Entries of {@code owners} equal to {@code controller}. */
    public static int share(java.util.List<Integer> owners, int controller) {
        int n = 0;
        for (int owner : owners) {
            if (owner == controller) {
                n++;
            }
        }
        return n;
    }

    private static int activeMembers(ClusterMap map) {
        int n = 0;
        for (Member m : map.getMembersList()) {
            if (m.getState() == MemberState.ACTIVE) {
                n++;
            }
        }
        return n;
    }
}
