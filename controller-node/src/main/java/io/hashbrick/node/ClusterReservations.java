package io.hashbrick.node;

import io.hashbrick.node.catalog.VolumeException;
import io.hashbrick.node.scsi.LogicalUnit;
import io.hashbrick.node.scsi.ReservationAuthority;
import io.hashbrick.node.scsi.ReservationRules;
import io.hashbrick.node.scsi.Reservations;
import io.hashbrick.node.scsi.ScsiDeviceServer;
import io.hashbrick.proto.cluster.v1.Attention;
import io.hashbrick.proto.cluster.v1.Catalog;
import io.hashbrick.proto.cluster.v1.ClusterMap;
import io.hashbrick.proto.cluster.v1.CommandResult;
import io.hashbrick.proto.cluster.v1.Member;
import io.hashbrick.proto.cluster.v1.MemberState;
import io.hashbrick.proto.cluster.v1.Registration;
import io.hashbrick.proto.cluster.v1.Reservation;
import io.hashbrick.proto.cluster.v1.SetReservation;
import io.hashbrick.proto.cluster.v1.Status;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.DatagramChannel;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * A cluster's reservations (issue 19 item 4): one set per volume for every controller's port, kept in
 * the Raft catalog. A controller that runs a PERSISTENT RESERVE OUT, RESERVE(6), RELEASE(6), a LUN or
 * target reset or loses a nexus that holds RESERVE(6) computes the next value from the version its
 * unit holds ({@link ReservationRules}) and commits it as a compare-and-set on that version; when
 * another controller changed it first (IN_USE), it reads the leader's catalog and computes again. Once
 * committed, it installs the value and sends it to every other controller (a datagram to each one's
 * portal port number, {@link ReservationWire}), each of which installs it, raising its unit attentions
 * on the nexuses it holds, and answers; the command is answered after the answers (at most {@link
 * #PUSH_WAIT_MS}; a controller whose pool its peer serves, dead or starting, at most {@link
 * #PUSH_WAIT_AWAY_MS}). So a command through any port after the answer sees the change: the access check
 * of every command reads the unit's installed value, without a lock and without Raft. Every controller
 * also installs what each catalog pass brings (a controller that starts, or missed a datagram).
 *
 * <p>A change the catalog cannot take in its deadline (no leader, no quorum) ends the command NOT READY,
 * ASYMMETRIC ACCESS STATE TRANSITION, which initiators retry; a reset is then rejected.
 */
final class ClusterReservations implements ReservationAuthority, AutoCloseable {
    static final long PUSH_WAIT_MS = 3000;
    static final long PUSH_WAIT_AWAY_MS = 300;
    static final long RESEND_MS = 20;
    /** Attempts of one change against changes by other controllers before giving up (unavailable). */
    static final int MAX_ATTEMPTS = 32;
    /**
     * How long one change may try to commit: a command or a reset waits this long at most for the
     * catalog (then the push), so a host's NOP and task-management timeouts are not reached.
     */
    static final long COMMIT_BUDGET_MS = 5000;
    /** A value bigger than this goes as (volume, version) only: the others read it from the catalog. */
    static final int MAX_PUSHED_VALUE_BYTES = ReservationWire.MAX_BYTES - ReservationWire.HEADER_BYTES - 4;

    private final int self;
    private final String memberId;
    private final String targetName;
    private final ScsiDeviceServer scsi;
    private final Supplier<ClusterMap> maps;
    private final DatagramChannel channel;
    private final Thread receiver;
    private final AtomicLong nonces =
            new AtomicLong(java.util.concurrent.ThreadLocalRandom.current().nextLong(1, Long.MAX_VALUE >>> 2));
    private final ConcurrentHashMap<Long, Push> pending = new ConcurrentHashMap<>();
    private final AtomicLong dropped = new AtomicLong();
    private volatile ClusterCatalog catalog;
    private volatile boolean closed;

    private ClusterReservations(
            int self,
            String memberId,
            String targetName,
            ScsiDeviceServer scsi,
            Supplier<ClusterMap> maps,
            DatagramChannel channel) {
        this.self = self;
        this.memberId = memberId;
        this.targetName = targetName;
        this.scsi = scsi;
        this.maps = maps;
        this.channel = channel;
        this.receiver = new Thread(this::receive, "reservations");
        receiver.setDaemon(true);
    }

    /**
     * Binds the datagram endpoint (UDP, {@code host}:{@code port}, the portal's) and starts answering.
     * Open it before the catalog's first pass, so no change committed after that pass misses this
     * controller.
     */
    static ClusterReservations open(
            int self,
            String memberId,
            String targetName,
            ScsiDeviceServer scsi,
            Supplier<ClusterMap> maps,
            String host,
            int port)
            throws IOException {
        DatagramChannel ch = DatagramChannel.open();
        try {
            ch.bind(new InetSocketAddress(host, port));
        } catch (IOException e) {
            ch.close();
            throw new IOException(
                    "cannot bind the reservation endpoint udp=" + host + ":" + port + " (the portal's port number): "
                            + e.getMessage(),
                    e);
        }
        ClusterReservations r = new ClusterReservations(self, memberId, targetName, scsi, maps, ch);
        r.receiver.start();
        Log.info("reservations_listening", "member=" + memberId + " udp=" + host + ":" + port);
        return r;
    }

    /** Where changes commit; until set, changes stay in this process. */
    void catalog(ClusterCatalog c) {
        this.catalog = c;
    }

    // ---- changes

    @Override
    public ReservationRules.Outcome change(LogicalUnit lu, ReservationRules.Request request) {
        ClusterCatalog c = catalog;
        if (c == null || lu.volumeId() < 0) {
            return LOCAL.change(lu, request);
        }
        long end = System.nanoTime() + COMMIT_BUDGET_MS * 1_000_000;
        for (int attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
            Reservations cur = lu.reservations();
            ReservationRules.Result r = ReservationRules.evaluate(cur, request);
            if (r.next() == cur) {
                return r.outcome(); // nothing changes (a conflict, a no-op): decided on the installed value
            }
            Reservation value = toProto(lu.volumeId(), r.next());
            CommandResult result;
            try {
                result = c.commitReservation(
                        SetReservation.newBuilder()
                                .setExpectedVersion(cur.version())
                                .setReservation(value)
                                .build(),
                        end);
            } catch (VolumeException e) {
                result = null;
            }
            if (result == null) {
                Log.warn(
                        "reservation_change_unavailable",
                        "member=" + memberId + " volume=" + lu.volumeId() + " kind=" + request.kind() + " waited_ms="
                                + COMMIT_BUDGET_MS + " reason=no_answer_from_the_catalog");
                return ReservationRules.Outcome.UNAVAILABLE;
            }
            if (result.getStatus() == Status.OK) {
                lu.install(r.next());
                long t0 = System.nanoTime();
                List<String> missing = push(lu.volumeId(), r.next().version(), value.toByteArray());
                long pushMs = (System.nanoTime() - t0) / 1_000_000;
                Log.info(
                        "reservation_changed",
                        "member=" + memberId + " volume=" + lu.volumeId() + " version="
                                + r.next().version()
                                + " kind=" + request.kind() + " initiator_port=" + Log.q(request.initiatorPort())
                                + " registrations=" + r.next().registrations().size() + " holder="
                                + r.next().holder() + " reserve6="
                                + !r.next().reserve6Initiator().isEmpty()
                                + " attempts=" + attempt + " push_ms=" + pushMs);
                if (!missing.isEmpty()) {
                    Log.warn(
                            "reservation_push_incomplete",
                            "member=" + memberId + " volume=" + lu.volumeId() + " version="
                                    + r.next().version()
                                    + " missing=" + String.join(",", missing) + " waited_ms=" + pushMs
                                    + " action=they_install_it_at_their_next_catalog_pass");
                }
                return r.outcome();
            }
            if (result.getStatus() == Status.NOT_FOUND) {
                Log.warn(
                        "reservation_change_refused",
                        "member=" + memberId + " volume=" + lu.volumeId() + " status=NOT_FOUND reason=volume_deleted "
                                + result.getDetail());
                return ReservationRules.Outcome.NO_SUCH_UNIT;
            }
            if (result.getStatus() != Status.IN_USE) {
                Log.warn(
                        "reservation_change_refused",
                        "member=" + memberId + " volume=" + lu.volumeId() + " status=" + result.getStatus() + " "
                                + result.getDetail());
                return ReservationRules.Outcome.UNAVAILABLE;
            }
            // another controller changed them first: the catalog's value, then compute again
            if (!refresh(c, lu) && pause(20L * attempt)) {
                break;
            }
            if (System.nanoTime() - end >= 0) {
                break;
            }
        }
        Log.warn(
                "reservation_change_gave_up",
                "member=" + memberId + " volume=" + lu.volumeId() + " waited_ms=" + COMMIT_BUDGET_MS
                        + " reason=changed_by_others_meanwhile");
        return ReservationRules.Outcome.UNAVAILABLE;
    }

    /**
     * Installs the leader's value of {@code lu}'s volume, also over a newer installed one (the catalog holds
     * what was committed: an installed version it does not know came from no committed change).
     *
     * @return whether the leader's catalog was read
     */
    private boolean refresh(ClusterCatalog c, LogicalUnit lu) {
        Catalog fresh = c.leaderCatalog();
        if (fresh == null) {
            return false;
        }
        apply(fresh);
        for (Reservation r : fresh.getReservationsList()) {
            if (r.getVolumeId() == lu.volumeId()
                    && r.getVersion() < lu.reservations().version()) {
                Log.warn(
                        "reservation_value_replaced",
                        "member=" + memberId + " volume=" + lu.volumeId() + " installed_version="
                                + lu.reservations().version() + " catalog_version=" + r.getVersion());
                lu.replace(fromProto(r));
            }
        }
        return true;
    }

    /** @return true when interrupted */
    private static boolean pause(long ms) {
        try {
            Thread.sleep(ms);
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return true;
        }
    }

    /**
     * Every I_T nexus through controller {@code controller}'s port ended (it died, or it restarts): the
     * RESERVE(6) held through it is released (SPC-2: a nexus loss releases it). Persistent reservations
     * stay (they survive a nexus loss).
     */
    void portLost(int controller, String why) {
        String port = targetName + ",t,0x" + String.format("%04x", controller);
        for (LogicalUnit lu : scsi.units()) {
            if (port.equals(lu.reservations().reserve6Target())) {
                ReservationRules.Outcome o = change(lu, ReservationRules.Request.portLost(port));
                Log.info(
                        "reservation_port_lost",
                        "member=" + memberId + " volume=" + lu.volumeId() + " port=" + port + " reason=" + why
                                + " released=" + o.good());
            }
        }
    }

    /** Installs the reservations of {@code catalog} on the units held here (those newer than installed). */
    void apply(Catalog catalog) {
        for (Reservation r : catalog.getReservationsList()) {
            LogicalUnit lu = scsi.unitOfVolume(r.getVolumeId());
            if (lu != null && r.getVersion() > lu.reservations().version()) {
                lu.install(fromProto(r));
            }
        }
    }

    // ---- the push to every other controller

    /** One push's answers: the members still to answer, by id, and where each listens. */
    private static final class Push {
        final long volume;
        final long version;
        final Map<Integer, SocketAddress> waiting = new HashMap<>();
        final Map<Integer, Long> deadlines = new HashMap<>();

        Push(long volume, long version) {
            this.volume = volume;
            this.version = version;
        }

        synchronized void answered(int member, long volume, long installed) {
            if (volume == this.volume && installed >= version && waiting.remove(member) != null) {
                notifyAll();
            }
        }
    }

    /** Sends the value to every other controller until each answered or its wait ran out. @return who did not answer */
    private List<String> push(long volume, long version, byte[] value) {
        ClusterMap map = maps.get();
        long nonce = nonces.incrementAndGet();
        Push p = new Push(volume, version);
        byte[] pushed = value.length <= MAX_PUSHED_VALUE_BYTES ? value : new byte[0]; // else read from the catalog
        long now = System.nanoTime();
        if (map != null) {
            for (Member m : map.getMembersList()) {
                SocketAddress to = m.getId() == self ? null : portalOf(m);
                if (to != null) {
                    p.waiting.put(m.getId(), to);
                    boolean away = m.getState() != MemberState.ACTIVE
                            || (m.getServedBy() != 0 && m.getServedBy() != m.getId());
                    p.deadlines.put(m.getId(), now + (away ? PUSH_WAIT_AWAY_MS : PUSH_WAIT_MS) * 1_000_000);
                }
            }
        }
        if (p.waiting.isEmpty()) {
            return List.of();
        }
        pending.put(nonce, p);
        ByteBuffer out = ByteBuffer.allocate(ReservationWire.MAX_BYTES);
        List<String> missing = new ArrayList<>();
        try {
            ReservationWire.write(
                    out, new ReservationWire.Message(ReservationWire.PUSH, self, nonce, volume, version, pushed));
            while (true) {
                Map<Integer, SocketAddress> to;
                synchronized (p) {
                    long t = System.nanoTime();
                    p.waiting.entrySet().removeIf(e -> {
                        if (t - p.deadlines.get(e.getKey()) >= 0) {
                            missing.add("c" + e.getKey());
                            return true;
                        }
                        return false;
                    });
                    if (p.waiting.isEmpty()) {
                        return missing;
                    }
                    to = new HashMap<>(p.waiting);
                }
                for (SocketAddress a : to.values()) {
                    send(out, a);
                }
                synchronized (p) {
                    if (!p.waiting.isEmpty()) {
                        p.wait(RESEND_MS);
                    }
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            synchronized (p) {
                for (int m : p.waiting.keySet()) {
                    missing.add("c" + m);
                }
            }
            return missing;
        } finally {
            pending.remove(nonce);
        }
    }

    private void send(ByteBuffer out, SocketAddress to) {
        try {
            channel.send(out.duplicate(), to);
        } catch (IOException e) {
            if (!closed) {
                Log.debug(
                        "reservation_send_failed",
                        "member=" + memberId + " to=" + to + " error=" + Log.q(e.getMessage()));
            }
        }
    }

    private static SocketAddress portalOf(Member m) {
        String p = m.getPortal();
        int colon = p.lastIndexOf(':');
        if (colon <= 0) {
            return null;
        }
        try {
            return new InetSocketAddress(p.substring(0, colon), Integer.parseInt(p.substring(colon + 1)));
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    // ---- the endpoint

    private void receive() {
        ByteBuffer in = ByteBuffer.allocate(ReservationWire.MAX_BYTES);
        ByteBuffer reply = ByteBuffer.allocate(ReservationWire.HEADER_BYTES + 4);
        while (!closed) {
            try {
                in.clear();
                SocketAddress from = channel.receive(in);
                in.flip();
                ReservationWire.Message m = ReservationWire.parse(in);
                if (m == null) {
                    countDropped(from, "malformed");
                } else if (!isMember(m.sender(), from)) {
                    countDropped(from, "not_a_members_portal");
                } else if (m.type() == ReservationWire.INSTALLED) {
                    Push p = pending.get(m.nonce());
                    if (p != null) {
                        p.answered(m.sender(), m.volume(), m.version());
                    }
                } else {
                    long installed = install(m);
                    if (installed >= 0) {
                        ReservationWire.write(
                                reply,
                                new ReservationWire.Message(
                                        ReservationWire.INSTALLED,
                                        self,
                                        m.nonce(),
                                        m.volume(),
                                        installed,
                                        new byte[0]));
                        channel.send(reply, from);
                    }
                }
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException | RuntimeException e) {
                if (!closed) {
                    Log.warn("reservation_receive_failed", "member=" + memberId + " error=" + Log.q(e.toString()));
                }
            }
        }
    }

    /** Whether {@code from} is where member {@code sender} registered its portal (the datagrams' source). */
    private boolean isMember(int sender, SocketAddress from) {
        ClusterMap map = maps.get();
        if (map == null || sender == self) {
            return false;
        }
        for (Member m : map.getMembersList()) {
            if (m.getId() == sender) {
                return from != null && from.equals(portalOf(m));
            }
        }
        return false;
    }

    /** @return the version installed here now (the unit's, or the value's when no unit holds the volume here), -1 if refused */
    private long install(ReservationWire.Message m) {
        if (m.payload().length == 0) { // too big for a datagram: the catalog's
            ClusterCatalog c = catalog;
            LogicalUnit lu = scsi.unitOfVolume(m.volume());
            Catalog fresh = c == null ? null : c.leaderCatalog();
            if (fresh == null) {
                return -1; // no answer: the sender tries again, then lets the next catalog pass do it
            }
            apply(fresh);
            return lu == null ? m.version() : lu.reservations().version();
        }
        Reservation r;
        try {
            r = Reservation.parseFrom(m.payload());
        } catch (IOException e) {
            countDropped(null, "bad_value");
            return -1;
        }
        if (r.getVolumeId() != m.volume() || r.getVersion() != m.version()) {
            countDropped(null, "value_mismatch");
            return -1;
        }
        LogicalUnit lu = scsi.unitOfVolume(m.volume());
        if (lu == null) {
            return m.version(); // not held here (yet): its creation brings the catalog's value
        }
        Reservations value;
        try {
            value = fromProto(r);
        } catch (IllegalArgumentException e) {
            countDropped(null, "bad_value");
            return -1;
        }
        lu.install(value);
        return lu.reservations().version();
    }

    private void countDropped(SocketAddress from, String reason) {
        long n = dropped.incrementAndGet();
        if (Long.bitCount(n) == 1) { // 1, 2, 4, 8, ...: a flood logs a few lines
            Log.warn(
                    "reservation_datagram_dropped",
                    "member=" + memberId + " from=" + from + " reason=" + reason + " dropped=" + n);
        }
    }

    // ---- the value in the catalog

    static Reservation toProto(long volumeId, Reservations r) {
        Reservation.Builder b = Reservation.newBuilder()
                .setVolumeId(volumeId)
                .setVersion(r.version())
                .setGeneration(r.generation())
                .setHolder(r.holder())
                .setType(r.type())
                .setReserve6InitiatorPort(r.reserve6Initiator())
                .setReserve6TargetPort(r.reserve6Target())
                .setReserve6Nexus(r.reserve6Nexus());
        for (Reservations.Registration g : r.registrations()) {
            b.addRegistrations(Registration.newBuilder()
                    .setInitiatorPort(g.initiatorPort())
                    .setTargetPort(g.targetPort())
                    .setRelativeTargetPort(g.relativeTargetPort())
                    .setKey(g.key()));
        }
        for (Reservations.Attention a : r.attentions()) {
            b.addAttentions(Attention.newBuilder()
                    .setVersion(a.version())
                    .setInitiatorPort(a.initiatorPort())
                    .setTargetPort(a.targetPort())
                    .setCode(a.code()));
        }
        return b.build();
    }

    /** @throws IllegalArgumentException for a value that breaks the unit's invariants */
    static Reservations fromProto(Reservation p) {
        List<Reservations.Registration> regs = new ArrayList<>(p.getRegistrationsCount());
        for (Registration g : p.getRegistrationsList()) {
            regs.add(new Reservations.Registration(
                    g.getInitiatorPort(), g.getTargetPort(), g.getRelativeTargetPort(), g.getKey()));
        }
        List<Reservations.Attention> attentions = new ArrayList<>(p.getAttentionsCount());
        for (Attention a : p.getAttentionsList()) {
            attentions.add(
                    new Reservations.Attention(a.getVersion(), a.getInitiatorPort(), a.getTargetPort(), a.getCode()));
        }
        return new Reservations(
                p.getVersion(),
                p.getGeneration(),
                regs,
                p.getHolder(),
                p.getType(),
                p.getReserve6InitiatorPort(),
                p.getReserve6TargetPort(),
                p.getReserve6Nexus(),
                attentions);
    }

    @Override
    public void close() {
        closed = true;
        try {
            channel.close();
        } catch (IOException e) {
            Log.debug("reservation_close_failed", "error=" + Log.q(e.getMessage()));
        }
        try {
            receiver.join(1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
