package io.hashbrick.node.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hashbrick.proto.cluster.v1.ClusterMap;
import io.hashbrick.proto.cluster.v1.Member;
import io.hashbrick.proto.cluster.v1.MemberState;
import io.hashbrick.proto.cluster.v1.SetAssignment;
import io.hashbrick.routing.placement.Placement;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The first placement and who proposes it, as pure functions of the map; the controllers' identities. */
class ClusterPlacementTest {
    private static ClusterMap map(long epoch, int controllers) {
        ClusterMap.Builder b = ClusterMap.newBuilder().setEpoch(epoch);
        for (int c = 1; c <= controllers; c++) {
            b.addMembers(Member.newBuilder()
                    .setId(c)
                    .setBrick((c + 1) / 2)
                    .setAddress("127.0.0.1:" + (3300 + c))
                    .setState(MemberState.ACTIVE));
        }
        return b.build();
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 4})
    void placesEveryBucketAndRegionEvenlyOnceAllControllersAreMembers(int bricks) {
        int controllers = 2 * bricks;
        assertNull(InitialPlacement.compute(map(3, controllers - 1), controllers), "waits for every controller");
        SetAssignment set = InitialPlacement.compute(map(7, controllers), controllers);
        assertEquals(7, set.getExpectedEpoch(), "compare-and-set against the map it was computed from");
        assertEquals(Placement.BUCKETS, set.getBucketsCount());
        assertEquals(Placement.REGION_PARTITIONS, set.getRegionPartitionsCount());
        double mean = (double) Placement.BUCKETS / controllers;
        int sum = 0;
        for (int c = 1; c <= controllers; c++) {
            int buckets = InitialPlacement.share(set.getBucketsList(), c);
            int regions = InitialPlacement.share(set.getRegionPartitionsList(), c);
            assertTrue(Math.abs(buckets - mean) <= 0.05 * mean, "c" + c + " buckets=" + buckets);
            assertTrue(Math.abs(regions - mean) <= 0.05 * mean, "c" + c + " regions=" + regions);
            sum += buckets;
        }
        assertEquals(Placement.BUCKETS, sum);
        ClusterMap placed = map(8, controllers).toBuilder()
                .addAllBuckets(set.getBucketsList())
                .addAllRegionPartitions(set.getRegionPartitionsList())
                .build();
        assertNull(InitialPlacement.compute(placed, controllers), "a placed map is not placed again");
    }

    @Test
    void aBrickWithoutItsPairIsALaunchMistakeNamedInTheError() {
        ClusterMap odd = map(4, 1).toBuilder()
                .addMembers(Member.newBuilder()
                        .setId(3)
                        .setBrick(2)
                        .setAddress("a:1")
                        .setState(MemberState.ACTIVE))
                .build();
        assertThrows(IllegalArgumentException.class, () -> InitialPlacement.compute(odd, 2));
    }

    @Test
    void theLeaderProposesWhenItIsAControllerElseTheLowestMember() {
        ClusterMap m = map(2, 2);
        assertEquals(2, InitialPlacement.proposer(m, "c2"));
        assertEquals(1, InitialPlacement.proposer(m, "w"), "the witness proposes nothing");
        assertEquals(1, InitialPlacement.proposer(m, ""), "no leader known");
        assertEquals(1, InitialPlacement.proposer(m, "c5"), "a leader that is not a member yet");
        assertEquals(-1, InitialPlacement.proposer(ClusterMap.getDefaultInstance(), "c1"));
    }

    @Test
    void identities() {
        ControllerIdentity c3 = ControllerIdentity.of("c3", 2, 2);
        assertEquals(3, c3.controller());
        assertEquals(4, c3.expectedControllers());
        assertEquals(-1, ControllerIdentity.controllerOf("w"));
        assertEquals("c7", ControllerIdentity.memberId(7));
        assertThrows(IllegalArgumentException.class, () -> ControllerIdentity.of("x1", 1, 1));
        assertThrows(IllegalArgumentException.class, () -> ControllerIdentity.of("c0", 1, 1));
        assertThrows(IllegalArgumentException.class, () -> ControllerIdentity.of("c3", 1, 1), "c3 of one brick");
        assertThrows(IllegalArgumentException.class, () -> ControllerIdentity.of("c3", 1, 2), "c3 is in brick 2");
    }
}
