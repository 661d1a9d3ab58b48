package io.hashbrick.node.cluster;

import java.time.Duration;

/**
 * Timing and log sizes of the cluster's Raft group, validated once.
 *
 * <p>Elections: Ratis's defaults (150-300 ms) put the first write after a leader's SIGKILL at
 * 394-832 ms here; 50-100 ms at 259-282 ms (notes/toolchain.md). The default takes 100-200 ms: most of
 * the gain, with heartbeats every 50 ms leaving room for a GC pause or a starved core on a loaded
 * 2-core machine before a follower calls an election (pre-vote, on by default, keeps one follower's
 * hiccup from deposing a leader the others still hear).
 *
 * @param electionMin lower bound of the randomized election timeout (heartbeats go at half of it)
 * @param electionMax upper bound
 * @param requestTimeout a client's wait for one RPC before it tries another server
 * @param snapshotEveryEntries a snapshot is taken automatically after this many applied entries
 * @param logSegmentBytes a log segment is closed at this size; only closed segments are purged
 * @param purgeGap the log is purged up to a snapshot once this many entries lie before it
 */
public record ClusterTuning(
        Duration electionMin,
        Duration electionMax,
        Duration requestTimeout,
        long snapshotEveryEntries,
        long logSegmentBytes,
        int purgeGap) {
    public static final ClusterTuning DEFAULT = new ClusterTuning(
            Duration.ofMillis(100), Duration.ofMillis(200), Duration.ofSeconds(1), 10_000, 1 << 20, 1024);

    public ClusterTuning {
        if (electionMin.toMillis() < 10 || electionMax.compareTo(electionMin) <= 0) {
            throw new IllegalArgumentException("election timeouts: election_min_ms=" + electionMin.toMillis()
                    + " election_max_ms=" + electionMax.toMillis() + " (min >= 10, max > min)");
        }
        if (requestTimeout.compareTo(electionMax) <= 0) {
            throw new IllegalArgumentException("request_timeout_ms=" + requestTimeout.toMillis()
                    + " must exceed election_max_ms=" + electionMax.toMillis());
        }
        if (snapshotEveryEntries < 1 || logSegmentBytes < 4096 || purgeGap < 1) {
            throw new IllegalArgumentException("snapshot_every_entries=" + snapshotEveryEntries + " log_segment_bytes="
                    + logSegmentBytes + " purge_gap=" + purgeGap);
        }
    }

    /** The same with other election timeouts, written {@code MIN-MAX} in milliseconds (e.g. 150-300). */
    public ClusterTuning withElection(String minMaxMs) {
        String[] parts = minMaxMs.split("-", -1);
        if (parts.length != 2 || !parts[0].matches("\\d{1,6}") || !parts[1].matches("\\d{1,6}")) {
            throw new IllegalArgumentException("election timeouts are MIN-MAX in ms: election_ms=" + minMaxMs);
        }
        return new ClusterTuning(
                Duration.ofMillis(Long.parseLong(parts[0])),
                Duration.ofMillis(Long.parseLong(parts[1])),
                requestTimeout,
                snapshotEveryEntries,
                logSegmentBytes,
                purgeGap);
    }

    /** The same with smaller log segments and an eager purge: tests that make a voter need a snapshot. */
    public ClusterTuning withLog(long segmentBytes, int gap) {
        return new ClusterTuning(electionMin, electionMax, requestTimeout, snapshotEveryEntries, segmentBytes, gap);
    }
}
