package io.hashbrick.node.cluster;

import io.hashbrick.node.CorruptCheckpointException;
import io.hashbrick.proto.cluster.v1.Catalog;
import io.hashbrick.proto.cluster.v1.ClusterMap;
import io.hashbrick.proto.cluster.v1.Command;
import io.hashbrick.proto.cluster.v1.CommandResult;
import io.hashbrick.proto.cluster.v1.StateImage;
import io.hashbrick.proto.cluster.v1.Status;

/**
 * The replicated state of the cluster, as a deterministic value: the map ({@link ClusterMapState}), the
 * catalog ({@link CatalogState}) and the client sessions that make commands idempotent
 * ({@link OperationSessions}). Replicas that apply the same commands in the same order hold equal
 * states and give equal images, byte for byte.
 *
 * <p>No Raft here: {@link ClusterStateMachine} feeds it the committed log, so it is tested on its own.
 * One writer; not thread-safe (the state machine guards it).
 */
public final class ClusterState {
    private final ClusterMapState map;
    private final CatalogState catalog;
    private final OperationSessions sessions;

    public ClusterState() {
        this(new ClusterMapState(), new CatalogState(), new OperationSessions());
    }

    private ClusterState(ClusterMapState map, CatalogState catalog, OperationSessions sessions) {
        this.map = map;
        this.catalog = catalog;
        this.sessions = sessions;
    }

    /**
     * Applies one committed command.
     *
     * @param index its Raft log index (names sessions and orders their eviction)
     * @return its result; for a retry of an applied operation, the first result, and nothing changes
     */
    public CommandResult apply(Command c, long index) {
        long epoch = map.epoch();
        if (c.getKindCase() == Command.KindCase.REGISTER_CLIENT) {
            return indexed(sessions.register(index, epoch), index);
        }
        if (c.getKindCase() == Command.KindCase.KIND_NOT_SET || c.getClientId() == 0 || c.getOperationId() == 0) {
            return indexed(
                    Results.refused(
                            Status.MALFORMED,
                            epoch,
                            "kind=" + c.getKindCase() + " client=" + c.getClientId() + " operation="
                                    + c.getOperationId()),
                    index);
        }
        CommandResult first = sessions.before(c, epoch);
        if (first != null) {
            return first;
        }
        CommandResult result = indexed(dispatch(c, epoch), index);
        sessions.after(c, result, index);
        return result;
    }

    private CommandResult dispatch(Command c, long epoch) {
        return switch (c.getKindCase()) {
            case ADD_MEMBER -> map.addMember(c.getAddMember());
            case REMOVE_MEMBER -> map.removeMember(c.getRemoveMember());
            case SET_ASSIGNMENT -> map.setAssignment(c.getSetAssignment());
            case FAILOVER -> map.failover(c.getFailover());
            case REJOIN -> map.rejoin(c.getRejoin());
            case SET_STRIPE_RANGES -> map.setStripeRanges(c.getSetStripeRanges());
            case SERVE_POOL -> map.servePool(c.getServePool());
            case RETURN_POOL -> map.returnPool(c.getReturnPool());
            case CREATE_VOLUME -> catalog.createVolume(c.getCreateVolume(), epoch);
            case RESIZE_VOLUME -> catalog.resizeVolume(c.getResizeVolume(), epoch);
            case DELETE_VOLUME -> catalog.deleteVolume(c.getDeleteVolume().getVolumeId(), epoch);
            case PUT_INITIATOR_GROUP ->
                catalog.putInitiatorGroup(c.getPutInitiatorGroup().getGroup(), epoch);
            case DELETE_INITIATOR_GROUP ->
                catalog.deleteInitiatorGroup(c.getDeleteInitiatorGroup().getName(), epoch);
            case MAP_LUN -> catalog.mapLun(c.getMapLun().getMap(), epoch);
            case UNMAP_LUN ->
                catalog.unmapLun(
                        c.getUnmapLun().getInitiatorGroup(), c.getUnmapLun().getLun(), epoch);
            case PUT_CHAP_SECRET -> catalog.putChapSecret(c.getPutChapSecret().getSecret(), epoch);
            case DELETE_CHAP_SECRET ->
                catalog.deleteChapSecret(c.getDeleteChapSecret().getInitiator(), epoch);
            case SET_RESERVATION -> catalog.setReservation(c.getSetReservation(), epoch);
            case REGISTER_CLIENT, KIND_NOT_SET -> throw new IllegalStateException("kind=" + c.getKindCase());
        };
    }

    private static CommandResult indexed(CommandResult r, long index) {
        return r.toBuilder().setIndex(index).build();
    }

    public long epoch() {
        return map.epoch();
    }

    public ClusterMap map() {
        return map.toProto();
    }

    public Catalog catalog() {
        return catalog.toProto();
    }

    int sessionCount() {
        return sessions.size();
    }

    /** Everything, sorted: equal states give equal images and equal bytes. */
    public StateImage image() {
        StateImage.Builder b = StateImage.newBuilder().setMap(map.toProto()).setCatalog(catalog.toProto());
        sessions.toProto(b::addSessions);
        return b.build();
    }

    /** The state an image describes; refuses an image whose references do not hold. */
    public static ClusterState fromImage(StateImage image) throws CorruptCheckpointException {
        return new ClusterState(
                ClusterMapState.fromProto(image.getMap()),
                CatalogState.fromProto(image.getCatalog()),
                OperationSessions.fromProto(image.getSessionsList()));
    }
}
