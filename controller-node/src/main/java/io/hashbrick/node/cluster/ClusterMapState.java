package io.hashbrick.node.cluster;

import io.hashbrick.node.CorruptCheckpointException;
import io.hashbrick.proto.cluster.v1.AddMember;
import io.hashbrick.proto.cluster.v1.ClusterMap;
import io.hashbrick.proto.cluster.v1.CommandResult;
import io.hashbrick.proto.cluster.v1.Failover;
import io.hashbrick.proto.cluster.v1.Member;
import io.hashbrick.proto.cluster.v1.MemberState;
import io.hashbrick.proto.cluster.v1.Rejoin;
import io.hashbrick.proto.cluster.v1.RemoveMember;
import io.hashbrick.proto.cluster.v1.ReturnPool;
import io.hashbrick.proto.cluster.v1.ServePool;
import io.hashbrick.proto.cluster.v1.SetAssignment;
import io.hashbrick.proto.cluster.v1.SetStripeRanges;
import io.hashbrick.proto.cluster.v1.Status;
import io.hashbrick.proto.cluster.v1.StripeRange;
import io.hashbrick.routing.placement.Placement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeMap;

/**
 * The cluster map: members (controllers and their bricks), bucket -> controller, A2H region partition
 * -> controller, the stripe ranges of each DAE -> controller, and the epoch that numbers its versions.
 * Every change is a compare-and-set against the epoch it was computed from, and bumps the epoch.
 *
 * <p>Assignments are plain arrays set by commands: whatever computes them (routing.placement's
 * {@code Assignment.bucketOwners()} and {@code regionPartitionOwners()}, an operator) lives outside,
 * so this class only checks that they name ACTIVE members. Ids are non-negative, as in placement's
 * {@code ClusterMembers}. One writer (the
 * state machine's apply thread); deterministic: no clock, no hashing order.
 */
final class ClusterMapState {
    /** More controllers than this in one map is refused (a bound on the state, not a product limit). */
    static final int MAX_MEMBERS = 1024;

    static final int MAX_REGION_PARTITIONS = 1 << 16;
    static final int MAX_STRIPE_RANGES_PER_DAE = 1024;
    static final int MAX_ADDRESS_CHARS = 255;

    private long epoch;
    private final TreeMap<Integer, Member> members = new TreeMap<>();
    /** Bucket -> controller id; empty until the first assignment. */
    private int[] buckets = new int[0];
    /** Region partition -> controller id; empty until the first assignment. */
    private int[] regionPartitions = new int[0];
    /** DAE (= brick) -> its ranges, sorted by first stripe, not overlapping. */
    private final TreeMap<Integer, List<StripeRange>> stripes = new TreeMap<>();

    long epoch() {
        return epoch;
    }

    CommandResult addMember(AddMember c) {
        if (c.getExpectedEpoch() != epoch) {
            return Results.staleEpoch(c.getExpectedEpoch(), epoch);
        }
        Member m = c.getMember();
        if (m.getId() < 0 || m.getBrick() < 0) { // uint32 on the wire: past 2^31 is refused
            return invalid("member=" + m.getId() + " brick=" + m.getBrick() + " reason=negative_id");
        }
        if (m.getAddress().isEmpty() || m.getAddress().length() > MAX_ADDRESS_CHARS) {
            return invalid(
                    "member=" + m.getId() + " address_chars=" + m.getAddress().length());
        }
        if (m.getPortal().length() > MAX_ADDRESS_CHARS
                || m.getPortal().indexOf(',') >= 0
                || m.getPortal().indexOf('\0') >= 0) { // SendTargets reports it as TargetAddress=portal,tag
            return invalid(
                    "member=" + m.getId() + " portal_chars=" + m.getPortal().length() + " reason=bad_portal");
        }
        if (members.containsKey(m.getId())) {
            return Results.refused(Status.ALREADY_EXISTS, epoch, "member=" + m.getId());
        }
        if (members.size() >= MAX_MEMBERS) {
            return invalid("members=" + members.size() + " max=" + MAX_MEMBERS);
        }
        int onBrick = brickPeers(m.getBrick()).size();
        if (onBrick >= 2) {
            return invalid("brick=" + m.getBrick() + " controllers=" + onBrick + " max=2");
        }
        members.put(m.getId(), m.toBuilder().setState(MemberState.ACTIVE).build());
        return bump();
    }

    CommandResult removeMember(RemoveMember c) {
        if (c.getExpectedEpoch() != epoch) {
            return Results.staleEpoch(c.getExpectedEpoch(), epoch);
        }
        if (!members.containsKey(c.getMember())) {
            return unknown(c.getMember());
        }
        int owned = count(buckets, c.getMember()) + count(regionPartitions, c.getMember()) + stripesOf(c.getMember());
        if (owned > 0) {
            return Results.refused(Status.IN_USE, epoch, "member=" + c.getMember() + " owned=" + owned);
        }
        members.remove(c.getMember());
        return bump();
    }

    CommandResult setAssignment(SetAssignment c) {
        if (c.getExpectedEpoch() != epoch) {
            return Results.staleEpoch(c.getExpectedEpoch(), epoch);
        }
        if (c.getBucketsCount() != Placement.BUCKETS) {
            return invalid("buckets=" + c.getBucketsCount() + " expected=" + Placement.BUCKETS);
        }
        int partitions = c.getRegionPartitionsCount();
        if (partitions < 1 || partitions > MAX_REGION_PARTITIONS) {
            return invalid("region_partitions=" + partitions + " range=1.." + MAX_REGION_PARTITIONS);
        }
        CommandResult bad = checkOwners(c.getBucketsList(), "bucket");
        if (bad == null) {
            bad = checkOwners(c.getRegionPartitionsList(), "region_partition");
        }
        if (bad != null) {
            return bad;
        }
        buckets = new int[Placement.BUCKETS];
        for (int b = 0; b < buckets.length; b++) {
            buckets[b] = c.getBuckets(b);
        }
        regionPartitions = new int[partitions];
        for (int p = 0; p < partitions; p++) {
            regionPartitions[p] = c.getRegionPartitions(p);
        }
        return bump();
    }

    CommandResult failover(Failover c) {
        if (c.getExpectedEpoch() != epoch) {
            return Results.staleEpoch(c.getExpectedEpoch(), epoch);
        }
        Member dead = members.get(c.getDead());
        Member to = members.get(c.getTo());
        if (dead == null || to == null) {
            return unknown(dead == null ? c.getDead() : c.getTo());
        }
        if (dead.getId() == to.getId() || dead.getBrick() != to.getBrick()) {
            return Results.refused(
                    Status.NOT_BRICK_PEER,
                    epoch,
                    "dead=" + dead.getId() + " dead_brick=" + dead.getBrick() + " to=" + to.getId() + " to_brick="
                            + to.getBrick());
        }
        if (dead.getState() != MemberState.ACTIVE || to.getState() != MemberState.ACTIVE) {
            return Results.refused(
                    Status.MEMBER_NOT_ACTIVE,
                    epoch,
                    "dead=" + dead.getId() + " dead_state=" + dead.getState() + " to=" + to.getId() + " to_state="
                            + to.getState());
        }
        replace(buckets, dead.getId(), to.getId());
        replace(regionPartitions, dead.getId(), to.getId());
        List<StripeRange> ranges = stripes.get(dead.getBrick());
        if (ranges != null) {
            for (int i = 0; i < ranges.size(); i++) {
                if (ranges.get(i).getController() == dead.getId()) {
                    ranges.set(
                            i,
                            ranges.get(i).toBuilder().setController(to.getId()).build());
                }
            }
        }
        members.put(dead.getId(), dead.toBuilder().setState(MemberState.FAILED).build());
        return bump();
    }

    /**
     * Who serves a member's pool: its own process, or its brick peer's while failed over (the pool's
     * buckets and region partitions keep the pool's id; its role address moves to the server's).
     */
    CommandResult servePool(ServePool c) {
        if (c.getExpectedEpoch() != epoch) {
            return Results.staleEpoch(c.getExpectedEpoch(), epoch);
        }
        Member pool = members.get(c.getPool());
        Member by = members.get(c.getBy());
        if (pool == null || by == null) {
            return unknown(pool == null ? c.getPool() : c.getBy());
        }
        if (pool.getId() != by.getId() && pool.getBrick() != by.getBrick()) {
            return Results.refused(
                    Status.NOT_BRICK_PEER,
                    epoch,
                    "pool=" + pool.getId() + " pool_brick=" + pool.getBrick() + " by=" + by.getId() + " by_brick="
                            + by.getBrick());
        }
        if (c.getAddress().isEmpty() || c.getAddress().length() > MAX_ADDRESS_CHARS) {
            return invalid(
                    "pool=" + pool.getId() + " address_chars=" + c.getAddress().length());
        }
        // a request to return is answered by this change either way (home, or a peer that took over a
        // pool its member asked back and then left unclaimed)
        Member.Builder b = pool.toBuilder().setAddress(c.getAddress()).setReturnRequested(false);
        b.setServedBy(by.getId() == pool.getId() ? 0 : by.getId());
        members.put(pool.getId(), b.build());
        return bump();
    }

    /**
     * Member {@code pool} is back and wants its pool from the peer serving it (a new epoch, so every
     * controller's map shows it; routing is unchanged). Nothing to do when it serves its own pool.
     */
    CommandResult returnPool(ReturnPool c) {
        Member pool = members.get(c.getPool());
        if (pool == null) {
            return unknown(c.getPool());
        }
        if (pool.getReturnRequested() || pool.getServedBy() == 0 || pool.getServedBy() == pool.getId()) {
            return Results.ok(epoch);
        }
        members.put(pool.getId(), pool.toBuilder().setReturnRequested(true).build());
        return bump();
    }

    CommandResult rejoin(Rejoin c) {
        if (c.getExpectedEpoch() != epoch) {
            return Results.staleEpoch(c.getExpectedEpoch(), epoch);
        }
        Member m = members.get(c.getMember());
        if (m == null) {
            return unknown(c.getMember());
        }
        if (m.getState() != MemberState.FAILED) {
            return invalid("member=" + m.getId() + " state=" + m.getState() + " expected=FAILED");
        }
        members.put(m.getId(), m.toBuilder().setState(MemberState.ACTIVE).build());
        return bump();
    }

    CommandResult setStripeRanges(SetStripeRanges c) {
        if (c.getExpectedEpoch() != epoch) {
            return Results.staleEpoch(c.getExpectedEpoch(), epoch);
        }
        int dae = c.getDae();
        List<Member> peers = brickPeers(dae);
        if (peers.isEmpty()) {
            return invalid("dae=" + dae + " reason=no_controller_on_brick");
        }
        if (c.getRangesCount() > MAX_STRIPE_RANGES_PER_DAE) {
            return invalid("dae=" + dae + " ranges=" + c.getRangesCount() + " max=" + MAX_STRIPE_RANGES_PER_DAE);
        }
        List<StripeRange> sorted = new ArrayList<>(c.getRangesList());
        sorted.sort((a, b) -> Long.compare(a.getFirstStripe(), b.getFirstStripe()));
        long nextFree = 0;
        for (StripeRange r : sorted) {
            CommandResult bad = checkRange(dae, r, nextFree);
            if (bad != null) {
                return bad;
            }
            nextFree = r.getFirstStripe() + r.getStripeCount();
        }
        List<StripeRange> normalized = new ArrayList<>(sorted.size());
        for (StripeRange r : sorted) {
            normalized.add(r.toBuilder().setDae(dae).build());
        }
        if (normalized.isEmpty()) {
            stripes.remove(dae);
        } else {
            stripes.put(dae, normalized);
        }
        return bump();
    }

    private CommandResult checkRange(int dae, StripeRange r, long nextFree) {
        long first = r.getFirstStripe();
        long count = r.getStripeCount();
        if (count <= 0 || first < 0 || first + count < 0) { // uint64 on the wire: past 2^63 is refused
            return invalid("dae=" + dae + " first_stripe=" + first + " stripe_count=" + count);
        }
        if (first < nextFree) {
            return invalid("dae=" + dae + " first_stripe=" + first + " overlaps_below=" + nextFree);
        }
        Member owner = members.get(r.getController());
        if (owner == null) {
            return unknown(r.getController());
        }
        if (owner.getBrick() != dae) {
            return Results.refused(
                    Status.NOT_BRICK_PEER,
                    epoch,
                    "dae=" + dae + " controller=" + owner.getId() + " brick=" + owner.getBrick());
        }
        if (owner.getState() != MemberState.ACTIVE) {
            return Results.refused(
                    Status.MEMBER_NOT_ACTIVE, epoch, "controller=" + owner.getId() + " state=" + owner.getState());
        }
        return null;
    }

    /** @return null when every owner is an ACTIVE member, else the refusal naming the first that is not */
    private CommandResult checkOwners(List<Integer> owners, String what) {
        for (int i = 0; i < owners.size(); i++) {
            int id = owners.get(i);
            Member m = members.get(id);
            if (m == null) {
                return Results.refused(Status.UNKNOWN_MEMBER, epoch, what + "=" + i + " member=" + id);
            }
            if (m.getState() != MemberState.ACTIVE) {
                return Results.refused(
                        Status.MEMBER_NOT_ACTIVE, epoch, what + "=" + i + " member=" + id + " state=" + m.getState());
            }
        }
        return null;
    }

    private List<Member> brickPeers(int brick) {
        List<Member> peers = new ArrayList<>(2);
        for (Member m : members.values()) {
            if (m.getBrick() == brick) {
                peers.add(m);
            }
        }
        return peers;
    }

    private int stripesOf(int member) {
        int n = 0;
        for (List<StripeRange> ranges : stripes.values()) {
            for (StripeRange r : ranges) {
                n += r.getController() == member ? 1 : 0;
            }
        }
        return n;
    }

    private static int count(int[] owners, int member) {
        int n = 0;
        for (int owner : owners) {
            n += owner == member ? 1 : 0;
        }
        return n;
    }

    private static void replace(int[] owners, int from, int to) {
        for (int i = 0; i < owners.length; i++) {
            if (owners[i] == from) {
                owners[i] = to;
            }
        }
    }

    private CommandResult bump() {
        epoch++;
        return Results.ok(epoch);
    }

    private CommandResult invalid(String detail) {
        return Results.refused(Status.INVALID_ARGUMENT, epoch, detail);
    }

    private CommandResult unknown(int member) {
        return Results.refused(Status.UNKNOWN_MEMBER, epoch, "member=" + member);
    }

    /** The map as a value (its bucket and region tables empty until the first assignment). */
    ClusterMap toProto() {
        ClusterMap.Builder b = ClusterMap.newBuilder().setEpoch(epoch).addAllMembers(members.values());
        for (int owner : buckets) {
            b.addBuckets(owner);
        }
        for (int owner : regionPartitions) {
            b.addRegionPartitions(owner);
        }
        for (List<StripeRange> ranges : stripes.values()) {
            b.addAllStripeRanges(ranges);
        }
        return b.build();
    }

    /** Rebuilds the map from its image, checking what apply would have kept true. */
    static ClusterMapState fromProto(ClusterMap p) throws CorruptCheckpointException {
        ClusterMapState s = new ClusterMapState();
        s.epoch = p.getEpoch();
        for (Member m : p.getMembersList()) {
            if (m.getId() < 0 || s.members.put(m.getId(), m) != null) {
                throw new CorruptCheckpointException(
                        "cluster map image: member=" + m.getId() + " reason=negative_or_repeated");
            }
        }
        if (p.getBucketsCount() != 0 && p.getBucketsCount() != Placement.BUCKETS) {
            throw new CorruptCheckpointException("cluster map image: buckets=" + p.getBucketsCount());
        }
        s.buckets = new int[p.getBucketsCount()];
        for (int b = 0; b < s.buckets.length; b++) {
            s.buckets[b] = s.owner(p.getBuckets(b), "bucket", b);
        }
        if (p.getRegionPartitionsCount() > MAX_REGION_PARTITIONS) {
            throw new CorruptCheckpointException(
                    "cluster map image: region_partitions=" + p.getRegionPartitionsCount());
        }
        s.regionPartitions = new int[p.getRegionPartitionsCount()];
        for (int r = 0; r < s.regionPartitions.length; r++) {
            s.regionPartitions[r] = s.owner(p.getRegionPartitions(r), "region_partition", r);
        }
        for (StripeRange r : p.getStripeRangesList()) {
            s.owner(r.getController(), "stripe_range_of_dae", r.getDae());
            s.stripes.computeIfAbsent(r.getDae(), d -> new ArrayList<>()).add(r);
        }
        return s;
    }

    private int owner(int id, String what, int index) throws CorruptCheckpointException {
        if (!members.containsKey(id)) {
            throw new CorruptCheckpointException(
                    "cluster map image: " + what + "=" + index + " owner=" + id + " reason=not_a_member");
        }
        return id;
    }

    /** For tests and diagnostics: the owners as an array copy. */
    int[] buckets() {
        return Arrays.copyOf(buckets, buckets.length);
    }
}
