package io.hashbrick.routing.placement;

import java.util.Arrays;

/**
 * The controllers of a cluster and the brick each belongs to (DESIGN.md "Vocabulary": a brick is two
 * controllers sharing one DAE). An immutable value: controllers in ascending id order, each with its
 * brick; every brick has exactly two controllers, each the other's peer for failover.
 *
 * <p>Ids are chosen by whoever admits a member (the cluster map); {@link #ofBricks} is the convention
 * of the local launcher and the tests: brick b holds controllers 2b and 2b+1.
 */
public final class ClusterMembers {
    public static final int CONTROLLERS_PER_BRICK = 2;
    /** Bounds the serialized map (a controller is one byte in its tables) and the evenness bar. */
    public static final int MAX_BRICKS = 128;

    public static final int MAX_CONTROLLERS = MAX_BRICKS * CONTROLLERS_PER_BRICK;

    private final int[] controllers;
    private final int[] bricks;

    private ClusterMembers(int[] controllers, int[] bricks) {
        this.controllers = controllers;
        this.bricks = bricks;
    }

    /** {@code count} bricks numbered 0..count-1, brick b holding controllers 2b and 2b+1. */
    public static ClusterMembers ofBricks(int count) {
        if (count < 1 || count > MAX_BRICKS) {
            throw new IllegalArgumentException("brick count out of range: count=" + count + " max=" + MAX_BRICKS);
        }
        int[] controllers = new int[count * CONTROLLERS_PER_BRICK];
        int[] bricks = new int[controllers.length];
        for (int i = 0; i < controllers.length; i++) {
            controllers[i] = i;
            bricks[i] = i / CONTROLLERS_PER_BRICK;
        }
        return of(controllers, bricks);
    }

    /**
     * Controller {@code controllers[i]} sits in brick {@code bricks[i]}; any order. Refuses negative or
     * repeated ids, and a brick without exactly two controllers.
     */
    public static ClusterMembers of(int[] controllers, int[] bricks) {
        if (controllers.length != bricks.length) {
            throw new IllegalArgumentException("controllers and bricks differ in length: controllers="
                    + controllers.length + " bricks=" + bricks.length);
        }
        int n = controllers.length;
        if (n < CONTROLLERS_PER_BRICK || n > MAX_CONTROLLERS || n % CONTROLLERS_PER_BRICK != 0) {
            throw new IllegalArgumentException("controller count out of range: controllers=" + n
                    + " (a multiple of 2, at most " + MAX_CONTROLLERS + ")");
        }
        long[] pairs = new long[n]; // (controller << 32 | brick), sorted by controller id
        for (int i = 0; i < n; i++) {
            if (controllers[i] < 0 || bricks[i] < 0) {
                throw new IllegalArgumentException("negative id: controller=" + controllers[i] + " brick=" + bricks[i]);
            }
            pairs[i] = ((long) controllers[i] << 32) | bricks[i];
        }
        Arrays.sort(pairs);
        int[] sortedControllers = new int[n];
        int[] sortedBricks = new int[n];
        for (int i = 0; i < n; i++) {
            sortedControllers[i] = (int) (pairs[i] >>> 32);
            sortedBricks[i] = (int) pairs[i];
            if (i > 0 && sortedControllers[i] == sortedControllers[i - 1]) {
                throw new IllegalArgumentException("controller listed twice: controller=" + sortedControllers[i]);
            }
        }
        int[] byBrick = sortedBricks.clone();
        Arrays.sort(byBrick);
        for (int i = 0; i < n; i += CONTROLLERS_PER_BRICK) {
            if (byBrick[i] != byBrick[i + 1] || (i + 2 < n && byBrick[i + 2] == byBrick[i])) {
                throw new IllegalArgumentException("a brick must have exactly two controllers: brick=" + byBrick[i]
                        + " bricks=" + Arrays.toString(bricks));
            }
        }
        return new ClusterMembers(sortedControllers, sortedBricks);
    }

    /** These members and one more brick; refuses ids already in use. */
    public ClusterMembers withBrick(int brick, int controllerA, int controllerB) {
        for (int b : bricks) {
            if (b == brick) {
                throw new IllegalArgumentException("brick already a member: brick=" + brick);
            }
        }
        int n = controllers.length;
        int[] c = Arrays.copyOf(controllers, n + CONTROLLERS_PER_BRICK);
        int[] b = Arrays.copyOf(bricks, n + CONTROLLERS_PER_BRICK);
        c[n] = controllerA;
        c[n + 1] = controllerB;
        b[n] = brick;
        b[n + 1] = brick;
        return of(c, b);
    }

    /** Number of controllers. */
    public int size() {
        return controllers.length;
    }

    public int brickCount() {
        return controllers.length / CONTROLLERS_PER_BRICK;
    }

    /** The controller at {@code index} in ascending id order. */
    public int controller(int index) {
        return controllers[index];
    }

    /** The brick of the controller at {@code index}. */
    public int brickAt(int index) {
        return bricks[index];
    }

    /** The controllers in ascending id order (a copy). */
    public int[] controllers() {
        return controllers.clone();
    }

    /** The index of {@code controller} in ascending id order, or -1 if it is no member. */
    public int indexOf(int controller) {
        int i = Arrays.binarySearch(controllers, controller);
        return i >= 0 ? i : -1;
    }

    public boolean contains(int controller) {
        return indexOf(controller) >= 0;
    }

    public int brickOf(int controller) {
        return bricks[requireIndex(controller)];
    }

    /** The other controller of {@code controller}'s brick: the one that takes over when it fails. */
    public int peerOf(int controller) {
        return controllers[peerIndex(requireIndex(controller))];
    }

    /** The index of the peer of the controller at {@code index}. */
    int peerIndex(int index) {
        for (int i = 0; i < bricks.length; i++) {
            if (i != index && bricks[i] == bricks[index]) {
                return i;
            }
        }
        throw new IllegalStateException("no peer: controller=" + controllers[index]); // of() forbids it
    }

    int requireIndex(int controller) {
        int i = indexOf(controller);
        if (i < 0) {
            throw new IllegalArgumentException(
                    "not a member: controller=" + controller + " members=" + Arrays.toString(controllers));
        }
        return i;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ClusterMembers m
                && Arrays.equals(controllers, m.controllers)
                && Arrays.equals(bricks, m.bricks);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(controllers) + Arrays.hashCode(bricks);
    }

    @Override
    public String toString() {
        StringBuilder s = new StringBuilder("ClusterMembers[");
        for (int i = 0; i < controllers.length; i++) {
            s.append(i == 0 ? "" : ", ").append(controllers[i]).append('@').append(bricks[i]);
        }
        return s.append(']').toString();
    }
}
