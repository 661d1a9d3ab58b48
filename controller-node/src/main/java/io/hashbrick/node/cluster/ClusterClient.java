package io.hashbrick.node.cluster;

import com.google.protobuf.InvalidProtocolBufferException;
import io.hashbrick.node.Log;
import io.hashbrick.proto.cluster.v1.CatalogQuery;
import io.hashbrick.proto.cluster.v1.Command;
import io.hashbrick.proto.cluster.v1.CommandResult;
import io.hashbrick.proto.cluster.v1.MapQuery;
import io.hashbrick.proto.cluster.v1.Query;
import io.hashbrick.proto.cluster.v1.QueryResult;
import io.hashbrick.proto.cluster.v1.RegisterClient;
import io.hashbrick.proto.cluster.v1.Status;
import java.io.IOException;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.ratis.RaftConfigKeys;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.client.RaftClientConfigKeys;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.proto.RaftProtos.CommitInfoProto;
import org.apache.ratis.protocol.GroupInfoReply;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.retry.RetryPolicies;
import org.apache.ratis.rpc.SupportedRpcType;
import org.apache.ratis.thirdparty.com.google.protobuf.UnsafeByteOperations;

/**
 * The control plane's way into the cluster map and catalog: commits commands through the Raft group
 * and reads it with read-only queries, each bounded by a deadline. Not for the I/O path, which reads
 * its controller's {@link ClusterStateMachine#mapView()} and never waits for Raft.
 *
 * <p>A client is a session of the state machine ({@code RegisterClient} at connect): every command it
 * prepares gets the next operation id, and a command submitted again after {@code DEADLINE_EXCEEDED}
 * is answered with its first result if it was applied meanwhile, and applied once if not. Expected
 * failures come back as results (DEADLINE_EXCEEDED, UNAVAILABLE, SESSION_EXPIRED), not exceptions.
 */
public final class ClusterClient implements AutoCloseable {
    /** Pause between a client's retries against the group (another server, a new leader). */
    static final Duration RETRY_SLEEP = Duration.ofMillis(50);

    /**
     * Replaced when Ratis closes it: a request that spends its retries fails the client's ordered
     * sliding window, and every later request through that RaftClient fails {@code AlreadyClosedException}
     * (seen after a quorum loss: the group came back, the client never did). The session (client id,
     * operation ids) is the state machine's, not the RaftClient's, so a new RaftClient keeps retries
     * idempotent.
     */
    private volatile RaftClient raft;

    private final ClusterPeers peers;
    private final ClusterTuning tuning;
    private final Duration deadline;
    private final long clientId;
    /** Guarded by this. */
    private long nextOperation = 1;
    /** Operations prepared and not yet answered: the lowest bounds the acknowledged mark. Guarded by this. */
    private final TreeSet<Long> outstanding = new TreeSet<>();

    private volatile boolean expired;
    /** Guarded by this: no RaftClient is made after close. */
    private boolean closed;

    private ClusterClient(RaftClient raft, ClusterPeers peers, ClusterTuning tuning, Duration deadline, long clientId) {
        this.raft = raft;
        this.peers = peers;
        this.tuning = tuning;
        this.deadline = deadline;
        this.clientId = clientId;
    }

    /**
     * Opens a session with the group.
     *
     * @param deadline the longest any one call of this client waits
     * @throws IOException when no session could be opened within the deadline (no quorum reachable)
     */
    public static ClusterClient connect(ClusterPeers peers, ClusterTuning tuning, Duration deadline)
            throws IOException {
        RaftClient raft = raftClient(peers, tuning, deadline);
        Command register = Command.newBuilder()
                .setRegisterClient(RegisterClient.getDefaultInstance())
                .build();
        CommandResult r = send(raft, register, deadline);
        if (r.getStatus() != Status.OK) {
            raft.close();
            throw new IOException("cluster client could not register: status=" + r.getStatus() + " " + r.getDetail()
                    + " cluster=" + peers.clusterName());
        }
        Log.info("cluster_client_connected", "client=" + r.getClientId() + " cluster=" + peers.clusterName());
        return new ClusterClient(raft, peers, tuning, deadline, r.getClientId());
    }

    private static RaftClient raftClient(ClusterPeers peers, ClusterTuning tuning, Duration deadline) {
        RaftProperties p = new RaftProperties();
        RaftConfigKeys.Rpc.setType(p, SupportedRpcType.GRPC);
        RaftClientConfigKeys.Rpc.setRequestTimeout(
                p, ClusterMember.millis(tuning.requestTimeout().toMillis()));
        // Bounded retries: the call's deadline bounds the wait, this bounds the work left behind it.
        int attempts = (int) Math.max(1, deadline.toMillis() / RETRY_SLEEP.toMillis());
        return RaftClient.newBuilder()
                .setProperties(p)
                .setRaftGroup(peers.group())
                .setRetryPolicy(RetryPolicies.retryUpToMaximumCountWithFixedSleep(
                        attempts, ClusterMember.millis(RETRY_SLEEP.toMillis())))
                .build();
    }

    public long clientId() {
        return clientId;
    }

    /** Gives a command this client's session and the next operation id; submit it, and again to retry. */
    public synchronized Command prepare(Command.Builder command) {
        long op = nextOperation++;
        outstanding.add(op);
        return command.setClientId(clientId).setOperationId(op).build();
    }

    /** Prepares and submits. */
    public CommandResult submit(Command.Builder command) {
        return submit(prepare(command));
    }

    /**
     * Commits a prepared command, waiting at most the deadline.
     *
     * @return its result, or DEADLINE_EXCEEDED / UNAVAILABLE (submit the same command again to retry),
     *     or SESSION_EXPIRED (this client is done: connect a new one)
     */
    public CommandResult submit(Command command) {
        if (command.getClientId() != clientId) {
            throw new IllegalArgumentException(
                    "command prepared by another client: client=" + command.getClientId() + " this=" + clientId);
        }
        if (expired) {
            return Results.refused(Status.SESSION_EXPIRED, 0, "client=" + clientId);
        }
        Command stamped;
        synchronized (this) {
            long lowest = outstanding.isEmpty() ? nextOperation : outstanding.first();
            stamped = command.toBuilder().setAcknowledgedBelow(lowest).build();
        }
        RaftClient used = raft;
        CommandResult r = send(used, stamped, deadline);
        renewIfClosed(used, r.getStatus(), r.getDetail());
        switch (r.getStatus()) {
            case DEADLINE_EXCEEDED, UNAVAILABLE -> {} // still outstanding: a retry must find its result
            case SESSION_EXPIRED -> expired = true;
            default -> answered(command);
        }
        return r;
    }

    /** Gives up on a command that will not be retried, so its result may be forgotten. */
    public synchronized void abandon(Command command) {
        outstanding.remove(command.getOperationId());
    }

    private synchronized void answered(Command command) {
        outstanding.remove(command.getOperationId());
    }

    private static CommandResult send(RaftClient raft, Command command, Duration deadline) {
        CompletableFuture<RaftClientReply> reply =
                raft.async().send(Message.valueOf(UnsafeByteOperations.unsafeWrap(command.toByteArray())));
        byte[] content = await(reply, deadline, command.getKindCase().toString());
        if (content.length == 0) {
            return failure(reply, deadline);
        }
        try {
            return CommandResult.parseFrom(content);
        } catch (InvalidProtocolBufferException e) {
            return Results.refused(Status.MALFORMED, 0, "reply=" + Log.q(e.getMessage()));
        }
    }

    /** Reads the cluster map (from the leader, linearizable). */
    public QueryResult map() {
        return query(Query.newBuilder().setMap(MapQuery.getDefaultInstance()).build());
    }

    /** Reads the catalog (from the leader, linearizable). */
    public QueryResult catalog() {
        return query(
                Query.newBuilder().setCatalog(CatalogQuery.getDefaultInstance()).build());
    }

    public QueryResult query(Query query) {
        RaftClient used = raft;
        CompletableFuture<RaftClientReply> reply =
                used.async().sendReadOnly(Message.valueOf(UnsafeByteOperations.unsafeWrap(query.toByteArray())));
        byte[] content = await(reply, deadline, "query_" + query.getKindCase());
        if (content.length == 0) {
            CommandResult f = failure(reply, deadline);
            renewIfClosed(used, f.getStatus(), f.getDetail());
            return QueryResult.newBuilder()
                    .setStatus(f.getStatus())
                    .setDetail(f.getDetail())
                    .build();
        }
        try {
            return QueryResult.parseFrom(content);
        } catch (InvalidProtocolBufferException e) {
            return QueryResult.newBuilder()
                    .setStatus(Status.MALFORMED)
                    .setDetail("reply=" + Log.q(e.getMessage()))
                    .build();
        }
    }

    /**
     * Asks voter {@code peer} to take a snapshot now (an operator's or a test's request; snapshots are
     * otherwise taken every {@link ClusterTuning#snapshotEveryEntries()} entries).
     *
     * @return the snapshot's log index, or -1 when the voter did not take one within the deadline
     */
    public long takeSnapshot(String peer) {
        try {
            RaftClientReply r =
                    raft.getSnapshotManagementApi(RaftPeerId.valueOf(peer)).create(true, deadline.toMillis());
            return r.isSuccess() ? r.getLogIndex() : -1;
        } catch (IOException e) {
            Log.warn("cluster_snapshot_request_failed", "peer=" + peer + " error=" + Log.q(e.getMessage()));
            return -1;
        }
    }

    /** The leader this client last heard of ("" before any reply): a hint, not an answer. */
    public String leaderHint() {
        RaftPeerId leader = raft.getLeaderId();
        return leader == null ? "" : leader.toString();
    }

    /**
     * Asks voter {@code peer} for the commit index of every voter it knows of (the leader knows them
     * all): how far behind a restarted voter is. Empty when the voter does not answer.
     */
    public Map<String, Long> commitIndexes(String peer) {
        Map<String, Long> indexes = new TreeMap<>();
        try {
            GroupInfoReply info =
                    raft.getGroupManagementApi(RaftPeerId.valueOf(peer)).info(raft.getGroupId());
            for (CommitInfoProto c : info.getCommitInfos()) {
                indexes.put(c.getServer().getId().toStringUtf8(), c.getCommitIndex());
            }
        } catch (IOException e) {
            Log.debug("cluster_group_info_failed", "peer=" + peer + " error=" + Log.q(e.getMessage()));
        }
        return indexes;
    }

    /** Replaces {@code used} with a new RaftClient when a failure says Ratis closed it (see {@link #raft}). */
    private void renewIfClosed(RaftClient used, Status status, String detail) {
        if (status != Status.UNAVAILABLE || !detail.contains("AlreadyClosedException")) {
            return;
        }
        synchronized (this) {
            if (raft != used || expired || closed) {
                return; // another call renewed it already
            }
            raft = raftClient(peers, tuning, deadline);
        }
        Log.info("cluster_client_renewed", "client=" + clientId + " reason=raft_client_closed");
        try {
            used.close();
        } catch (IOException e) {
            Log.debug("cluster_client_close_failed", "client=" + clientId + " error=" + Log.q(e.getMessage()));
        }
    }

    /** @return the content of a successful reply, or an empty array (see {@link #failure}) */
    private static byte[] await(CompletableFuture<RaftClientReply> reply, Duration deadline, String what) {
        try {
            RaftClientReply r = reply.get(deadline.toNanos(), TimeUnit.NANOSECONDS);
            return r.isSuccess() ? r.getMessage().getContent().toByteArray() : new byte[0];
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new byte[0];
        } catch (ExecutionException | TimeoutException e) {
            Log.debug("cluster_call_failed", "call=" + what + " error=" + Log.q(e));
            return new byte[0];
        }
    }

    private static CommandResult failure(CompletableFuture<RaftClientReply> reply, Duration deadline) {
        if (!reply.isDone()) {
            reply.cancel(false);
            return Results.refused(Status.DEADLINE_EXCEEDED, 0, "deadline_ms=" + deadline.toMillis());
        }
        String error;
        try {
            RaftClientReply r = reply.getNow(null);
            error = r == null || r.getException() == null
                    ? "reply_failed"
                    : r.getException().toString();
        } catch (RuntimeException e) {
            Throwable cause = e.getCause() == null ? e : e.getCause();
            error = cause.getClass().getSimpleName() + ": " + cause.getMessage();
        }
        return Results.refused(Status.UNAVAILABLE, 0, "error=" + Log.q(error));
    }

    @Override
    public void close() throws IOException {
        RaftClient last;
        synchronized (this) {
            closed = true;
            last = raft;
        }
        last.close();
    }
}
