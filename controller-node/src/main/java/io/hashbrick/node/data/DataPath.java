package io.hashbrick.node.data;

import io.hashbrick.journal.Journal;
import io.hashbrick.journal.JournalCompletion;
import io.hashbrick.journal.JournalConfig;
import io.hashbrick.journal.JournalEntry;
import io.hashbrick.journal.JournalMirror;
import io.hashbrick.journal.JournalRegion;
import io.hashbrick.journal.NanoClock;
import io.hashbrick.journal.RecordType;
import io.hashbrick.node.CheckpointParticipant;
import io.hashbrick.node.CorruptCheckpointException;
import io.hashbrick.node.JournalSettle;
import io.hashbrick.node.LegacyOutbox;
import io.hashbrick.node.Log;
import io.hashbrick.node.NvramRegion;
import io.hashbrick.node.Plant;
import io.hashbrick.node.Seams;
import io.hashbrick.node.api.BlockCodec;
import io.hashbrick.node.api.DerefCall;
import io.hashbrick.node.api.FetchCall;
import io.hashbrick.node.api.ProbeCall;
import io.hashbrick.node.api.PutCall;
import io.hashbrick.node.api.RoleCall;
import io.hashbrick.node.api.Status;
import io.hashbrick.node.block.IoStatus;
import io.hashbrick.node.xdp.ColumnRebuild;
import io.hashbrick.node.xdp.RebuildSchedule;
import io.hashbrick.node.xdp.ScrubSchedule;
import io.hashbrick.node.xdp.SegmentStore;
import io.hashbrick.node.xdp.StripeLayout;
import io.hashbrick.sim.BatteryBackedMemory;
import io.hashbrick.sim.Dae;
import io.hashbrick.sim.Sleeper;
import io.hashbrick.sim.Ssd;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ReadableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The content-addressed data path of one controller (DESIGN.md "Write path", "Read path",
 * "Metadata"): the C role's A2H map per volume and the D role's H2P table, the NVRAM journal that makes
 * every change durable before it is acknowledged, destage of new blocks into packed stripes on the DAE
 * ({@link SegmentStore}), checkpoints of all metadata to the DAE ({@link MetadataArea}), recovery
 * (checkpoint + journal replay), the auditor and the statistics.
 *
 * <p><b>The roles' operations</b> (DESIGN.md "Write path", "Read path"; README "The roles apart"):
 * D's {@link #probe}, {@link #put}, {@link #deref}, {@link #fetch} and C's {@link #map},
 * {@link #resolve}, {@link #unmap}, called through the contracts in {@code api}. Each appends one
 * record of its own role and applies it under the lock by the code replay uses, so the journal's order
 * is the order of the changes and replay rebuilds exactly the state the controller had; the caller is
 * answered once the record is durable. Replaced handles wait in C's deref outbox ({@link #drainOutbox}).
 *
 * <p><b>Fetch</b>: under the lock, a handle's location and the 27 fingerprint bytes H2P keeps (a
 * handle that is not current is refused as stale); without it, the bytes from the journal copy (not
 * yet destaged), the read cache or the SSD cells, LZ4 decompression and a SHA-256 compared with the
 * fingerprint. A persistent mismatch is repaired from parity or answered as a medium error, logged and
 * counted.
 *
 * <p><b>Space</b>: a block's space is live while H2P references it. Stripes whose blocks all died
 * become free after the next checkpoint; stripes with few live blocks are compacted. New blocks are
 * refused ({@link IoStatus#NO_SPACE}) when live + journalled data would pass the usable capacity, while
 * reads, duplicate writes and unmaps go on.
 *
 * <p>Threads: host I/O threads make the role calls; one destage thread destages, compacts, drains the
 * outbox and checkpoints; records are written inline by the thread that appends them. All metadata
 * changes hold {@link #lock}.
 */
public final class DataPath implements AutoCloseable {
    /** Blocks per journal record and per lock hold. */
    public static final int CHUNK = 16;

    static final byte MAP_RECORD = RecordType.A2H_MAP;
    static final byte KIND_DEDUP = 1;
    static final byte KIND_NEW = 2;
    static final byte KIND_UNMAP = 3;
    static final int ENTRY_DEDUP_BYTES = 1 + 8 + 32;
    static final int ENTRY_NEW_FIXED = 1 + 8 + 32 + 2;
    static final int ENTRY_UNMAP_BYTES = 1 + 8 + 8;
    static final int RECORD_HEADER = 8;
    static final int MAX_PAYLOAD = RECORD_HEADER + CHUNK * (ENTRY_NEW_FIXED + BlockCodec.BLOCK_BYTES);

    /** H2P as entry records (before incremental checkpoints): read, no longer written. */
    static final int SECTION_H2P = 1;
    /** H2P's entry pages: all of them in a base, the changed ones in a delta ({@link H2pPages}). */
    static final int SECTION_H2P_PAGES = 8;
    /** Blocks still in the journal at a checkpoint (the pool had no room to destage them). */
    static final int SECTION_PENDING = 3;
    /** The stripe table: every non-free stripe's members, lost and zeroed columns, extent. */
    static final int SECTION_STRIPES = 4;
    /** D's deref high-water mark ({@link DerefMark}); section 5 held it with C's outbox before. */
    static final int SECTION_DEREF_MARK = 6;

    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int FLAG_IN_JOURNAL = H2pBucket.FLAG_IN_JOURNAL;
    private static final int UNMAP_RUN_MAX = 1 << 20;

    /**
     * @param ssds SSD slots of the DAE (stripe width: ssds - 2 data columns + P + Q)
     * @param ssdBytes capacity of each simulated SSD
     * @param nvramBytes battery-backed memory for the journal
     * @param checkpointIntervalMs a checkpoint at least this often while anything changes
     * @param readCacheBytes off-heap read cache of stored blocks keyed by handle (0: none)
     * @param fullAuditAtStart whether start-up also reads every stored block against its fingerprint
     *     (refcounts are always audited)
     */
    public record Config(
            int ssds,
            long ssdBytes,
            long nvramBytes,
            long checkpointIntervalMs,
            long readCacheBytes,
            boolean fullAuditAtStart,
            Seams seams) {
        /** The usual configuration: refcounts audited at start-up. */
        public Config(int ssds, long ssdBytes, long nvramBytes, long checkpointIntervalMs, long readCacheBytes) {
            this(ssds, ssdBytes, nvramBytes, checkpointIntervalMs, readCacheBytes, false);
        }

        /** A real controller's configuration ({@link Seams#REAL}). */
        public Config(
                int ssds,
                long ssdBytes,
                long nvramBytes,
                long checkpointIntervalMs,
                long readCacheBytes,
                boolean fullAuditAtStart) {
            this(ssds, ssdBytes, nvramBytes, checkpointIntervalMs, readCacheBytes, fullAuditAtStart, Seams.REAL);
        }

        /** The same configuration with a simulation's seams. */
        public Config withSeams(Seams s) {
            return new Config(ssds, ssdBytes, nvramBytes, checkpointIntervalMs, readCacheBytes, fullAuditAtStart, s);
        }

        public Config {
            if (seams == null) {
                throw new IllegalArgumentException("config: seams are required (Seams.REAL for a real controller)");
            }
            if (readCacheBytes < 0 || readCacheBytes > (64L << 30)) {
                throw new IllegalArgumentException("--read-cache-size must be 0..64G: bytes=" + readCacheBytes);
            }
            if (ssds < 4 || ssds > 25) {
                throw new IllegalArgumentException("--ssds must be 4..25: ssds=" + ssds);
            }
            if (ssdBytes < (8L << 20) || ssdBytes % StripeLayout.CELL != 0) {
                throw new IllegalArgumentException(
                        "--ssd-size must be at least 8 MiB, a multiple of 4096: bytes=" + ssdBytes);
            }
            if (nvramBytes < (4L << 20) || nvramBytes > BatteryBackedMemory.DATA_BYTES_MAX) {
                throw new IllegalArgumentException("--nvram-size must be 4 MiB..1 GiB: bytes=" + nvramBytes);
            }
        }
    }

    private final ReentrantLock lock = new ReentrantLock();
    /** Held by whoever destages, compacts or checkpoints (taken before {@link #lock}, never after). */
    private final ReentrantLock destageLock = new ReentrantLock();

    private final Condition destageWake = lock.newCondition();
    private final Config config;
    /** The timers' clock (a simulation's, or the JVM's): never {@code System.nanoTime()} for a decision. */
    private final NanoClock clock;

    private final boolean plantAckBeforeDurable;
    private final boolean plantDerefTwice;
    private final boolean plantNoGeneration;
    private final Dae dae;
    private final StripeLayout layout;
    private final SegmentStore store;
    private final MetadataArea meta;
    /** XDP's pace and progress of the rebuild and the scrub; moving and repairing blocks is D's part. */
    private final RebuildSchedule rebuild;

    private final ScrubSchedule scrub;
    private final BatteryBackedMemory nvram;
    private final H2pTable h2p;
    /** The role whose sections ride in this role's checkpoints (C). */
    private final CheckpointParticipant peer;

    private final long usableBytes;
    private final ReadCache cache;
    private final ByteBuffer compactScratch = Ssd.allocateAligned(SegmentStore.READ_SCRATCH_BYTES);
    private final ThreadLocal<Ctx> contexts = ThreadLocal.withInitial(Ctx::new);
    private Journal journal;
    /** The file of D's journal region (battery-backed memory). */
    public static final String NVRAM_FILE = "nvram.bbm";

    /** Where D's journal is mirrored (the brick peer), or NONE; set before the journal opens. */
    private JournalMirror mirror = JournalMirror.NONE;

    // Blocks in the journal, not yet destaged: H2P location = index here. Guarded by lock.
    private byte[][] pending = new byte[1024][];
    private long[] pendingHandle = new long[1024];
    private int[] pendingFree = new int[1024];
    private int pendingFreeCount;
    private int pendingHigh;
    private int pendingCount;
    private long pendingBytes;
    /** What the journalled blocks take in a stripe ({@link SegmentStore#footprint}): raw blocks one cell. */
    private long pendingFootprint;

    private long storedBytes; // exact bytes of every live block (headers included)
    private long lastSequence;
    private long checkpointSequence;
    private long checkpointGeneration;
    /** Guarded by {@link #destageLock} (written by the checkpoint, read by the destage round). */
    private long lastCheckpointNs;
    /** Guarded by {@link #lock}: counted by apply and relocation, zeroed by the checkpoint, all under it. */
    private long changesSinceCheckpoint;
    /**
     * Set by any thread, with or without {@link #lock} (writers under back-pressure, the destage thread's
     * rebuild and compaction); cleared by the checkpoint under the lock before it captures anything.
     * Volatile is enough: only plain stores, no read-modify-write, so nothing is lost that matters. A
     * request stored before the clear is covered by that checkpoint, whose capture comes after it; one
     * stored after the clear stays set and brings the next checkpoint. The volatile read lets the
     * destage thread see a request made outside the lock on its next round, not at some later one.
     */
    private volatile boolean checkpointRequested;

    private volatile boolean running;
    /** Read-write until destage fails past its retries (then writes answer READ_ONLY). */
    private final PoolState pool = new PoolState(Sleeper.REAL);
    /** Tests: every destage round throws this (null: none). */
    private volatile RuntimeException destageFault;

    private boolean replaying;
    private Thread destager;

    // Counters (guarded by lock unless noted).
    private long writesUnique;
    private long writesDuplicate;
    private long readVerifyRetries;
    private long readVerifyErrors;
    private long replayMissing;
    private long checkpoints;
    /** Checkpoints that were bases (every page), the rest deltas. */
    private long checkpointBases;
    /**
     * The next checkpoint must be a base: none written since this data path opened a chain it cannot
     * continue, or a capture's checkpoint failed after it cleared H2P's page marks. Destage lock.
     */
    private boolean baseRequired;

    private long checkpointLastMs;
    /** The checkpoint capture's 1 MiB chunks, kept between checkpoints (used under the destage lock only). */
    private final java.util.ArrayDeque<byte[]> captureChunks = new java.util.ArrayDeque<>();
    /** The longest a checkpoint's capture held the lock (microseconds): what a host write may wait for it. */
    private long checkpointLockedUsMax;

    private long compactedStripes;
    private long noSpaceRefusals;
    private long destagedBlocks;
    private long destageRoundsWhole;
    private long destageRoundsForced;
    private long destageFlushes;
    private long readRepairs;
    private long rebuiltStripes;
    private long rebuildStartedStripes;
    private String lastHealthChange = "";

    private DataPath(
            Config config,
            Dae dae,
            StripeLayout layout,
            BatteryBackedMemory nvram,
            H2pTable h2p,
            CheckpointParticipant peer) {
        this.config = config;
        this.clock = config.seams().clock();
        this.plantAckBeforeDurable = config.seams().planted(Plant.ACK_BEFORE_D_DURABLE);
        this.plantDerefTwice = config.seams().planted(Plant.DEREF_APPLIED_TWICE);
        this.plantNoGeneration = config.seams().planted(Plant.REUSED_HANDLE_SERVED);
        long now = clock.nanoTime();
        this.lastCheckpointNs = now;
        this.lastDestageNs = now;
        this.peer = peer;
        this.dae = dae;
        this.layout = layout;
        this.store = new SegmentStore(dae, layout);
        this.meta = new MetadataArea(dae, layout, store::writeMaskAroundSlow);
        this.rebuild = new RebuildSchedule(store, now);
        this.scrub = new ScrubSchedule(store, now);
        this.nvram = nvram;
        this.h2p = h2p;
        h2p.guardedByCallerLock();
        this.cache = new ReadCache(config.readCacheBytes());
        this.usableBytes = usableBytes(layout);
    }

    /**
     * What hosts may store: the stripes but 2 (kept for compaction), each less its P and Q columns and
     * less two more columns of hot space (so the data of two failed SSDs can always be rebuilt into
     * free space, on 21 + 2 stripes), less 3% slack for packing.
     */
    static long usableBytes(StripeLayout layout) {
        int dataColumns = Math.max(1, layout.width() - 4);
        return (long) ((layout.stripes() - 2) * dataColumns * (double) StripeLayout.COLUMN_BYTES * 0.97);
    }

    /**
     * Opens (or creates) the data path in {@code dir}: the DAE in {@code dir/dae}, the NVRAM journal in
     * {@code dir/nvram.bbm}; loads the newest checkpoint (the sections {@code peer} owns go to it),
     * replays the journal after it (C's records from before C had a journal of its own go to
     * {@code peer} too). The destage thread starts with {@link #start}, once C has recovered.
     */
    public static DataPath open(Path dir, Config config, CheckpointParticipant peer) throws IOException {
        return open(dir, config, peer, H2pEntries.MAX_SLOTS);
    }

    /** Tests: {@code h2pMaxSlots} entries per H2P bucket at most (a new data path only). */
    public static DataPath open(Path dir, Config config, CheckpointParticipant peer, long h2pMaxSlots)
            throws IOException {
        return open(dir, config, peer, h2pMaxSlots, JournalMirror.NONE);
    }

    /**
     * A cluster's own pool: D's journal mirrored to the brick peer through {@code mirror} (a role call's
     * record counts once the peer holds it; a checkpoint covers only records the peer holds).
     */
    public static DataPath open(Path dir, Config config, CheckpointParticipant peer, JournalMirror mirror)
            throws IOException {
        return open(dir, config, peer, H2pEntries.MAX_SLOTS, mirror);
    }

    private static DataPath open(
            Path dir, Config config, CheckpointParticipant peer, long h2pMaxSlots, JournalMirror mirror)
            throws IOException {
        Files.createDirectories(dir);
        long t0 = System.nanoTime();
        Dae dae = Dae.open(
                dir.resolve("dae"),
                config.ssds(),
                config.ssdBytes(),
                0x4842L,
                config.seams().ssdOptions());
        long daeOpened = System.nanoTime();
        StripeLayout layout = StripeLayout.forDae(config.ssds(), config.ssdBytes(), config.nvramBytes());
        MetadataArea meta = new MetadataArea(dae, layout);
        List<MetadataArea.Checkpoint> chain = meta.latestChain();
        MetadataArea.Checkpoint cp = chain.isEmpty() ? null : chain.get(chain.size() - 1);
        H2pTable h2p;
        Map<Integer, PendingBlock> pendingLoaded = Map.of();
        byte[] stripeTable = null;
        long[] derefMarks = new long[DerefMark.SENDERS];
        if (cp == null) {
            long seed =
                    config.seams().entropySeed() != 0 ? config.seams().entropySeed() : new SecureRandom().nextLong();
            h2p = new H2pTable(seed, h2pMaxSlots);
        } else {
            h2p = null;
            // The base, then each delta in order: a whole section (stripes, deref mark, journalled blocks,
            // C's map state) in a later checkpoint replaces the earlier one's.
            for (MetadataArea.Checkpoint c : chain) {
                pendingLoaded = Map.of(); // a checkpoint without the section had no journalled blocks
                peer.loadingCheckpoint();
                for (MetadataArea.Section s : c.sections()) {
                    try (ReadableByteChannel ch = meta.open(c, s)) {
                        if (s.kind() == SECTION_H2P) {
                            if (h2p != null) {
                                h2p.close();
                            }
                            h2p = H2pTable.readCheckpoint(ch);
                        } else if (s.kind() == SECTION_H2P_PAGES) {
                            h2p = H2pTable.readPages(ch, s.id() == 0 ? null : h2p);
                        } else if (s.kind() == SECTION_PENDING) {
                            pendingLoaded = readPending(ch);
                        } else if (s.kind() == SECTION_DEREF_MARK) {
                            derefMarks = DerefMark.read(ch);
                        } else if (s.kind() == LegacyOutbox.KIND) {
                            derefMarks[0] = Math.max(
                                    derefMarks[0], LegacyOutbox.read(ch).derefHighWater());
                            try (ReadableByteChannel again = meta.open(c, s)) {
                                peer.load(s.kind(), s.id(), again); // and C the outbox it held
                            }
                        } else if (peer.owns(s.kind())) {
                            peer.load(s.kind(), s.id(), ch);
                        } else if (s.kind() == SECTION_STRIPES) {
                            stripeTable = java.nio.channels.Channels.newInputStream(ch)
                                    .readAllBytes();
                        }
                    }
                }
            }
            if (h2p == null) {
                throw new CorruptCheckpointException(
                        "checkpoint without an H2P section: generation=" + cp.generation());
            }
            h2p.finishRestore();
            peer.loadedChain();
        }
        long loaded = System.nanoTime();
        Path nvramFile = dir.resolve(NVRAM_FILE);
        boolean fresh = !Files.exists(nvramFile);
        if (fresh && cp != null) {
            throw new IOException("the NVRAM journal is missing but the DAE holds a checkpoint: file=" + nvramFile
                    + " (acknowledged writes after the checkpoint would be lost; restore the file)");
        }
        BatteryBackedMemory nvram = BatteryBackedMemory.open(nvramFile, 0, config.nvramBytes());
        DataPath dp = new DataPath(config, dae, layout, nvram, h2p, peer);
        dp.mirror = mirror;
        dp.meta.continueChain(chain); // deltas go after it; a base to the other slot, never over it
        if (stripeTable != null) {
            dp.store.readSection(java.nio.channels.Channels.newChannel(new java.io.ByteArrayInputStream(stripeTable)));
        }
        long resynced = dp.store.resyncInterrupted();
        if (resynced >= 0) {
            Log.warn("refill_interrupted_at_stop", "stripe=" + resynced + " action=parity_recomputed");
        }
        long finished = dp.store.finishZeroing();
        if (finished > 0) {
            Log.warn("rebuild_zeroing_finished_at_start", "stripes=" + finished);
        }
        String health = dp.store.pollHealth();
        if (!health.isEmpty()) {
            Log.warn("dae_health_changed", health + " " + dae.healthSummary());
        }
        dp.restorePending(pendingLoaded);
        System.arraycopy(derefMarks, 0, dp.derefMarks, 0, DerefMark.SENDERS);
        if (cp != null) {
            dp.checkpointSequence = cp.journalSequence();
            dp.lastSequence = cp.journalSequence();
            // Above every header seen, with one generation skipped: a delta committed just before the
            // stop on a drive missing now could still come back with the next one (a tie at load).
            dp.checkpointGeneration = Math.max(cp.generation(), meta.generationFloor()) + 1;
        }
        long restored = System.nanoTime();
        dp.recover(fresh);
        long end = System.nanoTime();
        Log.info(
                "data_path_open",
                "ssds=" + config.ssds() + " ssd_bytes=" + config.ssdBytes() + " stripes=" + layout.stripes()
                        + " capacity_bytes=" + layout.capacityBytes() + " checkpoint_generation="
                        + (cp == null ? "none" : cp.generation()) + " unique_blocks=" + h2p.uniqueBlocks()
                        + " replayed_to=" + dp.lastSequence + " checkpoints=" + chain.size() + " dae_ms="
                        + (daeOpened - t0) / 1_000_000 + " checkpoint_ms=" + (loaded - daeOpened) / 1_000_000
                        + " setup_ms=" + (restored - loaded) / 1_000_000 + " replay_ms=" + (end - restored) / 1_000_000
                        + " ms=" + (end - t0) / 1_000_000);
        return dp;
    }

    private void recover(boolean fresh) throws IOException {
        lock.lock();
        try {
            JournalRegion region = new NvramRegion(nvram);
            JournalConfig jc = JournalConfig.defaults().withMaxPayloadBytes(MAX_PAYLOAD);
            if (fresh) {
                Journal.format(region);
            }
            long[] replayed = new long[2];
            replaying = true;
            journal = Journal.open(region, jc, NanoClock.SYSTEM, mirror, (type, seq, epoch, r, off, len) -> {
                if (seq <= checkpointSequence) {
                    return;
                }
                if (replayRecord(type, r, off)) {
                    lastSequence = seq;
                    replayed[0]++;
                }
            });
            long journalFirst = journal.replayResult().firstSequence();
            if (journalFirst > checkpointSequence + 1) {
                throw new IOException("D's journal was released past the checkpoint loaded:"
                        + " checkpoint_sequence=" + checkpointSequence + " journal_first_sequence=" + journalFirst
                        + " (a newer checkpoint is missing or unreadable; refusing to start rather than lose"
                        + " acknowledged writes)");
            }
            h2p.rebuildFreeLists(); // replayed puts took the slots their records name
            replaying = false;
            // Rebuild space accounting from H2P (replay counted the journalled blocks already).
            storedBytes = 0;
            for (int b = 0; b < H2pHandle.BUCKETS; b++) {
                h2p.bucket(b).forEachLive((handle, location, length, flags, refcount) -> {
                    int bytes = storedBytesOf(length, flags);
                    storedBytes += bytes;
                    if ((flags & FLAG_IN_JOURNAL) == 0) {
                        store.recoverLive(location, bytes);
                    }
                });
            }
            Log.info(
                    "journal_replayed",
                    "records=" + replayed[0] + " from_sequence=" + (checkpointSequence + 1) + " to_sequence="
                            + lastSequence + " pending_blocks=" + pendingCount + " missing_blocks=" + replayMissing
                            + " stop=" + journal.replayResult().reason());
        } finally {
            lock.unlock();
        }
    }

    /** D's journal, for its mirror's image (reads only). */
    public Journal journalForMirror() {
        return journal;
    }

    /** Starts the destage thread (once C has recovered: a checkpoint carries C's sections). */
    public void start() {
        if (!config.seams().backgroundThreads()) {
            return; // a simulation drives destageRound() itself
        }
        running = true; // the journal is written inline, under the lock (NVRAM: a persist is a fence)
        destager = new Thread(this::destageLoop, "destage");
        destager.setDaemon(true);
        destager.start();
    }

    /** Whether the pool takes writes (not read-only after destage failed past its retries). */
    public boolean writable() {
        return !pool.isReadOnly();
    }

    // ---------------------------------------------------------------- the roles' operations
    //
    // D (block service): probe, put, deref, fetch. Each is one journal record of D's journal, appended
    // and applied under the lock by the code replay uses. The order a write follows (DESIGN.md "Write
    // path"): D's put durable, then C's map durable (C's own journal, volume.MapStore), then the host's
    // ack, then C's outbox derefs. A crash between a put and its map leaves references nobody maps (a
    // space leak): recovery reclaims them ({@link #reclaimLeaked}).

    static final byte PUT_RECORD = RecordType.BLOCK_PUT;
    static final byte DEREF_RECORD = RecordType.REFCOUNT_DELTA;
    static final byte SET_RECORD = RecordType.A2H_SET;
    static final byte UNMAP_RECORD = RecordType.A2H_UNMAP;
    static final byte ACK_RECORD = RecordType.OUTBOX_ACK;
    static final int PUT_HEADER = 8;
    static final int PUT_REF_BYTES = 1 + 32;
    /** kind, fingerprint, the handle the live node gave the block (replay puts it at that slot), length. */
    static final int PUT_NEW_FIXED = 1 + 32 + 8 + 2;

    static final int DEREF_HEADER = 16;
    /** Handles per deref record: one outbox batch of C's. */
    static final int DEREF_BATCH = 4096;
    /** Sender of the derefs recovery makes to reclaim leaked references (never de-duplicated). */
    static final int SENDER_RECOVERY = -1;

    /**
     * Per C (0: a single node's; K: controller K's, see {@link #markIndex}), the outbox position after the last deref
     * D applied from it: positions below are never applied again. Persisted by checkpoints
     * ({@link DerefMark}) and rebuilt by replaying deref records.
     */
    private final long[] derefMarks = new long[DerefMark.SENDERS];

    private long derefsApplied;
    private long derefDuplicates;
    private long referencesReclaimed;

    /** D: which of the fingerprints are held now. */
    public void probe(ProbeCall x) {
        lock.lock();
        try {
            for (int i = 0; i < x.count; i++) {
                x.known[i] = h2p.lookup(x.fingerprints, i * 32L) != H2pHandle.NONE;
            }
            x.status = Status.OK;
        } finally {
            lock.unlock();
        }
    }

    /** D: one reference per block, new blocks stored (see {@link PutCall}); durable when it returns OK. */
    public void put(PutCall x) {
        appendSettled(putOp, x);
    }

    /** One role call's record, built, appended and applied under the lock (see {@link #appendSettled}). */
    @FunctionalInterface
    private interface LockedAppend<C extends RoleCall> {
        /** @return the record's sequence, {@link #DONE} (status set), or the journal's refusal */
        long run(Ctx c, C call);
    }

    // Bound once: a method reference made per call would allocate per I/O.
    private final LockedAppend<PutCall> putOp = this::putLocked;
    private final LockedAppend<DerefCall> derefOp = this::derefLocked;

    /**
     * Runs {@code op} under the lock until its record is durable or the call is over, retrying while
     * the journal is back-pressured (60 s at most, see {@link #settle}).
     */
    private <C extends RoleCall> void appendSettled(LockedAppend<C> op, C x) {
        Ctx c = contexts.get();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            long seq;
            lock.lock();
            try {
                seq = op.run(c, x);
            } finally {
                lock.unlock();
            }
            if (settle(c, x, seq, deadline)) {
                return;
            }
        }
    }

    private boolean settle(Ctx c, RoleCall x, long seq, long deadline) {
        return JournalSettle.settle(c.entry, x, seq, deadline, readOnly, "journal_full_timeout", mirror);
    }

    private final java.util.function.BooleanSupplier readOnly = pool::isReadOnly;

    /**
     * Whether H2P has a slot for every new block of the put ({@link H2pBucket#slotsFree}; a bucket never
     * hands out a slot A2H cannot store), counted per bucket only where a bucket has fewer free slots
     * than the put has blocks: the usual case costs one bucket look-up per new block. The lock is held.
     */
    private boolean h2pRoomFor(PutCall x, boolean[] fresh) {
        for (int i = 0; i < x.count; i++) {
            if (!fresh[i]) {
                continue;
            }
            int b = H2pHandle.bucketOf(x.fingerprints, i * 32L);
            long free = h2p.bucket(b).slotsFree();
            if (free >= x.count) {
                continue;
            }
            int want = 0;
            for (int j = 0; j <= i; j++) {
                if (fresh[j] && H2pHandle.bucketOf(x.fingerprints, j * 32L) == b) {
                    want++;
                }
            }
            if (want > free) {
                noSpaceRefusals++;
                if (noSpaceRefusals % 1000 == 1) {
                    Log.warn(
                            "h2p_bucket_full",
                            "op=" + x.operationId + " bucket=" + b + " slots_free=" + free + " slots_wanted=" + want
                                    + " refusals=" + noSpaceRefusals);
                }
                return false;
            }
        }
        return true;
    }

    /** Nothing appended, the call's status is final. */
    private static final long DONE = JournalSettle.DONE;

    private long putLocked(Ctx c, PutCall x) {
        if (x.count < 0 || x.count > CHUNK) {
            throw new IllegalArgumentException("put: at most " + CHUNK + " blocks a call: count=" + x.count);
        }
        if (pool.isReadOnly()) {
            x.status = Status.READ_ONLY;
            return DONE;
        }
        MemorySegment p = c.payload;
        long at = PUT_HEADER;
        long need = 0;
        boolean missing = false;
        for (int i = 0; i < x.count; i++) {
            boolean known = h2p.lookup(x.fingerprints, i * 32L) != H2pHandle.NONE;
            int len = x.lengths[i];
            x.blockStatus[i] = Status.OK;
            if (!known && len == 0) {
                x.blockStatus[i] = Status.NEED_DATA;
                missing = true;
                continue;
            }
            p.set(ValueLayout.JAVA_BYTE, at, known ? KIND_DEDUP : KIND_NEW);
            MemorySegment.copy(x.fingerprints, i * 32L, p, at + 1, 32);
            c.fresh[i] = !known;
            if (known) {
                at += PUT_REF_BYTES;
                continue;
            }
            if (len < 1 || len > BlockCodec.BLOCK_BYTES) {
                throw new IllegalArgumentException("put: block length out of range: block=" + i + " length=" + len);
            }
            p.set(U64, at + 33, H2pHandle.NONE); // filled in by applyPut, before the record is written
            p.set(U16, at + 41, (short) len);
            MemorySegment.copy(x.dataSegment, (long) i * BlockCodec.MAX_COMPRESSED_BYTES, p, at + PUT_NEW_FIXED, len);
            at += PUT_NEW_FIXED + len;
            need += SegmentStore.footprint(len);
        }
        if (missing) {
            x.status = Status.NEED_DATA;
            return DONE;
        }
        if (need > 0 && !h2pRoomFor(x, c.fresh)) {
            x.status = Status.POOL_FULL; // before the journal: A2H could not store the handle of a new slot
            return DONE;
        }
        // In the units the stripes count live data (a raw block one cell), so that destaging a block
        // moves its bytes from journal to live without changing the sum the pool is judged by.
        if (need > 0 && store.liveBytes() + pendingFootprint + need > usableBytes) {
            noSpaceRefusals++;
            if (noSpaceRefusals % 1000 == 1) {
                Log.warn(
                        "pool_full",
                        "op=" + x.operationId + " need_bytes=" + need + " live_bytes=" + store.liveBytes()
                                + " journal_bytes=" + pendingFootprint + " usable_bytes=" + usableBytes
                                + " refusals=" + noSpaceRefusals);
            }
            x.status = Status.POOL_FULL;
            return DONE;
        }
        if (need > 0 && pendingFootprint + need > config.nvramBytes() / 2) {
            // Destage is behind (the pool is compacting): wait, so that the blocks a checkpoint may have
            // to carry stay bounded by the journal's size.
            checkpointRequested = true;
            destageWake.signal();
            return Journal.BACK_PRESSURED;
        }
        p.set(U16, 0, (short) x.count);
        p.set(U16, 2, (short) 0);
        p.set(U32, 4, 0);
        if (plantAckBeforeDurable && need > 0) { // planted bug: new blocks in RAM only, answered as durable
            applyPut(p, 0, x.handles);
            x.status = Status.OK;
            return DONE;
        }
        long seq = appendLocked(c, PUT_RECORD, p.asSlice(0, at));
        if (seq > 0) {
            applyPut(p, 0, x.handles); // handles of new blocks go into the record before it is written
            journal.writeInline();
            if (pendingBytes > layout.stripeDataBytes() / 2) {
                destageWake.signal();
            }
        }
        return seq;
    }

    /**
     * Appends a record (or asks for a checkpoint on back-pressure). The caller applies it and then makes
     * it durable with {@code journal.writeInline()} (NVRAM: a persist is a fence; the payload is copied
     * then, so applying first may fill in what the apply decides, such as a new block's handle). The
     * lock is held throughout: nobody sees the change before the record is durable.
     */
    private long appendLocked(Ctx c, byte type, MemorySegment payload) {
        c.entry.set(type, 0, payload, c.completion);
        long seq = journal.append(c.entry);
        if (seq > 0) {
            lastSequence = seq;
            changesSinceCheckpoint++;
        } else if (seq == Journal.BACK_PRESSURED) {
            checkpointRequested = true;
            destageWake.signal();
        }
        return seq;
    }

    /** Applies a PUT record (live and replay); handles go to {@code out} when it is not null. */
    private void applyPut(MemorySegment p, long base, long[] out) {
        int count = p.get(U16, base) & 0xFFFF;
        long at = base + PUT_HEADER;
        for (int i = 0; i < count; i++) {
            byte kind = p.get(ValueLayout.JAVA_BYTE, at);
            long fpAt = at + 1;
            long h = h2p.lookup(p, fpAt);
            if (kind == KIND_DEDUP) {
                at += PUT_REF_BYTES;
                if (h == H2pHandle.NONE) { // replay only: a put references what an earlier record stored
                    replayMissing++;
                    Log.error("replay_missing_block", "record=put block_index=" + i);
                } else {
                    h2p.addRef(h, 1);
                    writesDuplicate += replaying ? 0 : 1;
                }
            } else if (kind == KIND_NEW) {
                long handleAt = at + 33;
                int len = p.get(U16, at + 41) & 0xFFFF;
                long dataAt = at + PUT_NEW_FIXED;
                at += PUT_NEW_FIXED + len;
                if (h != H2pHandle.NONE) { // the same new block twice in one put: the second is a reference
                    h2p.addRef(h, 1);
                    writesDuplicate += replaying ? 0 : 1;
                } else if (replaying) {
                    h = insertPending(p, fpAt, dataAt, len, p.get(U64, handleAt));
                } else {
                    h = insertPending(p, fpAt, dataAt, len, H2pHandle.NONE);
                    p.set(U64, handleAt, h);
                    writesUnique++;
                }
            } else {
                throw new IllegalStateException("unknown PUT entry kind: kind=" + kind);
            }
            if (out != null) {
                out[i] = h;
            }
        }
    }

    /**
     * D: drops one reference per handle, idempotent by operation id (see {@link DerefCall}). Handles
     * that are not current are refused as a whole ({@link Status#STALE_HANDLE}, nothing applied).
     */
    public void deref(DerefCall x) {
        appendSettled(derefOp, x);
    }

    private long derefLocked(Ctx c, DerefCall x) {
        if (x.count < 0 || x.count > DEREF_BATCH) {
            throw new IllegalArgumentException("deref: at most " + DEREF_BATCH + " handles a call: count=" + x.count);
        }
        if (x.positioned) {
            return derefPositionedLocked(c, x);
        }
        int applied = alreadyApplied(x.sender, x.operationId, x.count);
        x.duplicate = applied == x.count && x.count > 0;
        if (x.duplicate) {
            derefDuplicates++;
            x.status = Status.OK;
            return DONE;
        }
        for (int i = applied; i < x.count; i++) { // handles applied before may be freed by now
            long h = x.handles[i];
            if (!h2p.isCurrent(h)) {
                Log.error(
                        "deref_stale_handle",
                        "handle=0x" + Long.toHexString(h) + " op=" + x.operationId + " sender=" + x.sender);
                x.status = Status.STALE_HANDLE;
                return DONE;
            }
        }
        MemorySegment p = c.payload;
        p.set(U32, 0, x.sender);
        p.set(U32, 4, x.count);
        p.set(U64, 8, x.operationId);
        for (int i = 0; i < x.count; i++) {
            p.set(U64, DEREF_HEADER + 8L * i, x.handles[i]);
        }
        long seq = appendLocked(c, DEREF_RECORD, p.asSlice(0, DEREF_HEADER + 8L * x.count));
        if (seq > 0) {
            applyDeref(p, 0);
            if (plantDerefTwice && x.sender == 0) {
                applyDerefAgainPlanted(x);
            }
            journal.writeInline();
        }
        return seq;
    }

    /**
     * A batch routed from a C's outbox by bucket (a cluster): handle i sits at outbox position
     * {@code positions[i]}, ascending, not contiguous (the other positions went to other owners). The
     * handles at positions D applied before are left out; the rest is journalled as a contiguous-style
     * record whose operation id is the position after its last handle, so replay (and
     * {@link #alreadyApplied}) treat it like any other: its positions all lie at or past the mark.
     */
    private long derefPositionedLocked(Ctx c, DerefCall x) {
        int m = markIndex(x.sender);
        if (m < 1) {
            throw new IllegalArgumentException("deref: positioned batches come from a controller's C (sender "
                    + DerefCall.CONTROLLER_SENDER + " + 1.." + (DerefMark.SENDERS - 1) + "): sender=" + x.sender);
        }
        long mark = derefMarks[m];
        long previous = -1;
        int k = 0;
        MemorySegment p = c.payload;
        for (int i = 0; i < x.count; i++) {
            long pos = x.positions[i];
            if (pos <= previous) {
                throw new IllegalArgumentException("deref: positions must ascend: position=" + pos + " previous="
                        + previous + " sender=" + x.sender);
            }
            previous = pos;
            if (pos < mark) {
                continue; // applied before: a resend
            }
            long h = x.handles[i];
            if (!h2p.isCurrent(h)) {
                Log.error(
                        "deref_stale_handle",
                        "handle=0x" + Long.toHexString(h) + " position=" + pos + " sender=" + x.sender);
                x.status = Status.STALE_HANDLE;
                return DONE;
            }
            p.set(U64, DEREF_HEADER + 8L * k++, h);
        }
        x.duplicate = k == 0 && x.count > 0;
        if (k == 0) {
            if (x.count > 0) {
                derefDuplicates++;
            }
            x.status = Status.OK;
            return DONE;
        }
        p.set(U32, 0, x.sender);
        p.set(U32, 4, k);
        p.set(U64, 8, previous + 1);
        long seq = appendLocked(c, DEREF_RECORD, p.asSlice(0, DEREF_HEADER + 8L * k));
        if (seq > 0) {
            applyDeref(p, 0);
            journal.writeInline();
        }
        return seq;
    }

    /**
     * How many of a deref batch's handles D applied before. A sender's operation id is its outbox
     * position after the batch, so the batch covers positions [op - count, op), and D's mark for the
     * sender says which of them it applied. A resent batch need not have the same bounds as the first
     * attempt (the outbox grew meanwhile): judging by position, not by equal ids, applies each
     * reference drop exactly once. Recovery's reclaims ({@link #SENDER_RECOVERY}) are not de-duplicated.
     */
    private int alreadyApplied(int sender, long op, int count) {
        int m = markIndex(sender);
        if (m < 0) {
            return 0;
        }
        return (int) Math.max(0, Math.min(count, derefMarks[m] - (op - count)));
    }

    /** The mark a sender's derefs are de-duplicated by: 0 for sender 0, K for controller K's C, else -1. */
    static int markIndex(int sender) {
        if (sender == 0) {
            return 0;
        }
        int k = sender - DerefCall.CONTROLLER_SENDER;
        return k >= 1 && k < DerefMark.SENDERS ? k : -1;
    }

    private void applyDeref(MemorySegment p, long base) {
        int sender = p.get(U32, base);
        int count = p.get(U32, base + 4);
        long op = p.get(U64, base + 8);
        int applied = alreadyApplied(sender, op, count);
        if (applied > 0) {
            derefDuplicates++; // a resend (whole or overlapping): what was applied is never applied again
        }
        int m = markIndex(sender);
        if (m >= 0) {
            derefMarks[m] = Math.max(derefMarks[m], op);
        }
        for (int i = applied; i < count; i++) {
            long h = p.get(U64, base + DEREF_HEADER + 8L * i);
            if (!h2p.isCurrent(h)) {
                Log.error("deref_unknown_handle", "handle=0x" + Long.toHexString(h) + " op=" + op);
                continue;
            }
            deref(h);
            derefsApplied++;
        }
    }

    /** The planted bug {@link Plant#DEREF_APPLIED_TWICE}: the batch's references dropped once more. */
    private void applyDerefAgainPlanted(DerefCall x) {
        for (int i = 0; i < x.count; i++) {
            if (h2p.isCurrent(x.handles[i])) {
                deref(x.handles[i]);
            }
        }
    }

    /**
     * Recovery (before any host I/O): references H2P counts beyond what {@code refs} hold (a put whose
     * map never became durable) are dropped, journalled as a deref from {@link #SENDER_RECOVERY}.
     * @return references dropped
     */
    public long reclaimLeaked(ReferenceSource refs) {
        lock.lock();
        try {
            long n = reclaimLeakedLocked(refs);
            referencesReclaimed += n;
            return n;
        } finally {
            lock.unlock();
        }
    }

    private long reclaimLeakedLocked(ReferenceSource refs) {
        long[][] counts = referenceCounts(refs, null, new long[1]);
        Ctx c = contexts.get();
        DerefCall call = c.outboxCall;
        call.count = 0;
        long reclaimed = 0;
        long[] leaked = new long[16];
        for (int b = 0; b < H2pHandle.BUCKETS; b++) {
            long[] cb = counts[b];
            int[] n = {0};
            long[][] found = {leaked};
            h2p.bucket(b).forEachLive((handle, location, length, flags, refcount) -> {
                long extra = refcount - cb[(int) H2pHandle.slot(handle)];
                for (long e = 0; e < extra; e++) { // bounded by the references the crash left behind
                    if (n[0] == found[0].length) {
                        found[0] = Arrays.copyOf(found[0], n[0] * 2);
                    }
                    found[0][n[0]++] = handle;
                }
            });
            leaked = found[0];
            for (int k = 0; k < n[0]; k++) {
                if (call.count == DEREF_BATCH) {
                    reclaimed += flushReclaim(c, call);
                }
                call.handles[call.count++] = leaked[k];
            }
        }
        return reclaimed + flushReclaim(c, call);
    }

    private long flushReclaim(Ctx c, DerefCall call) {
        if (call.count == 0) {
            return 0;
        }
        int n = call.count;
        call.header(0, 0, SENDER_RECOVERY);
        long seq = derefLocked(c, call);
        call.count = 0;
        if (seq <= 0 || call.status != Status.OK) {
            Log.error("reclaim_failed", "status=" + call.status + " seq=" + seq + " handles=" + n);
            return 0;
        }
        return n;
    }

    /**
     * References each live H2P slot should have: one per reference {@code refs} holds (mappings, and
     * outbox handles D has not dropped yet). References to slots that are not current are counted in
     * {@code dangling[0]} when given; the mapped blocks go to {@code mapped[0]}.
     */
    private long[][] referenceCounts(ReferenceSource refs, long[] dangling, long[] mapped) {
        long[][] counts = new long[H2pHandle.BUCKETS][];
        for (int b = 0; b < H2pHandle.BUCKETS; b++) {
            counts[b] = new long[(int) h2p.bucket(b).highWater()];
        }
        mapped[0] = refs.forEachReference(derefMarks[0], handle -> count(counts, handle, dangling));
        return counts;
    }

    private void count(long[][] counts, long handle, long[] dangling) {
        int b = H2pHandle.bucket(handle);
        long slot = H2pHandle.slot(handle);
        if (slot >= counts[b].length || !h2p.bucket(b).isCurrent(handle)) {
            if (dangling != null) {
                dangling[0]++;
            }
        } else {
            counts[b][(int) slot]++;
        }
    }

    /** D: reads blocks by handle into the caller's buffer (see {@link FetchCall}). */
    public void fetch(FetchCall x) {
        Ctx c = contexts.get();
        x.status = Status.OK;
        for (int i = 0; i < x.count; i++) {
            int at = x.dstOffset + i * BlockCodec.BLOCK_BYTES;
            if (x.handles[i] == H2pHandle.NONE) {
                x.dst.put(at, ZERO_BLOCK, 0, BlockCodec.BLOCK_BYTES); // unmapped: reads as zeros
                x.blockStatus[i] = Status.OK;
                continue;
            }
            x.blockStatus[i] =
                    x.noWait ? fetchInMemory(c, x.handles[i], x.dst, at) : fetchOne(c, x.handles[i], x.dst, at);
            if (x.blockStatus[i] != Status.OK && x.status == Status.OK) {
                x.status = x.blockStatus[i];
            }
            if (x.status == Status.WOULD_BLOCK) {
                return; // the caller fetches the whole call again where it may wait
            }
        }
    }

    /**
     * A fetch that must not wait ({@link FetchCall#noWait}): the block from the read cache or its
     * journal copy, decompressed (and the journal copy verified) outside the lock as {@link #fetchOne}
     * does; {@link Status#WOULD_BLOCK} when it is on the SSDs only, when the lock is taken (a checkpoint
     * capture holds it for milliseconds), or when a journal copy fails its check (the full path retries
     * and repairs). A miss here is not counted: the full fetch that follows counts it.
     */
    private Status fetchInMemory(Ctx c, long h, ByteBuffer dst, int at) {
        if (!lock.tryLock()) {
            return Status.WOULD_BLOCK;
        }
        try {
            if (!captureHandle(c, h, 0, true)) {
                return Status.STALE_HANDLE;
            }
            if (c.rPending[0] == null && c.rCachedLength[0] < 0) {
                return Status.WOULD_BLOCK;
            }
        } finally {
            lock.unlock();
        }
        return fetch(c, 0, dst, at) ? Status.OK : Status.WOULD_BLOCK;
    }

    private Status fetchOne(Ctx c, long h, ByteBuffer dst, int at) {
        for (int attempt = 0; attempt < 3; attempt++) {
            lock.lock();
            try {
                if (!captureHandle(c, h, 0)) {
                    return Status.STALE_HANDLE;
                }
                if (attempt > 0) {
                    readVerifyRetries++;
                }
            } finally {
                lock.unlock();
            }
            if (fetch(c, 0, dst, at)) {
                return Status.OK;
            }
        }
        lock.lock();
        try {
            if (!captureHandle(c, h, 0)) {
                return Status.STALE_HANDLE; // freed while we read: the caller resolves again
            }
            readVerifyErrors++;
        } finally {
            lock.unlock();
        }
        Log.error(
                "read_verify_failed",
                "handle=0x" + Long.toHexString(h) + " location=" + c.rLocation[0] + " bytes=" + c.rBytes[0]);
        return Status.MEDIUM_ERROR;
    }

    /** Captures what a read of handle {@code h} needs into slot {@code i} of the context; false if stale. */
    private boolean captureHandle(Ctx c, long h, int i) {
        return captureHandle(c, h, i, false);
    }

    /** {@link #captureHandle}; with {@code peek}, a read-cache miss is not counted (a full fetch follows). */
    private boolean captureHandle(Ctx c, long h, int i, boolean peek) {
        if (plantNoGeneration) {
            h = h2p.withSlotGeneration(h); // planted bug: a reused slot answers an old handle
        }
        if (!h2p.isCurrent(h)) {
            return false;
        }
        c.rHandle[i] = h;
        long location = h2p.location(h);
        int flags = h2p.flags(h);
        c.rLocation[i] = location;
        c.rBytes[i] = storedBytesOf(h2p.length(h), flags);
        c.rPending[i] = (flags & FLAG_IN_JOURNAL) != 0 ? pending[(int) location] : null;
        c.rCachedLength[i] = c.rPending[i] == null ? cache.get(h, c.rCached[i], !peek) : -1;
        h2p.bucket(H2pHandle.bucket(h)).copyStoredFingerprint(h, c.rFpSeg, i * 27L);
        return true;
    }

    /**
     * Applies one MAP record to H2P and A2H: the write path right after appending it, and replay. Holds
     * the lock. Returns nothing: on replay a reference to a fingerprint nobody stored is counted
     * ({@code replay_missing}) and the block left unmapped.
     */
    private void apply(MemorySegment p, long base, boolean replay) {
        int volume = p.get(U32, base);
        int count = p.get(U16, base + 4) & 0xFFFF;
        long at = base + RECORD_HEADER;
        for (int k = 0; k < count; k++) {
            byte kind = p.get(ValueLayout.JAVA_BYTE, at);
            long block = p.get(U64, at + 1);
            if (kind == KIND_UNMAP) {
                long n = p.get(U64, at + 9);
                at += ENTRY_UNMAP_BYTES;
                peer.replayLegacyUnmap(volume, block, n, this::deref);
                continue;
            }
            long fpAt = at + 9;
            long h = h2p.lookup(p, fpAt);
            if (kind == KIND_DEDUP) {
                at += ENTRY_DEDUP_BYTES;
                if (h == H2pHandle.NONE) {
                    replayMissing++;
                    Log.error("replay_missing_block", "volume=" + volume + " block=" + block + " replay=" + replay);
                    long old = peer.replayLegacyMapping(volume, block, H2pHandle.NONE);
                    if (old != H2pHandle.NONE) {
                        deref(old);
                    }
                    continue;
                }
                h2p.addRef(h, 1);
            } else if (kind == KIND_NEW) {
                int len = p.get(U16, at + 41) & 0xFFFF;
                long dataAt = at + ENTRY_NEW_FIXED;
                at += ENTRY_NEW_FIXED + len;
                if (h != H2pHandle.NONE) {
                    h2p.addRef(h, 1);
                } else {
                    h = insertPending(p, fpAt, dataAt, len);
                }
            } else {
                throw new IllegalStateException("unknown MAP entry kind: kind=" + kind + " replay=" + replay);
            }
            long old = peer.replayLegacyMapping(volume, block, h);
            if (old != H2pHandle.NONE) {
                deref(old);
            }
        }
        changesSinceCheckpoint++;
    }

    /** Applies one journal record during replay. @return false for a type replay skips */
    private boolean replayRecord(byte type, MemorySegment r, long off) {
        switch (type) {
            case PUT_RECORD -> applyPut(r, off, null);
            case DEREF_RECORD -> applyDeref(r, off);
            case SET_RECORD, UNMAP_RECORD, ACK_RECORD -> {
                return peer.replayForeign(type, r, off); // C's, written before C had a journal of its own
            }
            case MAP_RECORD -> apply(r, off, true); // written before the roles had records of their own
            default -> {
                return false;
            }
        }
        return true;
    }

    private long insertPending(MemorySegment p, long fpAt, long dataAt, int len) {
        return insertPending(p, fpAt, dataAt, len, H2pHandle.NONE);
    }

    /** Stores a journalled block; at {@code handle} exactly when it is not NONE (replay of a put). */
    private long insertPending(MemorySegment p, long fpAt, long dataAt, int len, long handle) {
        int id;
        if (pendingFreeCount > 0) {
            id = pendingFree[--pendingFreeCount];
        } else {
            if (pendingHigh == pending.length) {
                pending = Arrays.copyOf(pending, pendingHigh * 2);
                pendingHandle = Arrays.copyOf(pendingHandle, pendingHigh * 2);
                pendingFree = Arrays.copyOf(pendingFree, pendingHigh * 2);
            }
            id = pendingHigh++;
        }
        byte[] data = new byte[len];
        MemorySegment.copy(p, ValueLayout.JAVA_BYTE, dataAt, data, 0, len);
        int bytes = SegmentStore.HEADER_BYTES + len;
        int flags = ((bytes & 15) << 1) | FLAG_IN_JOURNAL;
        long h = handle == H2pHandle.NONE
                ? h2p.insert(p, fpAt, id, bytes >>> 4, flags)
                : h2p.insertAt(p, fpAt, handle, id, bytes >>> 4, flags);
        pending[id] = data;
        pendingHandle[id] = h;
        pendingCount++;
        pendingBytes += bytes;
        pendingFootprint += SegmentStore.footprint(len);
        storedBytes += bytes;
        return h;
    }

    /** Drops one reference; the last one frees the block's space (journal copy or stripe bytes). */
    private void deref(long h) {
        if (h2p.refcount(h) == 1) {
            long location = h2p.location(h);
            int flags = h2p.flags(h);
            int bytes = storedBytesOf(h2p.length(h), flags);
            h2p.addRef(h, -1);
            cache.remove(h);
            storedBytes -= bytes;
            if ((flags & FLAG_IN_JOURNAL) != 0) {
                freePending((int) location, bytes);
            } else if (!replaying) { // recovery counts stripe space from H2P after replay
                store.released(location, bytes);
            }
        } else {
            h2p.addRef(h, -1);
        }
    }

    private void freePending(int id, int bytes) {
        pending[id] = null;
        pendingHandle[id] = -1;
        pendingFree[pendingFreeCount++] = id;
        pendingCount--;
        pendingBytes -= bytes;
        pendingFootprint -= SegmentStore.footprint(bytes - SegmentStore.HEADER_BYTES);
    }

    static int storedBytesOf(int length, int flags) {
        return (length << 4) | ((flags >>> 1) & 15);
    }

    // ---------------------------------------------------------------- read path

    /** Fetches, decompresses and verifies captured block {@code i} into {@code dst[at]}. */
    private boolean fetch(Ctx c, int i, ByteBuffer dst, int at) {
        ByteBuffer src;
        int off;
        int len;
        byte[] p = c.rPending[i];
        if (c.rCachedLength[i] >= 0) { // verified when it entered the cache
            return c.codec.decompress(c.rCachedBuffer[i], 0, c.rCachedLength[i], dst, at);
        }
        boolean fromSsd = p == null;
        if (p != null) {
            src = ByteBuffer.wrap(p);
            off = 0;
            len = p.length;
            if (!decodeAndVerify(c, i, src, off, len, dst, at)) {
                return false;
            }
        } else {
            off = store.read(c.rLocation[i], c.rBytes[i], c.scratch);
            src = c.scratch;
            if (off < 0
                    || !decodeAndVerify(
                            c,
                            i,
                            src,
                            off + SegmentStore.HEADER_BYTES,
                            off < 0 ? -1 : storedLength(src, off, c.rBytes[i]),
                            dst,
                            at)) {
                off = repair(c, i, dst, at);
                if (off < 0) {
                    return false;
                }
            }
            len = c.rBytes[i] - SegmentStore.HEADER_BYTES;
            off += SegmentStore.HEADER_BYTES;
        }
        int bucket = H2pHandle.bucket(c.rHandle[i]);
        if (fromSsd && cache.capacityBytes() > 0) {
            lock.lock();
            try {
                long h = c.rHandle[i];
                if (h2p.bucket(bucket).isCurrent(h)
                        && h2p.location(h) == c.rLocation[i]
                        && (h2p.flags(h) & FLAG_IN_JOURNAL) == 0) {
                    cache.put(h, src, off, len);
                }
            } finally {
                lock.unlock();
            }
        }
        return true;
    }

    /** The length header of a record read into scratch at {@code off}, or -1 if it is not the length H2P knows. */
    private static int storedLength(ByteBuffer src, int off, int expectedBytes) {
        int len = (src.get(off) & 0xFF) | (src.get(off + 1) & 0xFF) << 8;
        return len == expectedBytes - SegmentStore.HEADER_BYTES ? len : -1;
    }

    /** Decompresses captured block {@code i} into {@code dst[at]} and checks it against its fingerprint. */
    private static boolean decodeAndVerify(Ctx c, int i, ByteBuffer src, int off, int len, ByteBuffer dst, int at) {
        if (len < 0 || !c.codec.decompress(src, off, len, dst, at)) {
            return false;
        }
        c.codec.fingerprint(dst, at, c.vfp, 0);
        return H2pHandle.bucketOf(c.vfpSeg, 0) == H2pHandle.bucket(c.rHandle[i])
                && Arrays.mismatch(c.vfp, 5, 32, c.rFp, i * 27, i * 27 + 27) < 0;
    }

    /**
     * Self-healing read: the SSD's bytes for captured block {@code i} fail their fingerprint (or could
     * not be read). If H2P still points there, rebuild the record from parity as if each data column it
     * spans were lost; a copy that verifies is written back in place, counted and logged. Returns the
     * record's offset in {@code c.scratch}, or -1.
     */
    private int repair(Ctx c, int i, ByteBuffer dst, int at) {
        long location = c.rLocation[i];
        int generation;
        lock.lock();
        try {
            long h = c.rHandle[i];
            if (!h2p.isCurrent(h) || h2p.location(h) != location || (h2p.flags(h) & FLAG_IN_JOURNAL) != 0) {
                return -1; // overwritten or moved meanwhile: the caller looks it up again
            }
            generation = store.stripeGeneration(location); // the write-back is refused if the stripe changes
        } finally {
            lock.unlock();
        }
        int[] columns = store.columnsOf(location, c.rBytes[i]);
        int k = store.dataColumnsOf(location);
        // One wrong column (the usual case: each column the record spans in turn), then pairs: one of
        // the record's columns and another whose cell in the same row is also wrong (two corrupted
        // cells in a row defeat P alone): P itself first (index k: the column rebuilt from Q's
        // diagonals alone), then each other data column (both from P and Q with RDP). Singles first:
        // a pair that includes the right column also verifies, and would leave the other column of a
        // record spanning two unrepaired on the SSD.
        int singles = columns.length;
        for (int attempt = 0; attempt < singles + columns.length * k; attempt++) {
            int column = attempt < singles ? columns[attempt] : columns[(attempt - singles) / k];
            int j = attempt < singles ? -1 : (attempt - singles) % k;
            int other = j < 0 ? -1 : j == 0 ? k : (column + j) % k;
            if (attempt == singles) {
                Log.warn(
                        "read_repair_searching",
                        "handle=0x" + Long.toHexString(c.rHandle[i]) + " location=" + location
                                + " reason=one_column_rebuilt_does_not_verify action=try_column_pairs");
            }
            int off = other < 0
                    ? store.readRepaired(location, c.rBytes[i], c.scratch, column)
                    : store.readRepaired(location, c.rBytes[i], c.scratch, column, other);
            if (off >= 0
                    && decodeAndVerify(
                            c,
                            i,
                            c.scratch,
                            off + SegmentStore.HEADER_BYTES,
                            storedLength(c.scratch, off, c.rBytes[i]),
                            dst,
                            at)) {
                // Every column of the record that was rebuilt goes back (both, when the pair is the
                // record's own two columns); a neighbour's column is not the record's to write.
                boolean written = store.rewrite(location, c.rBytes[i], c.scratch, column, generation);
                if (columns.length == 2 && other == columns[0] + columns[1] - column) {
                    written &= store.rewrite(location, c.rBytes[i], c.scratch, other, generation);
                }
                c.repairs++;
                lock.lock();
                try {
                    readRepairs++;
                } finally {
                    lock.unlock();
                }
                Log.warn(
                        "read_repaired",
                        "handle=0x" + Long.toHexString(c.rHandle[i]) + " location=" + location + " column=" + column
                                + (other == k ? " also_wrong=P" : other >= 0 ? " also_wrong_column=" + other : "")
                                + " rewritten=" + written
                                + " source=parity");
                return off;
            }
        }
        return -1;
    }

    private static final ByteBuffer ZERO_BLOCK = ByteBuffer.allocateDirect(BlockCodec.BLOCK_BYTES);

    // ---------------------------------------------------------------- destage, compaction, checkpoint

    private void destageLoop() {
        while (running) {
            try {
                lock.lock();
                try {
                    if (running && pendingCount == 0 && !checkpointRequested) {
                        destageWake.await(20, TimeUnit.MILLISECONDS);
                    }
                } finally {
                    lock.unlock();
                }
                if (!running) {
                    break;
                }
                if (!destageRound()) {
                    LockSupport.parkNanos(5_000_000); // let the journal gather a stripe's worth
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            } catch (IOException | RuntimeException e) {
                if (!pool.retry("destage", e)) {
                    break; // read-only now: the journal keeps what was acknowledged, reads go on
                }
            }
        }
    }

    /**
     * One round of the destage thread's work: destage what is worth it, then maintenance (health,
     * rebuild, scrub, compaction, a checkpoint when due). A simulation without background threads
     * ({@link Seams#backgroundThreads()}) calls it itself.
     *
     * @return whether blocks were destaged
     */
    public boolean destageRound() throws IOException {
        destageLock.lock();
        try {
            RuntimeException fault = destageFault;
            if (fault != null) {
                throw fault;
            }
            boolean partial = destagePartialStripe();
            boolean worth = partial || checkpointRequested || destageWorthIt();
            if (worth) {
                destageAll(true, ROUND_BATCHES_MAX);
                if (partial) {
                    destageRoundsForced++;
                    destageRest();
                } else {
                    destageRoundsWhole++;
                }
                lastDestageNs = clock.nanoTime();
            }
            maintain();
            pool.succeeded();
            return worth;
        } finally {
            destageLock.unlock();
        }
    }

    /** Tests: makes every destage round throw {@code e} (null: stop). */
    void failDestageWith(RuntimeException e) {
        destageFault = e;
    }

    /** Tests: the pool's state and its retry backoff seam. */
    PoolState pool() {
        return pool;
    }

    private long lastDestageNs;

    /**
     * Whether to destage now: when the journal holds enough to fill the open stripe (so P and Q are
     * written about once per stripe, not once per round). Until then blocks are served from the
     * journal copy.
     */
    private boolean destageWorthIt() {
        return wholeStripeBudget() > 0;
    }

    /**
     * Whether the blocks short of a whole stripe go out too this round: when they have waited 200 ms,
     * or when the blocks not destaged pass a quarter of the NVRAM (a checkpoint must carry what is not
     * destaged). Not for the journal's reserved space: that is released by checkpoints (which destage
     * everything), not by destaging, so flushing part-stripes for it would only rewrite parity.
     */
    private boolean destagePartialStripe() {
        long notDestaged;
        lock.lock();
        try {
            notDestaged = pendingFootprint;
        } finally {
            lock.unlock();
        }
        return notDestaged > config.nvramBytes() / 4
                || clock.nanoTime() - lastDestageNs > TimeUnit.MILLISECONDS.toNanos(200);
    }

    /**
     * Stripe bytes ({@link SegmentStore#footprint}) of journalled blocks that fill the open stripe and
     * whole new stripes exactly (0: not enough). Counted as the stripe takes them, a raw block one
     * cell: counting its 2-byte header too would stop every batch one block short of the stripe's end,
     * so that each stripe was flushed, and its parity written, twice.
     */
    private long wholeStripeBudget() {
        long room = store.openRemaining();
        if (room < SegmentStore.HEADER_BYTES + 1) {
            room = 0; // nothing fits: the next block opens a new stripe
        }
        long cap = store.nextStripeCapacity(2);
        long pending;
        lock.lock();
        try {
            pending = pendingFootprint;
        } finally {
            lock.unlock();
        }
        if (pending < room || cap <= 0) {
            return 0;
        }
        long budget = room + (pending - room) / cap * cap;
        return budget == 0 ? 0 : budget;
    }

    private void maintain() throws IOException {
        String health = store.pollHealth();
        if (!health.isEmpty()) {
            Log.warn("dae_health_changed", health + " " + dae.healthSummary() + " protection=" + protectionState());
            lock.lock();
            try {
                lastHealthChange = health;
            } finally {
                lock.unlock();
            }
            checkpointRequested = true; // the metadata copies and the stripe table move off the lost SSD
        }
        rebuildStep();
        scrubStep();
        boolean journalFull = journal.reservedBytes() > config.nvramBytes() * 3 / 5 || peer.wantsCheckpoint();
        boolean due = (changedSinceCheckpoint() || peer.changedSinceCheckpoint())
                && clock.nanoTime() - lastCheckpointNs > TimeUnit.MILLISECONDS.toNanos(config.checkpointIntervalMs());
        // New blocks fill the free cells of the emptiest sealed stripe when free stripes run out; compaction
        // (moving live blocks to empty whole stripes) is only for when no stripe has cells worth a refill.
        if (store.freeStripes() < 3 && store.refillRoomCells() < 2 * SegmentStore.MIN_REFILL_CELLS) {
            int moved = 0;
            for (int i = 0; i < 8; i++) {
                long victim = store.compactionVictim(0.98);
                if (victim < 0 || !relocate(new long[] {victim}, "compaction")) {
                    break;
                }
                compactedStripes++;
                moved++;
            }
            if (moved > 0 || store.reclaimableStripes() > 0) {
                checkpointRequested = true;
            }
        }
        if (journalFull || due || checkpointRequested) {
            checkpoint();
        }
    }

    /** Whether anything changed since the last checkpoint (read under the lock that guards the count). */
    private boolean changedSinceCheckpoint() {
        lock.lock();
        try {
            return changesSinceCheckpoint > 0;
        } finally {
            lock.unlock();
        }
    }

    /** Tests: asks the destage thread for a checkpoint, as the write path does under back-pressure. */
    void requestCheckpoint() {
        checkpointRequested = true;
        lock.lock();
        try {
            destageWake.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Tests: whether a checkpoint request is still open. */
    boolean checkpointRequested() {
        return checkpointRequested;
    }

    /** Destages every block in the journal that the pool has room for. */
    private void destageAll() throws IOException {
        destageAll(false);
    }

    /**
     * Batches one round of the destage loop takes at most before its health poll and checkpoint
     * triggers ({@link #maintain}) run. Without a bound, a writer that keeps up with destage (as it
     * does when destage waits for a slow SSD) kept a round going for seconds: no health poll, so the
     * slow SSD was not found, and no checkpoint, so the journal space only checkpoints release ran out.
     */
    private static final int ROUND_BATCHES_MAX = 8;

    /**
     * Destages the journal's blocks; with {@code wholeStripes}, only as many as fill the open stripe
     * and whole new ones (so each stripe's P and Q are written once), the rest waits for more.
     */
    private void destageAll(boolean wholeStripes) throws IOException {
        destageAll(wholeStripes, Integer.MAX_VALUE);
    }

    /** As {@link #destageAll(boolean)}, for at most {@code maxBatches} batches. */
    private void destageAll(boolean wholeStripes, int maxBatches) throws IOException {
        for (int batches = 0; batches < maxBatches; batches++) {
            long budget = wholeStripes ? wholeStripeBudget() : Long.MAX_VALUE;
            // In whole-stripe mode one batch takes the whole budget: a batch ends with a flush, and a
            // flush in mid-stripe would write that stripe's parity twice.
            if (budget <= 0 || destageBatch(wholeStripes ? Integer.MAX_VALUE : 4096, 2, budget) == 0) {
                return;
            }
        }
    }

    /**
     * After the whole stripes, the blocks journalled now that fill less than one go out in one batch:
     * one flush, so the part-filled stripe has its parity written once more. Draining in small batches
     * under a writer that keeps up would flush, and rewrite parity, for every few blocks.
     */
    private void destageRest() {
        int now;
        lock.lock();
        try {
            now = pendingCount;
        } finally {
            lock.unlock();
        }
        if (now > 0) {
            destageBatch(now, 2, Long.MAX_VALUE);
        }
    }

    /** One destage round: copy out under the lock, write without it, publish under it. @return blocks placed */
    int destageBatch(int max, int keepFree) {
        return destageBatch(max, keepFree, Long.MAX_VALUE);
    }

    private int destageBatch(int max, int keepFree, long budgetBytes) {
        int[] ids;
        byte[][] data;
        int n = 0;
        lock.lock();
        try {
            ids = new int[Math.min(max, pendingCount)];
            data = new byte[ids.length][];
            for (int id = 0; id < pendingHigh && n < ids.length; id++) {
                if (pending[id] != null) {
                    ids[n] = id;
                    data[n++] = pending[id];
                }
            }
        } finally {
            lock.unlock();
        }
        if (n == 0) {
            return 0;
        }
        long[] locs = new long[n];
        int appended = 0;
        long batchBytes = 0;
        boolean noRoom = false;
        for (; appended < n; appended++) {
            batchBytes += SegmentStore.footprint(data[appended].length);
            if (batchBytes > budgetBytes) {
                break;
            }
            ByteBuffer b = ByteBuffer.wrap(data[appended]);
            long loc = store.append(b, 0, data[appended].length, keepFree);
            if (loc < 0) {
                noRoom = true;
                break;
            }
            locs[appended] = loc;
        }
        destageFlushes++;
        if (store.flush() != io.hashbrick.sim.IoStatus.OK) {
            return 0;
        }
        int placed = 0;
        lock.lock();
        try {
            for (int i = 0; i < appended; i++) {
                int id = ids[i];
                if (pending[id] != data[i]) {
                    continue; // died (and maybe reused) meanwhile: its appended bytes are garbage
                }
                long h = pendingHandle[id];
                int bytes = SegmentStore.HEADER_BYTES + data[i].length;
                h2p.setLocation(h, locs[i], bytes >>> 4, (bytes & 15) << 1);
                store.placed(locs[i], bytes);
                cache.put(h, data[i], 0, data[i].length);
                pending[id] = null;
                pendingHandle[id] = -1;
                pendingFree[pendingFreeCount++] = id;
                pendingCount--;
                pendingBytes -= bytes;
                pendingFootprint -= SegmentStore.footprint(data[i].length);
                placed++;
            }
            destagedBlocks += placed;
        } finally {
            lock.unlock();
        }
        if (noRoom && placed == 0) {
            checkpointRequested = true; // out of stripes: compaction and a checkpoint free some
        }
        return placed;
    }

    /** Live blocks (on the SSDs) of the given stripes, sorted: {handle, location, stored bytes} each. */
    private List<long[]> liveBlocksOf(long[] stripes) {
        long[] sorted = stripes.clone();
        Arrays.sort(sorted);
        long stripeBytes = layout.stripeDataBytes();
        List<long[]> found = new ArrayList<>();
        forEachOnSsd((handle, location, bytes) -> {
            if (Arrays.binarySearch(sorted, location / stripeBytes) >= 0) {
                found.add(new long[] {handle, location, bytes});
            }
        });
        found.sort((x, y) -> Long.compare(x[1], y[1]));
        return found;
    }

    /** A live block stored on the SSDs: its handle, pool location and stored bytes (header included). */
    private interface OnSsd {
        void accept(long handle, long location, int storedBytes);
    }

    /**
     * Calls {@code v} for every live block on the SSDs (not in the journal), one H2P bucket at a time
     * under the lock: host I/O goes on, so users re-check a block under the lock before acting on it.
     */
    private void forEachOnSsd(OnSsd v) {
        for (int b = 0; b < H2pHandle.BUCKETS; b++) {
            lock.lock();
            try {
                h2p.bucket(b).forEachLive((handle, location, length, flags, refcount) -> {
                    if ((flags & FLAG_IN_JOURNAL) == 0) {
                        v.accept(handle, location, storedBytesOf(length, flags));
                    }
                });
            } finally {
                lock.unlock();
            }
        }
    }

    /** After a corruption drill: nothing it damaged may be served from the read cache; one log line. */
    private void drillDone(String what, long seed) {
        dropReadCache();
        Log.warn("corruption_drill", what + " seed=" + seed);
    }

    /** Empties the read cache: the next reads of destaged blocks go to the SSDs (drills, tests). */
    void dropReadCache() {
        lock.lock();
        try {
            cache.clear();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Flips one random bit of the record's bytes in data cell {@code cell} of its stripe, such that the
     * record no longer decodes to its fingerprint: about 1 in 1000 bit flips in an LZ4 record decode
     * to the same block (a match offset moved onto identical bytes), a change no reader can see and
     * no drill should count. Such a flip is undone and another bit tried. @return "slot:cell" flipped
     */
    private String flipBitThatMatters(
            io.hashbrick.sim.FaultInjector faults,
            java.util.SplittableRandom r,
            long handle,
            long location,
            int bytes,
            int cell) {
        long off = location % layout.stripeDataBytes();
        long cellStart = (long) cell * StripeLayout.CELL;
        int from = (int) (Math.max(off, cellStart) - cellStart); // the record's bytes within the cell
        int to = (int) (Math.min(off + SegmentStore.span(bytes), cellStart + StripeLayout.CELL) - cellStart);
        long[] at = store.cellAddress(location, cell / StripeLayout.ROWS, cell % StripeLayout.ROWS);
        io.hashbrick.sim.Ssd ssd = dae.slot((int) at[0]);
        Ctx c = contexts.get();
        ByteBuffer out = ByteBuffer.allocateDirect(BlockCodec.BLOCK_BYTES);
        for (int attempt = 0; attempt < 64; attempt++) {
            int bit = (from + r.nextInt(to - from)) * 8 + r.nextInt(8);
            faults.flipBit(ssd, at[1], bit);
            int at0 = store.read(location, bytes, c.scratch);
            if (at0 < 0 || !verifyStored(c, handle, c.scratch, at0, bytes, out)) {
                break;
            }
            faults.flipBit(ssd, at[1], bit); // harmless: undo, try another bit
        }
        return at[0] + ":" + at[1];
    }

    /**
     * Moves the live blocks of {@code victims} to the open stripe (compaction, and rebuild of stripes
     * that lost a column: their blocks are re-created, reconstructed where needed, on healthy SSDs).
     * @return whether all moved
     */
    private boolean relocate(long[] victims, String why) {
        return relocate(victims, why, null);
    }

    /**
     * As {@link #relocate(long[], String)}; with {@code column} set, only the live blocks that overlap
     * that rebuilt column move, read from the rebuild's cells and checked against their fingerprints.
     */
    private boolean relocate(long[] victims, String why, ColumnRebuild column) {
        store.excludeFromRefill(victims, 1); // the blocks must not move into free cells of the same stripes
        try {
            return relocateOut(victims, why, column);
        } finally {
            store.excludeFromRefill(victims, -1);
        }
    }

    private boolean relocateOut(long[] victims, String why, ColumnRebuild column) {
        List<long[]> found = liveBlocksOf(victims);
        if (column != null) {
            long[] range = column.range(layout.stripeDataBytes());
            found.removeIf(e -> e[1] >= range[1] || e[1] + SegmentStore.span((int) e[2]) <= range[0]);
        }
        boolean rebuild = why.equals("rebuild");
        Ctx c = contexts.get();
        ByteBuffer check = column == null ? null : ByteBuffer.allocateDirect(BlockCodec.BLOCK_BYTES);
        ByteBuffer scratch = compactScratch;
        long[] newLoc = new long[found.size()];
        int moved = 0;
        long prepared = -1;
        for (; moved < found.size(); moved++) {
            long[] e = found.get(moved);
            long stripe = e[1] / layout.stripeDataBytes();
            if (rebuild && column == null && stripe != prepared) {
                store.prepareRebuild(stripe); // one whole-stripe reconstruction serves all its blocks
                prepared = stripe;
            }
            int off = column == null
                    ? store.read(e[1], (int) e[2], scratch)
                    : store.readRebuilt(column, e[1], (int) e[2], scratch);
            if (off < 0 || (column != null && !verifyStored(c, e[0], scratch, off, (int) e[2], check))) {
                Log.warn(
                        "rebuild_block_unverified",
                        "handle=0x" + Long.toHexString(e[0]) + " location=" + e[1] + " action=move_whole_stripe");
                break;
            }
            long loc =
                    store.append(scratch, off + SegmentStore.HEADER_BYTES, (int) e[2] - SegmentStore.HEADER_BYTES, 0);
            if (loc < 0) {
                break;
            }
            newLoc[moved] = loc;
        }
        if (store.flush() != io.hashbrick.sim.IoStatus.OK) {
            return false;
        }
        lock.lock();
        try {
            for (int i = 0; i < moved; i++) {
                long[] e = found.get(i);
                long h = e[0];
                if (!h2p.isCurrent(h) || h2p.location(h) != e[1] || (h2p.flags(h) & FLAG_IN_JOURNAL) != 0) {
                    continue;
                }
                h2p.setLocation(h, newLoc[i], h2p.length(h), h2p.flags(h));
                store.released(e[1], (int) e[2]);
                store.placed(newLoc[i], (int) e[2]);
                relocatedBytes += e[2];
            }
            changesSinceCheckpoint++;
        } finally {
            lock.unlock();
        }
        Log.info(
                "stripes_relocated",
                "reason=" + why + " stripes=" + Arrays.toString(victims) + " blocks=" + moved + " of=" + found.size());
        return moved == found.size();
    }

    /** Whether the stored record in {@code src} at {@code off} is block {@code h}'s content (false if h died). */
    private boolean verifyStored(Ctx c, long h, ByteBuffer src, int off, int bytes, ByteBuffer out) {
        lock.lock();
        try {
            int b = H2pHandle.bucket(h);
            if (!h2p.bucket(b).isCurrent(h)) {
                return true; // died meanwhile: whatever moves is garbage, dropped at publish
            }
            c.rHandle[0] = h;
            h2p.bucket(b).copyStoredFingerprint(h, c.rFpSeg, 0);
        } finally {
            lock.unlock();
        }
        int len = storedLength(src, off, bytes);
        return decodeAndVerify(c, 0, src, off + SegmentStore.HEADER_BYTES, len, out.clear(), 0);
    }

    // ---------------------------------------------------------------- rebuild and scrub

    private long relocatedBytes;
    private long scrubRepairs;
    private long scrubParityRewrites;

    /** Bytes per second the rebuild may move (0 pauses it). */
    public void setRebuildRate(long bytesPerSecond) {
        rebuild.setRate(bytesPerSecond);
    }

    /** Bytes per second the scrub may read (0 stops it). */
    public void setScrubRate(long bytesPerSecond) {
        scrub.setRate(bytesPerSecond);
    }

    /**
     * Rebuild into hot space: stripes that lost a column have their live blocks re-created on stripes
     * of the healthy SSDs (free space on every SSD is the spare), at most {@link #setRebuildRate} bytes
     * per second. Only live data moves; the old stripes are freed by the next checkpoint.
     */
    private void rebuildStep() {
        long[] victims = rebuild.next(clock.nanoTime());
        if (victims == RebuildSchedule.FINISHED) {
            checkpointRequested = true;
            return;
        }
        if (victims == null) {
            return;
        }
        // No refill into these until their columns are out of the parity (zeroColumn uses P and Q as read).
        store.excludeFromRefill(victims, 1);
        try {
            rebuildVictims(victims);
        } finally {
            store.excludeFromRefill(victims, -1);
        }
    }

    private void rebuildVictims(long[] victims) {
        long before = relocatedBytes;
        List<ColumnRebuild> inPlace = new ArrayList<>();
        List<Long> whole = new ArrayList<>();
        long io = 0;
        for (long v : victims) {
            // One lost data column: rebuild it from both parities, move only its blocks, then take the
            // column out of the parity. Otherwise (P or Q lost, two columns): move every live block.
            ColumnRebuild x = store.rebuildColumn(v);
            if (x != null && relocate(new long[] {v}, "rebuild", x)) {
                store.markZeroing(x);
                inPlace.add(x);
            } else {
                whole.add(v);
            }
        }
        if (!whole.isEmpty()) {
            relocate(whole.stream().mapToLong(Long::longValue).toArray(), "rebuild");
        }
        if (!inPlace.isEmpty()) {
            try {
                checkpoint(); // no durable metadata may point into a column before it leaves the parity
            } catch (IOException e) {
                Log.warn("rebuild_checkpoint_failed", "error=" + Log.q(String.valueOf(e)) + " action=retry");
                return;
            }
            for (ColumnRebuild x : inPlace) {
                boolean done = store.zeroColumn(x);
                rebuild.columnRebuilt(x);
                io += x.cellsRead() * StripeLayout.CELL;
                if (!done) {
                    Log.warn("rebuild_zeroing_failed", "stripe=" + x.stripe() + " action=finish_at_next_start");
                }
            }
            Log.info(
                    "rebuild_columns",
                    "stripes=" + inPlace.size() + " cells_rebuilt=" + rebuild.cellsRebuilt() + " cells_read="
                            + rebuild.cellsRead() + " raid6_reads=" + rebuild.raid6Reads());
        }
        long moved = relocatedBytes - before;
        rebuild.moved(moved, io);
        checkpointRequested = true; // frees the emptied stripes, records the zeroed columns
    }

    /** Scrub: one sealed stripe at a time, at most {@link #setScrubRate} bytes per second read. */
    private void scrubStep() {
        long s = scrub.next(clock.nanoTime());
        if (s < 0) {
            return;
        }
        if (store.scrub(s) == SegmentStore.ScrubResult.MISMATCH) {
            scrubRepair(s);
        }
    }

    /**
     * A stripe whose parity does not match its data: verify each live block against its fingerprint
     * (the read path rebuilds and rewrites a corrupted one from parity); if parity still disagrees and
     * every live block then verifies as read, with no repair needed, what is wrong is parity or dead
     * data, and P and Q are recomputed from the data.
     */
    private void scrubRepair(long s) {
        long bad = 0;
        Ctx c = contexts.get();
        long repairsBefore = c.repairs; // this thread's own repairs, not concurrent host reads'
        ByteBuffer out = ByteBuffer.allocateDirect(BlockCodec.BLOCK_BYTES);
        for (long[] e : liveBlocksOf(new long[] {s})) {
            if (!verifyHandle(c, e[0], out)) {
                bad++;
            }
        }
        long repaired;
        lock.lock();
        try {
            repaired = c.repairs - repairsBefore;
            scrubRepairs += repaired;
        } finally {
            lock.unlock();
        }
        boolean parityRewritten = false;
        boolean persisted = false;
        if (store.scrub(s) == SegmentStore.ScrubResult.MISMATCH && bad == 0) {
            // Parity is recomputed from the data only when every live block verifies as read from the
            // SSDs, with no repair needed: a repair that verified but was not all written back would
            // otherwise be made permanent. If the pass above repaired nothing, it showed that already.
            long before = c.repairs;
            if (repaired > 0) {
                for (long[] e : liveBlocksOf(new long[] {s})) {
                    if (!verifyHandle(c, e[0], out)) {
                        bad++;
                    }
                }
            }
            persisted = c.repairs == before && bad == 0;
            if (!persisted) {
                Log.error(
                        "scrub_repair_not_persisted",
                        "stripe=" + s + " repairs_again=" + (c.repairs - before) + " blocks_unrepairable=" + bad
                                + " action=parity_left_as_is");
            }
        }
        if (persisted) {
            parityRewritten = store.reencode(s);
            if (parityRewritten) {
                lock.lock();
                try {
                    scrubParityRewrites++;
                } finally {
                    lock.unlock();
                }
            }
        }
        Log.warn(
                "scrub_mismatch",
                "stripe=" + s + " blocks_repaired=" + repaired + " blocks_unrepairable=" + bad + " parity_rewritten="
                        + parityRewritten);
    }

    /** Reads block {@code h} from where it is stored and checks it (repairing it from parity if needed). */
    private boolean verifyHandle(Ctx c, long h, ByteBuffer out) {
        int b = H2pHandle.bucket(h);
        boolean ok = false;
        for (int attempt = 0; attempt < 3 && !ok; attempt++) {
            lock.lock();
            try {
                if (!h2p.bucket(b).isCurrent(h)) {
                    return true; // freed meanwhile
                }
                c.rHandle[0] = h;
                int flags = h2p.flags(h);
                c.rLocation[0] = h2p.location(h);
                c.rBytes[0] = storedBytesOf(h2p.length(h), flags);
                c.rPending[0] = (flags & FLAG_IN_JOURNAL) != 0 ? pending[(int) c.rLocation[0]] : null;
                c.rCachedLength[0] = -1; // what is stored is checked, not the cache
                h2p.bucket(b).copyStoredFingerprint(h, c.rFpSeg, 0);
            } finally {
                lock.unlock();
            }
            ok = fetch(c, 0, out, 0);
        }
        return ok;
    }

    // ---------------------------------------------------------------- drills

    /** The DAE (drills and tests). */
    public Dae dae() {
        return dae;
    }

    /**
     * A drill on SSD {@code slot}: "fail" (the drive dies), "pull" (it leaves the slot), "reinsert" (the
     * same drive goes back; its columns stay lost until rebuilt, as they may be stale) or "replace" (a
     * new, empty drive). The data path notices within one destage round, as it would a real failure.
     */
    public String drill(String action, int slot) throws IOException {
        if (slot < 0 || slot >= dae.slotCount()) {
            throw new IllegalArgumentException("no such SSD slot: slot=" + slot + " slots=" + dae.slotCount());
        }
        String before = dae.health(slot).name();
        switch (action) {
            case "fail" -> dae.fail(slot);
            case "pull" -> dae.pull(slot);
            case "reinsert" -> dae.reinsert(slot);
            case "replace" -> dae.replace(slot);
            default ->
                throw new IllegalArgumentException(
                        "unknown SSD drill: action=" + action + " (fail, pull, reinsert, replace)");
        }
        String after = dae.health(slot).name();
        Log.warn("ssd_drill", "action=" + action + " slot=" + slot + " before=" + before + " after=" + after);
        lock.lock();
        try {
            destageWake.signalAll();
        } finally {
            lock.unlock();
        }
        return after;
    }

    /**
     * Test drill: flips one random bit in one cell of each of {@code count} random blocks stored on the
     * SSDs (silent corruption), at most one cell per stripe, a bit that changes what the block decodes
     * to. Returns "slot:cell" of each flipped cell.
     */
    public List<String> corruptCells(int count, long seed) {
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
        List<long[]> onSsd = new ArrayList<>();
        forEachOnSsd((handle, location, bytes) -> onSsd.add(new long[] {location, bytes, handle}));
        io.hashbrick.sim.FaultInjector faults = new io.hashbrick.sim.FaultInjector(seed);
        java.util.Set<String> done = new java.util.LinkedHashSet<>();
        java.util.Set<Long> stripesHit = new java.util.HashSet<>();
        for (int k = 0; k < count * 8 && done.size() < count && !onSsd.isEmpty(); k++) {
            long[] e = onSsd.get(r.nextInt(onSsd.size()));
            long offset = e[0] % layout.stripeDataBytes() + r.nextLong(SegmentStore.span((int) e[1]));
            int cell = (int) (offset / StripeLayout.CELL);
            long[] at = store.cellAddress(e[0], cell / StripeLayout.ROWS, cell % StripeLayout.ROWS);
            long stripe = e[0] / layout.stripeDataBytes();
            if (!stripesHit.add(stripe) || dae.health((int) at[0]) != io.hashbrick.sim.Health.OK) {
                continue; // one cell per stripe: independent, rare corruption (parity rebuilds one column)
            }
            done.add(flipBitThatMatters(faults, r, e[2], e[0], (int) e[1], cell));
        }
        drillDone("cells=" + done.size(), seed);
        return List.copyOf(done);
    }

    /**
     * Test drill: in each of {@code count} stripes, flips one bit in the first cell of a live block and
     * one in the P cell of the same row (a wrong data cell whose row parity is wrong too: P alone
     * cannot rebuild it). Returns "slot:cell" of every flipped cell.
     */
    List<String> corruptCellsWithTheirP(int count, long seed) {
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
        Map<Long, long[]> byStripe = new java.util.TreeMap<>();
        long stripeBytes = layout.stripeDataBytes();
        forEachOnSsd((handle, location, bytes) ->
                byStripe.putIfAbsent(location / stripeBytes, new long[] {location, bytes, handle}));
        io.hashbrick.sim.FaultInjector faults = new io.hashbrick.sim.FaultInjector(seed);
        List<String> done = new ArrayList<>();
        for (long[] e : byStripe.values()) {
            if (done.size() >= 2 * count) {
                break;
            }
            long off = e[0] % stripeBytes;
            int cell = (int) (off / StripeLayout.CELL);
            long[] data = store.cellAddress(e[0], cell / StripeLayout.ROWS, cell % StripeLayout.ROWS);
            long[] p = store.cellAddress(e[0], store.dataColumnsOf(e[0]), cell % StripeLayout.ROWS);
            if (dae.health((int) data[0]) != io.hashbrick.sim.Health.OK
                    || dae.health((int) p[0]) != io.hashbrick.sim.Health.OK) {
                continue;
            }
            done.add(flipBitThatMatters(faults, r, e[2], e[0], (int) e[1], cell));
            faults.flipBit(dae.slot((int) p[0]), p[1], r.nextInt(StripeLayout.CELL * 8));
            done.add(p[0] + ":" + p[1]);
        }
        drillDone("cells_with_their_p=" + done.size() / 2, seed);
        return done;
    }

    /**
     * Test drill: flips one bit in the second column of each of {@code count} live records that span
     * two data columns (compressed records packed across a column's end), one per stripe. Returns
     * "slot:cell" of every flipped cell.
     */
    List<String> corruptColumnStraddlers(int count, long seed) {
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
        Map<Long, long[]> byStripe = new java.util.TreeMap<>();
        long stripeBytes = layout.stripeDataBytes();
        forEachOnSsd((handle, location, bytes) -> {
            int span = SegmentStore.span(bytes);
            long off = location % stripeBytes;
            if (off / StripeLayout.COLUMN_BYTES != (off + span - 1) / StripeLayout.COLUMN_BYTES) {
                byStripe.putIfAbsent(location / stripeBytes, new long[] {location, bytes, handle});
            }
        });
        io.hashbrick.sim.FaultInjector faults = new io.hashbrick.sim.FaultInjector(seed);
        List<String> done = new ArrayList<>();
        for (long[] e : byStripe.values()) {
            if (done.size() >= count) {
                break;
            }
            long off = e[0] % stripeBytes;
            // the record's last cell: the first of the second column
            int cell = (int) ((off + SegmentStore.span((int) e[1]) - 1) / StripeLayout.CELL);
            long[] at = store.cellAddress(e[0], cell / StripeLayout.ROWS, cell % StripeLayout.ROWS);
            if (dae.health((int) at[0]) != io.hashbrick.sim.Health.OK) {
                continue;
            }
            done.add(flipBitThatMatters(faults, r, e[2], e[0], (int) e[1], cell));
        }
        drillDone("column_straddlers=" + done.size(), seed);
        return done;
    }

    /**
     * Test drill: in each of {@code count} stripes, flips one bit in a cell of one live block and one
     * in the cell of another live block in the same row, another data column (two wrong cells in a
     * row: P alone cannot say which). Returns "slot:cell" of every flipped cell.
     */
    List<String> corruptRowPairs(int count, long seed) {
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
        Map<Long, List<long[]>> byStripe = new HashMap<>();
        forEachOnSsd((handle, location, bytes) -> byStripe.computeIfAbsent(
                        location / layout.stripeDataBytes(), k -> new ArrayList<>())
                .add(new long[] {location, bytes, handle}));
        List<Long> stripes = new ArrayList<>(byStripe.keySet());
        java.util.Collections.sort(stripes);
        io.hashbrick.sim.FaultInjector faults = new io.hashbrick.sim.FaultInjector(seed);
        List<String> done = new ArrayList<>();
        for (int k = 0; k < stripes.size() * 4 && done.size() < 2 * count; k++) {
            List<long[]> blocks = byStripe.get(stripes.get(r.nextInt(stripes.size())));
            long[] a = blocks.get(r.nextInt(blocks.size()));
            long cellA = (a[0] % layout.stripeDataBytes()) / StripeLayout.CELL;
            long[] pair = null;
            long cellB = -1;
            for (long[] b : blocks) {
                long first = (b[0] % layout.stripeDataBytes()) / StripeLayout.CELL;
                long last = (b[0] % layout.stripeDataBytes() + SegmentStore.span((int) b[1]) - 1) / StripeLayout.CELL;
                for (long c = first; c <= last; c++) {
                    if (c % StripeLayout.ROWS == cellA % StripeLayout.ROWS
                            && c / StripeLayout.ROWS != cellA / StripeLayout.ROWS) {
                        pair = b;
                        cellB = c;
                    }
                }
                if (pair != null) {
                    break;
                }
            }
            if (pair == null) {
                continue;
            }
            String before = String.valueOf(done);
            for (long[] e : List.of(new long[] {a[0], cellA}, new long[] {pair[0], cellB})) {
                int cell = (int) e[1];
                long[] at = store.cellAddress(e[0], cell / StripeLayout.ROWS, cell % StripeLayout.ROWS);
                String key = at[0] + ":" + at[1];
                if (done.contains(key) || dae.health((int) at[0]) != io.hashbrick.sim.Health.OK) {
                    break;
                }
                done.add(key);
            }
            if (done.size() % 2 != 0 || before.equals(String.valueOf(done))) {
                if (done.size() % 2 != 0) {
                    done.remove(done.size() - 1);
                }
                continue;
            }
            byStripe.remove(a[0] / layout.stripeDataBytes()); // one pair per stripe
            stripes.remove(Long.valueOf(a[0] / layout.stripeDataBytes()));
            flipBitThatMatters(faults, r, a[2], a[0], (int) a[1], (int) cellA);
            flipBitThatMatters(faults, r, pair[2], pair[0], (int) pair[1], (int) cellB);
            if (stripes.isEmpty()) {
                break;
            }
        }
        drillDone("row_pairs=" + done.size() / 2, seed);
        return done;
    }

    /** "protected", "degraded" (one more SSD may fail), "critical" (none may) or "data_unavailable". */
    public String protectionState() {
        long[] h = store.protectionHistogram();
        return h[3] > 0 ? "data_unavailable" : h[2] > 0 ? "critical" : h[1] > 0 ? "degraded" : "protected";
    }

    /**
     * Writes a checkpoint of H2P and every A2H to the DAE (all journalled blocks destaged first), then
     * releases the journal up to it and frees the stripes it no longer references.
     */
    public void checkpoint() throws IOException {
        checkpoint(false);
    }

    /** {@link #checkpoint}, as a base (every page): the next open loads a chain of one. */
    public void checkpointBase() throws IOException {
        checkpoint(true);
    }

    private void checkpoint(boolean base) throws IOException {
        destageLock.lock(); // one destager at a time: the open stripe is not for two threads
        try {
            if (base) {
                baseRequired = true;
            }
            checkpointDestaging();
        } finally {
            destageLock.unlock();
        }
    }

    private void checkpointDestaging() throws IOException {
        // Whole stripes, then the rest in one batch (not drained batch by batch while writers go on:
        // each batch would flush, and rewrite the parity of, the same part-filled stripe); what arrives
        // meanwhile is destaged below with writers held.
        destageAll(true);
        destageRest();
        // A refill target that lost an SSD is given up (its blocks stay journalled): try once more.
        if (store.seal() != io.hashbrick.sim.IoStatus.OK) {
            destageAll();
            if (store.seal() != io.hashbrick.sim.IoStatus.OK) {
                throw new IOException("the open stripe lost more than two columns: not checkpointing");
            }
        }
        if (store.sync() != io.hashbrick.sim.IoStatus.OK) { // most of it outside the lock
            throw new IOException("SSD flush failed before checkpoint");
        }
        // The capture: every section into memory under the lock (no SSD I/O there; blocks journalled
        // since the destage above go into the checkpoint as they are); the sections are written to the
        // metadata area after it, while writes and reads go on (the destage lock keeps destage,
        // compaction and refills out until the checkpoint is durable).
        long t0 = System.nanoTime();
        CheckpointCapture cap;
        long lockedUs;
        lock.lock();
        try {
            long held = System.nanoTime(); // from here: what a host write may wait for, not the wait to get in
            checkpointRequested = false; // before the capture: a request from now on brings the next one
            cap = captureLocked();
            lockedUs = (System.nanoTime() - held) / 1_000;
        } finally {
            lock.unlock();
        }
        MetadataArea.Writer w;
        try {
            // A checkpoint covers only records the brick peer holds: a failover that opens the pool from
            // the peer's copy of the journals then never finds a checkpoint newer than its journal's end.
            if (!mirror.awaitMirrored(cap.sequence) || !peer.awaitCaptureMirrored()) {
                checkpointRequested = true; // the reason for this one still holds
                throw new IOException("the brick peer did not confirm the journal records the checkpoint covers:"
                        + " not checkpointing (tried again later)");
            }
            w = meta.begin(cap.generation, cap.sectionCount(), !cap.base);
            cap.writeTo(w);
            w.commit(cap.sequence);
        } catch (IOException | RuntimeException e) {
            lock.lock();
            try {
                // Never again: a failed delta may still verify on disk (its header written, a flush
                // failed), and a base of the same generation would tie with it at load.
                checkpointGeneration = Math.max(checkpointGeneration, cap.generation);
            } finally {
                lock.unlock();
            }
            throw e;
        } finally {
            cap.recycle();
        }
        baseRequired = false;
        long freed;
        lock.lock();
        try {
            checkpointGeneration = cap.generation;
            checkpointSequence = cap.sequence;
            freed = store.checkpointed();
            checkpoints++;
            if (cap.base) {
                checkpointBases++;
            }
            checkpointLastMs = (System.nanoTime() - t0) / 1_000_000;
            checkpointLockedUsMax = Math.max(checkpointLockedUsMax, lockedUs);
            changesSinceCheckpoint -= cap.changes;
            lastCheckpointNs = clock.nanoTime();
        } finally {
            lock.unlock();
        }
        Log.info(
                "checkpoint_written",
                "generation=" + cap.generation + " kind=" + (cap.base ? "base" : "delta") + " journal_sequence="
                        + cap.sequence + " unique_blocks="
                        + cap.uniqueBlocks + " sections=" + w.sectionCount() + " bytes=" + cap.bytes()
                        + " journal_blocks=" + cap.pendingBlocks + " stripes_freed=" + freed + " ms="
                        + checkpointLastMs + " locked_us=" + lockedUs + " chain_bytes=" + meta.chainBytes());
        peer.committed(); // C's journal is released up to what its sections hold
        lock.lock();
        try {
            journal.release(cap.sequence);
            journal.writeInline(); // frees the space now
        } finally {
            lock.unlock();
        }
    }

    /** Under the lock: D's sections, then C's (under C's lock), into memory. */
    private CheckpointCapture captureLocked() throws IOException {
        // Until the checkpoint commits: the capture clears page marks, and if anything fails after that
        // (in the capture or the write), only a base holds every page again.
        boolean tryDelta = !baseRequired && meta.canAppend(0, 0);
        baseRequired = true;
        if (tryDelta) {
            CheckpointCapture delta = captureLocked(false);
            long chainLimit = Math.max(CHAIN_BYTES_PER_BASE_BYTE * meta.chainBaseBytes(), CHAIN_BYTES_MIN);
            if (meta.canAppend(delta.bytes(), delta.sectionCount())
                    && meta.chainBytes() + delta.bytes() <= chainLimit) {
                return delta;
            }
            delta.recycle(); // the chain is long or its slot full: a base instead (every page, still consistent)
        }
        return captureLocked(true);
    }

    /**
     * A chain (a base and its deltas) grows to at most this many times its base's bytes (and at least
     * {@link #CHAIN_BYTES_MIN}) before the next checkpoint is a base: loading reads the whole chain.
     */
    private static final long CHAIN_BYTES_PER_BASE_BYTE = 3;

    private static final long CHAIN_BYTES_MIN = 64L << 20;

    private CheckpointCapture captureLocked(boolean base) throws IOException {
        CheckpointCapture cap = new CheckpointCapture(
                checkpointGeneration + 1, lastSequence, changesSinceCheckpoint, captureChunks, base);
        cap.uniqueBlocks = h2p.uniqueBlocks();
        // id 0: a base's pages (a new table at load); 1: a delta's (onto the chain's table)
        h2p.writePages(cap.section(SECTION_H2P_PAGES, base ? 0 : 1), base);
        store.writeSection(cap.section(SECTION_STRIPES, 0));
        store.captureForCheckpoint();
        DerefMark.write(derefMarks, cap.section(SECTION_DEREF_MARK, 0));
        peer.write(cap);
        if (pendingCount > 0) {
            cap.pendingBlocks = pendingCount;
            writePending(cap.section(SECTION_PENDING, 0));
        }
        return cap;
    }

    private static final int PENDING_MAGIC = 0x44504248; // "HBPD"

    private void writePending(java.nio.channels.WritableByteChannel ch) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(8 + 14 + BlockCodec.BLOCK_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(PENDING_MAGIC).putInt(pendingCount).flip();
        ch.write(b);
        for (int id = 0; id < pendingHigh; id++) {
            if (pending[id] != null) {
                b.clear();
                b.putInt(id)
                        .putLong(pendingHandle[id])
                        .putShort((short) pending[id].length)
                        .put(pending[id]);
                b.flip();
                ch.write(b);
            }
        }
    }

    private record PendingBlock(long handle, byte[] data) {}

    private static Map<Integer, PendingBlock> readPending(ReadableByteChannel ch) throws IOException {
        ByteBuffer all = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        while (ch.read(all.clear()) > 0) {
            bytes.write(all.array(), 0, all.position());
        }
        ByteBuffer b = ByteBuffer.wrap(bytes.toByteArray()).order(ByteOrder.LITTLE_ENDIAN);
        try {
            if (b.getInt() != PENDING_MAGIC) {
                throw new CorruptCheckpointException("pending-block section has a bad magic");
            }
            int n = b.getInt();
            Map<Integer, PendingBlock> m = new HashMap<>();
            for (int i = 0; i < n; i++) {
                int id = b.getInt();
                long handle = b.getLong();
                byte[] data = new byte[b.getShort() & 0xFFFF];
                b.get(data);
                m.put(id, new PendingBlock(handle, data));
            }
            return m;
        } catch (java.nio.BufferUnderflowException e) {
            throw new CorruptCheckpointException("pending-block section truncated");
        }
    }

    /** Puts the journalled blocks a checkpoint carried back where H2P expects them (location = id). */
    private void restorePending(Map<Integer, PendingBlock> loaded) {
        if (loaded.isEmpty()) {
            return;
        }
        int high = 0;
        for (int id : loaded.keySet()) {
            high = Math.max(high, id + 1);
        }
        int cap = Math.max(pending.length, Integer.highestOneBit(high) * 2);
        pending = new byte[cap][];
        pendingHandle = new long[cap];
        pendingFree = new int[cap];
        Arrays.fill(pendingHandle, -1);
        for (Map.Entry<Integer, PendingBlock> e : loaded.entrySet()) {
            pending[e.getKey()] = e.getValue().data();
            pendingHandle[e.getKey()] = e.getValue().handle();
            pendingCount++;
            pendingBytes += SegmentStore.HEADER_BYTES + e.getValue().data().length;
            pendingFootprint += SegmentStore.footprint(e.getValue().data().length);
        }
        pendingHigh = high;
        for (int id = high - 1; id >= 0; id--) {
            if (pending[id] == null) {
                pendingFree[pendingFreeCount++] = id;
            }
        }
    }

    // ---------------------------------------------------------------- audit and stats

    /** What the auditor found. */
    public record AuditReport(
            long volumes,
            long mappedBlocks,
            long uniqueBlocks,
            long refcountMismatches,
            long danglingReferences,
            long unreferencedEntries,
            long blocksVerified,
            long fingerprintErrors,
            long spaceMismatches,
            long excessReferences) {
        /**
         * What is wrong: a refcount below the references A2H and the deref outbox hold (a block could be
         * freed while mapped), mappings to handles that are not current, unreadable or wrong blocks, and
         * space accounting. References above what is mapped ({@link #excessReferences}, entries nobody
         * maps among them) are not counted: a write between its put and its map holds them for
         * microseconds, and a crash there leaves them behind as a space leak that the next start-up
         * reclaims.
         */
        public long discrepancies() {
            return refcountMismatches + danglingReferences + fingerprintErrors + spaceMismatches;
        }

        /** The report as the management API shows it (snake_case keys, like the stats). */
        public Map<String, Object> toMap() {
            Map<String, Object> m = new java.util.LinkedHashMap<>();
            m.put("volumes", volumes);
            m.put("mapped_blocks", mappedBlocks);
            m.put("unique_blocks", uniqueBlocks);
            m.put("refcount_mismatches", refcountMismatches);
            m.put("dangling_references", danglingReferences);
            m.put("unreferenced_entries", unreferencedEntries);
            m.put("excess_references", excessReferences);
            m.put("blocks_verified", blocksVerified);
            m.put("fingerprint_errors", fingerprintErrors);
            m.put("space_mismatches", spaceMismatches);
            m.put("discrepancies", discrepancies());
            return m;
        }

        public String toLogString() {
            StringBuilder b = new StringBuilder();
            for (Map.Entry<String, Object> e : toMap().entrySet()) {
                b.append(b.isEmpty() ? "" : " ").append(e.getKey()).append('=').append(e.getValue());
            }
            return b.toString();
        }
    }

    /**
     * Recomputes every refcount from the references {@code refs} holds ({@code volumes} volumes) and
     * compares it with H2P; with {@code fingerprints}, also reads every stored block and checks it
     * against its fingerprint. Safe on a live controller: the refcount pass holds the lock (host I/O
     * waits for it), the fingerprint pass reads without it. The census in {@code audit} calls it.
     */
    public AuditReport audit(ReferenceSource refs, long volumes, boolean fingerprints) {
        AuditReport r;
        lock.lock();
        try {
            r = auditLocked(refs, volumes);
        } finally {
            lock.unlock();
        }
        if (!fingerprints) {
            Log.info("audit", r.toLogString());
            return r;
        }
        long verified = 0;
        long errors = 0;
        Ctx c = contexts.get();
        ByteBuffer out = ByteBuffer.allocateDirect(BlockCodec.BLOCK_BYTES);
        for (int b = 0; b < H2pHandle.BUCKETS; b++) {
            List<Long> handles = new ArrayList<>();
            lock.lock();
            try {
                h2p.bucket(b).forEachLive((handle, location, length, flags, refcount) -> handles.add(handle));
            } finally {
                lock.unlock();
            }
            for (long h : handles) {
                boolean ok = verifyHandle(c, h, out);
                verified++;
                if (!ok) {
                    errors++;
                    Log.error("audit_fingerprint_mismatch", "handle=0x" + Long.toHexString(h));
                }
            }
        }
        r = new AuditReport(
                r.volumes(),
                r.mappedBlocks(),
                r.uniqueBlocks(),
                r.refcountMismatches(),
                r.danglingReferences(),
                r.unreferencedEntries(),
                verified,
                errors,
                r.spaceMismatches(),
                r.excessReferences());
        Log.info("audit", r.toLogString());
        return r;
    }

    private AuditReport auditLocked(ReferenceSource refs, long volumes) {
        long[] dangling = new long[1];
        long[] mappedOut = new long[1];
        long[][] counts = referenceCounts(refs, dangling, mappedOut);
        long mapped = mappedOut[0];
        long[] mismatches = new long[4]; // below, unreferenced, space, excess references
        long[] stored = new long[1];
        for (int b = 0; b < H2pHandle.BUCKETS; b++) {
            long[] cb = counts[b];
            h2p.bucket(b).forEachLive((handle, location, length, flags, refcount) -> {
                long expected = cb[(int) H2pHandle.slot(handle)];
                stored[0] += storedBytesOf(length, flags);
                if (expected == 0) {
                    mismatches[1]++;
                }
                if (refcount > expected) {
                    mismatches[3] += refcount - expected;
                } else if (refcount < expected) {
                    mismatches[0]++;
                    if (mismatches[0] <= 10) {
                        Log.warn(
                                "audit_refcount_mismatch",
                                "handle=0x" + Long.toHexString(handle) + " h2p=" + refcount + " references="
                                        + expected);
                    }
                }
                if ((flags & FLAG_IN_JOURNAL) != 0 && (location >= pendingHigh || pending[(int) location] == null)) {
                    mismatches[2]++;
                }
            });
        }
        long space = mismatches[2] + (stored[0] != storedBytes ? 1 : 0);
        return new AuditReport(
                volumes,
                mapped,
                h2p.uniqueBlocks(),
                mismatches[0],
                dangling[0],
                mismatches[1],
                0,
                0,
                space,
                mismatches[3]);
    }

    /** The statistics `hashbrick stats` prints. */
    public Map<String, Object> stats() {
        lock.lock();
        try {
            long unique = h2p.uniqueBlocks();
            long h2pRam = h2p.nativeBytes() + h2p.heapBytesEstimate();
            Map<String, Object> s = new java.util.LinkedHashMap<>();
            s.put("physical_bytes", storedBytes);
            s.put("unique_blocks", unique);
            s.put("h2p_ram_bytes", h2pRam);
            s.put("compression_ratio", ratio(unique * BlockCodec.BLOCK_BYTES, storedBytes));
            s.put("h2p_bytes_per_unique_block", ratio(h2pRam, unique));
            s.put("native_bytes_total", io.hashbrick.node.mem.NativeMemory.liveBytes());
            s.put("pool_capacity_bytes", layout.capacityBytes());
            s.put("pool_usable_bytes", usableBytes);
            s.put("pool_live_bytes", store.liveBytes());
            s.put("pool_free_stripes", store.freeStripes());
            s.put("pool_stripes", layout.stripes());
            s.put("journal_blocks", pendingCount);
            s.put("journal_block_bytes", pendingBytes);
            s.put("journal_reserved_bytes", journal.reservedBytes());
            s.put("journal_capacity_bytes", config.nvramBytes());
            s.put("writes_unique_blocks", writesUnique);
            s.put("writes_duplicate_blocks", writesDuplicate);
            s.put("destaged_blocks", destagedBlocks);
            s.put("destage_rounds_whole_stripes", destageRoundsWhole);
            s.put("destage_rounds_forced", destageRoundsForced);
            s.put("destage_flushes", destageFlushes);
            s.put("compacted_stripes", compactedStripes);
            s.put("ssd_cells_written", store.cellsWritten());
            s.put("no_space_refusals", noSpaceRefusals);
            s.put("read_verify_retries", readVerifyRetries);
            s.put("read_verify_errors", readVerifyErrors);
            s.put("replay_missing_blocks", replayMissing);
            s.put("deref_high_water", derefMarks[0]);
            s.put("derefs_applied", derefsApplied);
            s.put("deref_duplicates", derefDuplicates);
            s.put("references_reclaimed", referencesReclaimed);
            s.put("read_cache_capacity_bytes", cache.capacityBytes());
            s.put("read_cache_used_bytes", cache.usedBytes());
            s.put("read_cache_hits", cache.hits());
            s.put("read_cache_misses", cache.misses());
            s.put("read_cache_evictions", cache.evictions());
            s.put("checkpoints", checkpoints);
            s.put("checkpoint_bases", checkpointBases);
            s.put("checkpoint_generation", checkpointGeneration);
            s.put("checkpoint_last_ms", checkpointLastMs);
            s.put("checkpoint_locked_us_max", checkpointLockedUsMax);
            s.put("dae_health", dae.healthSummary());
            s.put("ssd_injected_latency_ms", dae.injectedLatencySummary());
            s.put("ssds_slow", store.slowSlots());
            s.put("reads_around_slow_ssd", store.readsAroundSlow());
            long[] hist = store.protectionHistogram();
            long[] deg = store.degradedLive();
            s.put("pool_state", pool.state());
            s.put("pool_read_only_reason", pool.reason());
            s.put("pool_read_only_error", pool.error());
            s.put("protection_state", protectionState());
            s.put("failures_tolerated", hist[3] > 0 ? -1 : hist[2] > 0 ? 0 : hist[1] > 0 ? 1 : 2);
            s.put("ssds_healthy", Integer.bitCount(store.healthyMask()));
            s.put("stripe_width_new", store.newStripeWidth());
            s.put("stripes_in_use", hist[0] + hist[1] + hist[2] + hist[3]);
            s.put("stripes_lost_1_column", hist[1]);
            s.put("stripes_lost_2_columns", hist[2]);
            s.put("stripes_lost_3_or_more", hist[3]);
            s.put("last_health_change", lastHealthChange);
            long rawData = layout.stripes() * layout.width() * (long) StripeLayout.COLUMN_BYTES;
            s.put("raw_data_bytes", rawData);
            s.put("parity_bytes", layout.stripes() * 2L * StripeLayout.COLUMN_BYTES);
            s.put("hot_space_bytes", layout.stripes() * 2L * StripeLayout.COLUMN_BYTES);
            s.put("rebuild_state", deg[0] == 0 ? "idle" : rebuild.rateBytes() == 0 ? "paused" : "running");
            s.put("rebuild_stripes_remaining", deg[0]);
            s.put("rebuild_bytes_remaining", deg[1]);
            s.put("rebuild_stripes_total", deg[0] == 0 ? 0 : rebuild.totalStripes());
            s.put(
                    "rebuild_progress_pct",
                    deg[0] == 0 || rebuild.totalStripes() == 0
                            ? 100.0
                            : Math.round(1000.0 * (rebuild.totalStripes() - deg[0]) / rebuild.totalStripes()) / 10.0);
            s.put("rebuild_bytes_moved", rebuild.movedBytes());
            s.put("rebuild_rate_limit_bytes_per_s", rebuild.rateBytes());
            s.put("rebuilds_completed", rebuild.completed());
            s.put("rebuild_last_ms", rebuild.lastMs());
            s.put("rebuild_cells_rebuilt_in_place", rebuild.cellsRebuilt());
            s.put("rebuild_cells_read", rebuild.cellsRead());
            s.put("rebuild_raid6_equivalent_reads", rebuild.raid6Reads());
            s.put("rebuild_reads_vs_raid6", ratio(rebuild.cellsRead(), rebuild.raid6Reads()));
            s.put("ssd_parity_cells_written", store.parityCellsWritten());
            long[] rf = store.refillCounters();
            s.put("refill_stripes", rf[0]);
            s.put("refill_cells_written", rf[1]);
            s.put("refill_aborts", rf[2]);
            s.put("refill_cells_read", rf[3]);
            s.put("refill_intent_cells_written", rf[4]);
            s.put("refill_flushes", rf[5]);
            s.put("refill_parity_cells_written", rf[6]);
            s.put("cells_freed_since_checkpoint", store.heldCells());
            // Per host block (zero blocks included) the controller divides this by: ssd_writes_per_host_block.
            s.put("ssd_cells_written_total", store.cellsWritten() + store.parityCellsWritten() + rf[4]);
            s.put("degraded_reads", store.degradedReads());
            s.put("cells_reconstructed", store.cellsReconstructed());
            s.put("reconstruct_cell_reads", store.reconstructReads());
            s.put("unrecoverable_reads", store.unrecoverable());
            s.put("read_repairs", readRepairs);
            s.put("scrub_rate_limit_bytes_per_s", scrub.rateBytes());
            s.put("scrubbed_stripes", store.scrubbedStripes());
            s.put("scrub_passes", scrub.passes());
            s.put("scrub_parity_mismatches", store.scrubMismatches());
            s.put("scrub_blocks_repaired", scrubRepairs);
            s.put("scrub_parity_rewrites", scrubParityRewrites);
            return s;
        } finally {
            lock.unlock();
        }
    }

    /** a / b to three decimals, 0 when b is 0. */
    public static double ratio(long a, long b) {
        return b == 0 ? 0 : Math.round(1000.0 * a / b) / 1000.0;
    }

    /** Stops the destage thread, writes a final checkpoint, closes the journal and the DAE. */
    @Override
    public void close() {
        stopDestager();
        try {
            checkpoint(); // C's outbox was drained before (the controller closes C's drainer first)
            store.stoppedCleanly(); // sealed: no refill to finish at the next start
        } catch (IOException | RuntimeException e) {
            Log.error("checkpoint_at_close_failed", "error=" + Log.q(String.valueOf(e)));
        }
        lock.lock();
        try {
            journal.writeInline();
            journal.close();
        } finally {
            lock.unlock();
        }
        release();
        Log.info("data_path_closed", "checkpoint_generation=" + checkpointGeneration);
    }

    /** Stops the destage thread (it finishes the round it is in). */
    private void stopDestager() {
        running = false;
        if (destager == null) {
            return;
        }
        lock.lock();
        try {
            destageWake.signalAll();
        } finally {
            lock.unlock();
        }
        try {
            destager.join(30_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Closes the NVRAM and the DAE and frees the tables' and the cache's memory. */
    private void release() {
        try {
            nvram.close();
            dae.close();
        } catch (IOException e) {
            Log.error("data_path_close_failed", "error=" + Log.q(String.valueOf(e)));
        }
        h2p.close();
        cache.free();
    }

    /**
     * Tests: the process dies here (SIGKILL). The destage thread stops, nothing more is written: no
     * outbox drain, no checkpoint; the NVRAM journal and the SSDs keep what they hold. Memory is freed.
     */
    public void crashForTest() {
        stopDestager();
        release();
        Log.info("data_path_crashed_for_test", "last_sequence=" + lastSequence);
    }

    /** Tests: the refcount of a handle, or -1 when it is not current. */
    public long refcountForTest(long handle) {
        lock.lock();
        try {
            return h2p.isCurrent(handle) ? h2p.refcount(handle) : -1;
        } finally {
            lock.unlock();
        }
    }

    /** Per-thread buffers: nothing is allocated per block on the write path. */
    private static final class Ctx {
        final BlockCodec codec = new BlockCodec();
        final MemorySegment payload = Arena.ofAuto().allocate(MAX_PAYLOAD, 8);
        final JournalEntry entry = new JournalEntry();
        final Thread thread = Thread.currentThread();
        final JournalCompletion completion = e -> LockSupport.unpark(thread);
        final DerefCall outboxCall = new DerefCall(DEREF_BATCH);
        final boolean[] fresh = new boolean[CHUNK];
        final ByteBuffer scratch = Ssd.allocateAligned(SegmentStore.READ_SCRATCH_BYTES);
        /** Blocks this thread repaired from parity (scrub counts its own). */
        long repairs;

        final long[] rHandle = new long[CHUNK];
        final long[] rLocation = new long[CHUNK];
        final int[] rBytes = new int[CHUNK];
        final byte[][] rPending = new byte[CHUNK][];
        final byte[][] rCached = new byte[CHUNK][BlockCodec.BLOCK_BYTES];
        /** {@link #rCached} wrapped once (decompress reads at absolute offsets): no wrapper per cache hit. */
        final ByteBuffer[] rCachedBuffer = new ByteBuffer[CHUNK];

        final int[] rCachedLength = new int[CHUNK];
        final byte[] rFp = new byte[CHUNK * 27];
        final MemorySegment rFpSeg = MemorySegment.ofArray(rFp);
        final byte[] vfp = new byte[32];
        final MemorySegment vfpSeg = MemorySegment.ofArray(vfp);

        Ctx() {
            for (int i = 0; i < CHUNK; i++) {
                rCachedBuffer[i] = ByteBuffer.wrap(rCached[i]);
            }
        }
    }
}
