package io.hashbrick.node.cluster;

import com.google.protobuf.InvalidProtocolBufferException;
import io.hashbrick.node.CorruptCheckpointException;
import io.hashbrick.node.Log;
import io.hashbrick.proto.cluster.v1.Catalog;
import io.hashbrick.proto.cluster.v1.ClusterMap;
import io.hashbrick.proto.cluster.v1.Command;
import io.hashbrick.proto.cluster.v1.CommandResult;
import io.hashbrick.proto.cluster.v1.Query;
import io.hashbrick.proto.cluster.v1.QueryResult;
import io.hashbrick.proto.cluster.v1.StateImage;
import io.hashbrick.proto.cluster.v1.Status;
import java.io.File;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.ratis.io.MD5Hash;
import org.apache.ratis.proto.RaftProtos.LogEntryProto;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftGroupMemberId;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.protocol.TermIndex;
import org.apache.ratis.server.raftlog.RaftLog;
import org.apache.ratis.server.storage.FileInfo;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.statemachine.StateMachineStorage;
import org.apache.ratis.statemachine.TransactionContext;
import org.apache.ratis.statemachine.impl.BaseStateMachine;
import org.apache.ratis.statemachine.impl.SimpleStateMachineStorage;
import org.apache.ratis.statemachine.impl.SingleFileSnapshotInfo;
import org.apache.ratis.thirdparty.com.google.protobuf.UnsafeByteOperations;
import org.apache.ratis.util.LifeCycle;
import org.apache.ratis.util.MD5FileUtil;

/**
 * The Raft state machine of the cluster map and catalog: applies committed {@link Command}s to a
 * {@link ClusterState}, answers {@link Query}s read-only, and writes and loads snapshots
 * ({@link SnapshotFile}) so that a restarted voter, or one too far behind the leader's log, catches up
 * from an image instead of the whole log.
 *
 * <p>Threads: Ratis applies entries and takes snapshots on one thread (the single writer); queries
 * arrive on RPC threads. A lock guards the state for both, held only for in-memory work: a snapshot
 * copies the image under it and writes the file after. The I/O path never waits here: it reads
 * {@link #mapView()}, the last committed map as an immutable value, published after each change.
 */
public final class ClusterStateMachine extends BaseStateMachine {
    private final SimpleStateMachineStorage storage = new SimpleStateMachineStorage();
    private final Object lock = new Object();
    /** Guarded by {@link #lock}. */
    private ClusterState state = new ClusterState();

    private volatile ClusterMap mapView = new ClusterState().map();
    /** The last committed catalog, published (before the applied index moves) after each catalog change. */
    private volatile CatalogView catalogView = new CatalogView(new ClusterState().catalog(), 0);

    private final CopyOnWriteArrayList<Runnable> catalogListeners = new CopyOnWriteArrayList<>();
    private final AtomicLong snapshotsInstalled = new AtomicLong();
    private volatile String member = "unstarted";
    /** The controllers' leases, counted while this voter leads (see {@link LeaseTable}). */
    private final LeaseTable leases = new LeaseTable(Leases.leaseMs());

    @Override
    public StateMachineStorage getStateMachineStorage() {
        return storage;
    }

    @Override
    public void initialize(RaftServer server, RaftGroupId groupId, RaftStorage raftStorage) throws IOException {
        getLifeCycle()
                .startAndTransition(
                        () -> {
                            super.initialize(server, groupId, raftStorage);
                            member = server.getId().toString();
                            storage.init(raftStorage);
                            load(storage.getLatestSnapshot(), "start");
                        },
                        IOException.class);
    }

    /**
     * Before the leader's snapshot is installed here: Ratis calls this for every chunk it receives and
     * checks the state machine is PAUSED before {@link #reinitialize()}.
     */
    @Override
    public void pause() {
        if (getLifeCycle().compareAndTransition(LifeCycle.State.RUNNING, LifeCycle.State.PAUSING)) {
            getLifeCycle().transition(LifeCycle.State.PAUSED);
        }
    }

    /** After the leader installed a snapshot here (this voter was behind its log): load it. */
    @Override
    public void reinitialize() throws IOException {
        load(storage.loadLatestSnapshot(), "installed");
        if (getLifeCycle().compareAndTransition(LifeCycle.State.PAUSED, LifeCycle.State.STARTING)) {
            getLifeCycle().transition(LifeCycle.State.RUNNING);
        }
    }

    @Override
    public void close() {
        getLifeCycle().checkStateAndClose(() -> {});
    }

    @Override
    public CompletableFuture<Message> applyTransaction(TransactionContext trx) {
        LogEntryProto entry = trx.getLogEntry();
        long index = entry.getIndex();
        Command command = null;
        String malformed = null;
        try {
            command = Command.parseFrom(
                    entry.getStateMachineLogEntry().getLogData().asReadOnlyByteBuffer());
        } catch (InvalidProtocolBufferException e) {
            malformed = e.getMessage();
        }
        CommandResult result;
        long epochBefore;
        long epochAfter;
        boolean catalogChanged;
        synchronized (lock) {
            epochBefore = state.epoch();
            result = command == null
                    ? Results.refused(Status.MALFORMED, epochBefore, "index=" + index + " error=" + Log.q(malformed))
                            .toBuilder()
                            .setIndex(index)
                            .build()
                    : state.apply(command, index);
            catalogChanged = result.getStatus() == Status.OK && changesCatalog(command);
            if (catalogChanged) {
                catalogView = new CatalogView(state.catalog(), index); // before the applied index moves
            }
            updateLastAppliedTermIndex(entry.getTerm(), index);
            epochAfter = state.epoch();
            if (epochAfter != epochBefore) {
                mapView = state.map();
            }
        }
        report(command, result, epochAfter != epochBefore, index);
        if (catalogChanged) {
            notifyCatalogListeners();
        }
        return CompletableFuture.completedFuture(
                Message.valueOf(UnsafeByteOperations.unsafeWrap(result.toByteArray())));
    }

    private static boolean changesCatalog(Command command) {
        if (command == null) {
            return false;
        }
        return switch (command.getKindCase()) {
            case CREATE_VOLUME,
                    RESIZE_VOLUME,
                    DELETE_VOLUME,
                    PUT_INITIATOR_GROUP,
                    DELETE_INITIATOR_GROUP,
                    MAP_LUN,
                    UNMAP_LUN,
                    PUT_CHAP_SECRET,
                    SET_RESERVATION,
                    DELETE_CHAP_SECRET -> true;
            default -> false;
        };
    }

    private void notifyCatalogListeners() {
        for (Runnable r : catalogListeners) {
            try {
                r.run();
            } catch (RuntimeException e) {
                Log.warn("cluster_catalog_listener_failed", "member=" + member + " error=" + Log.q(e));
            }
        }
    }

    private void report(Command command, CommandResult result, boolean mapChanged, long index) {
        String kind = command == null ? "unparsed" : command.getKindCase().toString();
        if (result.getStatus() != Status.OK) {
            Log.info(
                    "cluster_command_refused",
                    "member=" + member + " index=" + index + " command=" + kind + " status=" + result.getStatus() + " "
                            + result.getDetail());
        } else if (mapChanged) {
            Log.info(
                    "cluster_map_changed",
                    "member=" + member + " index=" + index + " command=" + kind + " epoch=" + result.getEpoch());
        } else {
            Log.debug("cluster_command_applied", "member=" + member + " index=" + index + " command=" + kind);
        }
    }

    @Override
    public CompletableFuture<Message> query(Message request) {
        QueryResult.Builder r = QueryResult.newBuilder();
        Query q;
        try {
            q = Query.parseFrom(request.getContent().asReadOnlyByteBuffer());
        } catch (InvalidProtocolBufferException e) {
            q = Query.getDefaultInstance();
        }
        switch (q.getKindCase()) {
            case MAP -> r.setStatus(Status.OK).setMap(mapView);
            case CATALOG -> {
                synchronized (lock) {
                    r.setStatus(Status.OK).setCatalog(state.catalog());
                }
            }
            case KIND_NOT_SET -> r.setStatus(Status.MALFORMED).setDetail("query_bytes=" + request.size());
        }
        r.setAppliedIndex(getLastAppliedTermIndex().getIndex());
        return CompletableFuture.completedFuture(
                Message.valueOf(UnsafeByteOperations.unsafeWrap(r.build().toByteArray())));
    }

    @Override
    public long takeSnapshot() throws IOException {
        byte[] image;
        TermIndex applied;
        long epoch;
        synchronized (lock) {
            applied = getLastAppliedTermIndex();
            image = state.image().toByteArray();
            epoch = state.epoch();
        }
        if (applied == null || applied.getIndex() < 0) {
            return RaftLog.INVALID_LOG_INDEX;
        }
        File file = storage.getSnapshotFile(applied.getTerm(), applied.getIndex());
        SnapshotFile.write(file.toPath(), applied.getTerm(), applied.getIndex(), image);
        // Ratis ships the file to followers that are behind with this digest, and checks it on arrival.
        MD5Hash md5 = MD5FileUtil.computeAndSaveMd5ForFile(file);
        storage.updateLatestSnapshot(new SingleFileSnapshotInfo(new FileInfo(file.toPath(), md5), applied));
        Log.info(
                "cluster_snapshot_taken",
                "member=" + member + " term=" + applied.getTerm() + " index=" + applied.getIndex() + " epoch=" + epoch
                        + " bytes=" + (image.length + SnapshotFile.HEADER_BYTES));
        return applied.getIndex();
    }

    private void load(SingleFileSnapshotInfo snapshot, String cause) throws IOException {
        if (snapshot == null) {
            return;
        }
        Path path = snapshot.getFile().getPath();
        ClusterState loaded;
        TermIndex named = SimpleStateMachineStorage.getTermIndexFromSnapshotFile(path.toFile());
        try {
            SnapshotFile.Contents c = SnapshotFile.read(path);
            if (c.term() != named.getTerm() || c.index() != named.getIndex()) {
                throw new CorruptCheckpointException("cluster snapshot refused: file=" + path + " term=" + c.term()
                        + " index=" + c.index() + " named_term=" + named.getTerm() + " named_index="
                        + named.getIndex());
            }
            loaded = ClusterState.fromImage(parseImage(path, c.payload()));
        } catch (CorruptCheckpointException e) {
            Log.error(
                    "cluster_snapshot_refused",
                    "member=" + member + " cause=" + cause + " error=" + Log.q(e.getMessage()));
            throw e;
        }
        synchronized (lock) {
            state = loaded;
            catalogView = new CatalogView(state.catalog(), named.getIndex());
            setLastAppliedTermIndex(named);
            mapView = state.map();
        }
        notifyCatalogListeners();
        if (cause.equals("installed")) {
            snapshotsInstalled.incrementAndGet();
        }
        Log.info(
                "cluster_snapshot_loaded",
                "member=" + member + " cause=" + cause + " term=" + named.getTerm() + " index=" + named.getIndex()
                        + " epoch=" + loaded.epoch());
    }

    private static StateImage parseImage(Path path, byte[] payload) throws CorruptCheckpointException {
        try {
            return StateImage.parseFrom(payload);
        } catch (InvalidProtocolBufferException e) {
            throw new CorruptCheckpointException(
                    "cluster snapshot refused: file=" + path + " payload=" + Log.q(e.getMessage()));
        }
    }

    @Override
    public void notifyLeaderChanged(RaftGroupMemberId groupMemberId, RaftPeerId newLeaderId) {
        leases.leaderChanged(newLeaderId != null && newLeaderId.toString().equals(member), System.nanoTime());
        Log.info("cluster_leader", "member=" + member + " leader=" + newLeaderId);
    }

    /** The controllers' leases as this voter counts them (it answers for them only while it leads). */
    LeaseTable leases() {
        return leases;
    }

    /** The last committed map: an immutable value, read without a lock or a wait (the I/O path's view). */
    public ClusterMap mapView() {
        return mapView;
    }

    /**
     * The catalog as of {@link #appliedIndex()} (read the index first: the view is published before the
     * index moves, so it is at least that new). Committed entries only, but this replica's: it may lag
     * the group (a restarted or slow voter), never lead it.
     */
    public CatalogView catalogView() {
        return catalogView;
    }

    /**
     * Runs {@code listener} on the apply thread after each committed catalog change (and after a
     * snapshot is loaded): it must only signal, never block or call the group.
     */
    public void addCatalogListener(Runnable listener) {
        catalogListeners.add(listener);
    }

    public void removeCatalogListener(Runnable listener) {
        catalogListeners.remove(listener);
    }

    /** A committed catalog and the log index of the change that made it. */
    public record CatalogView(Catalog catalog, long index) {}

    /** The whole state as an image (equal on replicas that applied the same log). */
    public StateImage image() {
        synchronized (lock) {
            return state.image();
        }
    }

    public long appliedIndex() {
        return getLastAppliedTermIndex().getIndex();
    }

    /** How many snapshots the leader installed here (this voter was behind the leader's log). */
    public long snapshotsInstalled() {
        return snapshotsInstalled.get();
    }
}
