package io.hashbrick.routing.placement;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ClusterMembersTest {
    @Test
    void conventionalBricksHoldControllersTwoBAndTwoBPlusOne() {
        ClusterMembers m = ClusterMembers.ofBricks(3);
        assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5}, m.controllers());
        assertEquals(3, m.brickCount());
        assertEquals(2, m.brickOf(5));
        assertEquals(5, m.peerOf(4));
        assertEquals(4, m.peerOf(5));
        assertEquals(0, m.peerOf(1));
        assertEquals("ClusterMembers[0@0, 1@0, 2@1, 3@1, 4@2, 5@2]", m.toString());
    }

    @Test
    void explicitMembersAreSortedByControllerIdWhateverTheOrderGiven() {
        ClusterMembers m = ClusterMembers.of(new int[] {90, 7, 12, 40}, new int[] {3, 8, 8, 3});
        assertArrayEquals(new int[] {7, 12, 40, 90}, m.controllers());
        assertEquals(12, m.peerOf(7));
        assertEquals(90, m.peerOf(40));
        assertEquals(3, m.brickOf(90));
        assertEquals(-1, m.indexOf(8));
        assertFalse(m.contains(8));
        assertTrue(m.contains(40));
        assertEquals(m, ClusterMembers.of(new int[] {40, 90, 12, 7}, new int[] {3, 3, 8, 8}));
        assertEquals(
                m.hashCode(),
                ClusterMembers.of(new int[] {40, 90, 12, 7}, new int[] {3, 3, 8, 8})
                        .hashCode());
    }

    @Test
    void refusesMembersThatAreNoCluster() {
        assertThrows(IllegalArgumentException.class, () -> ClusterMembers.ofBricks(0));
        assertThrows(IllegalArgumentException.class, () -> ClusterMembers.ofBricks(ClusterMembers.MAX_BRICKS + 1));
        assertThrows(IllegalArgumentException.class, () -> ClusterMembers.of(new int[] {1}, new int[] {0}));
        assertThrows(IllegalArgumentException.class, () -> ClusterMembers.of(new int[] {1, 2}, new int[] {0}));
        IllegalArgumentException twice = assertThrows(
                IllegalArgumentException.class, () -> ClusterMembers.of(new int[] {1, 1}, new int[] {0, 0}));
        assertTrue(twice.getMessage().contains("controller=1"), twice.getMessage());
        IllegalArgumentException three = assertThrows(
                IllegalArgumentException.class,
                () -> ClusterMembers.of(new int[] {1, 2, 3, 4}, new int[] {0, 0, 0, 1}));
        assertTrue(three.getMessage().contains("brick=0"), three.getMessage());
        assertThrows(
                IllegalArgumentException.class,
                () -> ClusterMembers.of(new int[] {1, 2, 3, 4}, new int[] {0, 1, 2, 2}));
        assertThrows(IllegalArgumentException.class, () -> ClusterMembers.of(new int[] {-1, 2}, new int[] {0, 0}));
        assertThrows(
                IllegalArgumentException.class, () -> ClusterMembers.ofBricks(1).peerOf(2));
    }

    @Test
    void aBrickJoinsWithNewIdsOnly() {
        ClusterMembers one = ClusterMembers.ofBricks(1);
        ClusterMembers two = one.withBrick(1, 2, 3);
        assertEquals(ClusterMembers.ofBricks(2), two);
        assertThrows(IllegalArgumentException.class, () -> two.withBrick(1, 8, 9));
        assertThrows(IllegalArgumentException.class, () -> two.withBrick(2, 3, 9));
        ClusterMembers lower =
                ClusterMembers.of(new int[] {10, 11}, new int[] {5, 5}).withBrick(0, 1, 2);
        assertArrayEquals(new int[] {1, 2, 10, 11}, lower.controllers());
    }
}
