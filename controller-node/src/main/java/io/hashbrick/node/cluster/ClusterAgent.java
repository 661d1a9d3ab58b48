package io.hashbrick.node.cluster;

import io.hashbrick.node.Log;
import io.hashbrick.proto.cluster.v1.AddMember;
import io.hashbrick.proto.cluster.v1.ClusterMap;
import io.hashbrick.proto.cluster.v1.Command;
import io.hashbrick.proto.cluster.v1.CommandResult;
import io.hashbrick.proto.cluster.v1.Member;
import io.hashbrick.proto.cluster.v1.QueryResult;
import io.hashbrick.proto.cluster.v1.SetAssignment;
import io.hashbrick.proto.cluster.v1.Status;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A controller's part in the control plane, on one background thread: it opens a client session with
 * the group, registers the controller ({@code AddMember}; a retry after a lost answer reuses the
 * operation id, so it is applied once), and, once every expected controller is a member, the chosen
 * proposer ({@link InitialPlacement#proposer}) commits the initial placement. Afterwards it keeps the
 * map it shows in {@code status} and the metrics fresh (a voter reads its own replica; a controller
 * that is not a voter queries the group once a second). Its decisions read the map from the leader.
 *
 * <p>Nothing on the I/O path waits for it: the data path never calls here.
 */
public final class ClusterAgent implements AutoCloseable {
    static final Duration CALL_DEADLINE = Duration.ofSeconds(3);
    static final long ROUND_MS = 200;
    /** A controller that is no voter reads the map this often: a failover shows within this. */
    static final long REFRESH_MS = 200;

    private final ControllerIdentity self;
    private final String address;
    /** Where its iSCSI portal listens (host:port), known from the launch options before it opens. */
    private final String portal;

    private final ClusterPeers peers;
    private final ClusterTuning tuning;
    /** This controller's voter, or null when it is not one. */
    private final ClusterMember member;

    private final CountDownLatch stop = new CountDownLatch(1);
    private final Thread thread;
    private ClusterClient client;

    private volatile ClusterMap queried = ClusterMap.getDefaultInstance();
    private volatile String phase = "connecting";

    public ClusterAgent(
            ControllerIdentity self,
            String address,
            String portal,
            ClusterPeers peers,
            ClusterTuning tuning,
            ClusterMember member) {
        this.self = self;
        this.address = address;
        this.portal = portal;
        this.peers = peers;
        this.tuning = tuning;
        this.member = member;
        this.thread = new Thread(this::run, "cluster-agent");
        thread.setDaemon(true);
    }

    public void start() {
        thread.start();
    }

    private void run() {
        try {
            if (!connect() || !register()) {
                return;
            }
            boolean placed = false;
            while (!placed) {
                placed = placeOnce();
                if (!placed && pause(ROUND_MS)) {
                    return;
                }
            }
            phase = "placed";
            while (!pause(REFRESH_MS)) {
                refresh();
            }
        } catch (RuntimeException e) {
            Log.error("cluster_agent_failed", "member=" + self.memberId() + " error=" + Log.q(e));
            phase = "failed";
        }
    }

    /** @return whether a session is open (false: stopped first) */
    private boolean connect() {
        long t0 = System.nanoTime();
        int attempts = 0;
        while (true) {
            attempts++;
            try {
                client = ClusterClient.connect(peers, tuning, CALL_DEADLINE);
                Log.info(
                        "cluster_agent_connected",
                        "member=" + self.memberId() + " attempts=" + attempts + " ms="
                                + (System.nanoTime() - t0) / 1_000_000);
                return true;
            } catch (IOException e) {
                if (attempts == 1) {
                    Log.info(
                            "cluster_agent_waiting",
                            "member=" + self.memberId() + " reason=no_quorum_yet error=" + Log.q(e.getMessage()));
                }
                if (pause(ROUND_MS)) {
                    return false;
                }
            }
        }
    }

    /** @return whether this controller is a member (false: stopped first) */
    private boolean register() {
        phase = "registering";
        while (true) {
            ClusterMap map = readMap();
            Member registered = map == null ? null : memberOf(map);
            if (registered != null) {
                Log.info(
                        "cluster_member_registered",
                        "member=" + self.memberId() + " epoch=" + map.getEpoch() + " members=" + map.getMembersCount()
                                + " already=true");
                if (!registered.getPortal().equals(portal)) { // the map has no command to move a member yet
                    Log.warn(
                            "cluster_member_portal_differs",
                            "member=" + self.memberId() + " registered=" + Log.q(registered.getPortal()) + " launched="
                                    + portal + " effect=send_targets_reports_the_registered_one");
                }
                return true;
            }
            if (map != null) {
                Command add = client.prepare(Command.newBuilder()
                        .setAddMember(AddMember.newBuilder()
                                .setExpectedEpoch(map.getEpoch())
                                .setMember(Member.newBuilder()
                                        .setId(self.controller())
                                        .setBrick(self.brick())
                                        .setAddress(address)
                                        .setPortal(portal))));
                CommandResult r = submitUntilAnswered(add);
                if (r == null) {
                    return false;
                }
                if (r.getStatus() == Status.OK || r.getStatus() == Status.ALREADY_EXISTS) {
                    Log.info(
                            "cluster_member_registered",
                            "member=" + self.memberId() + " epoch=" + r.getEpoch() + " index=" + r.getIndex()
                                    + " already=" + (r.getStatus() == Status.ALREADY_EXISTS));
                    return true;
                }
                if (r.getStatus() != Status.STALE_EPOCH) { // stale: another member joined first, read again
                    Log.warn(
                            "cluster_register_refused",
                            "member=" + self.memberId() + " status=" + r.getStatus() + " " + r.getDetail());
                }
            }
            if (pause(ROUND_MS)) {
                return false;
            }
        }
    }

    /** One round of the initial placement; @return whether the map is placed */
    private boolean placeOnce() {
        ClusterMap map = readMap();
        if (map == null) {
            return false;
        }
        if (map.getBucketsCount() > 0) {
            return true;
        }
        phase = "waiting_for_members";
        if (InitialPlacement.proposer(map, leader()) != self.controller()) {
            return false;
        }
        SetAssignment set;
        try {
            set = InitialPlacement.compute(map, self.expectedControllers());
        } catch (IllegalArgumentException e) {
            Log.warn("cluster_placement_impossible", "member=" + self.memberId() + " error=" + Log.q(e.getMessage()));
            return false;
        }
        if (set == null) {
            return false;
        }
        CommandResult r =
                submitUntilAnswered(client.prepare(Command.newBuilder().setSetAssignment(set)));
        if (r != null && r.getStatus() == Status.OK) {
            Log.info(
                    "cluster_placement_committed",
                    "member=" + self.memberId() + " epoch=" + r.getEpoch() + " index=" + r.getIndex() + " controllers="
                            + self.expectedControllers() + " buckets=" + set.getBucketsCount() + " region_partitions="
                            + set.getRegionPartitionsCount());
            return true;
        }
        if (r != null && r.getStatus() != Status.STALE_EPOCH) {
            Log.warn(
                    "cluster_placement_refused",
                    "member=" + self.memberId() + " status=" + r.getStatus() + " " + r.getDetail());
        }
        return false; // stale: the map changed under us; the next round reads it again
    }

    /**
     * Submits one prepared command until the group answers it (the same operation id each time, so it is
     * applied at most once). @return its answer, or null when stopped first
     */
    private CommandResult submitUntilAnswered(Command command) {
        while (true) {
            CommandResult r = client.submit(command);
            if (r.getStatus() != Status.DEADLINE_EXCEEDED && r.getStatus() != Status.UNAVAILABLE) {
                return r;
            }
            if (pause(ROUND_MS)) {
                client.abandon(command);
                return null;
            }
        }
    }

    /**
     * The map as the leader has it (a linearizable query), for every decision: a voter's own replica may
     * lag the log (a restarted or slow voter), and commands computed from it would be refused
     * STALE_EPOCH round after round.
     */
    private ClusterMap readMap() {
        QueryResult q = client.map();
        if (q.getStatus() != Status.OK) {
            return null;
        }
        queried = q.getMap();
        return queried;
    }

    private void refresh() {
        if (member == null) {
            readMap();
        }
    }

    private Member memberOf(ClusterMap map) {
        for (Member m : map.getMembersList()) {
            if (m.getId() == self.controller()) {
                return m;
            }
        }
        return null;
    }

    /** The leader as this controller knows it: its own voter's, else its client's last hint. */
    public String leader() {
        if (member != null) {
            return member.leaderId();
        }
        ClusterClient c = client;
        return c == null ? "" : c.leaderHint();
    }

    /** The map this controller shows: its replica's (a voter: what its I/O side would read) or the last it queried. */
    public ClusterMap map() {
        return member != null ? member.stateMachine().mapView() : queried;
    }

    /**
     * What {@code status} shows of the cluster from here: this controller, its Raft role (a controller
     * that is no voter has none), the leader, the epoch, and every member's share of the buckets and
     * region partitions in the map seen here (placement committed: the buckets sum to 4096).
     */
    public Map<String, Object> status() {
        ClusterMap map = map();
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("member", self.memberId());
        s.put("brick", self.brick());
        s.put("voter", member != null);
        s.put("raft_role", member == null ? "none" : member.role());
        s.put("raft_term", member == null ? -1 : member.term());
        s.put("leader", leader());
        s.put("epoch", map.getEpoch());
        s.put("phase", phase);
        s.put("placement", map.getBucketsCount() > 0 ? "committed" : "pending");
        s.put("expected_controllers", self.expectedControllers());
        List<Map<String, Object>> members = new ArrayList<>();
        for (Member m : map.getMembersList()) {
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("member", ControllerIdentity.memberId(m.getId()));
            e.put("brick", m.getBrick());
            e.put("state", m.getState().name());
            e.put("served_by", ControllerIdentity.memberId(m.getServedBy() == 0 ? m.getId() : m.getServedBy()));
            e.put("return_requested", m.getReturnRequested());
            e.put("portal", m.getPortal());
            e.put("buckets", InitialPlacement.share(map.getBucketsList(), m.getId()));
            e.put("regions", InitialPlacement.share(map.getRegionPartitionsList(), m.getId()));
            members.add(e);
        }
        s.put("members", members);
        s.put("buckets", InitialPlacement.share(map.getBucketsList(), self.controller()));
        s.put("regions", InitialPlacement.share(map.getRegionPartitionsList(), self.controller()));
        return s;
    }

    /** connecting, registering, waiting_for_members, placed, or failed. */
    public String phase() {
        return phase;
    }

    public ControllerIdentity self() {
        return self;
    }

    /** This controller's voter, or null. */
    public ClusterMember member() {
        return member;
    }

    /** @return true when stopped */
    private boolean pause(long ms) {
        try {
            return stop.await(ms, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return true;
        }
    }

    @Override
    public void close() throws IOException {
        stop.countDown();
        try {
            thread.join(CALL_DEADLINE.toMillis() + 1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        ClusterClient c = client;
        if (c != null) {
            c.close();
        }
    }
}
