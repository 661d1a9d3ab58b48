package io.hashbrick.node.cluster;

import io.hashbrick.node.Log;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.apache.ratis.RaftConfigKeys;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.grpc.GrpcConfigKeys;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.rpc.SupportedRpcType;
import org.apache.ratis.server.DivisionInfo;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.RaftServerConfigKeys;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.util.NetUtils;
import org.apache.ratis.util.SizeInBytes;
import org.apache.ratis.util.TimeDuration;

/**
 * One voter of the cluster's Raft group: a Ratis server over gRPC on the peer's host:port, its log and
 * snapshots under a storage directory, running a {@link ClusterStateMachine}. A controller runs one
 * beside its roles; the {@link Witness} runs one alone. Started on its storage, it recovers: it loads
 * its latest snapshot, replays its log after it, and catches up from the leader (entries, or the
 * leader's snapshot when it is behind the leader's log).
 */
public final class ClusterMember implements AutoCloseable {
    static final String FOLLOWER_RETRY_POLICY = "1ms,10, 100ms,20, 500ms,2000000000";

    private final String id;
    private final ClusterPeers peers;
    private final RaftServer server;
    private final ClusterStateMachine stateMachine;
    private final LeaseServer leaseServer;

    private ClusterMember(
            String id,
            ClusterPeers peers,
            RaftServer server,
            ClusterStateMachine stateMachine,
            LeaseServer leaseServer) {
        this.leaseServer = leaseServer;
        this.id = id;
        this.peers = peers;
        this.server = server;
        this.stateMachine = stateMachine;
    }

    /** Starts voter {@code id} of {@code peers} on storage {@code dir} (created and formatted if new). */
    public static ClusterMember start(ClusterPeers peers, String id, Path dir, ClusterTuning tuning)
            throws IOException {
        RaftPeer self = peers.peer(id);
        Files.createDirectories(dir);
        ClusterStateMachine stateMachine = new ClusterStateMachine();
        RaftServer server;
        try {
            server = RaftServer.newBuilder()
                    .setServerId(self.getId())
                    .setGroup(peers.group())
                    .setProperties(serverProperties(self, dir, tuning))
                    .setStateMachine(stateMachine)
                    .setOption(RaftStorage.StartupOption.RECOVER) // formats a new directory, recovers an old one
                    .build();
        } catch (IOException | RuntimeException e) {
            throw ioCause(e);
        }
        // The lease endpoint before the voter can lead: a renewal sent to a leader is never lost to a
        // socket not yet bound (it would count as silence).
        LeaseServer leaseServer;
        try {
            leaseServer = new LeaseServer(id, NetUtils.createSocketAddr(self.getAddress()), stateMachine.leases());
        } catch (IOException e) {
            server.close();
            throw e;
        }
        try {
            server.start();
        } catch (IOException | RuntimeException e) {
            leaseServer.close();
            server.close(); // its threads and port, before the caller learns it failed
            throw ioCause(e);
        }
        Log.info(
                "cluster_member_started",
                "member=" + id + " address=" + self.getAddress() + " group="
                        + peers.group().getGroupId().getUuid()
                        + " voters=" + peers.ids().size() + " dir=" + Log.q(dir) + " applied_index="
                        + stateMachine.appliedIndex());
        return new ClusterMember(id, peers, server, stateMachine, leaseServer);
    }

    /**
     * Ratis reports a state machine that failed to initialize (a snapshot refused) as a
     * CompletionException: the caller gets the IOException inside it, e.g. CorruptCheckpointException.
     */
    private static IOException ioCause(Exception e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof IOException io) {
                return io;
            }
        }
        return new IOException("cluster voter failed to start: error=" + e, e);
    }

    static RaftProperties serverProperties(RaftPeer self, Path dir, ClusterTuning tuning) {
        RaftProperties p = new RaftProperties();
        RaftConfigKeys.Rpc.setType(p, SupportedRpcType.GRPC);
        InetSocketAddress address = NetUtils.createSocketAddr(self.getAddress());
        GrpcConfigKeys.Server.setHost(p, address.getHostString());
        GrpcConfigKeys.Server.setPort(p, address.getPort());
        RaftServerConfigKeys.setStorageDir(p, List.of(dir.toFile()));
        RaftServerConfigKeys.Rpc.setTimeoutMin(p, millis(tuning.electionMin().toMillis()));
        RaftServerConfigKeys.Rpc.setTimeoutMax(p, millis(tuning.electionMax().toMillis()));
        // A leader that steps down (no heartbeat answered by a majority within an election timeout) stands
        // again after this. Ratis's 10 s left a 3-voter group with one voter dead leaderless for 10 s
        // here: the one that stepped down held the newer log, so the other could not win without it.
        RaftServerConfigKeys.LeaderElection.setLeaderStepDownWaitTime(
                p, millis(2 * tuning.electionMax().toMillis()));
        RaftServerConfigKeys.Snapshot.setAutoTriggerEnabled(p, true);
        RaftServerConfigKeys.Snapshot.setAutoTriggerThreshold(p, tuning.snapshotEveryEntries());
        RaftServerConfigKeys.Snapshot.setRetentionFileNum(p, 2);
        RaftServerConfigKeys.Log.setSegmentSizeMax(p, SizeInBytes.valueOf(tuning.logSegmentBytes()));
        RaftServerConfigKeys.Log.setPurgeUptoSnapshotIndex(p, true);
        RaftServerConfigKeys.Log.setPurgeGap(p, tuning.purgeGap());
        // A voter the leader cannot reach is retried every ~0.5 s (randomized), not Ratis's default 5 s
        // after 30 errors: with that, a voter restarted after a few seconds down waited 5 s here before
        // the leader noticed it. (Sleep times, then how many tries at each; the last count is ~30 years.)
        RaftServerConfigKeys.Log.Appender.setRetryPolicy(p, FOLLOWER_RETRY_POLICY);
        // Queries go to the leader, which answers from its state while its lease holds (no extra round).
        RaftServerConfigKeys.Read.setOption(p, RaftServerConfigKeys.Read.Option.LINEARIZABLE);
        RaftServerConfigKeys.Read.setLeaderLeaseEnabled(p, true);
        return p;
    }

    static TimeDuration millis(long ms) {
        return TimeDuration.valueOf(ms, TimeUnit.MILLISECONDS);
    }

    public String id() {
        return id;
    }

    public ClusterStateMachine stateMachine() {
        return stateMachine;
    }

    /** Whether this voter leads the group now and is ready to commit (false when it cannot tell). */
    public boolean isLeader() {
        DivisionInfo info = info();
        return info != null && info.isLeader() && info.isLeaderReady();
    }

    /** The current Raft term seen here, -1 when unknown. */
    public long term() {
        DivisionInfo info = info();
        return info == null ? -1 : info.getCurrentTerm();
    }

    /** The leader this voter knows of, "" when it knows none (an election is under way). */
    public String leaderId() {
        DivisionInfo info = info();
        RaftPeerId leader = info == null ? null : info.getLeaderId();
        return leader == null ? "" : leader.toString();
    }

    /** This voter's Raft role now: leader, follower, candidate, listener, or unknown. */
    public String role() {
        DivisionInfo info = info();
        return info == null ? "unknown" : info.getCurrentRole().name().toLowerCase(Locale.ROOT);
    }

    private DivisionInfo info() {
        try {
            return server.getDivision(peers.group().getGroupId()).getInfo();
        } catch (IOException e) {
            return null;
        }
    }

    @Override
    public void close() throws IOException {
        leaseServer.close();
        server.close();
        Log.info("cluster_member_stopped", "member=" + id + " applied_index=" + stateMachine.appliedIndex());
    }
}
