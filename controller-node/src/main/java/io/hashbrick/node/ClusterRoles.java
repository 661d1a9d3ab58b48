package io.hashbrick.node;

import io.hashbrick.node.api.DataService;
import io.hashbrick.node.api.DerefCall;
import io.hashbrick.node.api.MapService;
import io.hashbrick.node.api.grpc.GrpcRoleClient;
import io.hashbrick.node.api.grpc.GrpcRoleServer;
import io.hashbrick.node.api.local.LocalDataService;
import io.hashbrick.node.api.local.LocalMapService;
import io.hashbrick.node.api.route.RolePeers;
import io.hashbrick.node.api.route.RouteCounts;
import io.hashbrick.node.api.route.RouteSource;
import io.hashbrick.node.api.route.RoutedDataService;
import io.hashbrick.node.api.route.RoutedMapService;
import io.hashbrick.node.api.route.Routes;
import io.hashbrick.node.api.tcp.TcpRoleClient;
import io.hashbrick.node.api.tcp.TcpRoleServer;
import io.hashbrick.node.block.BlockDevice;
import io.hashbrick.node.catalog.VolumeService;
import io.hashbrick.node.front.VolumeDevice;
import io.hashbrick.proto.cluster.v1.ClusterMap;
import io.hashbrick.proto.cluster.v1.Member;
import io.hashbrick.routing.placement.Placement;
import java.io.IOException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * A cluster's controller's roles on the I/O path (issue 19 item 3): this controller serves its D and
 * C to every controller (itself included) on its role port over the TCP binding (or gRPC, see
 * {@link #TRANSPORT}), admitting only calls at the
 * current map's epoch for the buckets and regions the map gives it; its front end and its C's outbox
 * reach every D and C through {@link RoutedDataService} and {@link RoutedMapService}, in-process for
 * its own share and over one connection per other controller (the address each registered in the
 * map) for theirs. The map comes from the control plane's newest copy here ({@link #current}); nothing
 * here waits for Raft.
 */
final class ClusterRoles implements RouteSource, RolePeers, VolumeService.Devices, Controller.Cluster, AutoCloseable {
    /** Sender of the derefs R makes to give back a failed put's references (applied as sent). */
    static final int GIVE_BACK_SENDER = 1;

    /**
     * How the controllers of a cluster reach each other's roles ({@code -Dhashbrick.cluster.transport}):
     * {@code tcp} (the default; the framed binding, api.tcp) or {@code grpc}, served on the same role
     * port (one of them). Every controller of a cluster must use the same.
     */
    static final String TRANSPORT = transport(System.getProperty("hashbrick.cluster.transport", "tcp"));

    private final Supplier<ClusterMap> maps;
    private final int self;
    private final int rolePort;
    private final RoutedDataService data;
    private final RoutedMapService mapping;
    private final Map<Integer, Remote> remotes = new ConcurrentHashMap<>();
    private final RouteCounts counts = new RouteCounts();
    private volatile Routes routes;
    private volatile LocalDataService localData;
    private volatile LocalMapService localMaps;
    private AutoCloseable server;
    private int serverPort = -1;

    /** A connection to another controller's roles, over either transport. */
    private record Remote(String address, AutoCloseable client, DataService data, MapService maps) {}

    private static String transport(String name) {
        if (!name.equals("tcp") && !name.equals("grpc")) {
            throw new IllegalArgumentException("hashbrick.cluster.transport must be tcp or grpc: " + name);
        }
        return name;
    }

    ClusterRoles(Supplier<ClusterMap> maps, int self, int rolePort) {
        this.maps = maps;
        this.self = self;
        this.rolePort = rolePort;
        this.data = new RoutedDataService(this, this, GIVE_BACK_SENDER, counts);
        this.mapping = new RoutedMapService(this, this, counts);
    }

    // ---------------------------------------------------------------- the map

    @Override
    public Routes current() {
        ClusterMap m = maps.get();
        Routes r = routes;
        if (m == null || m.getBucketsCount() != Placement.BUCKETS) {
            return r;
        }
        if (r != null && r.epoch() >= m.getEpoch()) {
            return r;
        }
        return rebuild(m);
    }

    /**
     * Guards the rebuild of {@link #routes} only: the I/O path's calls route through here, so no other
     * lock of this object (held while a role server closes and waits for its calls) may stop them.
     */
    private final Object routesLock = new Object();

    private Routes rebuild(ClusterMap m) {
        synchronized (routesLock) {
            return rebuildLocked(m);
        }
    }

    private Routes rebuildLocked(ClusterMap m) {
        Routes r = routes;
        if (r != null && r.epoch() >= m.getEpoch()) {
            return r;
        }
        int[] buckets = new int[Placement.BUCKETS];
        for (int i = 0; i < buckets.length; i++) {
            buckets[i] = m.getBuckets(i);
        }
        int[] partitions = new int[Placement.REGION_PARTITIONS];
        for (int i = 0; i < partitions.length && i < m.getRegionPartitionsCount(); i++) {
            partitions[i] = m.getRegionPartitions(i);
        }
        r = new Routes(m.getEpoch(), self, buckets, partitions);
        Log.info(
                "cluster_routes",
                "member=c" + self + " epoch=" + r.epoch() + " buckets=" + count(buckets) + " region_partitions="
                        + count(partitions));
        routes = r;
        return r;
    }

    private int count(int[] owners) {
        int n = 0;
        for (int o : owners) {
            if (o == self) {
                n++;
            }
        }
        return n;
    }

    @Override
    public void stale(long epoch) {
        // A voter's map is its replica's; a non-voter's agent queries the group every 200 ms.
    }

    // ---------------------------------------------------------------- the peers

    @Override
    public DataService data(int controller) {
        if (controller == self) {
            return localData;
        }
        return remote(controller).data();
    }

    @Override
    public MapService maps(int controller) {
        if (controller == self) {
            return localMaps;
        }
        return remote(controller).maps();
    }

    private Remote remote(int controller) {
        String address = address(controller);
        Remote r = remotes.get(controller);
        if (r != null && r.address().equals(address)) {
            return r;
        }
        Remote old;
        Remote client;
        synchronized (remotes) {
            r = remotes.get(controller);
            if (r != null && r.address().equals(address)) {
                return r;
            }
            int colon = address.lastIndexOf(':');
            String host = colon < 0 ? "" : address.substring(0, colon);
            if (!host.equals("127.0.0.1") && !host.equals("localhost")) {
                throw new IllegalStateException("controller c" + controller + " registered role address " + address
                        + ": this build runs a cluster on one host (127.0.0.1) only");
            }
            client = connect(address, Integer.parseInt(address.substring(colon + 1)));
            old = remotes.put(controller, client);
        }
        Log.info(
                "cluster_role_channel",
                "member=c" + self + " peer=c" + controller + " address=" + address + " transport=" + TRANSPORT);
        if (old != null) { // closed off this (maybe an event loop) thread; its calls in flight fail MEDIUM_ERROR
            Thread.ofPlatform().daemon().name("role-channel-close").start(() -> closeQuietly(old.client()));
        }
        return client;
    }

    private static Remote connect(String address, int port) {
        if (TRANSPORT.equals("grpc")) {
            GrpcRoleClient g = new GrpcRoleClient(port, GrpcRoleClient.DEADLINE_MS);
            return new Remote(address, g, g.data(), g.maps());
        }
        TcpRoleClient t = new TcpRoleClient("127.0.0.1", port, TcpRoleClient.DEADLINE_MS);
        return new Remote(address, t, t.data(), t.maps());
    }

    private String address(int controller) {
        ClusterMap m = maps.get();
        if (m != null) {
            for (Member member : m.getMembersList()) {
                if (member.getId() == controller) {
                    return member.getAddress();
                }
            }
        }
        throw new IllegalStateException("no address for controller c" + controller + " in the map");
    }

    // ---------------------------------------------------------------- Controller.Cluster, Devices

    @Override
    public synchronized void attach(Controller c) throws IOException {
        localData = new LocalDataService(c.data(), this);
        localMaps = new LocalMapService(c.maps(), this);
        // SPLIT: a put or map that waits for its journal must not hold the event loop that also carries
        // this process's replies from the other controllers
        if (TRANSPORT.equals("grpc")) {
            GrpcRoleServer g = new GrpcRoleServer(localData, localMaps, rolePort, GrpcRoleServer.Dispatch.SPLIT);
            server = g;
            serverPort = g.port();
        } else { // the TCP binding runs journal waits on its workers (see TcpRoleServer.INLINE_WRITES)
            TcpRoleServer t = new TcpRoleServer(localData, localMaps, rolePort);
            server = t;
            serverPort = t.port();
        }
        Log.info("cluster_roles_serving", "member=c" + self + " port=" + serverPort + " transport=" + TRANSPORT);
    }

    @Override
    public DataService outbox() {
        return data;
    }

    @Override
    public int outboxSender() {
        return DerefCall.CONTROLLER_SENDER + self;
    }

    @Override
    public BlockDevice open(Controller roles, int volumeId, long sizeBytes, int blockSize) {
        return new VolumeDevice(data, mapping, 0, volumeId, sizeBytes, blockSize);
    }

    /** Calls sent to this controller's roles and to the others' (the statistics and status show them). */
    Map<String, Long> counts() {
        return counts.snapshot();
    }

    /** The role server's port (after {@link #attach}). */
    synchronized int port() {
        return server == null ? -1 : serverPort;
    }

    /**
     * Stops serving this controller's roles to the others (calls in progress finish first). The server
     * closes outside this object's lock: its calls may need the routes meanwhile (a failback's epoch
     * change: a call blocked on that lock held the close for its whole 5 s wait, measured).
     */
    void stopServing() {
        if (takeServer() != null) {
            Log.info("cluster_roles_stopped", "member=c" + self);
        }
    }

    /** Takes the role server out (under the lock) and closes it (outside it); null when there was none. */
    private AutoCloseable takeServer() {
        AutoCloseable s;
        synchronized (this) {
            s = server;
            server = null;
            serverPort = -1;
        }
        if (s != null) {
            closeQuietly(s);
        }
        return s;
    }

    /** Closes the channels to the others, then this controller's role server. */
    @Override
    public void close() {
        java.util.List<Remote> open;
        synchronized (remotes) {
            open = new java.util.ArrayList<>(remotes.values());
            remotes.clear();
        }
        for (Remote r : open) {
            closeQuietly(r.client());
        }
        takeServer();
    }

    /** Both transports' close() throw nothing checked; AutoCloseable's signature says they might. */
    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception e) {
            Log.warn("cluster_role_close_failed", "error=" + Log.q(e.toString()));
        }
    }
}
