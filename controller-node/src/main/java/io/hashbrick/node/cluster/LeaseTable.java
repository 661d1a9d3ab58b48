package io.hashbrick.node.cluster;

import io.hashbrick.proto.cluster.v1.Lease;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The Raft leader's view of the controllers' leases (issue 19 item 6): when it last heard from each.
 * Held in the leader's memory only, never committed: nothing on the I/O path waits for Raft, and a
 * renewal every {@link Leases#renewEveryMs()} would otherwise fill the log.
 *
 * <p>A new leader knows nothing of renewals its predecessor took, so it counts every lease from its
 * own election: no lease runs out before a whole lease has passed under the leader that judges it.
 * A controller counts its own lease from when it <em>sent</em> a renewal the leader answered, which is
 * before the leader heard it: the controller always sees its lease end first.
 *
 * <p>The judge's own stalls count for nobody: renewals that arrived while it was not running sit unread
 * in its sockets, so a controller is only silent for the time the judge was itself running ({@link
 * #tick}).
 *
 * <p>Times are {@code System.nanoTime()} values passed in (tests pass their own). Thread-safe: renewals
 * and queries arrive on Ratis's RPC threads, leadership changes on its apply thread.
 */
final class LeaseTable {
    /** A gap between two ticks of the judge's own clock longer than this is a stall of the judge. */
    static final long STALL_NS = 100_000_000L;

    private final long leaseNs;
    private final ConcurrentHashMap<Integer, Long> heardNs = new ConcurrentHashMap<>();
    /** When this voter became leader; 0 when it is not (or not known to be) the leader. */
    private volatile long leaderSinceNs;
    /** The last tick of this process's own clock ({@link #tick}). */
    private volatile long tickNs;
    /** When the judge's own last stall ended: nobody is counted silent across it. */
    private volatile long stallEndNs;

    LeaseTable(long leaseMs) {
        this.leaseNs = leaseMs * 1_000_000L;
    }

    /**
     * The judge's own clock, called every few tens of ms by one thread of this process: a gap (a GC
     * pause, a starved core, the process stopped) means renewals may be waiting unread in its sockets,
     * so every lease counts from the stall's end. A judge stalled now says nobody ran out.
     */
    void tick(long nowNs) {
        long last = tickNs;
        if (last != 0 && nowNs - last > STALL_NS) {
            stallEndNs = nowNs;
        }
        tickNs = nowNs;
    }

    long leaseMs() {
        return leaseNs / 1_000_000L;
    }

    /** This voter became the leader ({@code true}) or another one did. */
    void leaderChanged(boolean self, long nowNs) {
        heardNs.clear();
        leaderSinceNs = self ? nonZero(nowNs) : 0;
    }

    /**
     * @return how long {@code member} had been silent (ms: a renewal that came late is logged by the
     *     caller), or -1 when this voter does not (yet) count leases: it is not the leader
     */
    long renew(int member, long nowNs) {
        long since = leaderSinceNs;
        if (since == 0) {
            return -1;
        }
        Long before = heardNs.put(member, nowNs);
        if (before != null && before - nowNs > 0) {
            heardNs.merge(member, before, Math::max); // an older renewal answered after a newer one
            return 0;
        }
        long from = Math.max(before == null ? since : before, Math.max(since, stallEndNs));
        return Math.max(0, nowNs - from) / 1_000_000L;
    }

    /** What this leader knows of {@code member}'s lease; null when it is not the leader. */
    Lease judge(int member, String leader, long nowNs) {
        long since = leaderSinceNs;
        if (since == 0) {
            return null;
        }
        long stall = stallEndNs;
        long tick = tickNs;
        if (tick != 0 && nowNs - tick > STALL_NS) {
            stall = nowNs; // the clock has not ticked since a stall that is only now ending
        }
        long heard = Math.max(Math.max(heardNs.getOrDefault(member, since), since), stall);
        long silent = Math.max(0, nowNs - heard);
        long leading = Math.max(0, nowNs - since);
        return Lease.newBuilder()
                .setMember(member)
                .setLeader(leader)
                .setLeaseMs(leaseNs / 1_000_000L)
                .setSilentMs(silent / 1_000_000L)
                .setLeaderForMs(leading / 1_000_000L)
                .setExpired(silent >= leaseNs)
                .build();
    }

    private static long nonZero(long v) {
        return v == 0 ? 1 : v;
    }
}
