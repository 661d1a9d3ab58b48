package io.hashbrick.node;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.hashbrick.node.api.local.LocalDataService;
import io.hashbrick.node.api.local.LocalMapService;
import io.hashbrick.node.catalog.Sizes;
import io.hashbrick.node.catalog.VolumeService;
import io.hashbrick.node.cluster.ControllerIdentity;
import io.hashbrick.node.data.DataPath;
import io.hashbrick.node.front.VolumeDevice;
import io.hashbrick.node.iscsi.IscsiServer;
import io.hashbrick.node.iscsi.TargetConfig;
import io.hashbrick.node.iscsi.TargetConfig.ChapCredentials;
import io.hashbrick.node.mgmt.ManagementServer;
import io.hashbrick.node.mgmt.NodeMetrics;
import io.hashbrick.node.mirror.MirrorSender;
import io.hashbrick.node.mirror.MirrorServer;
import io.hashbrick.node.scsi.ScsiDeviceServer;
import io.hashbrick.proto.cluster.v1.ClusterMap;
import io.hashbrick.proto.cluster.v1.Member;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * A controller node: today one iSCSI portal serving the volumes of a data directory (file-backed), and
 * a management API. When it listens it writes {@code <dir>/node.url} (the first volume's iSCSI URL)
 * and {@code <dir>/node.mgmt} (the API's base URL), which the launcher waits for and uses. SIGTERM
 * closes sessions and flushes and closes every volume.
 */
@Command(
        name = "hashbrick-node",
        mixinStandardHelpOptions = true,
        version = "hashbrick 0.1",
        description = "Runs one Hashbrick controller: an iSCSI target serving LUNs.")
public final class Main implements Callable<Integer> {
    @Option(names = "--dir", required = true, description = "Data directory (LUN files, node.url).")
    Path dir;

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Portal address (default ${DEFAULT-VALUE}).")
    String host;

    @Option(names = "--port", defaultValue = "3260", description = "Portal TCP port (default ${DEFAULT-VALUE}).")
    int port;

    @Option(
            names = "--target",
            defaultValue = "iqn.2026-11.io.hashbrick:xbrick1",
            description = "Target IQN (default ${DEFAULT-VALUE}).")
    String targetName;

    @Option(
            names = "--luns",
            defaultValue = "1",
            description = "Volumes lun0..lunN-1 created on the first start of a directory (default ${DEFAULT-VALUE}).")
    int luns;

    @Option(
            names = "--lun-size",
            defaultValue = "4G",
            description = "Size of each first-start volume: bytes or K/M/G/T (default ${DEFAULT-VALUE}).")
    String lunSize;

    @Option(
            names = "--block-size",
            defaultValue = "512",
            description = "Logical block size: 512 or 4096 (default ${DEFAULT-VALUE}).")
    int blockSize;

    @Option(
            names = "--chap-user",
            description = "Require one-way CHAP with this user (secret from $HASHBRICK_CHAP_SECRET).")
    String chapUser;

    @Option(
            names = "--mutual-user",
            description = "Target's user for mutual CHAP (secret from $HASHBRICK_MUTUAL_SECRET).")
    String mutualUser;

    @Option(
            names = "--nop-interval-ms",
            defaultValue = "5000",
            description = "Idle time before a NOP-In ping, 0 = off (default ${DEFAULT-VALUE}).")
    int nopIntervalMs;

    @Option(
            names = "--mgmt-port",
            defaultValue = "3280",
            description = "Management API port on --host, 0 = any (default ${DEFAULT-VALUE}).")
    int mgmtPort;

    @Option(
            names = "--backend",
            defaultValue = "ca",
            description = "Data path of new volumes: ca (dedup, compression, DAE) or file (default ${DEFAULT-VALUE}).")
    String backend;

    @Option(
            names = "--ssds",
            defaultValue = "25",
            description = "Simulated SSDs in the DAE (default ${DEFAULT-VALUE}).")
    int ssds;

    @Option(
            names = "--ssd-size",
            defaultValue = "4G",
            description = "Capacity of each simulated SSD (sparse files; default ${DEFAULT-VALUE}).")
    String ssdSize;

    @Option(
            names = "--nvram-size",
            defaultValue = "128M",
            description = "Battery-backed memory for the journal (default ${DEFAULT-VALUE}).")
    String nvramSize;

    @Option(
            names = "--checkpoint-interval-ms",
            defaultValue = "60000",
            description = "Metadata checkpoint at least this often while data changes (default ${DEFAULT-VALUE}).")
    long checkpointIntervalMs;

    @Option(
            names = "--read-cache-size",
            defaultValue = "4G",
            description = "Off-heap read cache of stored blocks, keyed by content handle (default ${DEFAULT-VALUE}).")
    String readCacheSize;

    @Option(
            names = "--audit-fingerprints-at-start",
            description = "At start-up, also read every stored block and check it against its fingerprint.")
    boolean fullAuditAtStart;

    @Option(
            names = "--rebuild-rate",
            defaultValue = "256M",
            description =
                    "Most bytes per second a rebuild moves after an SSD fails (default ${DEFAULT-VALUE}; 0 pauses).")
    String rebuildRate;

    @Option(
            names = "--scrub-rate",
            defaultValue = "16M",
            description = "Most bytes per second the background scrub reads (default ${DEFAULT-VALUE}; 0 stops it).")
    String scrubRate;

    @Option(
            names = "--allow-fault-injection",
            description = "Enable the destructive drills (ssd corrupt, fail, pull, and replace of a drive that has not"
                    + " failed): test builds only.")
    boolean allowFaultInjection;

    @Option(
            names = "--role-transport",
            defaultValue = "local",
            description = "How the front end reaches the D and C roles: local (in-process) or grpc (over TCP on"
                    + " 127.0.0.1; default ${DEFAULT-VALUE}).")
    String roleTransport;

    @Option(
            names = "--member-id",
            description = "Cluster mode: this controller's member id (c1, c2, ...); without it, a single controller.")
    String memberId;

    @Option(
            names = "--bricks",
            defaultValue = "0",
            description = "Cluster mode: X-Bricks in the cluster (2 controllers each); the placement waits for all.")
    int bricks;

    @Option(
            names = "--brick",
            defaultValue = "0",
            description = "Cluster mode: this controller's brick (default: brick b holds c(2b-1) and c(2b)).")
    int brick;

    @Option(
            names = "--raft-peers",
            description = "Cluster mode: the Raft voters, id=host:port,... (3 or 5; e.g. c1=...,c2=...,w=...).")
    String raftPeers;

    @Option(
            names = "--raft-dir",
            description = "Cluster mode: the voter's Raft storage (default <dir>/raft; unused by a non-voter).")
    Path raftDir;

    @Option(
            names = "--cluster",
            defaultValue = "hashbrick",
            description = "Cluster name; the Raft group id derives from it (default ${DEFAULT-VALUE}).")
    String clusterName;

    @Option(
            names = "--role-port",
            defaultValue = "0",
            description = "Cluster mode: the port this controller serves its D and C roles on to the others"
                    + " (gRPC on --host); registered in the cluster map.")
    int rolePort;

    @Option(
            names = "--election-ms",
            description = "Election timeout range MIN-MAX in ms; every voter must use the same (default 100-200).")
    String electionMs;

    /**
     * The front end's devices over the roles' in-process bindings: R calls D and C only through their
     * contracts, at epoch 0 (a single node owns every bucket and region).
     */
    public static final VolumeService.Devices LOCAL_ROLES = (roles, volumeId, sizeBytes, blockSize) -> new VolumeDevice(
            new LocalDataService(roles.data(), 0),
            new LocalMapService(roles.maps(), 0),
            0,
            volumeId,
            sizeBytes,
            blockSize);

    @Override
    public Integer call() throws Exception {
        checkMembership();
        ClusterLaunch cluster = startCluster();
        long size = Sizes.parse(lunSize);
        if (luns < 1 || luns > VolumeService.MAX_VOLUMES) {
            throw new CommandLine.ParameterException(
                    new CommandLine(this), "--luns must be 1.." + VolumeService.MAX_VOLUMES + ": " + luns);
        }
        Files.createDirectories(dir);
        ScsiDeviceServer scsi = new ScsiDeviceServer("HASHBRCK", "XBRICK LUN", List.of());
        DataPath.Config dataConfig;
        if (backend.equals("ca")) {
            dataConfig = new DataPath.Config(
                    ssds,
                    Sizes.parse(ssdSize),
                    Sizes.parse(nvramSize),
                    checkpointIntervalMs,
                    Sizes.parse(readCacheSize),
                    fullAuditAtStart);
        } else if (backend.equals("file")) {
            dataConfig = null;
        } else {
            throw new CommandLine.ParameterException(new CommandLine(this), "--backend must be ca or file: " + backend);
        }
        RoleTransport roles;
        try {
            roles = RoleTransport.of(roleTransport);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(new CommandLine(this), e.getMessage(), e);
        }
        ClusterRoles clusterRoles = null;
        VolumeService volumes;
        PoolFailover failover = null;
        PoolLock ownPool = null;
        MirrorServer mirrorServer = null;
        MirrorSender mirrorSender = null;
        if (cluster != null && dataConfig != null) { // the pool is this process's alone (or its peer's, failed over)
            failover = new PoolFailover(cluster.agent().self(), host, dir, cluster, dataConfig);
            boolean mirrorOn = !"false".equals(System.getProperty("hashbrick.journal-mirror"));
            if (port > 0 && mirrorOn) { // journal mirroring with the brick peer: listening before the pool opens
                ControllerIdentity me = cluster.agent().self();
                Supplier<ClusterMap> maps = cluster.agent()::map;
                mirrorServer = new MirrorServer(
                        me.memberId(), new InetSocketAddress(host, port + MIRROR_PORT_OFFSET), pool -> {
                            Member p = brickPeer(maps.get(), me);
                            return p != null && p.getId() == pool;
                        });
                PoolFailover f = failover;
                mirrorSender = new MirrorSender(
                        me.controller(),
                        me.memberId(),
                        dir,
                        () -> mirrorAddress(brickPeer(maps.get(), me)),
                        f::peerDown,
                        () -> servesItsOwnPool(brickPeer(maps.get(), me)));
                mirrorSender.startAlone();
                failover.mirrors(mirrorServer);
            } else {
                Log.warn(
                        "journal_mirror_off",
                        "reason=" + (mirrorOn ? "no_fixed_portal_port" : "hashbrick.journal-mirror=false")
                                + " effect=journals_not_mirrored_a_failover_reads_the_dead_controllers_nvram_file");
            }
            ownPool = failover.acquireOwn(host + ":" + rolePort);
        }
        if (cluster != null) {
            if (dataConfig == null) {
                throw new CommandLine.ParameterException(
                        new CommandLine(this), "cluster mode needs --backend ca (the roles serve each other)");
            }
            clusterRoles = new ClusterRoles(
                    cluster.agent()::map, cluster.agent().self().controller(), rolePort);
            ClusterRoles cr = clusterRoles;
            MirrorSender ownMirror = mirrorSender;
            Log.info("role_transport", "transport=cluster role_port=" + rolePort);
            if (!roleTransport.equals("local")) {
                Log.warn(
                        "option_ignored",
                        "option=--role-transport value=" + roleTransport
                                + " reason=cluster_mode_routes_every_call_by_the_map");
            }
            volumes = VolumeService.open(
                    dir,
                    scsi,
                    targetName,
                    dataConfig,
                    cr,
                    (d, cfg, refs) -> Controller.openInCluster(d, cfg, refs, cr, ownMirror));
        } else {
            if (roleTransport.equals("local")) {
                Log.info("role_transport", "transport=local");
            }
            volumes = VolumeService.open(dir, scsi, targetName, dataConfig, roles);
        }
        if (failover != null) { // serving its own pool again (its role server is up): the map says so at once
            failover.reclaim(host + ":" + rolePort);
        }
        if (volumes.roles() != null) {
            volumes.roles().data().setRebuildRate(Sizes.parse(rebuildRate));
            volumes.roles().data().setScrubRate(Sizes.parse(scrubRate));
        }
        // The management server answers from here on (a cluster's controllers wait for each other's);
        // until the portal is up its status says so.
        AtomicReference<Supplier<ObjectNode>> statusNow = new AtomicReference<>(() -> starting(cluster));
        ManagementServer mgmt = new ManagementServer(
                host, mgmtPort, volumes, targetName, () -> statusNow.get().get());
        mgmt.allowFaultInjection(allowFaultInjection);
        if (cluster != null) { // until the cluster's catalog is attached, volume commands wait for it
            mgmt.volumeCommands(ClusterCatalog.notYet());
        }
        mgmt.metrics(new NodeMetrics(
                scsi.io(),
                volumes.roles() == null ? null : volumes.roles()::stats,
                cluster == null ? null : cluster.agent()::status));
        int mgmtBound = mgmt.start();
        writeAtomically(dir.resolve("node.mgmt"), "http://" + host + ":" + mgmtBound + "\n");
        // Stopping: the portal, then (a cluster) this controller's role server, so no other
        // controller's call reaches roles that are closing; then the roles (a cluster's C drains its
        // outbox to the D owners), then the channels to the others and the control plane.
        AtomicReference<IscsiServer> portal = new AtomicReference<>();
        AtomicReference<ClusterCatalog> catalogRef = new AtomicReference<>();
        AtomicReference<ClusterReservations> reservationsRef = new AtomicReference<>();
        ClusterRoles clusterRolesToClose = clusterRoles;
        PoolFailover failoverToClose = failover;
        PoolLock ownPoolToClose = ownPool;
        MirrorSender mirrorSenderToClose = mirrorSender;
        MirrorServer mirrorServerToClose = mirrorServer;
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime()
                .addShutdownHook(new Thread(
                        () -> {
                            Log.info("node_stopping", "reason=signal");
                            if (failoverToClose != null) { // takes over nothing more; a peer's pool held here closes
                                failoverToClose.close();
                            }
                            mgmt.close();
                            IscsiServer p = portal.get();
                            if (p != null) {
                                p.close();
                            }
                            if (clusterRolesToClose != null) {
                                clusterRolesToClose.stopServing();
                            }
                            roles.close(); // no front end left to call the roles: stop the channel and server
                            ClusterCatalog c = catalogRef.get();
                            if (c != null) {
                                c.close(); // applies nothing more to the volumes
                            }
                            ClusterReservations rs = reservationsRef.get();
                            if (rs != null) {
                                rs.close();
                            }
                            volumes.close();
                            if (mirrorSenderToClose != null) { // the journals are closed
                                mirrorSenderToClose.close();
                            }
                            if (clusterRolesToClose != null) {
                                clusterRolesToClose.close();
                            }
                            if (ownPoolToClose != null) { // the pool is closed: its brick peer may take it
                                ownPoolToClose.close();
                            }
                            if (mirrorServerToClose != null) { // last: the peer's writes wait on it while it runs
                                mirrorServerToClose.close();
                            }
                            // After the lock: a controller holding its pool keeps its lease (its peer
                            // fences a holder the leader has not heard from).
                            closeCluster(cluster);
                            try {
                                Files.deleteIfExists(dir.resolve("node.url"));
                                Files.deleteIfExists(dir.resolve("node.mgmt"));
                            } catch (java.io.IOException ignored) {
                                // best effort
                            }
                            Log.info("node_stopped", "");
                            stopped.countDown();
                        },
                        "shutdown"));
        if (clusterRoles != null) {
            awaitPlacement(clusterRoles, cluster);
        }
        ClusterReservations reservations = cluster == null
                ? null
                : ClusterReservations.open(
                        cluster.agent().self().controller(),
                        cluster.agent().self().memberId(),
                        targetName,
                        scsi,
                        cluster.agent()::map,
                        host,
                        port);
        reservationsRef.set(reservations);
        ClusterCatalog catalog = cluster == null ? null : attachCatalog(cluster, volumes, size, reservations);
        if (catalog != null) {
            reservations.catalog(catalog);
            scsi.reservationAuthority(reservations); // before the portal opens: one set per volume, every port
            // no session of this port's previous life survives: its RESERVE(6) goes (SPC-2 nexus loss)
            reservations.portLost(cluster.agent().self().controller(), "controller_started");
            if (failover != null) { // the same when the brick peer dies and its pool comes here
                failover.onPeerLost(peer -> reservations.portLost(peer, "peer_failed_over"));
            }
            catalogRef.set(catalog);
            mgmt.volumeCommands(catalog);
        }
        if (cluster == null && volumes.list().isEmpty()) {
            // First start on this directory: the default volumes the options describe.
            for (int i = 0; i < luns; i++) {
                volumes.create("lun" + i, size, blockSize, targetName);
            }
        }
        TargetConfig config = TargetConfig.defaults(targetName, host, port)
                .withPortalGroupTag(cluster == null ? 1 : cluster.agent().self().controller())
                .withNop(nopIntervalMs, 15_000)
                .withChap(
                        credentials(chapUser, "HASHBRICK_CHAP_SECRET"),
                        credentials(mutualUser, "HASHBRICK_MUTUAL_SECRET"));
        IscsiServer server = new IscsiServer(config, scsi);
        if (cluster != null) { // one array, a port per controller (ALUA, SendTargets)
            ClusterPorts.attach(cluster.agent()::map, scsi, server);
        }
        portal.set(server);
        int bound = server.start();
        String url = "iscsi://" + host + ":" + bound + "/" + targetName + "/"
                + (volumes.list().isEmpty() ? 0 : volumes.list().get(0).lun());
        statusNow.set(() -> {
            ObjectNode n = status(server, volumes, url, cluster);
            if (clusterRolesToClose != null) {
                n.set("role_calls", new ObjectMapper().valueToTree(clusterRolesToClose.counts()));
            }
            if (mirrorSenderToClose != null) {
                ObjectNode jm = n.putObject("journal_mirror");
                jm.set("own", new ObjectMapper().valueToTree(mirrorSenderToClose.status()));
                jm.set("peer_copies", new ObjectMapper().valueToTree(mirrorServerToClose.status()));
            }
            if (failoverToClose != null) {
                n.set("failover", new ObjectMapper().valueToTree(failoverToClose.status()));
                n.set("lease", new ObjectMapper().valueToTree(cluster.lease().status()));
            }
            return n;
        });
        if (failover != null) { // the brick peer's pool, should its process die
            DataPath.Config cfg = dataConfig;
            failover.start((d, refs, r) -> Controller.openInCluster(d, cfg, refs, r));
        }
        writeAtomically(dir.resolve("node.url"), url + "\n");
        Log.info(
                "node_ready",
                "url=" + url + " volumes=" + volumes.list().size() + " mgmt_port=" + mgmtBound + " dir="
                        + dir.toAbsolutePath() + " pid="
                        + ProcessHandle.current().pid());
        stopped.await();
        return 0;
    }

    /**
     * Where a controller's journal mirror listens: its portal's port plus this (a peer finds it from the
     * portal the map records; the launcher gives each controller a fixed portal port).
     */
    static final int MIRROR_PORT_OFFSET = 1000;

    private static Member brickPeer(ClusterMap m, ControllerIdentity me) {
        if (m == null) {
            return null;
        }
        for (Member x : m.getMembersList()) {
            if (x.getId() != me.controller() && x.getBrick() == me.brick()) {
                return x;
            }
        }
        return null;
    }

    /** Whether {@code peer} serves its own pool, not coming back for it (the map's word). */
    private static boolean servesItsOwnPool(Member peer) {
        return peer != null
                && (peer.getServedBy() == 0 || peer.getServedBy() == peer.getId())
                && !peer.getReturnRequested();
    }

    /** The brick peer's mirror address, from its portal in the map (null: not known). */
    private static InetSocketAddress mirrorAddress(Member peer) {
        if (peer == null || peer.getPortal().isEmpty()) {
            return null;
        }
        String p = peer.getPortal();
        int colon = p.lastIndexOf(':');
        try {
            return new InetSocketAddress(
                    p.substring(0, colon), Integer.parseInt(p.substring(colon + 1)) + MIRROR_PORT_OFFSET);
        } catch (RuntimeException e) {
            return null;
        }
    }

    /** The file that marks a data directory as cluster member cK's (its roles hold only their share). */
    static final String MEMBER_FILE = "member";

    /**
     * A cluster's controller's pool holds only its share of the references, and its C's references
     * point at other controllers' D: opened as a single controller, the census would drop them all. So
     * the directory remembers its member id, and a start that does not match is refused.
     */
    private void checkMembership() throws java.io.IOException {
        Path file = dir.resolve(MEMBER_FILE);
        String recorded = Files.exists(file)
                ? Files.readString(file, StandardCharsets.UTF_8).strip()
                : null;
        if (memberId == null) {
            if (recorded != null) {
                throw new CommandLine.ParameterException(
                        new CommandLine(this),
                        "this directory holds cluster member " + recorded + "'s pool: start it in its cluster"
                                + " (--member-id " + recorded
                                + ", deploy/hashbrick up in the cluster's directory): dir="
                                + dir);
            }
            return;
        }
        if (recorded != null && !recorded.equals(memberId)) {
            throw new CommandLine.ParameterException(
                    new CommandLine(this),
                    "this directory holds cluster member " + recorded + "'s pool, not " + memberId + ": dir=" + dir);
        }
        if (recorded == null) {
            if (Files.exists(dir.resolve("volumes.json"))) {
                throw new CommandLine.ParameterException(
                        new CommandLine(this),
                        "this directory holds a single controller's pool: a cluster's controller starts on a"
                                + " new directory: dir=" + dir);
            }
            Files.createDirectories(dir);
            writeAtomically(file, memberId + "\n");
        }
    }

    /** What the management server says before the portal is up. */
    private ObjectNode starting(ClusterLaunch cluster) {
        ObjectNode n = new ObjectMapper().createObjectNode();
        n.put("state", "starting")
                .put("io", "starting")
                .put("pid", ProcessHandle.current().pid());
        if (cluster != null) {
            n.put("io_detail", "waiting for the cluster's placement");
            n.set("cluster", new ObjectMapper().valueToTree(cluster.agent().status()));
        }
        return n;
    }

    /** Cluster mode (--member-id): joins the group and starts the agent; null for a single controller. */
    private ClusterLaunch startCluster() throws java.io.IOException {
        if (memberId == null) {
            if (raftPeers != null || bricks != 0 || brick != 0 || raftDir != null) {
                throw new CommandLine.ParameterException(
                        new CommandLine(this), "--raft-peers, --bricks, --brick and --raft-dir need --member-id");
            }
            return null;
        }
        if (raftPeers == null || bricks < 1 || rolePort <= 0) {
            throw new CommandLine.ParameterException(
                    new CommandLine(this),
                    "cluster mode needs --raft-peers, --bricks N (N >= 1) and --role-port: member=" + memberId);
        }
        ControllerIdentity self;
        try {
            int c = ControllerIdentity.controllerOf(memberId);
            self = ControllerIdentity.of(memberId, brick != 0 ? brick : (c + 1) / 2, bricks);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(new CommandLine(this), e.getMessage(), e);
        }
        Files.createDirectories(dir);
        return ClusterLaunch.start(
                self, host + ":" + rolePort, host + ":" + port, clusterName, raftPeers, dir, raftDir, electionMs);
    }

    /**
     * Cluster mode, a controller with a VolumeService: its volumes come from the cluster's Raft catalog
     * ({@link ClusterCatalog}); volume commands of the management API go there; c1 creates the default
     * volumes there once. Waits a bounded time for the first catalog to be applied, so that the portal
     * opens with the cluster's volumes; without Raft by then, it opens with the volumes this controller
     * held (its catalog file) and the catalog is applied as soon as the group answers.
     */
    private ClusterCatalog attachCatalog(
            ClusterLaunch cluster, VolumeService volumes, long size, ClusterReservations reservations)
            throws InterruptedException {
        ClusterCatalog catalog = ClusterCatalog.attach(
                cluster, volumes, targetName, new ClusterCatalog.Defaults(luns, size, blockSize), reservations::apply);
        if (!catalog.awaitReady(CATALOG_READY_WAIT)) {
            Log.warn(
                    "cluster_catalog_not_ready",
                    "member=" + cluster.agent().self().memberId() + " waited_s=" + CATALOG_READY_WAIT.toSeconds()
                            + " volumes=" + volumes.list().size() + " action=serving_the_volumes_held_here");
        }
        return catalog;
    }

    /** How long a cluster controller waits for the first catalog before it opens its portal anyway. */
    static final java.time.Duration CATALOG_READY_WAIT = java.time.Duration.ofSeconds(60);

    /**
     * Waits (bounded only by the operator: the placement waits for every controller) until the map
     * gives this controller its share; until then no portal opens, since no call could be routed.
     */
    private static void awaitPlacement(ClusterRoles roles, ClusterLaunch cluster) throws InterruptedException {
        long t0 = System.nanoTime();
        long logged = 0;
        while (roles.current() == null) {
            long s = (System.nanoTime() - t0) / 1_000_000_000L;
            if (s >= logged) {
                Log.info(
                        "waiting_for_placement",
                        "member=" + cluster.agent().self().memberId() + " phase="
                                + cluster.agent().phase() + " waited_s=" + s);
                logged = s == 0 ? 10 : s * 2;
            }
            Thread.sleep(50);
        }
        Log.info(
                "placement_seen",
                "member=" + cluster.agent().self().memberId() + " epoch="
                        + roles.current().epoch() + " ms=" + (System.nanoTime() - t0) / 1_000_000);
    }

    private static void closeCluster(ClusterLaunch cluster) {
        if (cluster == null) {
            return;
        }
        try {
            cluster.close();
        } catch (java.io.IOException | RuntimeException e) {
            Log.warn("cluster_stop_failed", "error=" + Log.q(e));
        }
    }

    private ObjectNode status(IscsiServer server, VolumeService volumes, String url, ClusterLaunch cluster) {
        ObjectNode n = new ObjectMapper().createObjectNode();
        n.put("state", "running")
                .put("target", targetName)
                .put("url", url)
                .put("portal", host + ":" + port)
                .put("sessions", server.sessionCount())
                .put("volumes", volumes.list().size())
                .put("pid", ProcessHandle.current().pid());
        Controller data = volumes.roles();
        if (data != null) {
            java.util.Map<String, Object> st = data.stats();
            for (String k : new String[] {
                "protection_state",
                "failures_tolerated",
                "dae_health",
                "ssd_injected_latency_ms",
                "ssds_slow",
                "stripe_width_new",
                "rebuild_state",
                "rebuild_progress_pct",
                "rebuild_stripes_remaining",
                "scrub_passes",
                "read_repairs",
                "pool_state",
                "pool_read_only_reason"
            }) {
                n.put(k, String.valueOf(st.get(k)));
            }
        }
        if (cluster != null) {
            n.put("io", "cluster");
            n.set("cluster", new ObjectMapper().valueToTree(cluster.agent().status()));
        }
        return n;
    }

    private static void writeAtomically(Path file, String text) throws java.io.IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.writeString(tmp, text, StandardCharsets.UTF_8);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private static ChapCredentials credentials(String user, String secretVariable) {
        if (user == null) {
            return null;
        }
        String secret = System.getenv(secretVariable);
        if (secret == null) {
            throw new IllegalArgumentException("CHAP user given but $" + secretVariable + " is not set: user=" + user);
        }
        return new ChapCredentials(user, secret);
    }

    public static void main(String[] args) {
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            Log.error("node_failed", "error=" + Log.q(ex.getMessage()));
            return 1;
        });
        System.exit(cl.execute(args));
    }
}
