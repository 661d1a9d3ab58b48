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

    private final int self;
    private final String memberId;
    private final ScsiDeviceServer scsi;
    private final Supplier<ClusterMap> maps;
    private final DatagramChannel channel;
    private final Thread receiver;
    private final AtomicLong nonces = new AtomicLong();
    private final ConcurrentHashMap<Long, Push> pending = new ConcurrentHashMap<>();
    private final AtomicLong dropped = new AtomicLong();
    private volatile ClusterCatalog catalog;
    private volatile boolean closed;

    private ClusterReservations(
            int self, String memberId, ScsiDeviceServer scsi, Supplier<ClusterMap> maps, DatagramChannel channel) {
        this.self = self;
        this.memberId = memberId;
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
            int self, String memberId, ScsiDeviceServer scsi, Supplier<ClusterMap> maps, String host, int port)
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
        ClusterReservations r = new ClusterReservations(self, memberId, scsi, maps, ch);
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
        for (int attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
            Reservations cur = lu.reservations();
            ReservationRules.Result r = ReservationRules.evaluate(cur, request);
            if (r.next() == cur) {
                return r.outcome(); // nothing changes (a conflict, a no-op): decided on the installed value
            }
            Reservation value = toProto(lu.volumeId(), r.next());
            CommandResult result;
            try {
                result = c.commitReservation(SetReservation.newBuilder()
                        .setExpectedVersion(cur.version())
                        .setReservation(value)
                        .build());
            } catch (VolumeException e) {
                Log.warn(
                        "reservation_change_unavailable",
                        "member=" + memberId + " volume=" + lu.volumeId() + " kind=" + request.kind() + " error="
                                + Log.q(e.getMessage()));
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
            if (result.getStatus() != Status.IN_USE) {
                Log.warn(
                        "reservation_change_refused",
                        "member=" + memberId + " volume=" + lu.volumeId() + " status=" + result.getStatus() + " "
                                + result.getDetail());
                return ReservationRules.Outcome.UNAVAILABLE;
            }
            Catalog fresh = c.leaderCatalog(); // another controller changed them first: read and recompute
            if (fresh != null) {
                apply(fresh);
            }
        }
        Log.warn(
                "reservation_change_gave_up",
                "member=" + memberId + " volume=" + lu.volumeId() + " attempts=" + MAX_ATTEMPTS);
        return ReservationRules.Outcome.UNAVAILABLE;
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
        final Map<Integer, SocketAddress> waiting = new HashMap<>();
        final Map<Integer, Long> deadlines = new HashMap<>();

        synchronized void answered(int member) {
            if (waiting.remove(member) != null) {
                notifyAll();
            }
        }
    }

    /** Sends the value to every other controller until each answered or its wait ran out. @return who did not answer */
    private List<String> push(long volume, long version, byte[] value) {
        ClusterMap map = maps.get();
        long nonce = nonces.incrementAndGet();
        Push p = new Push();
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
                    out, new ReservationWire.Message(ReservationWire.PUSH, self, nonce, volume, version, value));
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
                } else if (m.type() == ReservationWire.INSTALLED) {
                    Push p = pending.get(m.nonce());
                    if (p != null) {
                        p.answered(m.sender());
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

    /** @return the version installed here now (the unit's, or the value's when no unit holds the volume here), -1 if refused */
    private long install(ReservationWire.Message m) {
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
                .setReserve6TargetPort(r.reserve6Target());
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
