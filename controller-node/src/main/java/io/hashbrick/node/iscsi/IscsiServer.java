package io.hashbrick.node.iscsi;

import io.hashbrick.node.Log;
import io.hashbrick.node.scsi.ItNexus;
import io.hashbrick.node.scsi.ScsiTarget;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.security.SecureRandom;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import java.util.random.RandomGenerator;

/**
 * The iSCSI target portal: accepts TCP connections, runs each on its own thread (login, then the
 * full feature phase), keeps the session table for reinstatement (RFC 7143 §6.3.5), and ticks every
 * connection from one housekeeping thread (NOP-In pings, login and stall timeouts).
 */
public final class IscsiServer implements AutoCloseable {
    /** Connections beyond this are refused at accept: bounded threads and memory. */
    static final int MAX_CONNECTIONS = 256;

    final TargetConfig config;
    final ScsiTarget target;
    final LongSupplier clockNs;
    final RandomGenerator random;
    private final ConcurrentHashMap<String, Session> sessions = new ConcurrentHashMap<>();
    private final Set<Connection> connections = ConcurrentHashMap.newKeySet();
    private final AtomicInteger nextTsih = new AtomicInteger(1);
    /**
     * Nexus ids start at a random point in each process, so that an id names one session across
     * controllers' restarts too (a cluster's RESERVE(6) holder is recorded with it).
     */
    private final AtomicLong nextNexusId =
            new AtomicLong(java.util.concurrent.ThreadLocalRandom.current().nextLong(1, Long.MAX_VALUE >>> 2));

    private final AtomicLong internalErrors = new AtomicLong();
    /** Execute every connection's commands. */
    final CommandWorkers workers = new CommandWorkers(CommandWorkers.defaultCount(), "iscsi-worker");
    /**
     * Whether a connection runs a lone command on its own thread (see CommandPath.progress); read when
     * a connection enters the full feature phase. {@code -Dhashbrick.iscsi.inline=false} turns it off.
     */
    volatile boolean runInline = !"false".equals(System.getProperty("hashbrick.iscsi.inline"));
    /**
     * Whether a connection tries a read among other commands from memory on its own thread first (see
     * CommandPath.runFromMemory); with {@link #runInline} only. {@code -Dhashbrick.iscsi.memoryReads=false}
     * turns it off (measurements, tests of the worker path).
     */
    volatile boolean readFromMemory = !"false".equals(System.getProperty("hashbrick.iscsi.memoryReads"));
    /** Commands executed on their connection's thread, and on workers (tests, measurements). */
    final LongAdder inlineRuns = new LongAdder(), workerRuns = new LongAdder();
    /** Reads answered from memory on their connection's thread, and tried so but handed to a worker. */
    final LongAdder memoryRuns = new LongAdder(), memoryMisses = new LongAdder();

    private final ScheduledExecutorService housekeeping;
    private ServerSocketChannel listener;
    private java.util.concurrent.ScheduledFuture<?> ticker;
    private Thread acceptor;
    private volatile boolean running;
    /** Every portal of the target for SendTargets; null: this one only. */
    private volatile Supplier<List<NetworkPortal>> portals;
    /** The port actually bound (the configured one, or the ephemeral one when configured as 0). */
    volatile int boundPort;

    public IscsiServer(TargetConfig config, ScsiTarget target) {
        this(config, target, System::nanoTime, new SecureRandom());
    }

    IscsiServer(TargetConfig config, ScsiTarget target, LongSupplier clockNs, RandomGenerator random) {
        this.config = config;
        this.target = target;
        this.clockNs = clockNs;
        this.random = random;
        this.housekeeping = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "iscsi-housekeeping");
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * Where SendTargets takes the target's other portals from (a cluster: every controller's, from the
     * cluster map); read at each request. This portal is always reported, first, as the connection
     * reached it.
     */
    public void portals(Supplier<List<NetworkPortal>> all) {
        this.portals = all;
    }

    /** The portals SendTargets reports beside the connection's own, or null. */
    List<NetworkPortal> portals() {
        Supplier<List<NetworkPortal>> s = portals;
        return s == null ? null : s.get();
    }

    /** Binds the portal and starts accepting. Returns the bound port (useful with port 0 in tests). */
    public int start() throws IOException {
        listener = ServerSocketChannel.open();
        listener.setOption(StandardSocketOptions.SO_REUSEADDR, true);
        listener.bind(new InetSocketAddress(config.host(), config.port()), 128);
        int port = ((InetSocketAddress) listener.getLocalAddress()).getPort();
        boundPort = port;
        running = true;
        workers.start();
        acceptor = new Thread(this::acceptLoop, "iscsi-accept-" + port);
        acceptor.start();
        ticker = housekeeping.scheduleAtFixedRate(this::tick, 250, 250, TimeUnit.MILLISECONDS);
        Log.info(
                "portal_listening",
                "portal=" + config.host() + ":" + port + " target=" + config.targetName()
                        + " tpgt=" + config.portalGroupTag() + " chap=" + (config.chap() != null)
                        + " mutual_chap=" + (config.mutualChap() != null));
        return port;
    }

    private void acceptLoop() {
        while (running) {
            SocketChannel ch;
            try {
                ch = listener.accept();
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                Log.warn("accept_failed", "error=" + Log.q(e.getMessage()));
                continue;
            }
            String peer = peerOf(ch);
            if (connections.size() >= MAX_CONNECTIONS) {
                Log.warn(
                        "connection_refused", "peer=" + peer + " reason=too_many_connections limit=" + MAX_CONNECTIONS);
                closeQuietly(ch);
                continue;
            }
            try {
                ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
                ch.setOption(StandardSocketOptions.SO_KEEPALIVE, true);
            } catch (IOException e) {
                closeQuietly(ch);
                continue;
            }
            Connection c = new Connection(this, ch, peer);
            connections.add(c);
            Thread t = new Thread(c, "iscsi-conn-" + peer);
            t.setDaemon(true);
            t.start();
        }
    }

    private void tick() {
        long now = clockNs.getAsLong();
        for (Connection c : connections) {
            try {
                c.tick(now);
            } catch (RuntimeException e) {
                Log.error("housekeeping_failed", "peer=" + c.peer + " error=" + Log.q(e));
            }
        }
    }

    int allocateTsih() {
        int t;
        do {
            t = nextTsih.getAndIncrement() & 0xffff;
        } while (t == 0);
        return t;
    }

    ItNexus newNexus(String initiatorName, long isid) {
        String initiatorPort = initiatorName + ",i,0x" + String.format("%012x", isid);
        String targetPort = config.targetName() + ",t,0x" + String.format("%04x", config.portalGroupTag());
        return new ItNexus(
                nextNexusId.getAndIncrement(),
                initiatorName,
                initiatorPort,
                targetPort,
                config.portalGroupTag(),
                config.portalGroupTag());
    }

    /** Registers a new session, closing the one it reinstates (same initiator and ISID), if any. */
    void register(Session s) {
        Session old = sessions.put(s.key(), s);
        if (old != null && old != s) {
            Log.info("session_reinstated", old + " new_tsih=" + s.tsih);
            Connection c = old.connection;
            if (c != null) {
                c.close("session_reinstated");
            }
        }
    }

    Session findByTsih(String initiatorName, long isid, int tsih) {
        Session s = sessions.get(Session.key(initiatorName, isid));
        return s != null && s.tsih == tsih ? s : null;
    }

    /** Called by a connection's cleanup: the session ends with its only connection (ErrorRecoveryLevel 0). */
    void connectionClosed(Connection c, Session s) {
        connections.remove(c);
        synchronized (connections) {
            connections.notifyAll(); // close() waits for the connections to end
        }
        if (s != null && s.connection == c) {
            s.connection = null;
            sessions.remove(s.key(), s);
            releaseNexus(s);
        }
    }

    /**
     * The session's I_T nexus is gone: its device-server state goes (RESERVE(6), unit attentions). At a
     * logout this runs before the answer, so a host that logs out and has another nexus reserve next
     * finds the unit released (in a cluster the release is a catalog change, not instantaneous).
     */
    void releaseNexus(Session s) {
        if (s.nexusReleased.compareAndSet(false, true)) {
            target.nexusLost(s.nexus);
        }
    }

    /** TARGET COLD RESET (RFC 7143 §11.5.1): every connection of the target is closed. */
    void closeAll(String reason) {
        for (Connection c : connections) {
            c.close(reason);
        }
    }

    /**
     * LUN RESET ({@code lun}) or target reset (-1) from {@code from}: aborts the tasks of every other
     * connection too (SAM-5 §6.3: a reset aborts every task of the logical unit, whichever I_T nexus it
     * came on; with TAS=0 they get no status) and returns once none of them can still touch the medium.
     */
    void abortEverywhere(int lun, Connection from) {
        for (Connection c : connections) {
            if (c != from) {
                c.abortTasksFromElsewhere(lun);
            }
        }
    }

    /** Unexpected exceptions on connection threads: bugs, never expected conditions. Tests assert 0. */
    public long internalErrors() {
        return internalErrors.get();
    }

    void internalError() {
        internalErrors.incrementAndGet();
    }

    public int sessionCount() {
        return sessions.size();
    }

    @Override
    public void close() {
        running = false;
        closeQuietly(listener);
        if (ticker != null) {
            ticker.cancel(false);
        }
        housekeeping.shutdownNow();
        closeAll("target_shutdown");
        try {
            if (acceptor != null) {
                acceptor.join(2000);
            }
            // The connections end their tasks before they go; the workers must outlive them, and the
            // caller may close the devices as soon as this returns.
            synchronized (connections) {
                for (int i = 0; i < 10 && !connections.isEmpty(); i++) {
                    connections.wait(500);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (!connections.isEmpty()) {
            Log.warn("shutdown_incomplete", "connections=" + connections.size() + " reason=tasks_still_running");
        }
        workers.close();
        Log.info(
                "iscsi_commands_run",
                "inline=" + inlineRuns.sum() + " from_memory=" + memoryRuns.sum() + " memory_misses="
                        + memoryMisses.sum() + " workers=" + workerRuns.sum());
    }

    private static String peerOf(SocketChannel ch) {
        try {
            InetSocketAddress a = (InetSocketAddress) ch.getRemoteAddress();
            return a.getAddress().getHostAddress() + ":" + a.getPort();
        } catch (IOException | RuntimeException e) {
            return "unknown";
        }
    }

    private static void closeQuietly(java.io.Closeable c) {
        try {
            if (c != null) {
                c.close();
            }
        } catch (IOException ignored) {
            // closing
        }
    }
}
