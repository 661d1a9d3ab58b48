package io.hashbrick.node;

import io.hashbrick.node.api.BlockCodec;
import io.hashbrick.node.api.DataService;
import io.hashbrick.node.api.local.LocalDataService;
import io.hashbrick.node.audit.Census;
import io.hashbrick.node.data.DataPath;
import io.hashbrick.node.mirror.MirrorSender;
import io.hashbrick.node.volume.MapStore;
import io.hashbrick.node.volume.VolumeRef;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One controller's C and D roles, wired (DESIGN.md "Inside controller-node": Main wires the roles
 * together). D ({@link DataPath}) and C ({@link MapStore}) each own their state, their lock and their
 * journal; C's checkpoint sections ride in D's metadata-area checkpoints. C reaches D only through
 * D's contract (its deref outbox), the census ({@code audit}) is the only code that reads both.
 *
 * <p>Start-up order: C is created empty; D opens (its checkpoint, with C's sections handed to C, and
 * its journal, with any C records from before C had a journal handed to C); C replays its own journal
 * and makes its volumes match the catalog; C's outbox left by a crash drains to D; the census reclaims
 * references a crash left between a put and its map and audits the refcounts; then D's destage thread
 * and C's drainer start. Close: C's drainer stops and the outbox drains, D writes its last checkpoint
 * (with C's sections), C's journal closes.
 */
public final class Controller implements AutoCloseable {
    private final DataPath data;
    private final MapStore maps;
    /** A cluster's controller: its C's references live on other controllers' D too (no local census). */
    private final boolean clustered;

    private Controller(DataPath data, MapStore maps, boolean clustered) {
        this.data = data;
        this.maps = maps;
        this.clustered = clustered;
    }

    /**
     * How a cluster's controller binds its roles: {@link #attach} serves this controller's D and C to the
     * others (and to its own front end) once they are open; C's outbox derefs through {@link #outbox},
     * routed to each handle's D owner, as {@link #outboxSender}.
     */
    public interface Cluster {
        void attach(Controller c) throws IOException;

        DataService outbox();

        int outboxSender();
    }

    /**
     * Opens a cluster's controller: as {@link #open}, but C's outbox goes to the D owners of the cluster
     * map, and the census at start is skipped (C's references are spread over every controller's D; a
     * cluster-wide census is not built yet), logged as {@code recovery_references skipped=true}.
     */
    public static Controller openInCluster(Path dir, DataPath.Config config, List<VolumeRef> catalog, Cluster cluster)
            throws IOException {
        return openInCluster(dir, config, catalog, cluster, null);
    }

    /**
     * As above, with D's and C's journals mirrored to the brick peer through {@code mirror} (this
     * controller's own pool; null: not mirrored, as a peer's pool served here after a failover).
     */
    public static Controller openInCluster(
            Path dir, DataPath.Config config, List<VolumeRef> catalog, Cluster cluster, MirrorSender mirror)
            throws IOException {
        long t0 = System.nanoTime();
        MapStore maps = MapStore.create(dir, MapStore.nvramBytesFor(config.nvramBytes()), config.seams());
        if (mirror != null) {
            maps.mirror(mirror.view(1));
        }
        DataPath data =
                mirror == null ? DataPath.open(dir, config, maps) : DataPath.open(dir, config, maps, mirror.view(0));
        Controller c = new Controller(data, maps, true);
        try {
            maps.recover(catalog);
            if (mirror != null) {
                mirror.attach(0, data.journalForMirror());
                mirror.attach(1, maps.journalForMirror());
            }
            cluster.attach(c);
            maps.bind(cluster.outbox(), () -> true, cluster.outboxSender()); // a put's D owner refuses
        } catch (IOException | RuntimeException e) {
            maps.crashForTest();
            data.crashForTest();
            throw e;
        }
        Log.info(
                "recovery_references",
                "skipped=true reason=cluster_census_not_built outbox_handles=" + maps.outboxSize()
                        + " effect=a_crash_between_put_and_map_may_leak_references");
        data.start();
        maps.start();
        Log.info(
                "controller_open",
                "volumes=" + catalog.size() + " cluster=true ms=" + (System.nanoTime() - t0) / 1_000_000);
        return c;
    }

    /** Whether this is a cluster's controller (no census of its own). */
    public boolean clustered() {
        return clustered;
    }

    /** Opens (or creates) the controller's roles in {@code dir} for the volumes {@code catalog} lists. */
    public static Controller open(Path dir, DataPath.Config config, List<VolumeRef> catalog) throws IOException {
        return open(dir, config, catalog, -1);
    }

    /** Tests: {@code h2pMaxSlots} entries per H2P bucket at most (a new pool only; -1: the default). */
    public static Controller open(Path dir, DataPath.Config config, List<VolumeRef> catalog, long h2pMaxSlots)
            throws IOException {
        long t0 = System.nanoTime();
        MapStore maps = MapStore.create(dir, MapStore.nvramBytesFor(config.nvramBytes()), config.seams());
        DataPath data =
                h2pMaxSlots < 0 ? DataPath.open(dir, config, maps) : DataPath.open(dir, config, maps, h2pMaxSlots);
        Controller c = new Controller(data, maps, false);
        try {
            maps.recover(catalog);
            maps.bind(new LocalDataService(data, 0), data::writable);
            c.recoverReferences(config.fullAuditAtStart());
        } catch (IOException | RuntimeException e) {
            maps.crashForTest(); // nothing more written: the journals keep what they hold
            data.crashForTest();
            throw e;
        }
        data.start();
        maps.start();
        Log.info("controller_open", "volumes=" + catalog.size() + " ms=" + (System.nanoTime() - t0) / 1_000_000);
        return c;
    }

    private void recoverReferences(boolean fullAudit) {
        int outboxAtStart = maps.outboxSize();
        maps.drainOutbox(); // C's outbox left by the crash goes to D (a batch D applied already is a duplicate)
        long reclaimed = Census.reclaimLeaked(maps, data);
        if (outboxAtStart > 0 || reclaimed > 0) {
            Log.info(
                    "recovery_references",
                    "outbox_drained=" + (outboxAtStart - maps.outboxSize()) + " outbox_left=" + maps.outboxSize()
                            + " leaked_references_reclaimed=" + reclaimed);
        }
        DataPath.AuditReport audit = Census.audit(maps, data, fullAudit);
        if (audit.discrepancies() > 0) {
            Log.error("audit_at_start", audit.toLogString());
        } else {
            Log.info("audit_at_start", audit.toLogString());
        }
    }

    /** D: the block service, destage, XDP, H2P. */
    public DataPath data() {
        return data;
    }

    /** C: the A2H maps, C's journal and the deref outbox. */
    public MapStore maps() {
        return maps;
    }

    /** The census: refcounts against C's references (and every block against its fingerprint). */
    public DataPath.AuditReport audit(boolean fingerprints) {
        if (clustered) {
            throw new IllegalStateException("the census of a cluster's controller needs every controller's"
                    + " references: not built yet (issue 19)");
        }
        return Census.audit(maps, data, fingerprints);
    }

    /** Writes a checkpoint of D and C now. */
    public void checkpoint() throws IOException {
        data.checkpoint();
    }

    /**
     * Writes a base checkpoint now (every page, the chain starts again): whoever opens the pool next
     * loads one base and what follows it, not a long chain of deltas (a failback's open, which the host
     * waits for: 385-454 ms for chains of 6-9 checkpoints, measured).
     */
    public void checkpointBase() throws IOException {
        data.checkpointBase();
    }

    /** The statistics `hashbrick stats` prints: those of both roles and those that need both. */
    public Map<String, Object> stats() {
        Map<String, Object> c = maps.stats();
        Map<String, Object> d = data.stats();
        long mapped = (Long) c.get("mapped_blocks");
        long unique = (Long) d.get("unique_blocks");
        long physical = (Long) d.get("physical_bytes");
        long a2hRam = (Long) c.get("a2h_ram_bytes");
        long logical = mapped * BlockCodec.BLOCK_BYTES;
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("logical_bytes", logical);
        s.put("physical_bytes", physical);
        s.put("unique_blocks", unique);
        s.put("mapped_blocks", mapped);
        s.put("h2p_ram_bytes", d.get("h2p_ram_bytes"));
        s.put("a2h_ram_bytes", a2hRam);
        s.put("dedup_ratio", DataPath.ratio(mapped, unique));
        s.put("compression_ratio", d.get("compression_ratio"));
        s.put("data_reduction_ratio", DataPath.ratio(logical, physical));
        s.put("h2p_bytes_per_unique_block", d.get("h2p_bytes_per_unique_block"));
        s.put("a2h_bytes_per_mapped_block", DataPath.ratio(a2hRam, mapped));
        s.putAll(d);
        s.putAll(c);
        long hostBlocks = (Long) d.get("writes_unique_blocks")
                + (Long) d.get("writes_duplicate_blocks")
                + (Long) c.get("writes_zero_blocks");
        s.put(
                "ssd_writes_per_host_block",
                hostBlocks == 0
                        ? 0.0
                        : Math.round(1000.0 * (Long) d.get("ssd_cells_written_total") / hostBlocks) / 1000.0);
        return s;
    }

    /** Stops C's drainer and drains the outbox, then D's last checkpoint (with C's sections), then C closes. */
    @Override
    public void close() {
        maps.stop();
        maps.drainOutbox(); // references of the last overwrites dropped before the final checkpoint
        data.close();
        maps.close();
    }

    /** Tests: the process dies here (SIGKILL): no drain, no checkpoint; the journals keep what they hold. */
    public void crashForTest() {
        maps.crashForTest();
        data.crashForTest();
    }
}
