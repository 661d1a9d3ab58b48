package io.hashbrick.node.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hashbrick.node.CorruptCheckpointException;
import io.hashbrick.proto.cluster.v1.ClusterMap;
import io.hashbrick.proto.cluster.v1.Command;
import io.hashbrick.proto.cluster.v1.CommandResult;
import io.hashbrick.proto.cluster.v1.DeleteInitiatorGroup;
import io.hashbrick.proto.cluster.v1.DeleteVolume;
import io.hashbrick.proto.cluster.v1.Member;
import io.hashbrick.proto.cluster.v1.MemberState;
import io.hashbrick.proto.cluster.v1.Rejoin;
import io.hashbrick.proto.cluster.v1.RemoveMember;
import io.hashbrick.proto.cluster.v1.ResizeVolume;
import io.hashbrick.proto.cluster.v1.SetAssignment;
import io.hashbrick.proto.cluster.v1.SetStripeRanges;
import io.hashbrick.proto.cluster.v1.StateImage;
import io.hashbrick.proto.cluster.v1.Status;
import io.hashbrick.proto.cluster.v1.StripeRange;
import io.hashbrick.routing.placement.Assignment;
import io.hashbrick.routing.placement.ClusterMembers;
import io.hashbrick.routing.placement.Placement;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The state machine's state without Raft: commands, their checks, idempotency, images. */
class ClusterStateTest {
    private static final long GIB = 1L << 30;

    private final ClusterState state = new ClusterState();
    private long index;
    private long client;
    private long operation;

    @BeforeEach
    void register() {
        client = apply(Commands.register()).getClientId();
        assertEquals(1, client, "a session is named by its registration's log index");
    }

    private CommandResult apply(Command c) {
        return state.apply(c, ++index);
    }

    private Command stamp(Command.Builder b) {
        return b.setClientId(client).setOperationId(++operation).build();
    }

    private CommandResult run(Command.Builder b) {
        return apply(stamp(b));
    }

    /** One brick (controllers 1 and 2) with buckets and 64 region partitions dealt between them. */
    private void oneBrick() {
        assertEquals(Status.OK, run(Commands.addMember(0, 1, 1)).getStatus());
        assertEquals(Status.OK, run(Commands.addMember(1, 2, 1)).getStatus());
        CommandResult r = run(Commands.assign(2, 64, 1, 2));
        assertEquals(Status.OK, r.getStatus(), r.getDetail());
        assertEquals(3, r.getEpoch());
    }

    @Test
    void mapCommandsBuildTheMapAndBumpTheEpoch() {
        oneBrick();
        ClusterMap map = state.map();
        assertEquals(3, map.getEpoch());
        assertEquals(2, map.getMembersCount());
        assertEquals(Placement.BUCKETS, map.getBucketsCount());
        assertEquals(1, map.getBuckets(0));
        assertEquals(2, map.getBuckets(1));
        assertEquals(64, map.getRegionPartitionsCount());

        CommandResult r = run(Commands.failover(3, 1, 2));
        assertEquals(Status.OK, r.getStatus(), r.getDetail());
        map = state.map();
        assertEquals(4, map.getEpoch());
        for (int b = 0; b < Placement.BUCKETS; b++) {
            assertEquals(2, map.getBuckets(b), "bucket " + b);
        }
        for (int owner : map.getRegionPartitionsList()) {
            assertEquals(2, owner);
        }
        assertEquals(MemberState.FAILED, map.getMembers(0).getState());
        // a FAILED controller owns nothing until it rejoins and an assignment gives it a share
        assertEquals(Status.MEMBER_NOT_ACTIVE, run(Commands.assign(4, 64, 1, 2)).getStatus());
        Command.Builder rejoin = Command.newBuilder()
                .setRejoin(Rejoin.newBuilder().setExpectedEpoch(4).setMember(1));
        assertEquals(Status.OK, run(rejoin).getStatus());
        assertEquals(Status.OK, run(Commands.assign(5, 64, 1, 2)).getStatus());
        assertEquals(6, state.epoch());
    }

    /** A pool failed over keeps its shares (its id); only where it is served moves, and back. */
    @Test
    void aPoolIsServedByItsBrickPeerAndReturnedOnRequest() {
        oneBrick();
        assertEquals(Status.OK, run(Commands.addMember(3, 3, 2)).getStatus());
        assertEquals(
                Status.NOT_BRICK_PEER,
                run(Commands.servePool(4, 1, 3, "127.0.0.1:9")).getStatus());
        assertEquals(
                Status.UNKNOWN_MEMBER,
                run(Commands.servePool(4, 7, 1, "127.0.0.1:9")).getStatus());
        assertEquals(
                Status.INVALID_ARGUMENT, run(Commands.servePool(4, 1, 2, "")).getStatus());
        assertEquals(
                Status.STALE_EPOCH,
                run(Commands.servePool(3, 1, 2, "127.0.0.1:9")).getStatus());
        assertEquals(Status.OK, run(Commands.returnPool(1)).getStatus());
        assertEquals(4, state.epoch(), "asking back a pool served at home changes nothing");

        CommandResult r = run(Commands.servePool(4, 1, 2, "127.0.0.1:9"));
        assertEquals(Status.OK, r.getStatus(), r.getDetail());
        ClusterMap map = state.map();
        assertEquals(5, map.getEpoch());
        Member m1 = map.getMembers(0);
        assertEquals(2, m1.getServedBy());
        assertEquals("127.0.0.1:9", m1.getAddress());
        assertEquals(MemberState.ACTIVE, m1.getState());
        assertEquals(1, map.getBuckets(0), "the buckets stay the pool's");

        assertEquals(Status.OK, run(Commands.returnPool(1)).getStatus());
        assertEquals(6, state.epoch());
        assertTrue(state.map().getMembers(0).getReturnRequested());
        assertEquals(Status.OK, run(Commands.returnPool(1)).getStatus());
        assertEquals(6, state.epoch(), "asked once");

        assertEquals(Status.OK, run(Commands.servePool(6, 1, 1, "127.0.0.1:7")).getStatus());
        m1 = state.map().getMembers(0);
        assertEquals(0, m1.getServedBy());
        assertFalse(m1.getReturnRequested());
        assertEquals("127.0.0.1:7", m1.getAddress());
    }

    /** A member's portal is what SendTargets reports: kept as registered; one it could not carry is refused. */
    @Test
    void aMembersPortalIsKeptAndOneSendTargetsCannotCarryIsRefused() {
        Command.Builder bad = Commands.addMember(0, 1, 1);
        bad.getAddMemberBuilder().getMemberBuilder().setPortal("127.0.0.1:3260,1");
        CommandResult r = run(bad);
        assertEquals(Status.INVALID_ARGUMENT, r.getStatus());
        assertTrue(r.getDetail().contains("member=1") && r.getDetail().contains("bad_portal"), r.getDetail());
        assertEquals(0, state.map().getMembersCount());
        assertEquals(Status.OK, run(Commands.addMember(0, 1, 1)).getStatus());
        Command.Builder none = Commands.addMember(1, 2, 1);
        none.getAddMemberBuilder().getMemberBuilder().clearPortal();
        assertEquals(Status.OK, run(none).getStatus(), "no portal: a member SendTargets leaves out");
        assertEquals("127.0.0.1:3260", state.map().getMembers(0).getPortal());
        assertEquals("", state.map().getMembers(1).getPortal());
    }

    /** The placement rule (routing.placement) computes what SetAssignment and Failover carry. */
    @Test
    void thePlacementRulesAssignmentIsWhatTheMapHolds() {
        Assignment initial = Assignment.initial(ClusterMembers.ofBricks(1)); // controllers 0 and 1, brick 0
        assertEquals(0, state.map().getBucketsCount(), "no table before the first assignment");
        assertEquals(Status.OK, run(Commands.addMember(0, 0, 0)).getStatus());
        assertEquals(Status.OK, run(Commands.addMember(1, 1, 0)).getStatus());
        SetAssignment.Builder a = SetAssignment.newBuilder().setExpectedEpoch(2);
        for (int owner : initial.bucketOwners()) {
            a.addBuckets(owner);
        }
        for (int owner : initial.regionPartitionOwners()) {
            a.addRegionPartitions(owner);
        }
        CommandResult r = run(Command.newBuilder().setSetAssignment(a));
        assertEquals(Status.OK, r.getStatus(), r.getDetail());
        assertArrayEquals(initial.bucketOwners(), toArray(state.map().getBucketsList()));

        assertEquals(Status.OK, run(Commands.failover(3, 0, 1)).getStatus());
        Assignment failed = initial.failover(0, 1);
        assertArrayEquals(failed.bucketOwners(), toArray(state.map().getBucketsList()));
        assertArrayEquals(failed.regionPartitionOwners(), toArray(state.map().getRegionPartitionsList()));
    }

    private static int[] toArray(java.util.List<Integer> list) {
        int[] a = new int[list.size()];
        for (int i = 0; i < a.length; i++) {
            a[i] = list.get(i);
        }
        return a;
    }

    @Test
    void aRetriedCommandIsAnsweredWithItsFirstResultAndChangesNothing() {
        oneBrick();
        Command create = stamp(Commands.createVolume("vol-a", GIB));
        CommandResult first = apply(create);
        assertEquals(Status.OK, first.getStatus());
        StateImage after = state.image();

        CommandResult again = apply(create);
        assertEquals(first, again, "same id, same answer, same log index");
        assertEquals(after, state.image());
        assertEquals(1, state.catalog().getVolumesCount());

        // a failover retried after the map moved on is still answered OK, not STALE_EPOCH
        Command failover = stamp(Commands.failover(3, 1, 2));
        CommandResult failed = apply(failover);
        assertEquals(Status.OK, failed.getStatus());
        assertTrue(failed.getIndex() > first.getIndex());
        assertEquals(failed, apply(failover));
        assertEquals(4, state.epoch());

        // refusals are remembered too: the retry of a refused command is refused the same way
        Command dup = stamp(Commands.createVolume("vol-a", GIB));
        CommandResult refused = apply(dup);
        assertEquals(Status.ALREADY_EXISTS, refused.getStatus());
        assertEquals(refused, apply(dup));
    }

    @Test
    void aMapCommandAtAStaleEpochIsRefusedAndChangesNothing() {
        oneBrick();
        StateImage before = state.image();
        CommandResult r = run(Commands.failover(2, 1, 2));
        assertEquals(Status.STALE_EPOCH, r.getStatus());
        assertEquals("expected_epoch=2 epoch=3", r.getDetail());
        assertEquals(3, r.getEpoch());
        assertEquals(before.getMap(), state.image().getMap());

        assertEquals(Status.STALE_EPOCH, run(Commands.assign(7, 64, 1)).getStatus());
        assertEquals(Status.STALE_EPOCH, run(Commands.addMember(1, 3, 2)).getStatus());
        assertEquals(before.getMap(), state.map());
    }

    @Test
    void aFailoverGoesOnlyToTheBrickPeerOfAnActiveController() {
        oneBrick();
        assertEquals(Status.OK, run(Commands.addMember(3, 3, 2)).getStatus());
        CommandResult r = run(Commands.failover(4, 1, 3));
        assertEquals(Status.NOT_BRICK_PEER, r.getStatus());
        assertTrue(r.getDetail().contains("dead_brick=1") && r.getDetail().contains("to_brick=2"), r.getDetail());
        assertEquals(Status.NOT_BRICK_PEER, run(Commands.failover(4, 1, 1)).getStatus());
        assertEquals(Status.UNKNOWN_MEMBER, run(Commands.failover(4, 9, 1)).getStatus());
        assertEquals(Status.OK, run(Commands.failover(4, 1, 2)).getStatus());
        assertEquals(Status.MEMBER_NOT_ACTIVE, run(Commands.failover(5, 2, 1)).getStatus());
        assertEquals(Status.INVALID_ARGUMENT, run(Commands.addMember(5, 4, 1)).getStatus(), "a third on brick 1");
    }

    @Test
    void stripeRangesStayOnTheirBrickAndFollowAFailover() {
        oneBrick();
        Command.Builder ranges = Command.newBuilder()
                .setSetStripeRanges(SetStripeRanges.newBuilder()
                        .setExpectedEpoch(3)
                        .setDae(1)
                        .addRanges(range(100, 100, 2))
                        .addRanges(range(0, 100, 1)));
        assertEquals(Status.OK, run(ranges).getStatus());
        ClusterMap map = state.map();
        assertEquals(0, map.getStripeRanges(0).getFirstStripe(), "sorted by first stripe");
        assertEquals(1, map.getStripeRanges(0).getController());

        Command.Builder overlap = Command.newBuilder()
                .setSetStripeRanges(SetStripeRanges.newBuilder()
                        .setExpectedEpoch(4)
                        .setDae(1)
                        .addRanges(range(0, 100, 1))
                        .addRanges(range(99, 10, 2)));
        CommandResult r = run(overlap);
        assertEquals(Status.INVALID_ARGUMENT, r.getStatus());
        assertTrue(r.getDetail().contains("overlaps_below=100"), r.getDetail());

        assertEquals(Status.IN_USE, run(removeMember(4, 1)).getStatus());
        assertEquals(Status.OK, run(Commands.failover(4, 1, 2)).getStatus());
        for (StripeRange s : state.map().getStripeRangesList()) {
            assertEquals(2, s.getController());
        }
    }

    private static Command.Builder removeMember(long epoch, int member) {
        return Command.newBuilder()
                .setRemoveMember(
                        RemoveMember.newBuilder().setExpectedEpoch(epoch).setMember(member));
    }

    private static StripeRange range(long first, long count, int controller) {
        return StripeRange.newBuilder()
                .setFirstStripe(first)
                .setStripeCount(count)
                .setController(controller)
                .build();
    }

    @Test
    void assignmentsNameActiveMembersOnlyAndCoverEveryBucket() {
        oneBrick();
        assertEquals(Status.UNKNOWN_MEMBER, run(Commands.assign(3, 64, 1, 5)).getStatus());
        CommandResult r = run(Commands.assign(3, 0, 1));
        assertEquals(Status.INVALID_ARGUMENT, r.getStatus());
        assertEquals("region_partitions=0 range=1..65536", r.getDetail());
        assertEquals(3, state.epoch());
    }

    /**
     * A volume's LUN is chosen when it is created, the lowest free one, and kept: a deletion frees its
     * LUN for the next volume and moves no other. An image from before LUNs (all 0) gets them in id order.
     */
    @Test
    void volumesGetTheLowestFreeLunAndKeepIt() throws Exception {
        long a = run(Commands.createVolume("a", GIB)).getVolumeId();
        long b = run(Commands.createVolume("b", GIB)).getVolumeId();
        long c = run(Commands.createVolume("c", GIB)).getVolumeId();
        assertEquals(
                java.util.List.of(0, 1, 2),
                state.catalog().getVolumesList().stream().map(v -> v.getLun()).toList());
        assertEquals(
                Status.OK,
                run(Command.newBuilder()
                                .setDeleteVolume(DeleteVolume.newBuilder().setVolumeId(b)))
                        .getStatus());
        long d = run(Commands.createVolume("d", GIB)).getVolumeId();
        java.util.Map<Long, Integer> luns = new java.util.TreeMap<>();
        state.catalog().getVolumesList().forEach(v -> luns.put(v.getId(), v.getLun()));
        assertEquals(java.util.Map.of(a, 0, c, 2, d, 1), luns);
        for (int i = 4; i < CatalogState.MAX_VOLUME_LUNS + 1; i++) {
            assertEquals(Status.OK, run(Commands.createVolume("v" + i, GIB)).getStatus());
        }
        CommandResult full = run(Commands.createVolume("one-too-many", GIB));
        assertEquals(Status.IN_USE, full.getStatus(), full.getDetail());
        assertTrue(full.getDetail().contains("reason=every_lun_in_use"), full.getDetail());

        StateImage old = state.image().toBuilder()
                .setCatalog(state.image().getCatalog().toBuilder()
                        .clearVolumes()
                        .addVolumes(state.catalog().getVolumes(0).toBuilder().setLun(0))
                        .addVolumes(state.catalog().getVolumes(1).toBuilder().setLun(0))
                        .addVolumes(state.catalog().getVolumes(2).toBuilder().setLun(0)))
                .build();
        assertEquals(
                java.util.List.of(0, 1, 2),
                ClusterState.fromImage(old).catalog().getVolumesList().stream()
                        .map(v -> v.getLun())
                        .toList());
    }

    @Test
    void theCatalogChecksNamesReferencesAndSecrets() {
        long vol = run(Commands.createVolume("vol-a", GIB)).getVolumeId();
        assertEquals(1, vol);
        assertEquals(
                Status.INVALID_ARGUMENT,
                run(Commands.createVolume("bad name", GIB)).getStatus());
        assertEquals(
                Status.INVALID_ARGUMENT,
                run(Commands.createVolume("vol-b", 1000)).getStatus());
        assertEquals(
                Status.OK,
                run(Commands.group("hosts", "iqn.2026-01.host:b", "iqn.2026-01.host:a", "iqn.2026-01.host:a"))
                        .getStatus());
        assertEquals(
                java.util.List.of("iqn.2026-01.host:a", "iqn.2026-01.host:b"),
                state.catalog().getInitiatorGroups(0).getInitiatorsList(),
                "sorted, no duplicates");
        assertEquals(
                Status.INVALID_ARGUMENT, run(Commands.group("bad", "host-a")).getStatus());
        assertEquals(Status.OK, run(Commands.mapLun("hosts", 0, vol)).getStatus());
        assertEquals(
                Status.ALREADY_EXISTS, run(Commands.mapLun("hosts", 0, vol)).getStatus());
        assertEquals(Status.NOT_FOUND, run(Commands.mapLun("hosts", 1, 99)).getStatus());
        assertEquals(
                Status.INVALID_ARGUMENT,
                run(Commands.mapLun("hosts", 1 << 14, vol)).getStatus());
        Command.Builder deleteVolume =
                Command.newBuilder().setDeleteVolume(DeleteVolume.newBuilder().setVolumeId(vol));
        assertEquals(Status.IN_USE, run(deleteVolume).getStatus());
        Command.Builder deleteGroup = Command.newBuilder()
                .setDeleteInitiatorGroup(DeleteInitiatorGroup.newBuilder().setName("hosts"));
        assertEquals(Status.IN_USE, run(deleteGroup).getStatus());
        Command.Builder shrink = Command.newBuilder()
                .setResizeVolume(ResizeVolume.newBuilder().setVolumeId(vol).setSizeBytes(GIB / 2));
        assertEquals(Status.INVALID_ARGUMENT, run(shrink).getStatus());
        assertEquals(0, state.epoch(), "catalog commands leave the map's epoch alone");

        CommandResult shortSecret = run(Commands.chap("iqn.2026-01.host:a", "alice", "tooshort"));
        assertEquals(Status.INVALID_ARGUMENT, shortSecret.getStatus());
        assertTrue(shortSecret.getDetail().contains("secret_bytes=8"), shortSecret.getDetail());
        assertFalse(shortSecret.getDetail().contains("tooshort"), "a refusal never shows the secret");
        assertEquals(
                Status.OK,
                run(Commands.chap("iqn.2026-01.host:a", "alice", "a-secret-of-16b"))
                        .getStatus());
        assertEquals("alice", state.catalog().getChapSecrets(0).getUser());
    }

    @Test
    void sessionsRefuseWhatTheyCannotTellApart() {
        // below the acknowledged mark and forgotten: refused, not applied again
        Command a = stamp(Commands.createVolume("vol-a", GIB));
        Command b = stamp(Commands.createVolume("vol-b", GIB)).toBuilder()
                .setAcknowledgedBelow(2)
                .build();
        assertEquals(Status.OK, apply(a).getStatus());
        assertEquals(Status.OK, apply(b).getStatus());
        CommandResult late = apply(a.toBuilder().setAcknowledgedBelow(2).build());
        assertEquals(Status.OPERATION_EXPIRED, late.getStatus());
        assertEquals(2, state.catalog().getVolumesCount());

        // an unknown session, or a command without ids
        Command stranger = Commands.createVolume("vol-c", GIB)
                .setClientId(999)
                .setOperationId(1)
                .build();
        assertEquals(Status.SESSION_EXPIRED, apply(stranger).getStatus());
        assertEquals(
                Status.MALFORMED,
                apply(Commands.createVolume("vol-d", GIB).build()).getStatus());
        assertEquals(
                Status.MALFORMED,
                apply(Command.newBuilder()
                                .setClientId(client)
                                .setOperationId(99)
                                .build())
                        .getStatus());

        // the least recently used session goes first, and its retries are refused, never re-applied
        for (int i = 0; i < OperationSessions.MAX_CLIENTS; i++) {
            apply(Commands.register());
        }
        assertEquals(OperationSessions.MAX_CLIENTS, state.sessionCount());
        assertEquals(Status.SESSION_EXPIRED, apply(b).getStatus());
        assertEquals(2, state.catalog().getVolumesCount());
    }

    @Test
    void resultsPerClientAreBoundedAndTheOldestForgottenOnesAreRefused() {
        Command first = stamp(Commands.createVolume("v0", GIB));
        apply(first);
        // (resizes, not creates: volumes are bounded by their LUNs, 256)
        for (int i = 1; i <= OperationSessions.MAX_RESULTS_PER_CLIENT; i++) {
            apply(stamp(Command.newBuilder()
                    .setResizeVolume(ResizeVolume.newBuilder().setVolumeId(1).setSizeBytes(GIB * (i + 1)))));
        }
        assertEquals(Status.OPERATION_EXPIRED, apply(first).getStatus());
        assertEquals(1, state.catalog().getVolumesCount());
        assertEquals(
                GIB * (OperationSessions.MAX_RESULTS_PER_CLIENT + 1),
                state.catalog().getVolumes(0).getSizeBytes());
    }

    private static io.hashbrick.proto.cluster.v1.Reservation.Builder reservation(long volume, long version) {
        return io.hashbrick.proto.cluster.v1.Reservation.newBuilder()
                .setVolumeId(volume)
                .setVersion(version)
                .setHolder(-1)
                .addRegistrations(io.hashbrick.proto.cluster.v1.Registration.newBuilder()
                        .setInitiatorPort("iqn.2026-01.host:a,i,0x1")
                        .setTargetPort("iqn.2026-01.io.hashbrick:x,t,0x0001")
                        .setRelativeTargetPort(1)
                        .setKey(version));
    }

    private static Command.Builder setReservation(long expected, io.hashbrick.proto.cluster.v1.Reservation.Builder r) {
        return Command.newBuilder()
                .setSetReservation(io.hashbrick.proto.cluster.v1.SetReservation.newBuilder()
                        .setExpectedVersion(expected)
                        .setReservation(r));
    }

    /**
     * A volume's reservations change by compare-and-set on their version: a change computed from an
     * older version is refused (IN_USE) and changes nothing; a deleted volume's go with it; images keep them.
     */
    @Test
    void reservationsChangeByCompareAndSetOnTheirVersion() throws Exception {
        long vol = run(Commands.createVolume("vol-a", GIB)).getVolumeId();
        assertEquals(Status.OK, run(setReservation(0, reservation(vol, 1))).getStatus());
        CommandResult stale = run(setReservation(0, reservation(vol, 1)));
        assertEquals(Status.IN_USE, stale.getStatus(), stale.getDetail());
        assertTrue(stale.getDetail().contains("version=1 expected_version=0"), stale.getDetail());
        CommandResult skip = run(setReservation(1, reservation(vol, 3)));
        assertEquals(Status.INVALID_ARGUMENT, skip.getStatus(), skip.getDetail());
        assertEquals(Status.OK, run(setReservation(1, reservation(vol, 2))).getStatus());
        assertEquals(2, state.catalog().getReservations(0).getVersion());
        assertEquals(2, state.catalog().getReservations(0).getRegistrations(0).getKey());
        assertEquals(
                Status.NOT_FOUND,
                run(setReservation(0, reservation(vol + 1, 1))).getStatus());
        CommandResult badHolder = run(setReservation(2, reservation(vol, 3).setHolder(1)));
        assertEquals(Status.INVALID_ARGUMENT, badHolder.getStatus(), badHolder.getDetail());

        StateImage image = state.image();
        ClusterState copy = ClusterState.fromImage(StateImage.parseFrom(image.toByteArray()));
        assertArrayEquals(image.toByteArray(), copy.image().toByteArray());
        StateImage orphan = image.toBuilder()
                .setCatalog(image.getCatalog().toBuilder().removeVolumes(0))
                .build();
        assertThrows(CorruptCheckpointException.class, () -> ClusterState.fromImage(orphan));

        assertEquals(
                Status.OK,
                run(Command.newBuilder()
                                .setDeleteVolume(DeleteVolume.newBuilder().setVolumeId(vol)))
                        .getStatus());
        assertEquals(0, state.catalog().getReservationsCount());
    }

    @Test
    void anImageRebuildsAnEqualStateAndRefusesBrokenReferences() throws Exception {
        oneBrick();
        run(Commands.createVolume("vol-a", GIB));
        run(Commands.group("hosts", "iqn.2026-01.host:a"));
        run(Commands.mapLun("hosts", 3, 1));
        StateImage image = state.image();
        ClusterState copy = ClusterState.fromImage(StateImage.parseFrom(image.toByteArray()));
        assertArrayEquals(image.toByteArray(), copy.image().toByteArray());
        // the copy goes on exactly as the original: same answers, same bytes
        Command next = stamp(Commands.failover(3, 2, 1));
        assertEquals(state.apply(next, 100), copy.apply(next, 100));
        assertArrayEquals(state.image().toByteArray(), copy.image().toByteArray());

        StateImage ghostOwner = image.toBuilder()
                .setMap(image.getMap().toBuilder().setBuckets(7, 42))
                .build();
        CorruptCheckpointException e =
                assertThrows(CorruptCheckpointException.class, () -> ClusterState.fromImage(ghostOwner));
        assertTrue(e.getMessage().contains("bucket=7 owner=42"), e.getMessage());
        StateImage danglingLun = image.toBuilder()
                .setCatalog(image.getCatalog().toBuilder().removeVolumes(0))
                .build();
        assertThrows(CorruptCheckpointException.class, () -> ClusterState.fromImage(danglingLun));
    }

    /** Replicas applying one log agree byte for byte, also when one restarts from an image midway. */
    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 20261206})
    void replicasThatApplyTheSameLogAgree(long seed) throws Exception {
        SplittableRandom random = new SplittableRandom(seed);
        ClusterState a = new ClusterState();
        ClusterState b = new ClusterState();
        long clientId = a.apply(Commands.register(), 1).getClientId();
        b.apply(Commands.register(), 1);
        for (long i = 2; i < 400; i++) {
            Command c = randomCommand(random, a.epoch())
                    .setClientId(clientId)
                    .setOperationId(i)
                    .build();
            if (random.nextInt(10) == 0) {
                c = c.toBuilder()
                        .setOperationId(i - 1 - random.nextInt((int) Math.min(i - 1, 5)))
                        .build(); // a retry
            }
            CommandResult ra = a.apply(c, i);
            CommandResult rb = b.apply(c, i);
            assertEquals(ra, rb, "seed=" + seed + " index=" + i);
            if (i % 97 == 0) {
                b = ClusterState.fromImage(StateImage.parseFrom(b.image().toByteArray()));
            }
        }
        assertArrayEquals(a.image().toByteArray(), b.image().toByteArray(), "seed=" + seed);
    }

    private static Command.Builder randomCommand(SplittableRandom r, long epoch) {
        long e = r.nextInt(8) == 0 ? epoch - 1 : epoch;
        int m = 1 + r.nextInt(4);
        return switch (r.nextInt(6)) {
            case 0 -> Commands.addMember(e, m, 1 + (m - 1) / 2);
            case 1 -> Commands.assign(e, 1 + r.nextInt(128), 1 + r.nextInt(2), 1 + r.nextInt(4));
            case 2 -> Commands.failover(e, m, 1 + r.nextInt(4));
            case 3 -> Commands.createVolume("v" + r.nextInt(50), GIB * (1 + r.nextInt(4)));
            case 4 -> Commands.group("g" + r.nextInt(4), "iqn.2026-01.host:" + r.nextInt(8));
            default -> Commands.mapLun("g" + r.nextInt(4), r.nextInt(4), 1 + r.nextInt(10));
        };
    }
}
