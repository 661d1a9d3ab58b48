package io.hashbrick.routing.placement;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hashbrick.routing.placement.Rebalance.Move;
import io.hashbrick.routing.placement.Rebalance.Table;
import java.util.SplittableRandom;
import java.util.stream.LongStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Random member sets (ids and brick numbers drawn from a seed, not the 2b/2b+1 convention) grown and
 * failed over in random orders; after every step the rule's properties are checked against the step
 * before. {@code -Dseed=N} replays one seed; a failure names its seed.
 */
class PlacementRandomizedTest {
    static LongStream seeds() {
        Long asked = Long.getLong("seed");
        return asked != null ? LongStream.of(asked) : LongStream.rangeClosed(1, 40);
    }

    @ParameterizedTest
    @MethodSource("seeds")
    void randomClustersKeepEveryPlacementProperty(long seed) {
        try {
            run(seed);
        } catch (AssertionError | RuntimeException e) {
            throw new AssertionError("failed with seed=" + seed + " (replay: -Dseed=" + seed + ")", e);
        }
    }

    private static void run(long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        IdSource ids = new IdSource(random);
        int firstBricks = 1 + random.nextInt(4);
        int[] controllers = new int[2 * firstBricks];
        int[] bricks = new int[2 * firstBricks];
        for (int b = 0; b < firstBricks; b++) {
            int brick = ids.brick();
            controllers[2 * b] = ids.controller();
            controllers[2 * b + 1] = ids.controller();
            bricks[2 * b] = brick;
            bricks[2 * b + 1] = brick;
        }
        Assignment a = Assignment.initial(ClusterMembers.of(controllers, bricks));
        checkEven(a);
        for (int step = 0; step < 30; step++) {
            int op = random.nextInt(3);
            if (op == 0 && a.members().brickCount() < 16) {
                a = addBrick(a, ids);
            } else if (op == 1) {
                a = failover(a, random);
            } else {
                a = failback(a, random);
            }
            assertEquals(a, Assignment.parse(a.toBytes()), "round trip at step=" + step);
            checkOwners(a);
        }
    }

    private static Assignment addBrick(Assignment a, IdSource ids) {
        int c0 = ids.controller();
        int c1 = ids.controller();
        Assignment next = a.addBrick(ids.brick(), c0, c1);
        assertEquals(a.epoch() + 1, next.epoch());
        Rebalance plan = Rebalance.between(a, next);
        int n = next.members().size();
        int least = PlacementFigures.least(Placement.BUCKETS, n, 2);
        for (Table t : Table.values()) {
            assertEquals(least, plan.count(t), "moves " + t + " controllers=" + n);
            assertTrue(plan.count(t) <= Math.ceil(2.0 * Placement.BUCKETS / n) + 2);
        }
        for (Move m : plan.moves()) {
            assertTrue(m.to() == c0 || m.to() == c1, "moved between old controllers: " + m);
        }
        checkEven(homesOnly(next));
        return next;
    }

    private static Assignment failover(Assignment a, SplittableRandom random) {
        int c = a.members().controller(random.nextInt(a.members().size()));
        int peer = a.members().peerOf(c);
        if (a.isDown(c) || a.isDown(peer)) {
            return a;
        }
        Assignment next = a.failover(c, peer);
        for (Move m : Rebalance.between(a, next).moves()) {
            assertEquals(c, m.from(), m.toString());
            assertEquals(peer, m.to(), m.toString());
        }
        assertEquals(0, next.bucketShare(c));
        assertEquals(a.bucketShare(c) + a.bucketShare(peer), next.bucketShare(peer));
        assertTrue(next.failback(c).sameLayout(a), "failback undoes failover exactly");
        return next;
    }

    private static Assignment failback(Assignment a, SplittableRandom random) {
        int c = a.members().controller(random.nextInt(a.members().size()));
        if (!a.isDown(c)) {
            return a;
        }
        Assignment next = a.failback(c);
        assertTrue(next.failover(c).sameLayout(a));
        for (int p = 0; p < Placement.BUCKETS; p++) {
            assertEquals(next.bucketHome(p) == c, next.bucketOwner(p) == c, "bucket=" + p);
        }
        return next;
    }

    /** Owners are homes, or the home's peer while it is down; a down controller owns nothing. */
    private static void checkOwners(Assignment a) {
        ClusterMembers m = a.members();
        for (int p = 0; p < Placement.BUCKETS; p++) {
            int home = a.bucketHome(p);
            assertEquals(a.isDown(home) ? m.peerOf(home) : home, a.bucketOwner(p), "bucket=" + p);
            int regionHome = a.regionPartitionHome(p);
            assertEquals(
                    a.isDown(regionHome) ? m.peerOf(regionHome) : regionHome,
                    a.regionPartitionOwner(p),
                    "partition=" + p);
            assertFalse(a.isDown(a.bucketOwner(p)));
        }
    }

    /** The map with every controller failed back: the home layout the evenness bar is about. */
    private static Assignment homesOnly(Assignment a) {
        Assignment up = a;
        for (int c : a.members().controllers()) {
            if (up.isDown(c)) {
                up = up.failback(c);
            }
        }
        return up;
    }

    private static void checkEven(Assignment a) {
        AssignmentTest.assertEven(a, "members=" + a.members());
        int[] owners = a.bucketOwners();
        assertArrayEquals(owners, Assignment.parse(a.toBytes()).bucketOwners());
    }

    /** Distinct random ids, so members are not numbered by the launcher's convention. */
    private static final class IdSource {
        private final SplittableRandom random;
        private final java.util.BitSet usedControllers = new java.util.BitSet();
        private final java.util.BitSet usedBricks = new java.util.BitSet();

        IdSource(SplittableRandom random) {
            this.random = random;
        }

        int controller() {
            return fresh(usedControllers, 100_000);
        }

        int brick() {
            return fresh(usedBricks, 1_000);
        }

        private int fresh(java.util.BitSet used, int bound) {
            for (int tries = 0; tries < 1_000; tries++) {
                int id = random.nextInt(bound);
                if (!used.get(id)) {
                    used.set(id);
                    return id;
                }
            }
            throw new IllegalStateException("no fresh id below " + bound);
        }
    }
}
