package io.hashbrick.node;

import io.hashbrick.node.catalog.Volume;
import io.hashbrick.node.catalog.VolumeException;
import io.hashbrick.node.catalog.VolumeException.Kind;
import io.hashbrick.node.catalog.VolumeService;
import io.hashbrick.node.cluster.ClusterClient;
import io.hashbrick.node.cluster.ClusterMember;
import io.hashbrick.node.cluster.ClusterPeers;
import io.hashbrick.node.cluster.ClusterStateMachine;
import io.hashbrick.node.cluster.ClusterTuning;
import io.hashbrick.node.cluster.ControllerIdentity;
import io.hashbrick.node.mgmt.VolumeCommands;
import io.hashbrick.proto.cluster.v1.Catalog;
import io.hashbrick.proto.cluster.v1.Command;
import io.hashbrick.proto.cluster.v1.CommandResult;
import io.hashbrick.proto.cluster.v1.CreateVolume;
import io.hashbrick.proto.cluster.v1.DeleteVolume;
import io.hashbrick.proto.cluster.v1.QueryResult;
import io.hashbrick.proto.cluster.v1.ResizeVolume;
import io.hashbrick.proto.cluster.v1.SetReservation;
import io.hashbrick.proto.cluster.v1.Status;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The bridge between the cluster's catalog (Raft, {@code node.cluster}) and this controller's volumes
 * ({@link VolumeService}): in cluster mode every controller holds the volumes of the committed catalog,
 * with the catalog's id, name, LUN, size and block size, and volume changes go through the catalog.
 *
 * <ul>
 *   <li><b>Commands</b> ({@link VolumeCommands}, the management API's create, resize and delete): checked
 *       against the VolumeService's rules, committed as one catalog command (retried with the same
 *       operation id until the group answers, so applied once, for at most the command deadline), and
 *       answered once the change is applied to this controller's VolumeService. No answer in time (no
 *       leader, no quorum): {@link Kind#UNAVAILABLE} (503) with the reason.
 *   <li><b>Applying</b> (one background thread): at start, the catalog read from the leader
 *       (linearizable) is applied to the VolumeService ({@link CatalogReconciler}: creates, grows,
 *       deletes only what the log deleted); afterwards a voter applies its own replica's catalog each
 *       time a change commits (and every 200 ms), a controller that is no voter queries the leader every
 *       200 ms. The VolumeService's own catalog file stays the applied copy: a restart without Raft still
 *       serves its volumes.
 *   <li><b>Default volumes</b> ({@code --luns}): created through the catalog, once for the cluster, by
 *       controller c1 after the placement is committed: volume ids 1..N are lun0..lun(N-1), and once the
 *       catalog's {@code next_volume_id} is above N (every default got its id, whether or not it still
 *       exists) none is created again.
 * </ul>
 *
 * Nothing on the I/O path waits for it: a controller without Raft keeps serving the volumes it holds.
 */
public final class ClusterCatalog implements VolumeCommands, AutoCloseable {
    /**
     * The volume commands of a cluster's controller before its catalog is attached (the placement not
     * committed yet): refused as unavailable (503), never applied to this controller alone.
     */
    static VolumeCommands notYet() {
        return new VolumeCommands() {
            private VolumeException refuse() {
                return new VolumeException(
                        Kind.UNAVAILABLE,
                        "the controller is starting: the cluster's catalog is not attached yet (the placement is"
                                + " not committed); try again");
            }

            @Override
            public Volume create(String name, long sizeBytes, int blockSize) throws VolumeException {
                throw refuse();
            }

            @Override
            public Volume resize(String name, long sizeBytes) throws VolumeException {
                throw refuse();
            }

            @Override
            public void delete(String name) throws VolumeException {
                throw refuse();
            }
        };
    }

    static final Duration CALL_DEADLINE = Duration.ofSeconds(3);
    static final Duration COMMAND_DEADLINE = Duration.ofSeconds(15);
    static final long POLL_MS = 200;
    static final long RETRY_MS = 100;
    /** After a pass that failed unexpectedly: one error line per pause, not one per poll. */
    static final long FAILED_PASS_PAUSE_MS = 5000;
    /** The controller that creates the default volumes. */
    static final int DEFAULTS_CREATOR = 1;

    /** The first-start volumes: lun0..lun(count-1). */
    public record Defaults(int count, long sizeBytes, int blockSize) {}

    private final ControllerIdentity self;
    private final ClusterPeers peers;
    private final ClusterTuning tuning;
    /** This controller's voter, or null. */
    private final ClusterMember voter;

    private final VolumeService volumes;
    private final Defaults defaults;
    private final Duration commandDeadline;
    private final CatalogReconciler reconciler;

    private final CountDownLatch stop = new CountDownLatch(1);
    private final CountDownLatch ready = new CountDownLatch(1);
    private final Semaphore wake = new Semaphore(0);
    private final Runnable onCommit = this::wake;
    private final Thread thread;

    /** Runs after each applied catalog (the volumes' reservations: {@link ClusterReservations#apply}). */
    private final Consumer<Catalog> afterApply;

    private volatile ClusterClient client;
    private volatile boolean reconnect;
    private volatile boolean defaultsDone;

    ClusterCatalog(
            ControllerIdentity self,
            ClusterPeers peers,
            ClusterTuning tuning,
            ClusterMember voter,
            VolumeService volumes,
            String targetName,
            Defaults defaults,
            Duration commandDeadline,
            Consumer<Catalog> afterApply) {
        this.self = self;
        this.afterApply = afterApply;
        this.peers = peers;
        this.tuning = tuning;
        this.voter = voter;
        this.volumes = volumes;
        this.defaults = defaults;
        this.commandDeadline = commandDeadline;
        this.reconciler = new CatalogReconciler(volumes, targetName, self.memberId());
        this.defaultsDone = defaults == null || defaults.count() == 0 || self.controller() != DEFAULTS_CREATOR;
        this.thread = new Thread(this::run, "cluster-catalog");
        thread.setDaemon(true);
    }

    /**
     * Bridges {@code volumes} to the catalog of {@code cluster}'s group and starts applying it. Call
     * once the VolumeService is open; hand the result to the management server
     * ({@code volumeCommands}) and close it before the VolumeService.
     *
     * @param defaults the first-start volumes ({@code --luns}); only controller c1 creates them
     */
    static ClusterCatalog attach(
            ClusterLaunch cluster,
            VolumeService volumes,
            String targetName,
            Defaults defaults,
            Consumer<Catalog> afterApply) {
        ClusterCatalog c = new ClusterCatalog(
                cluster.agent().self(),
                cluster.peers(),
                cluster.tuning(),
                cluster.voter(),
                volumes,
                targetName,
                defaults,
                COMMAND_DEADLINE,
                afterApply);
        c.start();
        return c;
    }

    void start() {
        if (voter != null) {
            voter.stateMachine().addCatalogListener(onCommit);
        }
        thread.start();
    }

    /**
     * Waits until the committed catalog was applied here once and, on the defaults' creator, the default
     * volumes are in it. @return false when that did not happen within {@code timeout}
     */
    public boolean awaitReady(Duration timeout) throws InterruptedException {
        return ready.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    // ---- applying ----

    private void run() {
        boolean first = true;
        while (!stopped()) {
            long pauseMs = first ? RETRY_MS : POLL_MS;
            try {
                if ((client == null || reconnect) && !connect()) {
                    return;
                }
                // The first pass reads the leader's catalog (linearizable); then a voter reads its replica.
                boolean fromLeader = first || voter == null;
                Catalog c = fromLeader
                        ? queried()
                        : voter.stateMachine().catalogView().catalog();
                if (c != null) {
                    applyAll(c, fromLeader ? "leader" : "replica");
                    first = false;
                    if (!defaultsDone) {
                        createDefaults();
                    }
                    if (defaultsDone) {
                        ready.countDown();
                    }
                }
            } catch (RuntimeException e) {
                // Not expected (the reconciler reports what it cannot apply): say so, and keep applying.
                Log.error("cluster_catalog_pass_failed", "member=" + self.memberId() + " error=" + Log.q(e));
                pauseMs = FAILED_PASS_PAUSE_MS;
            }
            if (pauseOrWake(pauseMs)) {
                return;
            }
        }
    }

    private void applyAll(Catalog c, String source) {
        reconciler.apply(c, source);
        afterApply.accept(c);
    }

    /** @return whether a session is open (false: stopped first) */
    private boolean connect() {
        ClusterClient old = client;
        if (old != null) {
            closeQuietly(old);
        }
        int attempts = 0;
        while (!stopped()) {
            attempts++;
            try {
                Duration call = commandDeadline.compareTo(CALL_DEADLINE) < 0 ? commandDeadline : CALL_DEADLINE;
                client = ClusterClient.connect(peers, tuning, call);
                reconnect = false;
                Log.info("cluster_catalog_connected", "member=" + self.memberId() + " attempts=" + attempts);
                return true;
            } catch (IOException e) {
                if (attempts == 1) {
                    Log.info(
                            "cluster_catalog_waiting",
                            "member=" + self.memberId() + " reason=no_quorum_yet error=" + Log.q(e.getMessage()));
                }
                if (pause(POLL_MS)) {
                    return false;
                }
            }
        }
        return false;
    }

    /** The leader's catalog, or null when it could not be read (nothing is applied then). */
    private Catalog queried() {
        QueryResult q = client.catalog();
        if (q.getStatus() == Status.SESSION_EXPIRED) {
            reconnect = true;
        }
        return q.getStatus() == Status.OK ? q.getCatalog() : null;
    }

    /**
     * One round of the default volumes, after the placement is committed: ids 1..N are lun0..lun(N-1);
     * each create is submitted until the group answers (one operation id, applied once).
     */
    private void createDefaults() {
        QueryResult map = client.map();
        if (map.getStatus() != Status.OK || map.getMap().getBucketsCount() == 0) {
            return; // placement not committed yet
        }
        Catalog seen = queried(); // the leader's: a replica catching up could show an older next_volume_id
        if (seen == null) {
            return;
        }
        long next = seen.getNextVolumeId();
        while (next <= defaults.count() && !stopped()) {
            String name = "lun" + (next - 1);
            Command create = client.prepare(Command.newBuilder()
                    .setCreateVolume(CreateVolume.newBuilder()
                            .setName(name)
                            .setSizeBytes(defaults.sizeBytes())
                            .setBlockSize(defaults.blockSize())));
            CommandResult r = submitUntilAnswered(client, create, null);
            if (r == null) {
                return;
            }
            Log.info(
                    "cluster_catalog_default_volume",
                    "member=" + self.memberId() + " name=" + name + " status=" + r.getStatus() + " volume="
                            + r.getVolumeId() + " index=" + r.getIndex() + " " + r.getDetail());
            if (r.getStatus() != Status.OK && r.getStatus() != Status.ALREADY_EXISTS) {
                Log.warn(
                        "cluster_catalog_defaults_stopped",
                        "member=" + self.memberId() + " name=" + name + " status=" + r.getStatus() + " "
                                + r.getDetail());
                break;
            }
            Catalog c = queried();
            if (c == null) {
                return; // the next round reads the catalog again
            }
            applyAll(c, "leader");
            if (c.getNextVolumeId() <= next) {
                break; // ALREADY_EXISTS took no id: another controller is making them
            }
            next = c.getNextVolumeId();
        }
        defaultsDone = true;
    }

    // ---- commands ----

    @Override
    public Volume create(String name, long sizeBytes, int blockSize) throws VolumeException {
        VolumeService.validate(name, sizeBytes, blockSize);
        CommandResult r = commit(
                Command.newBuilder()
                        .setCreateVolume(CreateVolume.newBuilder()
                                .setName(name)
                                .setSizeBytes(sizeBytes)
                                .setBlockSize(blockSize)),
                "create name=" + name);
        refuse(r, "create name=" + name, r.getStatus() == Status.ALREADY_EXISTS ? "volume exists: name=" + name : null);
        Volume v = appliedHere(r.getIndex(), r.getVolumeId(), "create name=" + name);
        if (v == null) {
            throw notApplied(r.getVolumeId(), "create name=" + name);
        }
        return v;
    }

    @Override
    public Volume resize(String name, long sizeBytes) throws VolumeException {
        io.hashbrick.proto.cluster.v1.Volume current = require(name);
        if (sizeBytes % 4096 != 0 || sizeBytes < current.getSizeBytes()) {
            throw new VolumeException(
                    sizeBytes < current.getSizeBytes() ? Kind.CONFLICT : Kind.INVALID,
                    "a volume only grows, in multiples of 4096: name=" + name + " size_bytes=" + current.getSizeBytes()
                            + " new_size_bytes=" + sizeBytes);
        }
        String what = "resize name=" + name + " volume=" + current.getId();
        CommandResult r = commit(
                Command.newBuilder()
                        .setResizeVolume(ResizeVolume.newBuilder()
                                .setVolumeId(current.getId())
                                .setSizeBytes(sizeBytes)),
                what);
        refuse(r, what, r.getStatus() == Status.NOT_FOUND ? "no such volume: name=" + name : null);
        Volume v = appliedHere(r.getIndex(), current.getId(), what);
        if (v == null || v.sizeBytes() < sizeBytes) {
            throw notApplied(current.getId(), what);
        }
        return v;
    }

    @Override
    public void delete(String name) throws VolumeException {
        io.hashbrick.proto.cluster.v1.Volume current = require(name);
        String what = "delete name=" + name + " volume=" + current.getId();
        CommandResult r = commit(
                Command.newBuilder().setDeleteVolume(DeleteVolume.newBuilder().setVolumeId(current.getId())), what);
        refuse(r, what, r.getStatus() == Status.NOT_FOUND ? "no such volume: name=" + name : null);
        if (appliedHere(r.getIndex(), current.getId(), what) != null) {
            throw notApplied(current.getId(), what);
        }
    }

    // ---- reservations (ClusterReservations)

    /**
     * Commits a volume's new reservations (compare-and-set on their version), retried with its operation
     * id until answered or {@code endNanos}. @return the answer, null when none came in time or stopping
     */
    CommandResult commitReservation(SetReservation change, long endNanos) throws VolumeException {
        CommandResult r = submit(Command.newBuilder().setSetReservation(change), endNanos);
        return r == null || r.getStatus() == Status.DEADLINE_EXCEEDED || r.getStatus() == Status.UNAVAILABLE ? null : r;
    }

    /** The leader's catalog (linearizable), or null when it could not be read. */
    Catalog leaderCatalog() {
        ClusterClient c = client;
        if (c == null || reconnect) {
            return null;
        }
        QueryResult q = c.catalog();
        return q.getStatus() == Status.OK ? q.getCatalog() : null;
    }

    /** The catalog's volume of that name, read from the leader. */
    private io.hashbrick.proto.cluster.v1.Volume require(String name) throws VolumeException {
        ClusterClient c = requireClient();
        QueryResult q = c.catalog();
        if (q.getStatus() != Status.OK) {
            throw unavailable("read the catalog", q.getStatus(), q.getDetail());
        }
        for (io.hashbrick.proto.cluster.v1.Volume v : q.getCatalog().getVolumesList()) {
            if (v.getName().equals(name)) {
                return v;
            }
        }
        throw new VolumeException(Kind.NOT_FOUND, "no such volume: name=" + name);
    }

    /** Commits one command, retried with its operation id until answered or the command deadline passes. */
    private CommandResult commit(Command.Builder command, String what) throws VolumeException {
        CommandResult r = submit(command, System.nanoTime() + commandDeadline.toNanos());
        if (r == null) {
            throw unavailable(what, Status.UNAVAILABLE, "stopping");
        }
        if (r.getStatus() == Status.DEADLINE_EXCEEDED || r.getStatus() == Status.UNAVAILABLE) {
            throw new VolumeException(
                    Kind.UNAVAILABLE,
                    "the cluster catalog did not commit " + what + " within " + commandDeadline.toSeconds()
                            + " s (no Raft leader or no quorum): status=" + r.getStatus() + " " + r.getDetail()
                            + "; it may still be applied: list the volumes before retrying");
        }
        return r;
    }

    /**
     * Prepares {@code command} with this controller's session and submits it until answered or {@code
     * endNanos} (an expired session reconnects at the next pass). @return the answer, null when stopping
     */
    private CommandResult submit(Command.Builder command, long endNanos) throws VolumeException {
        ClusterClient c = requireClient();
        CommandResult r = submitUntilAnswered(c, c.prepare(command), endNanos);
        if (r != null && r.getStatus() == Status.SESSION_EXPIRED) {
            reconnect = true;
            wake();
        }
        return r;
    }

    /**
     * Submits until the group answers, each attempt bounded by the client's deadline. @param endNanos
     * when to give up (null: only when stopped) @return the answer, the last failure at the end, or null
     * when stopped
     */
    private CommandResult submitUntilAnswered(ClusterClient c, Command command, Long endNanos) {
        while (true) {
            CommandResult r = c.submit(command);
            boolean retry = r.getStatus() == Status.DEADLINE_EXCEEDED || r.getStatus() == Status.UNAVAILABLE;
            if (!retry) {
                return r;
            }
            if (endNanos != null && System.nanoTime() - endNanos >= 0) {
                c.abandon(command);
                return r;
            }
            if (pause(RETRY_MS)) {
                c.abandon(command);
                return null;
            }
        }
    }

    /**
     * Applies a catalog at least as new as log index {@code index} here, then finds volume {@code id}.
     * @return the volume as held here, or null when this controller does not hold it
     */
    private Volume appliedHere(long index, long id, String what) throws VolumeException {
        long end = System.nanoTime() + commandDeadline.toNanos();
        while (true) {
            Catalog c = catalogAtLeast(index);
            if (c != null) {
                applyAll(c, "command");
                return CatalogReconciler.byId(volumes.list(), id);
            }
            if (System.nanoTime() - end >= 0) {
                throw unavailable(what + " (committed at index " + index + ", not yet applied here)", null, "");
            }
            if (pause(RETRY_MS)) {
                throw unavailable(what, Status.UNAVAILABLE, "stopping");
            }
        }
    }

    /** A committed catalog that includes log index {@code index}, or null when none is at hand yet. */
    private Catalog catalogAtLeast(long index) {
        if (voter != null) {
            ClusterStateMachine sm = voter.stateMachine();
            if (sm.appliedIndex() >= index) { // the view is published before the index moves
                return sm.catalogView().catalog();
            }
        }
        QueryResult q = client.catalog();
        return q.getStatus() == Status.OK && q.getAppliedIndex() >= index ? q.getCatalog() : null;
    }

    private ClusterClient requireClient() throws VolumeException {
        ClusterClient c = client;
        if (c == null || reconnect) {
            throw unavailable("reach the cluster catalog", Status.UNAVAILABLE, "no session with the Raft group yet");
        }
        return c;
    }

    private static void refuse(CommandResult r, String what, String message) throws VolumeException {
        Status s = r.getStatus();
        if (s == Status.OK) {
            return;
        }
        String detail = (message == null ? "cluster catalog refused " + what : message) + " (status=" + s + " "
                + r.getDetail() + ")";
        Kind kind =
                switch (s) {
                    case INVALID_ARGUMENT, MALFORMED ->
                        r.getDetail().contains("reason=shrink") ? Kind.CONFLICT : Kind.INVALID;
                    case NOT_FOUND -> Kind.NOT_FOUND;
                    case ALREADY_EXISTS, IN_USE -> Kind.CONFLICT;
                    default -> Kind.UNAVAILABLE;
                };
        throw new VolumeException(kind, detail);
    }

    private VolumeException notApplied(long id, String what) {
        String why = reconciler.failure(id);
        return new VolumeException(
                Kind.CONFLICT,
                "committed in the cluster catalog but not applied on this controller: " + what + " member="
                        + self.memberId() + " reason="
                        + (why == null ? "see cluster_catalog_mismatch in the log" : why));
    }

    private VolumeException unavailable(String what, Status status, String detail) {
        return new VolumeException(
                Kind.UNAVAILABLE,
                "the cluster catalog is unavailable (no Raft leader or no quorum): could not " + what
                        + (status == null ? "" : " status=" + status) + (detail.isEmpty() ? "" : " " + detail));
    }

    // ---- threads ----

    private void wake() {
        if (wake.availablePermits() == 0) {
            wake.release();
        }
    }

    private boolean stopped() {
        return stop.getCount() == 0;
    }

    /** @return true when stopped */
    private boolean pause(long ms) {
        try {
            return stop.await(ms, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return true;
        }
    }

    /** Waits for a committed change (a voter's signal) or {@code ms}. @return true when stopped */
    private boolean pauseOrWake(long ms) {
        try {
            if (wake.tryAcquire(ms, TimeUnit.MILLISECONDS)) {
                wake.drainPermits();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return true;
        }
        return stopped();
    }

    private static void closeQuietly(ClusterClient c) {
        try {
            c.close();
        } catch (IOException e) {
            Log.debug("cluster_catalog_client_close_failed", "error=" + Log.q(e.getMessage()));
        }
    }

    @Override
    public void close() {
        stop.countDown();
        wake.release();
        if (voter != null) {
            voter.stateMachine().removeCatalogListener(onCommit);
        }
        try {
            thread.join(CALL_DEADLINE.toMillis() * 2 + 1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        ClusterClient c = client;
        if (c != null) {
            closeQuietly(c);
        }
    }
}
