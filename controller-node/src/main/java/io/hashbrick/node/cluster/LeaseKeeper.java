package io.hashbrick.node.cluster;

import io.hashbrick.node.Log;
import io.hashbrick.proto.cluster.v1.Lease;
import io.hashbrick.proto.cluster.v1.QueryResult;
import io.hashbrick.proto.cluster.v1.Status;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.DatagramChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.util.NetUtils;

/**
 * A controller's lease from the Raft leader (issue 19 item 6): renewed every {@link
 * Leases#renewEveryMs()} with a datagram ({@link LeaseWire}) sent to every voter at once; the leader
 * answers RENEWED from its memory, the others NOT_LEADER (nothing is committed; nothing on the I/O path
 * waits for it). A controller the leader has not heard from for a whole lease is silent (paused, hung,
 * cut off): its brick peer fences it and takes its pool over ({@code PoolFailover}), asking the leader
 * through {@link #leaseOf} the same way.
 *
 * <p>Datagrams, not the Raft client: a Raft client chases the leader (a paused one holds it until its
 * RPC times out), and its gRPC round trips landed renewals 300-530 ms apart under a drill's load
 * against 100 ms sent. A lost datagram is simply the next renewal's business.
 *
 * <p>The lease counts from when a renewal was <em>sent</em>: the controller sees it end before the
 * leader does. One thread renews, one receives; a renewal waits a third of a lease at most.
 */
public final class LeaseKeeper implements AutoCloseable {
    private final ControllerIdentity self;
    private final long leaseNs;
    private final long everyNs;
    private final long waitNs;
    private final List<InetSocketAddress> voters = new ArrayList<>();
    private final DatagramChannel channel;
    private final AtomicLong seq = new AtomicLong();
    /** Requests waiting for a leader's answer, by sequence number. */
    private final ConcurrentHashMap<Long, Waiting> waiting = new ConcurrentHashMap<>();

    private final Object started = new Object();
    private volatile boolean stopped;
    private Thread renewer;
    private Thread receiver;

    /** When the lease runs out ({@code System.nanoTime()}); 0: never held. */
    private volatile long heldUntilNs;

    private volatile long renewals;
    private volatile long lapses;
    private volatile long lapsedAtNs;
    private volatile long longestLapseMs;

    /** A request's answer, and whether any voter said NOT_LEADER meanwhile. */
    private static final class Waiting {
        final CompletableFuture<LeaseWire.Reply> leader = new CompletableFuture<>();
        /** The answer expected: RENEWED for a renewal, ANSWER for a question. */
        final byte type;

        final int member;
        volatile boolean notLeader;

        Waiting(byte type, int member) {
            this.type = type;
            this.member = member;
        }
    }

    public LeaseKeeper(ControllerIdentity self, ClusterPeers peers) throws IOException {
        this.self = self;
        this.leaseNs = Leases.leaseMs() * 1_000_000L;
        this.everyNs = Leases.renewEveryMs() * 1_000_000L;
        this.waitNs = leaseNs / 3;
        for (RaftPeer p : peers.group().getPeers()) {
            voters.add(NetUtils.createSocketAddr(p.getAddress()));
        }
        this.channel = DatagramChannel.open();
        channel.bind(null); // any address, an ephemeral port: the voters answer to where the request came from
    }

    public void start() {
        receiver = Thread.ofPlatform().daemon().name("lease-receiver").start(this::receive);
        renewer = Thread.ofPlatform().daemon().name("lease-keeper").start(this::run);
    }

    private void run() {
        long next = System.nanoTime();
        while (!stopped) {
            try {
                renewOnce();
            } catch (RuntimeException e) { // never the end of the renewals: the next one goes on time
                Log.error("lease_renewal_failed", "member=" + self.memberId() + " error=" + Log.q(e.toString()));
            }
            next += everyNs;
            long wait = next - System.nanoTime();
            if (wait < 0) { // late (a renewal waited out its deadline, a pause): the next one goes now
                next = System.nanoTime();
                wait = 0;
            }
            try {
                Thread.sleep(Duration.ofNanos(wait));
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private void receive() {
        ByteBuffer in = ByteBuffer.allocate(64);
        while (!stopped) {
            SocketAddress from;
            try {
                in.clear();
                from = channel.receive(in);
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                if (!stopped) {
                    Log.debug("lease_receive_failed", "member=" + self.memberId() + " error=" + Log.q(e.toString()));
                }
                continue;
            }
            in.flip();
            LeaseWire.Reply r = LeaseWire.parseReply(in);
            if (r == null) {
                Log.debug("lease_reply_dropped", "member=" + self.memberId() + " from=" + from + " reason=malformed");
                continue;
            }
            Waiting w = waiting.get(r.seq());
            if (w == null || w.type != r.type() && r.type() != LeaseWire.NOT_LEADER || w.member != r.member()) {
                continue; // answered after its wait ended, or by a second voter
            }
            if (r.type() == LeaseWire.NOT_LEADER) {
                w.notLeader = true;
            } else {
                w.leader.complete(r);
            }
        }
    }

    private void renewOnce() {
        long sent = System.nanoTime();
        QueryResult r = ask(LeaseWire.RENEW, self.controller());
        boolean ok = r.getStatus() == Status.OK;
        long now = System.nanoTime();
        long until = heldUntilNs;
        if (ok) {
            if (until != 0 && now - until > 0) {
                if (lapsedAtNs - until < 0) { // it ran out while this renewal was on its way
                    lapsedAtNs = until;
                    lapses++;
                }
                long ms = (now - lapsedAtNs) / 1_000_000L;
                longestLapseMs = Math.max(longestLapseMs, ms);
                Log.warn("lease_held_again", "member=" + self.memberId() + " lapsed_ms=" + ms);
            } else if (until == 0) {
                Log.info("lease_held", "member=" + self.memberId() + " lease_ms=" + leaseNs / 1_000_000L);
            }
            heldUntilNs = sent + leaseNs;
            renewals++;
            if (until == 0) {
                synchronized (started) {
                    started.notifyAll();
                }
            }
        } else if (until != 0 && now - until > 0 && lapsedAtNs - until < 0) {
            lapsedAtNs = now;
            lapses++;
            Log.warn(
                    "lease_lapsed",
                    "member=" + self.memberId() + " lease_ms=" + leaseNs / 1_000_000L + " status=" + r.getStatus()
                            + " action=brick_peer_may_fence_this_controller");
        }
    }

    /**
     * Sends one request to every voter and waits (a third of a lease at most) for the leader's answer.
     *
     * @return OK (with the lease, for ASK), NOT_LEADER (voters answered, none leads: an election), or
     *     DEADLINE_EXCEEDED (no voter answered)
     */
    private QueryResult ask(byte type, int member) {
        long n = seq.incrementAndGet();
        Waiting w = new Waiting(type == LeaseWire.RENEW ? LeaseWire.RENEWED : LeaseWire.ANSWER, member);
        waiting.put(n, w);
        try {
            ByteBuffer out = ByteBuffer.allocate(LeaseWire.REQUEST_BYTES);
            for (InetSocketAddress v : voters) {
                LeaseWire.request(out, type, member, self.controller(), n);
                try {
                    channel.send(out, v);
                } catch (IOException e) {
                    Log.debug("lease_send_failed", "member=" + self.memberId() + " to=" + v + " error=" + Log.q(e));
                }
            }
            LeaseWire.Reply r;
            try {
                r = w.leader.get(waitNs, TimeUnit.NANOSECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                r = null;
            } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
                r = null;
            }
            if (r == null) {
                return QueryResult.newBuilder()
                        .setStatus(w.notLeader ? Status.NOT_LEADER : Status.DEADLINE_EXCEEDED)
                        .setDetail(w.notLeader ? "no_voter_leads" : "no_voter_answered wait_ms=" + waitNs / 1_000_000L)
                        .build();
            }
            return QueryResult.newBuilder()
                    .setStatus(Status.OK)
                    .setLease(Lease.newBuilder()
                            .setMember(r.member())
                            .setLeader(r.voter())
                            .setLeaseMs(r.leaseMs())
                            .setSilentMs(r.silentMs())
                            .setLeaderForMs(r.leaderForMs())
                            .setExpired(r.type() == LeaseWire.ANSWER && r.expired()))
                    .build();
        } finally {
            waiting.remove(n);
        }
    }

    /** Whether the lease is held now (renewed less than a lease ago). */
    public boolean held() {
        long until = heldUntilNs;
        return until != 0 && System.nanoTime() - until < 0;
    }

    /** Waits until the lease has been held once; false when {@code wait} passed first. */
    public boolean awaitFirst(Duration wait) throws InterruptedException {
        long end = System.nanoTime() + wait.toNanos();
        synchronized (started) {
            while (heldUntilNs == 0 && !stopped) {
                long left = end - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                started.wait(Math.max(1, left / 1_000_000L));
            }
        }
        return heldUntilNs != 0;
    }

    /**
     * Asks the leader about {@code member}'s lease.
     *
     * @return the leader's answer (status OK with its {@code lease}), or why there is none: NOT_LEADER
     *     or DEADLINE_EXCEEDED (no leader now: nobody can judge, so nobody is fenced)
     */
    public QueryResult leaseOf(int member) {
        return ask(LeaseWire.ASK, member);
    }

    public Map<String, Object> status() {
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("held", held());
        s.put("lease_ms", leaseNs / 1_000_000L);
        s.put("renewals", renewals);
        s.put("lapses", lapses);
        s.put("longest_lapse_ms", longestLapseMs);
        return s;
    }

    @Override
    public void close() {
        stopped = true;
        Thread t = renewer;
        if (t != null) {
            t.interrupt();
            try {
                t.join(5_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        synchronized (started) {
            started.notifyAll();
        }
        try {
            channel.close();
        } catch (IOException e) {
            // stopping
        }
    }
}
