package io.hashbrick.node.cluster;

/**
 * The lease's length, the same in every process of a cluster (the leader judges by its own value):
 * {@code -Dhashbrick.lease-ms=N} (default 800, at least 100). A controller renews every sixth of it,
 * so five renewals in a row may be lost or late (a GC pause, a starved core) before it is judged
 * silent; a SIGSTOPped controller is fenced about one lease after it stopped (one lease plus an
 * election when it led the Raft group).
 */
public final class Leases {
    public static final long DEFAULT_MS = 800;

    private Leases() {}

    public static long leaseMs() {
        long ms = Long.getLong("hashbrick.lease-ms", DEFAULT_MS);
        if (ms < 100) {
            throw new IllegalArgumentException("hashbrick.lease-ms must be at least 100: " + ms);
        }
        return ms;
    }

    public static long renewEveryMs() {
        return Math.max(10, leaseMs() / 6);
    }
}
