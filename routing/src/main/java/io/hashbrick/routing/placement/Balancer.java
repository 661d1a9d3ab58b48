package io.hashbrick.routing.placement;

/**
 * The placement rule, on one table of partitions (4096 buckets, or 4096 region partitions) whose
 * entries are member indices. Pure functions over arrays; the caller copies.
 *
 * <p><b>Even.</b> Every controller's target is {@code floor(P/n)} or {@code ceil(P/n)} partitions.
 * <b>Fewest moves.</b> The {@code P mod n} larger targets go to the controllers that hold the most
 * already (ties: the lower index), so controllers give up only their surplus and receive only their
 * deficit: the number of partitions moved is the least any even layout allows. When a brick joins a
 * layout that was even, the old controllers are the ones at or above their targets, so partitions move
 * only from old controllers to new ones, never between old ones. <b>Spread.</b> What a donor gives and
 * what a receiver gets are spread evenly over the table ({@link #rebalance}), so any run of consecutive
 * region partitions (one volume's consecutive regions, {@link Placement#regionPartition}) stays spread
 * over all controllers.
 */
final class Balancer {
    private Balancer() {}

    /** The initial layout: partition p to member p mod n (interleaved, counts differ by at most one). */
    static byte[] initial(int partitions, int members) {
        byte[] table = new byte[partitions];
        for (int p = 0; p < partitions; p++) {
            table[p] = (byte) (p % members);
        }
        return table;
    }

    /**
     * Moves the fewest partitions of {@code table} (entries in [0, members)) so that every member holds
     * floor or ceil of the mean. Returns a new table; {@code table} is not changed.
     *
     * <p>One scan in partition order. A donor (a member above its target) should have given up
     * {@code surplus * (p+1) / P} partitions by partition p, and a receiver (below its target) received
     * {@code deficit * (p+1) / P}; partition p moves when its holder is a donor behind that schedule and
     * the receiver furthest behind its own wants one, or when the donor has no partitions left beyond
     * the surplus it still owes. Each donor's losses and each receiver's gains are thus spread over the
     * whole table, not bunched where several donors' partitions sit side by side.
     */
    static byte[] rebalance(byte[] table, int members) {
        int partitions = table.length;
        int[] count = counts(table, members);
        int[] target = targets(count, partitions);
        int[] surplus = new int[members];
        int[] deficit = new int[members];
        for (int m = 0; m < members; m++) {
            surplus[m] = Math.max(0, count[m] - target[m]);
            deficit[m] = Math.max(0, target[m] - count[m]);
        }
        int[] given = new int[members];
        int[] received = new int[members];
        int[] unscanned = count.clone();
        byte[] next = table.clone();
        for (int p = 0; p < partitions; p++) {
            int donor = table[p] & 0xff;
            unscanned[donor]--;
            int owed = surplus[donor] - given[donor];
            if (owed == 0) {
                continue;
            }
            boolean mustGive = unscanned[donor] + 1 == owed;
            // Schedules in units of 1/partitions, in integers: exact, the same on every JVM.
            long behind = (long) surplus[donor] * (p + 1) - (long) given[donor] * partitions;
            int receiver = neediest(deficit, received, p + 1, partitions);
            long wants = (long) deficit[receiver] * (p + 1) - (long) received[receiver] * partitions;
            if (mustGive || (behind > 0 && wants > 0)) {
                next[p] = (byte) receiver;
                given[donor]++;
                received[receiver]++;
            }
        }
        for (int m = 0; m < members; m++) {
            if (given[m] != surplus[m] || received[m] != deficit[m]) {
                throw new IllegalStateException("rebalance unbalanced: member=" + m + " given=" + given[m] + "/"
                        + surplus[m] + " received=" + received[m] + "/" + deficit[m]);
            }
        }
        return next;
    }

    /**
     * The receiver furthest behind its intake schedule after {@code scanned} partitions (ties: the
     * lower index). One with a deficit left always exists while a donor owes: surpluses and deficits
     * sum alike.
     */
    private static int neediest(int[] deficit, int[] received, int scanned, int partitions) {
        int best = -1;
        long bestLag = Long.MIN_VALUE;
        for (int r = 0; r < deficit.length; r++) {
            if (received[r] < deficit[r]) {
                long lag = (long) deficit[r] * scanned - (long) received[r] * partitions;
                if (lag > bestLag) {
                    bestLag = lag;
                    best = r;
                }
            }
        }
        if (best < 0) {
            throw new IllegalStateException("a donor owes but no receiver is short: scanned=" + scanned);
        }
        return best;
    }

    static int[] counts(byte[] table, int members) {
        int[] count = new int[members];
        for (byte m : table) {
            count[m & 0xff]++;
        }
        return count;
    }

    /** floor(P/n) each, plus one for the {@code P mod n} members that hold the most (lower index first). */
    static int[] targets(int[] count, int partitions) {
        int members = count.length;
        int base = partitions / members;
        int extra = partitions % members;
        int[] order = new int[members];
        for (int m = 0; m < members; m++) {
            order[m] = m;
        }
        // Insertion sort by (count descending, index ascending): members <= 256, run once per change.
        for (int i = 1; i < members; i++) {
            int m = order[i];
            int j = i - 1;
            while (j >= 0 && (count[order[j]] < count[m] || (count[order[j]] == count[m] && order[j] > m))) {
                order[j + 1] = order[j];
                j--;
            }
            order[j + 1] = m;
        }
        int[] target = new int[members];
        for (int i = 0; i < members; i++) {
            target[order[i]] = base + (i < extra ? 1 : 0);
        }
        return target;
    }
}
