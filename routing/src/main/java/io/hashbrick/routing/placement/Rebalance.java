package io.hashbrick.routing.placement;

import java.util.ArrayList;
import java.util.List;

/**
 * The plan from one assignment to another: every bucket and region partition whose owner changes,
 * from whom to whom, buckets first, each table in partition order. A value for the code that moves
 * ownership (the next issue: the old owner serves until the new one has caught up); computing it
 * touches nothing.
 *
 * @param fromEpoch the epoch of the map the moves start from
 * @param toEpoch the epoch of the map they lead to
 * @param moves the changes of owner, in table then partition order
 */
public record Rebalance(long fromEpoch, long toEpoch, List<Move> moves) {
    /** Which of the two tables a move is in. */
    public enum Table {
        /** One of the 4096 buckets of the fingerprint space (D: H2P). */
        BUCKET,
        /** One of the 4096 region partitions of the volume space (C: A2H). */
        REGION
    }

    /** Partition {@code partition} of {@code table} changes owner from controller {@code from} to {@code to}. */
    public record Move(Table table, int partition, int from, int to) {}

    public Rebalance {
        moves = List.copyOf(moves);
    }

    /** The owner changes from {@code from} to {@code to}. */
    public static Rebalance between(Assignment from, Assignment to) {
        List<Move> moves = new ArrayList<>();
        diff(Table.BUCKET, from.bucketOwners(), to.bucketOwners(), moves);
        diff(Table.REGION, from.regionPartitionOwners(), to.regionPartitionOwners(), moves);
        return new Rebalance(from.epoch(), to.epoch(), moves);
    }

    private static void diff(Table table, int[] before, int[] after, List<Move> out) {
        for (int p = 0; p < before.length; p++) {
            if (before[p] != after[p]) {
                out.add(new Move(table, p, before[p], after[p]));
            }
        }
    }

    /** Moves in {@code table}. */
    public int count(Table table) {
        int n = 0;
        for (Move m : moves) {
            n += m.table() == table ? 1 : 0;
        }
        return n;
    }

    /** Moves in {@code table} that {@code controller} receives. */
    public int into(Table table, int controller) {
        int n = 0;
        for (Move m : moves) {
            n += m.table() == table && m.to() == controller ? 1 : 0;
        }
        return n;
    }

    /** Moves in {@code table} that {@code controller} gives up. */
    public int outOf(Table table, int controller) {
        int n = 0;
        for (Move m : moves) {
            n += m.table() == table && m.from() == controller ? 1 : 0;
        }
        return n;
    }

    public boolean isEmpty() {
        return moves.isEmpty();
    }
}
