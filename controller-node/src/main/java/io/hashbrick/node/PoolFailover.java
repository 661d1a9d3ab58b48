package io.hashbrick.node;

import io.hashbrick.node.catalog.VolumeService;
import io.hashbrick.node.cluster.ClusterClient;
import io.hashbrick.node.cluster.ControllerIdentity;
import io.hashbrick.node.cluster.LeaseKeeper;
import io.hashbrick.node.cluster.Leases;
import io.hashbrick.node.data.DataPath;
import io.hashbrick.node.mirror.MirrorServer;
import io.hashbrick.node.volume.MapStore;
import io.hashbrick.proto.cluster.v1.ClusterMap;
import io.hashbrick.proto.cluster.v1.Command;
import io.hashbrick.proto.cluster.v1.CommandResult;
import io.hashbrick.proto.cluster.v1.Lease;
import io.hashbrick.proto.cluster.v1.Member;
import io.hashbrick.proto.cluster.v1.QueryResult;
import io.hashbrick.proto.cluster.v1.ReturnPool;
import io.hashbrick.proto.cluster.v1.ServePool;
import io.hashbrick.proto.cluster.v1.Status;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Failover of a pool to its brick peer (issue 19 item 6, first landing: a controller that died).
 *
 * <p>Each controller of a brick watches its peer's pool lock ({@link PoolLock}) every {@link #WATCH_MS}.
 * Once it has seen the lock held (the peer running), a lock it can take means the peer's process is
 * gone: it opens the peer's pool from the brick's shared directory (the journals replay as after a
 * crash: every acknowledged write is in them), serves it on a role port of its own, and commits {@code
 * ServePool(pool = peer, by = self, address)} at the current epoch. The pool's buckets and region
 * partitions keep the pool's id: every sender routes to the new address at the new epoch, calls that
 * found no connection meanwhile go again ({@code api.Status.UNREACHABLE}), a write whose map went
 * unanswered is redone.
 *
 * <p>Failback: a controller that starts while its peer serves its pool asks for it ({@code
 * ReturnPool}); the peer stops serving it, closes it (its last checkpoint) and lets the lock go; the
 * controller takes the lock, opens its pool and commits {@code ServePool(self, self, its address)}.
 *
 * <p>A silent controller (paused, hung: it holds its lock, its lease ran out at the Raft leader) is
 * fenced first ({@link #fenceIfSilent}), then taken over as a dead one.
 *
 * <p>Not yet: the peer reads the dead controller's NVRAM file, as if the NVRAM were dual-ported (journal
 * mirroring, item 5, makes it survive the controller's memory); volumes created or grown while a pool is
 * served by its peer reach the pool when its controller is back.
 */
final class PoolFailover implements AutoCloseable {
    static final long WATCH_MS = 50;
    /** How long a controller waits at start for its pool's lock (its peer closing it) before giving up. */
    static final Duration OWN_POOL_WAIT = Duration.ofSeconds(120);

    private static final Duration CALL_DEADLINE = Duration.ofSeconds(3);
    private static final long COMMIT_MS = 15_000;
    /** A pool nobody took although its member asked for it (or never seen served): taken over after this. */
    static final long UNCLAIMED_NS = 10_000_000_000L;
    /** How long a fenced process may take to end and let its pool lock go. */
    private static final long FENCE_WAIT_NS = 5_000_000_000L;

    /** What a takeover opens a pool with: the node's own options. */
    interface Opener {
        Controller open(Path dir, java.util.List<io.hashbrick.node.volume.VolumeRef> refs, ClusterRoles roles)
                throws IOException;
    }

    private final ControllerIdentity self;
    private final String host;
    private final Path dir;
    private final Supplier<ClusterMap> maps;
    private final ClusterLaunch cluster;
    private final DataPath.Config config;
    private final LeaseKeeper lease;
    /** The peer's lease is asked about at every watch (a datagram to each voter). */
    private final long leaseCheckNs = WATCH_MS * 1_000_000L;

    private final Object lock = new Object();
    private volatile boolean stopped;
    private ClusterClient client;
    private Thread watcher;
    /** The peer's pool while this controller serves it; guarded by {@link #lock}. */
    private volatile Adopted adopted;
    /** A failback's commit made while the pool opens ({@link #serveHomeEarly}), or null; its outcome. */
    private volatile Thread earlyServe;

    private volatile String earlyAddress;
    private volatile boolean earlyOk;
    private volatile long earlyMs;
    /** Told the peer's id once its pool is served here (its sessions are gone: their RESERVE(6) goes). */
    private volatile java.util.function.IntConsumer onPeerLost = peer -> {};

    private boolean peerSeenAlive;
    /** A close of the adopted pool failed: it stays locked, never tried again. */
    private boolean releaseFailed;
    /** Since when the peer's lock has been seen free (0: held when last tried). */
    private long freeSinceNs;

    /** When the peer's lease was last asked about. */
    private long leaseCheckedNs;
    /** The peer's lease as last logged: held, expired or unknown. */
    private String peerLease = "";

    private volatile long fenced;
    private volatile long failovers;
    private volatile long failbacks;
    private volatile String last = "";

    private record Adopted(int pool, PoolLock lock, ClusterRoles roles, Controller controller, String address) {}

    /** Whether the brick peer's process is gone, as the last watch saw it (its pool lock free, or served here). */
    boolean peerDown() {
        return peerDown;
    }

    /** Where this controller keeps its copy of the peer's journals: installed before a failover opens the pool. */
    void mirrors(MirrorServer server) {
        this.mirrors = server;
    }

    private volatile boolean peerDown;
    private volatile MirrorServer mirrors;

    /** What to do once a dead or fenced peer's pool is served here (after the failover's commit). */
    void onPeerLost(java.util.function.IntConsumer action) {
        this.onPeerLost = action;
    }

    PoolFailover(ControllerIdentity self, String host, Path dir, ClusterLaunch cluster, DataPath.Config config) {
        this.self = self;
        this.host = host;
        this.dir = dir;
        this.cluster = cluster;
        this.maps = cluster.agent()::map;
        this.config = config;
        this.lease = cluster.lease();
    }

    /** The directory of controller {@code k}'s pool: beside this one's (the brick's shared DAE). */
    Path poolDir(int k) {
        return dir.toAbsolutePath().normalize().resolveSibling("c" + k);
    }

    // ---------------------------------------------------------------- at start: this controller's pool

    /**
     * Takes this controller's pool lock, asking the brick peer for the pool when the map says the peer
     * serves it, and waiting (bounded) until the peer lets it go.
     */
    PoolLock acquireOwn(String ownAddress) throws IOException, InterruptedException {
        long t0 = System.nanoTime();
        long end = t0 + OWN_POOL_WAIT.toNanos();
        // The lease first: a holder of its pool the leader has not heard from is fenced by its peer.
        while (!lease.awaitFirst(Duration.ofSeconds(5))) {
            Log.info(
                    "waiting_for_lease",
                    "member=" + self.memberId() + " waited_s=" + (System.nanoTime() - t0) / 1_000_000_000L
                            + " reason=no_raft_leader_answering");
            if (System.nanoTime() - end > 0) {
                throw new IOException("no lease from the Raft leader after " + OWN_POOL_WAIT.toSeconds()
                        + " s: the pool in " + dir + " is not opened without one (no quorum?)");
            }
        }
        boolean asked = false;
        boolean warmed = false;
        long logged = 0;
        while (true) {
            PoolLock l = PoolLock.tryAcquire(dir);
            if (l != null) {
                if (asked) {
                    Log.info(
                            "pool_taken_back",
                            "member=" + self.memberId() + " waited_ms=" + (System.nanoTime() - t0) / 1_000_000);
                    serveHomeEarly(ownAddress);
                }
                return l;
            }
            Member me = member(maps.get(), self.controller());
            boolean servedElsewhere = me != null && me.getServedBy() != 0 && me.getServedBy() != me.getId();
            if (servedElsewhere && !me.getReturnRequested() && !asked) {
                if (!warmed) {
                    warmUp();
                    warmed = true;
                }
                CommandResult r = submit(Command.newBuilder()
                        .setReturnPool(ReturnPool.newBuilder().setPool(self.controller())));
                asked = r != null && r.getStatus() == Status.OK;
                Log.info(
                        "pool_return_requested",
                        "member=" + self.memberId() + " served_by=c" + me.getServedBy() + " status="
                                + (r == null ? "none" : r.getStatus()));
            }
            long s = (System.nanoTime() - t0) / 1_000_000_000L;
            if (s >= logged) {
                Log.info(
                        "waiting_for_pool",
                        "member=" + self.memberId() + " dir=" + dir + " served_by="
                                + (me == null ? "unknown" : "c" + me.getServedBy()) + " waited_s=" + s);
                logged = s == 0 ? 5 : s * 2;
            }
            if (System.nanoTime() - end > 0) {
                throw new IOException("the pool in " + dir + " is held by another process after "
                        + OWN_POOL_WAIT.toSeconds() + " s (its brick peer serving it, or a controller of this"
                        + " directory still running): pool_lock=" + dir.resolve(PoolLock.FILE));
            }
            Thread.sleep(asked ? 5 : 20); // asked: the peer lets it go within a few hundred ms
        }
    }

    /**
     * Failback: commits that this controller serves its pool at {@code address} at once, in parallel
     * with the pool's open, so the host's pause is the longer of the two rather than their sum (measured:
     * the commit 24-192 ms after a 375-580 ms open). Until the role server listens there, calls find no
     * connection (UNREACHABLE: nothing sent) and go again at the newest map. {@link #reclaim} waits for it.
     */
    private void serveHomeEarly(String address) {
        earlyAddress = address;
        earlyServe = Thread.ofPlatform().daemon().name("pool-serve-early").start(() -> {
            long t0 = System.nanoTime();
            boolean ok = commitServe(self.controller(), self.controller(), address);
            earlyMs = (System.nanoTime() - t0) / 1_000_000;
            earlyOk = ok;
            Log.info(
                    "pool_serve_committed_early",
                    "member=" + self.memberId() + " address=" + address + " ok=" + ok + " ms=" + earlyMs);
        });
    }

    /**
     * Before it asks its pool back: opens and closes a scratch pool of the same shape beside it, so that
     * the open the host waits for (between the peer letting the pool go and this controller serving it)
     * runs in a warm JVM: 160-415 ms instead of 1.1-1.6 s measured cold. Best effort.
     */
    private void warmUp() {
        if (config == null) {
            return;
        }
        Path scratch = dir.toAbsolutePath().normalize().resolveSibling(dir.getFileName() + ".warmup");
        long t0 = System.nanoTime();
        try {
            deleteTree(scratch);
            Controller c = Controller.open(scratch, config, java.util.List.of());
            c.close(); // its last checkpoint: the open below loads one, as the pool's will
            Controller.open(scratch, config, java.util.List.of()).close();
            // the volume catalog's reader (JSON: 200-300 ms cold, measured between the lock and the open)
            VolumeService.refs(dir);
            Log.info(
                    "pool_warm_up",
                    "member=" + self.memberId() + " dir=" + scratch + " ms=" + (System.nanoTime() - t0) / 1_000_000);
        } catch (IOException | RuntimeException e) {
            Log.warn(
                    "pool_warm_up_failed",
                    "member=" + self.memberId() + " dir=" + scratch + " error=" + Log.q(e.toString()));
        } finally {
            try {
                deleteTree(scratch);
            } catch (IOException e) {
                Log.warn("pool_warm_up_not_removed", "dir=" + scratch + " error=" + Log.q(e.toString()));
            }
        }
    }

    private static void deleteTree(Path p) throws IOException {
        if (!java.nio.file.Files.exists(p)) {
            return;
        }
        try (java.util.stream.Stream<Path> s = java.nio.file.Files.walk(p)) {
            for (Path x : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                java.nio.file.Files.delete(x);
            }
        }
    }

    /**
     * This controller serves its own pool again (its role server is up at {@code address}): when the map
     * still says its peer does, or names another address, commits that it is home.
     */
    void reclaim(String address) throws InterruptedException {
        Thread early = earlyServe;
        if (early != null) {
            early.join(COMMIT_MS); // its commit (or its answer that the map already said so) first
            earlyServe = null;
            if (earlyOk && address.equals(earlyAddress)) {
                failedBack(address, earlyMs, true);
                return;
            }
        }
        long end = System.nanoTime() + OWN_POOL_WAIT.toNanos();
        Member me = member(maps.get(), self.controller());
        ClusterMap m = maps.get();
        while (me == null && (m == null || m.getBucketsCount() == 0) && System.nanoTime() - end < 0) {
            Thread.sleep(20); // not registered, or the map not read yet: a member's own map says where it is served
            m = maps.get();
            me = member(m, self.controller());
        }
        if (me == null) { // a new member: registers itself with its address
            return;
        }
        if (me != null
                && (me.getServedBy() == 0 || me.getServedBy() == me.getId())
                && me.getAddress().equals(address)) {
            return;
        }
        long t0 = System.nanoTime();
        if (commitServe(self.controller(), self.controller(), address)) {
            failedBack(address, (System.nanoTime() - t0) / 1_000_000, false);
        }
    }

    private void failedBack(String address, long commitMs, boolean early) {
        failbacks++;
        last = "failback";
        Log.info(
                "pool_failback",
                "member=" + self.memberId() + " address=" + address + " commit_ms=" + commitMs
                        + (early ? " early=true" : ""));
    }

    // ---------------------------------------------------------------- the watch of the brick peer

    void start(Opener opener) {
        watcher = Thread.ofPlatform().daemon().name("pool-failover").start(() -> watch(opener));
    }

    private void watch(Opener opener) {
        client(); // connected before it is needed: a takeover commits at once
        while (!stopped) {
            try {
                watchOnce(opener);
            } catch (IOException | RuntimeException e) {
                Log.error("pool_watch_failed", "member=" + self.memberId() + " error=" + Log.q(e.toString()));
            }
            try {
                Thread.sleep(WATCH_MS);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private void watchOnce(Opener opener) throws IOException {
        ClusterMap m = maps.get();
        if (m == null || m.getBucketsCount() == 0) {
            return;
        }
        Member peer = brickPeer(m);
        if (peer == null) {
            return;
        }
        Adopted returning = null;
        synchronized (lock) {
            if (stopped) {
                return;
            }
            if (adopted != null) {
                if (!peer.getReturnRequested() && peer.getServedBy() == self.controller()) {
                    peerDown = true;
                    return;
                }
                peerDown = false; // back, asking for its pool
                returning = adopted;
            }
        }
        if (returning != null) {
            baseBeforeReturn(returning); // outside the lock: SSD writes
            synchronized (lock) {
                if (!stopped && adopted == returning) {
                    release("returned");
                }
            }
            return;
        }
        int by = peer.getServedBy();
        boolean home = by == 0 || by == peer.getId();
        if (!(home || by == self.controller())) {
            return;
        }
        PoolLock l = PoolLock.tryAcquire(poolDir(peer.getId()));
        if (l == null) {
            peerSeenAlive = true;
            peerDown = false;
            freeSinceNs = 0;
            if (home) {
                l = fenceIfSilent(peer);
            }
            if (l == null) {
                return;
            }
        }
        peerDown = true; // nobody holds its pool: its process is gone
        long now = System.nanoTime();
        if (freeSinceNs == 0) {
            freeSinceNs = now;
        }
        // A peer never seen running (the cluster starting), or one that asked its pool back and then did
        // not take it: taken over only once the lock has stayed free for a while (its process is gone).
        boolean waitFirst = peer.getReturnRequested() || (!peerSeenAlive && home);
        if (waitFirst && now - freeSinceNs < UNCLAIMED_NS) {
            l.close();
            return;
        }
        freeSinceNs = 0;
        adopt(peer, l, opener);
    }

    /**
     * The peer holds its pool: asks the leader whether its lease ran out and, if so, fences it (SIGKILL
     * to the process its lock file names, as a brick's controllers power each other off) and takes its
     * lock once the process is gone.
     *
     * <p>Why a kill and not a lease alone: a paused process's threads resume where they stopped, some of
     * them between a check and an SSD or journal write, before any check can run again; only its end
     * keeps them off a pool its peer has opened. The pool lock still decides: nothing is opened while the
     * process holds it.
     *
     * @return the peer's pool lock, or null (the lease held, nobody to judge it, the fence refused)
     */
    private PoolLock fenceIfSilent(Member peer) throws IOException {
        long now = System.nanoTime();
        if (now - leaseCheckedNs < leaseCheckNs) {
            return null;
        }
        leaseCheckedNs = now;
        if (!lease.held()) {
            return null; // this controller's own lease first: two that stalled together never fence each other
        }
        Path peerDir = poolDir(peer.getId());
        PoolLock.Owner owner = PoolLock.owner(peerDir); // read before the question: a later holder is not judged
        QueryResult q = lease.leaseOf(peer.getId());
        String view = q.getStatus() != Status.OK ? "unknown" : q.getLease().getExpired() ? "expired" : "held";
        if (q.getStatus() != Status.OK) {
            Log.debug("peer_lease_unknown", "member=" + self.memberId() + " status=" + q.getStatus());
        } else if (!view.equals(peerLease)) {
            Log.info(
                    "peer_lease",
                    "member=" + self.memberId() + " peer=" + ControllerIdentity.memberId(peer.getId()) + " lease="
                            + view
                            + (q.getStatus() == Status.OK
                                    ? " silent_ms=" + q.getLease().getSilentMs() + " leader="
                                            + q.getLease().getLeader()
                                    : " status=" + q.getStatus() + " " + q.getDetail()));
            peerLease = view;
        }
        if (q.getStatus() != Status.OK || !q.getLease().getExpired()) {
            return null; // held, or no leader to judge it (an election): nobody is fenced meanwhile
        }
        Lease ls = q.getLease();
        String pool = ControllerIdentity.memberId(peer.getId());
        if (ls.getLeaseMs() != Leases.leaseMs()) {
            refuseFence("member=" + self.memberId() + " peer=" + pool + " reason=lease_length_differs leader="
                    + ls.getLeader() + " leader_lease_ms=" + ls.getLeaseMs() + " lease_ms=" + Leases.leaseMs()
                    + " fix=the_same_hashbrick.lease-ms_in_every_process");
            return null;
        }
        if (owner == null
                || !owner.equals(PoolLock.owner(peerDir))
                || owner.pid() == ProcessHandle.current().pid()) {
            refuseFence("member=" + self.memberId() + " peer=" + pool + " reason=no_holder_recorded lock="
                    + peerDir.resolve(PoolLock.FILE));
            return null;
        }
        java.util.Optional<ProcessHandle> h = ProcessHandle.of(owner.pid());
        if (h.isPresent()) {
            long start = h.get()
                    .info()
                    .startInstant()
                    .map(java.time.Instant::toEpochMilli)
                    .orElse(-1L);
            if (start <= 0 || owner.startMs() <= 0 || Math.abs(start - owner.startMs()) > 1_000) {
                refuseFence("member=" + self.memberId() + " peer=" + pool + " pid=" + owner.pid()
                        + " reason=pid_not_the_holder recorded_start_ms=" + owner.startMs() + " start_ms="
                        + start);
                return null;
            }
            h.get().destroyForcibly();
            fenced++;
            last = "fenced " + pool;
        } else {
            Log.info("fence_holder_gone", "member=" + self.memberId() + " peer=" + pool + " pid=" + owner.pid());
        }
        Log.warn(
                "controller_fenced",
                "member=" + self.memberId() + " peer=" + pool + " pid=" + owner.pid() + " signal=SIGKILL silent_ms="
                        + ls.getSilentMs() + " lease_ms=" + ls.getLeaseMs() + " leader=" + ls.getLeader());
        long end = System.nanoTime() + FENCE_WAIT_NS;
        while (System.nanoTime() - end < 0 && !stopped) {
            PoolLock l = PoolLock.tryAcquire(peerDir);
            if (l != null) {
                Log.info(
                        "fence_done",
                        "member=" + self.memberId() + " peer=" + pool + " ms="
                                + (System.nanoTime() - now) / 1_000_000L);
                return l;
            }
            pause(5);
        }
        Log.error(
                "fence_not_done",
                "member=" + self.memberId() + " peer=" + pool + " pid=" + owner.pid() + " waited_ms="
                        + FENCE_WAIT_NS / 1_000_000L + " reason=pool_lock_still_held");
        return null;
    }

    private long refusedLoggedNs;

    /** A fence refused: logged at most every 5 s (the question comes again every 100 ms). */
    private void refuseFence(String fields) {
        long now = System.nanoTime();
        if (refusedLoggedNs == 0 || now - refusedLoggedNs > 5_000_000_000L) {
            refusedLoggedNs = now;
            Log.error("fence_refused", fields);
        }
    }

    private void adopt(Member peer, PoolLock l, Opener opener) {
        long t0 = System.nanoTime();
        String pool = ControllerIdentity.memberId(peer.getId());
        Log.warn("pool_failover_started", "member=" + self.memberId() + " pool=" + pool + " reason=peer_gone");
        ClusterRoles roles = new ClusterRoles(maps, peer.getId(), 0);
        MirrorServer m = mirrors;
        if (m != null) { // its journals as this controller's memory holds them, not as its own did
            m.install(peer.getId(), l.dir(), DataPath.NVRAM_FILE, MapStore.NVRAM_FILE);
        }
        Controller c;
        try {
            c = opener.open(l.dir(), VolumeService.refs(l.dir()), roles);
        } catch (IOException | RuntimeException e) {
            Log.error(
                    "pool_failover_failed",
                    "member=" + self.memberId() + " pool=" + pool + " step=open error=" + Log.q(e.toString()));
            roles.close();
            l.close();
            return;
        }
        long opened = System.nanoTime();
        String address = host + ":" + roles.port();
        synchronized (lock) {
            adopted = new Adopted(peer.getId(), l, roles, c, address);
        }
        if (!commitServe(peer.getId(), self.controller(), address)) {
            synchronized (lock) {
                release("commit_failed");
            }
            return;
        }
        failovers++;
        last = "failover " + pool;
        Log.warn(
                "pool_failover",
                "member=" + self.memberId() + " pool=" + pool + " address=" + address + " open_ms="
                        + (opened - t0) / 1_000_000 + " commit_ms=" + (System.nanoTime() - opened) / 1_000_000
                        + " total_ms=" + (System.nanoTime() - t0) / 1_000_000);
        try {
            onPeerLost.accept(peer.getId());
        } catch (RuntimeException e) {
            Log.error(
                    "pool_failover_peer_lost_failed",
                    "member=" + self.memberId() + " pool=" + pool + " error=" + Log.q(e.toString()));
        }
    }

    /**
     * A pool asked back, while it is still served here (the host waits for none of this): a base
     * checkpoint, so that its controller opens a chain of two (this base, the close's delta) rather than
     * of many deltas (385-454 ms to load chains of 6-9 checkpoints, measured; the open is what the host
     * waits for).
     */
    private void baseBeforeReturn(Adopted a) {
        long t0 = System.nanoTime();
        try {
            a.controller().checkpointBase();
            Log.info(
                    "pool_return_checkpoint",
                    "member=" + self.memberId() + " pool=" + ControllerIdentity.memberId(a.pool()) + " ms="
                            + (System.nanoTime() - t0) / 1_000_000);
        } catch (IOException | RuntimeException e) {
            Log.warn(
                    "pool_return_checkpoint_failed",
                    "member=" + self.memberId() + " pool=" + ControllerIdentity.memberId(a.pool())
                            + " effect=the_open_loads_a_longer_chain error=" + Log.q(e.toString()));
        }
    }

    /** Stops serving the adopted pool and closes it (its last checkpoint), then lets its lock go. */
    private void release(String why) {
        Adopted a = adopted;
        if (a == null || releaseFailed) {
            return;
        }
        long t0 = System.nanoTime();
        a.roles().stopServing();
        try {
            a.controller().close();
        } catch (RuntimeException e) {
            // Its threads may still write: the lock stays, so its member never opens it beside them (it
            // waits, then refuses to start with the reason); the operator restarts this controller.
            Log.error(
                    "pool_release_failed",
                    "member=" + self.memberId() + " pool=" + ControllerIdentity.memberId(a.pool())
                            + " action=keeping_the_pool_locked error=" + Log.q(e.toString()));
            releaseFailed = true;
            return;
        }
        a.roles().close();
        a.lock().close();
        adopted = null;
        Log.info(
                "pool_released",
                "member=" + self.memberId() + " pool=" + ControllerIdentity.memberId(a.pool()) + " reason=" + why
                        + " ms=" + (System.nanoTime() - t0) / 1_000_000);
    }

    // ---------------------------------------------------------------- the map

    private Member brickPeer(ClusterMap m) {
        for (Member x : m.getMembersList()) {
            if (x.getId() != self.controller() && x.getBrick() == self.brick()) {
                return x;
            }
        }
        return null;
    }

    private static Member member(ClusterMap m, int id) {
        if (m == null) {
            return null;
        }
        for (Member x : m.getMembersList()) {
            if (x.getId() == id) {
                return x;
            }
        }
        return null;
    }

    /** Commits ServePool at the leader's current epoch, again at a newer one; bounded. */
    private boolean commitServe(int pool, int by, String address) {
        long end = System.nanoTime() + COMMIT_MS * 1_000_000L;
        while (!stopped && System.nanoTime() - end < 0) {
            ClusterClient c = client();
            if (c == null) {
                pause(100);
                continue;
            }
            QueryResult q = c.map();
            if (q.getStatus() != Status.OK) {
                pause(50);
                continue;
            }
            Member now = member(q.getMap(), pool);
            int servedBy = now == null ? -1 : (now.getServedBy() == 0 ? pool : now.getServedBy());
            if (now != null && servedBy == by && now.getAddress().equals(address)) {
                return true;
            }
            Command cmd = c.prepare(Command.newBuilder()
                    .setServePool(ServePool.newBuilder()
                            .setExpectedEpoch(q.getMap().getEpoch())
                            .setPool(pool)
                            .setBy(by)
                            .setAddress(address)));
            CommandResult r = c.submit(cmd);
            if (r.getStatus() == Status.OK) {
                return true;
            }
            if (r.getStatus() != Status.STALE_EPOCH
                    && r.getStatus() != Status.DEADLINE_EXCEEDED
                    && r.getStatus() != Status.UNAVAILABLE) {
                Log.error(
                        "pool_serve_refused",
                        "member=" + self.memberId() + " pool=c" + pool + " by=c" + by + " status=" + r.getStatus() + " "
                                + r.getDetail());
                return false;
            }
            c.abandon(cmd);
            pause(20);
        }
        Log.error(
                "pool_serve_not_committed",
                "member=" + self.memberId() + " pool=c" + pool + " by=c" + by + " waited_ms=" + COMMIT_MS
                        + " reason=no_raft_quorum_or_stopping");
        return false;
    }

    private CommandResult submit(Command.Builder b) {
        ClusterClient c = client();
        return c == null ? null : c.submit(b);
    }

    private synchronized ClusterClient client() {
        if (client == null && !stopped) {
            try {
                client = ClusterClient.connect(cluster.peers(), cluster.tuning(), CALL_DEADLINE);
            } catch (IOException e) {
                Log.info("pool_failover_waiting", "member=" + self.memberId() + " reason=no_quorum");
            }
        }
        return client;
    }

    private static void pause(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** What status shows: the pools this controller serves besides its own, and its failovers. */
    Map<String, Object> status() {
        Map<String, Object> s = new LinkedHashMap<>();
        Adopted a = adopted;
        s.put("serving_peer_pool", a == null ? "" : ControllerIdentity.memberId(a.pool()));
        s.put("fenced", fenced);
        s.put("failovers", failovers);
        s.put("failbacks", failbacks);
        s.put("last", last);
        return s;
    }

    /** Stops watching, then stops serving and closes a peer's pool held here. */
    @Override
    public void close() {
        stopped = true;
        Thread w = watcher;
        if (w != null) {
            w.interrupt();
            try {
                w.join(30_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        synchronized (lock) {
            release("stopping");
        }
        synchronized (this) {
            if (client != null) {
                try {
                    client.close();
                } catch (IOException e) {
                    // stopping
                }
                client = null;
            }
        }
    }
}
