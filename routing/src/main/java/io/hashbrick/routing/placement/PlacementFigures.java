package io.hashbrick.routing.placement;

import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Prints the placement rule's figures for the README: shares of buckets, region partitions and the
 * regions of a seeded set of volumes at 1..8 bricks, each brick added to the previous map, and what
 * each addition moved against the least possible. Pure computation:
 * {@code java -cp routing/target/classes io.hashbrick.routing.placement.PlacementFigures [bricks] [seed]}.
 */
public final class PlacementFigures {
    private PlacementFigures() {}

    public static void main(String[] args) {
        int bricks = args.length > 0 ? Integer.parseInt(args[0]) : 8;
        long seed = args.length > 1 ? Long.parseLong(args[1]) : 19L;
        System.out.print(report(bricks, seed));
    }

    /** The table for 1..{@code bricks} bricks; volumes sized from {@code seed}. */
    public static String report(int bricks, long seed) {
        int[] large = volumeSizes(new SplittableRandom(seed), 256, 1024); // 1..1024 GiB each
        int[] small = volumeSizes(new SplittableRandom(seed + 1), 1000, 16); // 1..16 GiB each
        StringBuilder out = new StringBuilder();
        out.append(String.format(
                Locale.ROOT,
                "volumes: 256 of 1..1024 GiB (%d regions), 1000 of 1..16 GiB (%d regions), seed=%d%n",
                sum(large),
                sum(small),
                seed));
        out.append("| bricks | controllers | buckets each | region partitions each | largest deviation"
                + " | regions, large volumes | regions, small volumes (initial layout) | any 64 partitions in a row"
                + " | buckets moved (least) | partitions moved (least) | moved between old controllers |\n");
        out.append("|---|---|---|---|---|---|---|---|---|---|---|\n");
        Assignment a = Assignment.initial(ClusterMembers.ofBricks(1));
        for (int b = 1; b <= bricks; b++) {
            String moved = "-";
            String movedRegions = "-";
            String between = "-";
            if (b > 1) {
                Assignment next = a.addBrick(b - 1, 2 * (b - 1), 2 * (b - 1) + 1);
                Rebalance plan = Rebalance.between(a, next);
                int least = least(Placement.BUCKETS, next.members().size(), 2);
                moved = plan.count(Rebalance.Table.BUCKET) + " (" + least + ")";
                movedRegions = plan.count(Rebalance.Table.REGION) + " (" + least + ")";
                int among = 0;
                for (Rebalance.Move m : plan.moves()) {
                    among += a.members().contains(m.to()) ? 1 : 0;
                }
                between = Integer.toString(among);
                a = next;
            }
            int[] bucketShares = new int[a.members().size()];
            int[] partitionShares = new int[a.members().size()];
            for (int i = 0; i < bucketShares.length; i++) {
                bucketShares[i] = a.bucketShare(a.members().controller(i));
                partitionShares[i] = a.regionShare(a.members().controller(i));
            }
            Assignment initial = Assignment.initial(ClusterMembers.ofBricks(b));
            int controllers = a.members().size();
            out.append(String.format(
                    Locale.ROOT,
                    "| %d | %d | %s | %s | %s | %s | %s (%s) | %.1f +- %.1f | %s | %s | %s |%n",
                    b,
                    controllers,
                    range(bucketShares),
                    range(partitionShares),
                    deviation(
                            Math.abs(maxDeviation(bucketShares)) > Math.abs(maxDeviation(partitionShares))
                                    ? bucketShares
                                    : partitionShares),
                    deviation(regionShares(a, large)),
                    deviation(regionShares(a, small)),
                    deviation(regionShares(initial, small)),
                    (double) RUN / controllers,
                    worstRun(a, RUN),
                    moved,
                    movedRegions,
                    between));
        }
        return out.toString();
    }

    /** The run of consecutive region partitions the spread column looks at (64 GiB of one volume). */
    static final int RUN = 64;

    /**
     * The largest difference, over every controller and every run of {@code run} consecutive region
     * partitions (cyclic), between the partitions it holds there and {@code run x share / 4096}.
     */
    static double worstRun(Assignment a, int run) {
        int partitions = Placement.REGION_PARTITIONS;
        double worst = 0;
        for (int c : a.members().controllers()) {
            double expected = (double) run * a.regionShare(c) / partitions;
            int held = 0;
            for (int p = 0; p < run; p++) {
                held += a.regionPartitionOwner(p) == c ? 1 : 0;
            }
            for (int p = 0; p < partitions; p++) { // the run [p, p + run)
                worst = Math.max(worst, Math.abs(held - expected));
                held -= a.regionPartitionOwner(p) == c ? 1 : 0;
                held += a.regionPartitionOwner((p + run) % partitions) == c ? 1 : 0;
            }
        }
        return worst;
    }

    /** Partitions the {@code added} newest of {@code controllers} must receive for even shares. */
    static int least(int partitions, int controllers, int added) {
        int base = partitions / controllers;
        int extra = partitions % controllers;
        int oldControllers = controllers - added;
        // the extras go to old controllers first; only those beyond them fall to new ones
        return added * base + Math.max(0, extra - oldControllers);
    }

    static int[] volumeSizes(SplittableRandom random, int volumes, int maxRegions) {
        int[] regions = new int[volumes];
        for (int v = 0; v < volumes; v++) {
            regions[v] = 1 + random.nextInt(maxRegions);
        }
        return regions;
    }

    /** Regions served per controller (by member index) when volume v has {@code regions[v]} regions. */
    static int[] regionShares(Assignment a, int[] regions) {
        int[] share = new int[a.members().size()];
        for (int v = 0; v < regions.length; v++) {
            for (int r = 0; r < regions[v]; r++) {
                share[a.members().indexOf(a.regionOwner(v, r))]++;
            }
        }
        return share;
    }

    private static int sum(int[] values) {
        int s = 0;
        for (int v : values) {
            s += v;
        }
        return s;
    }

    private static String range(int[] shares) {
        int min = Integer.MAX_VALUE;
        int max = Integer.MIN_VALUE;
        for (int s : shares) {
            min = Math.min(min, s);
            max = Math.max(max, s);
        }
        return min == max ? Integer.toString(min) : min + "-" + max;
    }

    /** Largest deviation from the mean, in percent of the mean, signed as the larger side. */
    static String deviation(int[] shares) {
        return String.format(Locale.ROOT, "%+.2f %%", 100.0 * maxDeviation(shares));
    }

    /** The share furthest from the mean, as a signed fraction of the mean. */
    static double maxDeviation(int[] shares) {
        double mean = (double) sum(shares) / shares.length;
        double worst = 0;
        for (int s : shares) {
            double d = (s - mean) / mean;
            if (Math.abs(d) > Math.abs(worst)) {
                worst = d;
            }
        }
        return worst;
    }
}
