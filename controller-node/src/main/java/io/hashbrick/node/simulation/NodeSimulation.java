package io.hashbrick.node.simulation;

import io.hashbrick.node.Controller;
import io.hashbrick.node.Main;
import io.hashbrick.node.Plant;
import io.hashbrick.node.Seams;
import io.hashbrick.node.api.FetchCall;
import io.hashbrick.node.api.ResolveCall;
import io.hashbrick.node.api.Status;
import io.hashbrick.node.block.BlockDevice;
import io.hashbrick.node.block.IoStatus;
import io.hashbrick.node.data.DataPath;
import io.hashbrick.node.volume.VolumeRef;
import io.hashbrick.sim.Health;
import io.hashbrick.sim.PowerCutSummary;
import io.hashbrick.sim.SsdOptions;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.stream.Stream;

/**
 * One seeded run of one controller (R's pipelines, C and D over the in-process binding, the DAE's
 * simulated SSDs and battery-backed memory on real files) under a simulated clock, with no thread of
 * its own: every step (a host write, read or unmap, a read split across a resolve and a later fetch,
 * a destage round, an outbox drain, a checkpoint, a crash, an SSD failure) is drawn from the seed and
 * run here, one at a time. The seed decides everything the run does, so a seed replays: the digest of
 * what the run did and saw is the same for the same seed, bit for bit.
 *
 * <p>The checker, after every step that reads and after every crash: an acknowledged write reads back
 * (the model holds the last acknowledged pattern of every block); a read split across other steps
 * returns the pattern the block held at its resolve or one a later write put there (or STALE_HANDLE,
 * on which R resolves again), never another block's data; after every recovery and at the end the
 * refcount audit (the census, fingerprints verified) finds nothing wrong.
 *
 * <p>What it does not model yet (issue 16 step g continues): the iSCSI layer over an in-memory
 * network (R's pipelines are driven through the volume devices the iSCSI target serves), concurrency
 * inside a step, power loss of the SSDs' volatile caches (a crash here is a process crash: what a
 * drive acknowledged stays), slow and corrupt SSDs.
 */
public final class NodeSimulation {
    static final int VOLUMES = 2;
    static final int BLOCKS = 64;
    static final int MAX_RUN = 4;
    private static final int SPLIT_READS_MAX = 2;
    private static final int FAILED_SSDS_MAX = 2;

    /** How a run went: its seed, its digest, and the first violation (null: none). */
    public record Result(
            long seed,
            String digest,
            int steps,
            int crashes,
            int powerCuts,
            long ssdWritesLost,
            int checks,
            String violation) {
        public boolean ok() {
            return violation == null;
        }
    }

    /** A checker violation: the run's step and what broke. */
    static final class Violation extends RuntimeException {
        Violation(String message) {
            super(message, null, false, false);
        }
    }

    private final long seed;
    private final int steps;
    private final Path dir;
    private final SplittableRandom rnd;
    private final SimulatedClock clock = new SimulatedClock();
    private final BlockPatterns patterns = BlockPatterns.get();
    private final MessageDigest digest;
    private final DataPath.Config config;
    private final List<VolumeRef> catalog = new ArrayList<>();
    /** The last acknowledged pattern of every block ({@link BlockPatterns#ZERO}: unmapped). */
    private final int[][] model = new int[VOLUMES + 1][BLOCKS];

    private final List<SplitRead> splitReads = new ArrayList<>();
    private final ByteBuffer buffer = ByteBuffer.allocateDirect(MAX_RUN * BlockPatterns.B);
    private Controller controller;
    private final BlockDevice[] devices = new BlockDevice[VOLUMES + 1];
    private int step;
    private int crashes;
    private int powerCuts;
    /** SSD writes a power cut dropped or tore (acknowledged by the drive, never flushed). */
    private long ssdWritesLost;

    private int checks;
    private int failedSsds;

    /** A read whose resolve ran and whose fetch runs some steps later. */
    private static final class SplitRead {
        final int volume;
        final long first;
        final int count;
        final ResolveCall resolve = new ResolveCall(MAX_RUN);
        /** Per block: bit p set for each pattern p the block may hold; bit 63 for zeros. */
        final long[] allowed = new long[MAX_RUN];

        SplitRead(int volume, long first, int count) {
            this.volume = volume;
            this.first = first;
            this.count = count;
        }
    }

    private NodeSimulation(long seed, Set<Plant> plants, int steps, Path dir) {
        this.seed = seed;
        this.steps = steps;
        this.dir = dir;
        this.rnd = new SplittableRandom(seed);
        try {
            this.digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        // The SSDs model a volatile write cache: a power cut loses (or tears) what no flush covered.
        Seams seams = new Seams(
                clock,
                seed == 0 ? 1 : seed,
                false,
                plants,
                SsdOptions.defaults().withVolatileCache(16L << 20));
        // 6 SSDs of 32 MiB (the metadata area takes 16), 4 MiB NVRAM, a checkpoint every 2 s of simulated
        // time, a 1 MiB read cache, the full audit (fingerprints) at every start.
        this.config = new DataPath.Config(6, 32L << 20, 4L << 20, 2_000, 1L << 20, true).withSeams(seams);
        for (int v = 1; v <= VOLUMES; v++) {
            catalog.add(new VolumeRef(v, BLOCKS));
            java.util.Arrays.fill(model[v], BlockPatterns.ZERO);
        }
    }

    /**
     * Runs seed {@code seed} for {@code steps} steps in a new directory under {@code workDir} (removed
     * afterwards unless {@code keep}).
     */
    public static Result run(long seed, Set<Plant> plants, int steps, Path workDir, boolean keep) throws IOException {
        Files.createDirectories(workDir);
        Path dir = Files.createTempDirectory(workDir, "seed-" + Long.toUnsignedString(seed) + "-");
        NodeSimulation sim = new NodeSimulation(seed, plants, steps, dir);
        try {
            return sim.run();
        } finally {
            if (!keep) {
                deleteTree(dir);
            }
        }
    }

    private Result run() {
        String violation = null;
        try {
            open();
            for (step = 0; step < steps; step++) {
                clock.advance(rnd.nextLong(50_000_000L));
                oneStep();
            }
            closeAndCheck();
        } catch (Violation v) {
            violation = v.getMessage();
        } catch (IOException | RuntimeException | AssertionError e) {
            violation = "step=" + step + " unexpected=" + e;
        } finally {
            if (controller != null) {
                controller.crashForTest(); // after a violation: leave, write nothing more
                controller = null;
            }
        }
        trace("end " + (violation == null ? "ok" : "violation"));
        return new Result(
                seed,
                HexFormat.of().formatHex(digest.digest()),
                step,
                crashes,
                powerCuts,
                ssdWritesLost,
                checks,
                violation);
    }

    private void oneStep() throws IOException {
        int dice = rnd.nextInt(1000);
        if (dice < 330) {
            write();
        } else if (dice < 500) {
            read();
        } else if (dice < 580) {
            beginSplitRead();
        } else if (dice < 660) {
            endSplitRead();
        } else if (dice < 710) {
            unmap();
        } else if (dice < 840) {
            trace("destage " + controller.data().destageRound());
        } else if (dice < 900) {
            controller.maps().drainOutbox();
            trace("drain");
        } else if (dice < 940) {
            controller.checkpoint();
            trace("checkpoint");
        } else if (dice < 960) {
            crashAndRecover();
        } else if (dice < 965) {
            failSsd();
        } else {
            trace("idle");
        }
    }

    // ------------------------------------------------------------------ host I/O through R

    private void write() throws IOException {
        relieveJournals();
        int v = 1 + rnd.nextInt(VOLUMES);
        int n = 1 + rnd.nextInt(MAX_RUN);
        long first = rnd.nextInt(BLOCKS - n + 1);
        int[] ids = new int[n];
        StringBuilder t =
                new StringBuilder("write v=").append(v).append(" lba=").append(first);
        for (int i = 0; i < n; i++) {
            ids[i] = rnd.nextInt(20) == 0 ? BlockPatterns.ZERO : rnd.nextInt(BlockPatterns.COUNT);
            patterns.write(ids[i], buffer, i * BlockPatterns.B);
            t.append(' ').append(ids[i]);
        }
        IoStatus s = devices[v].write(first, n, buffer.duplicate().position(0).limit(n * BlockPatterns.B), false);
        trace(t.append(" -> ").append(s).toString());
        if (s != IoStatus.OK) {
            throw violation("write refused: volume=" + v + " lba=" + first + " blocks=" + n + " status=" + s);
        }
        for (int i = 0; i < n; i++) {
            acknowledged(v, first + i, ids[i]);
        }
    }

    private void unmap() {
        int v = 1 + rnd.nextInt(VOLUMES);
        int n = 1 + rnd.nextInt(MAX_RUN);
        long first = rnd.nextInt(BLOCKS - n + 1);
        IoStatus s = devices[v].unmap(first, n);
        trace("unmap v=" + v + " lba=" + first + " n=" + n + " -> " + s);
        if (s != IoStatus.OK) {
            throw violation("unmap refused: volume=" + v + " lba=" + first + " blocks=" + n + " status=" + s);
        }
        for (int i = 0; i < n; i++) {
            acknowledged(v, first + i, BlockPatterns.ZERO);
        }
    }

    /** The model and every read in flight over the block learn what a write acknowledged. */
    private void acknowledged(int v, long block, int id) {
        model[v][(int) block] = id;
        for (SplitRead r : splitReads) {
            if (r.volume == v && block >= r.first && block < r.first + r.count) {
                r.allowed[(int) (block - r.first)] |= bit(id);
            }
        }
    }

    private void read() {
        int v = 1 + rnd.nextInt(VOLUMES);
        int n = 1 + rnd.nextInt(MAX_RUN);
        long first = rnd.nextInt(BLOCKS - n + 1);
        checkRead(v, first, n, "read");
    }

    /** Reads blocks through R and checks each against the model's last acknowledged pattern. */
    private void checkRead(int v, long first, int n, String what) {
        ByteBuffer dst = buffer.duplicate().position(0).limit(n * BlockPatterns.B);
        IoStatus s = devices[v].read(first, n, dst);
        StringBuilder t =
                new StringBuilder(what).append(" v=").append(v).append(" lba=").append(first);
        if (s != IoStatus.OK) {
            trace(t.append(" -> ").append(s).toString());
            throw violation(what + " failed: volume=" + v + " lba=" + first + " blocks=" + n + " status=" + s);
        }
        for (int i = 0; i < n; i++) {
            int got = patterns.identify(buffer, i * BlockPatterns.B);
            int want = model[v][(int) first + i];
            t.append(' ').append(got);
            checks++;
            if (got != want) {
                trace(t.toString());
                throw violation(what + " returned the wrong block: volume=" + v + " lba=" + (first + i) + " expected="
                        + name(want) + " got=" + name(got));
            }
        }
        trace(t.toString());
    }

    /** R's resolve now, its fetch at a later step: what a read sees while writes and drains go on. */
    private void beginSplitRead() {
        if (splitReads.size() >= SPLIT_READS_MAX) {
            trace("split_read busy");
            return;
        }
        int v = 1 + rnd.nextInt(VOLUMES);
        int n = 1 + rnd.nextInt(MAX_RUN);
        long first = rnd.nextInt(BLOCKS - n + 1);
        SplitRead r = new SplitRead(v, first, n);
        r.resolve.header(0, step, 7);
        r.resolve.volume = v;
        r.resolve.firstBlock = first;
        r.resolve.count = n;
        controller.maps().resolve(r.resolve);
        if (r.resolve.status != Status.OK) {
            throw violation("resolve failed: volume=" + v + " lba=" + first + " status=" + r.resolve.status);
        }
        for (int i = 0; i < n; i++) {
            r.allowed[i] = bit(model[v][(int) first + i]);
        }
        splitReads.add(r);
        trace("resolve v=" + v + " lba=" + first + " n=" + n);
    }

    private void endSplitRead() {
        if (splitReads.isEmpty()) {
            trace("fetch none");
            return;
        }
        SplitRead r = splitReads.remove(rnd.nextInt(splitReads.size()));
        FetchCall f = new FetchCall(MAX_RUN);
        f.header(0, step, 7);
        System.arraycopy(r.resolve.handles, 0, f.handles, 0, r.count);
        f.count = r.count;
        f.dst = buffer.duplicate().position(0).limit(r.count * BlockPatterns.B);
        f.dstOffset = 0;
        controller.data().fetch(f);
        StringBuilder t =
                new StringBuilder("fetch v=").append(r.volume).append(" lba=").append(r.first);
        for (int i = 0; i < r.count; i++) {
            Status s = f.blockStatus[i];
            if (s == Status.STALE_HANDLE) {
                t.append(" stale");
                continue; // R resolves again
            }
            if (s != Status.OK) {
                trace(t.toString());
                throw violation("fetch failed: volume=" + r.volume + " lba=" + (r.first + i) + " status=" + s);
            }
            int got = patterns.identify(buffer, i * BlockPatterns.B);
            t.append(' ').append(got);
            checks++;
            if ((r.allowed[i] & bit(got)) == 0 || got == BlockPatterns.NONE) {
                trace(t.toString());
                throw violation("a read returned a block this one never held while it ran: volume=" + r.volume + " lba="
                        + (r.first + i) + " got=" + name(got) + " allowed=" + names(r.allowed[i]));
            }
        }
        trace(t.toString());
    }

    // ------------------------------------------------------------------ faults and recovery

    /**
     * The process dies; half the time the power goes with it: the SSDs lose, keep or tear what no flush
     * covered (seeded), the battery-backed memory keeps everything.
     */
    private void crashAndRecover() throws IOException {
        crashes++;
        splitReads.clear(); // the process died: so did its reads in flight
        if (rnd.nextBoolean()) {
            PowerCutSummary cut = controller.data().dae().powerCut(rnd.nextLong());
            powerCuts++;
            ssdWritesLost += cut.writesDropped() + cut.writesTorn();
            trace("power_cut " + cut);
        } else {
            trace("crash");
        }
        controller.crashForTest();
        controller = null;
        open();
        verifyAll("after_crash");
    }

    private void failSsd() {
        if (failedSsds >= FAILED_SSDS_MAX) {
            trace("fail_ssd enough");
            return;
        }
        int slot = rnd.nextInt(config.ssds());
        if (controller.data().dae().health(slot) != Health.OK) {
            trace("fail_ssd " + slot + " already");
            return;
        }
        controller.data().dae().slot(slot).fail();
        failedSsds++;
        trace("fail_ssd " + slot);
    }

    /** Keeps both journals clear of back-pressure: with no destage thread a full journal would wait. */
    private void relieveJournals() throws IOException {
        Map<String, Object> s = controller.stats();
        if (fill(s, "journal_reserved_bytes", "journal_capacity_bytes") > 0.3
                || fill(s, "map_journal_reserved_bytes", "map_journal_capacity_bytes") > 0.3
                || (Long) s.get("journal_block_bytes") > config.nvramBytes() / 8) {
            controller.data().destageRound();
            controller.checkpoint();
            trace("relieve");
        }
    }

    private static double fill(Map<String, Object> s, String used, String capacity) {
        return ((Number) s.get(used)).doubleValue() / ((Number) s.get(capacity)).doubleValue();
    }

    private void open() throws IOException {
        controller = Controller.open(dir, config, catalog);
        for (int v = 1; v <= VOLUMES; v++) {
            devices[v] = Main.LOCAL_ROLES.open(controller, v, (long) BLOCKS * BlockPatterns.B, BlockPatterns.B);
        }
        audit("open");
    }

    private void audit(String when) {
        DataPath.AuditReport a = controller.audit(true);
        trace("audit " + when + " " + a.discrepancies());
        if (a.discrepancies() > 0) {
            throw violation("the refcount audit " + when + " found discrepancies: " + a.toMap());
        }
    }

    private void verifyAll(String when) {
        for (int v = 1; v <= VOLUMES; v++) {
            for (int b = 0; b < BLOCKS; b += MAX_RUN) {
                checkRead(v, b, MAX_RUN, "verify_" + when);
            }
        }
    }

    private void closeAndCheck() throws IOException {
        verifyAll("end");
        controller.close();
        controller = null;
        open();
        verifyAll("reopen");
        controller.close();
        controller = null;
    }

    // ------------------------------------------------------------------ the trace and its digest

    private void trace(String line) {
        digest.update(line.getBytes(StandardCharsets.UTF_8));
        digest.update((byte) '\n');
    }

    private Violation violation(String what) {
        return new Violation("step=" + step + " " + what);
    }

    private static long bit(int id) {
        return id == BlockPatterns.ZERO ? 1L << 63 : id >= 0 ? 1L << id : 0;
    }

    private static String name(int id) {
        return id == BlockPatterns.ZERO ? "zeros" : id == BlockPatterns.NONE ? "unknown_bytes" : "pattern" + id;
    }

    private static String names(long mask) {
        StringBuilder s = new StringBuilder();
        for (int id = -1; id < BlockPatterns.COUNT; id++) {
            if ((mask & bit(id)) != 0) {
                s.append(s.isEmpty() ? "" : ",").append(name(id));
            }
        }
        return s.toString();
    }

    static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
