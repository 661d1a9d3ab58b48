package io.hashbrick.node.volume;

import io.hashbrick.journal.Journal;
import io.hashbrick.journal.JournalCompletion;
import io.hashbrick.journal.JournalConfig;
import io.hashbrick.journal.JournalEntry;
import io.hashbrick.journal.JournalMirror;
import io.hashbrick.journal.JournalRegion;
import io.hashbrick.journal.NanoClock;
import io.hashbrick.journal.RecordType;
import io.hashbrick.node.CheckpointParticipant;
import io.hashbrick.node.JournalSettle;
import io.hashbrick.node.LegacyOutbox;
import io.hashbrick.node.Log;
import io.hashbrick.node.NvramRegion;
import io.hashbrick.node.Plant;
import io.hashbrick.node.Seams;
import io.hashbrick.node.api.Completion;
import io.hashbrick.node.api.DataService;
import io.hashbrick.node.api.DerefCall;
import io.hashbrick.node.api.Handles;
import io.hashbrick.node.api.MapCall;
import io.hashbrick.node.api.ResolveCall;
import io.hashbrick.node.api.RoleCall;
import io.hashbrick.node.api.Status;
import io.hashbrick.node.api.UnmapCall;
import io.hashbrick.sim.BatteryBackedMemory;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.ReadableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;
import java.util.function.LongConsumer;

/**
 * The C role of one controller (DESIGN.md "Inside controller-node", "Write path"): the A2H map of every
 * volume, C's own journal in its own battery-backed memory region ({@code map-nvram.bbm}), and the
 * deref outbox that hands replaced handles to D through D's contract ({@link DataService#deref}).
 *
 * <p>{@link #map}, {@link #resolve} and {@link #unmap} hold {@link #lock} (C's, never D's): a change is
 * one record appended to C's journal and applied by the code replay uses, so the journal's order is
 * the order of the changes; the caller is answered once the record is durable. Nothing here reads D's
 * state: a handle is trusted as R got it from D's put (which holds its reference), and C never calls D
 * while holding its lock.
 *
 * <p><b>The outbox</b>: a handle replaced or unmapped keeps its reference until D has dropped it. The
 * drainer (a thread of its own, or a mapping thread once the outbox passes {@link #OUTBOX_DRAIN_AT})
 * sends batches of at most {@link #DEREF_BATCH} with the operation id "outbox position after the
 * batch", then journals an ACK. A crash between the two resends the batch, which D recognises by
 * position and does not apply twice.
 *
 * <p><b>Checkpoints</b>: C's sections (an A2H section per volume, {@link MapState} with C's journal
 * position and the outbox) ride in D's metadata-area checkpoints ({@link CheckpointParticipant});
 * C's journal is released up to the position its sections name once the checkpoint is durable.
 *
 * <p><b>Start-up</b> ({@link #create}, then D opens and hands over C's sections and any C records its
 * own journal holds from before C had one, then {@link #recover}): C replays its journal after its
 * checkpoint, creates and grows the volumes the catalog lists, and unmaps (journalled) and forgets
 * those it no longer lists.
 *
 * <p>Size: about 900 lines, past the house's ~600, because the operations, their replay, the outbox
 * protocol and the checkpoint hooks share one lock and one record format; split apart they would
 * pass the lock between classes. Step (c) gives each (volume, region) partition an owner of its own,
 * and the class splits along that line.
 */
public final class MapStore implements CheckpointParticipant, AutoCloseable {
    /** Blocks per map record and per lock hold. */
    public static final int CHUNK = 16;
    /** Handles per deref call: one outbox batch. */
    public static final int DEREF_BATCH = 4096;
    /** A mapping thread drains the outbox itself past this many handles (else the drainer does). */
    static final int OUTBOX_DRAIN_AT = 1024;
    /** Checkpoint section of one volume's A2H (the kind checkpoints had before C and D came apart). */
    public static final int SECTION_A2H = 2;
    /** One volume's A2H as leaves: whole, or those changed since the checkpoint before ({@link A2hLeaves}). */
    public static final int SECTION_A2H_LEAVES = 9;
    /** The file of C's journal region, beside D's {@code nvram.bbm}. */
    public static final String NVRAM_FILE = "map-nvram.bbm";

    static final byte SET_RECORD = RecordType.A2H_SET;
    static final byte UNMAP_RECORD = RecordType.A2H_UNMAP;
    static final byte ACK_RECORD = RecordType.OUTBOX_ACK;
    static final int SET_HEADER = 16;
    static final int UNMAP_BYTES = 24;
    static final int MAX_PAYLOAD = SET_HEADER + 8 * CHUNK;
    private static final int UNMAP_RUN_MAX = 1 << 20;
    /** Nothing appended, the call's status is final. */
    private static final long DONE = JournalSettle.DONE;

    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final ReentrantLock lock = new ReentrantLock();
    private final VolumeMaps volumes = new VolumeMaps();
    private final Path nvramFile;
    private final long nvramBytes;
    private final ThreadLocal<Ctx> contexts = ThreadLocal.withInitial(Ctx::new);
    private final AtomicBoolean draining = new AtomicBoolean();
    private BatteryBackedMemory nvram;
    private Journal journal;
    /** Where C's journal is mirrored (the brick peer), or NONE; set before {@link #recover}. */
    private volatile JournalMirror mirror = JournalMirror.NONE;
    /** D, through its contract; bound once D has opened. */
    private volatile DataService data;

    private volatile int outboxSender;
    /** Whether D's pool takes writes (a read-only pool refuses maps and unmaps too). */
    private volatile BooleanSupplier writable = () -> true;

    /** Replaced handles, each holding its reference until D has dropped it; persisted by checkpoints. */
    private final DerefOutbox outbox = new DerefOutbox();

    private long lastSequence;
    /** C's journal position the newest durable checkpoint covers. */
    private long checkpointSequence;
    /** What {@link #write} captured, released by {@link #committed}. */
    private long capturedSequence = -1;

    private long capturedChanges;
    private long changesSinceCheckpoint;
    /** Whether a checkpoint loaded a {@link MapState} (C's journal existed when it was written). */
    private boolean stateLoaded;

    private volatile boolean checkpointRequested;
    private boolean replaying = true;
    private volatile boolean running;
    private Thread drainer;
    private volatile boolean backgroundDrain = true;

    private long writesZero;
    private long mapConflicts;
    private long outboxBatches;
    private long outboxRefusals;

    private final Seams seams;
    private final boolean plantSkipDirty;
    /** The block mapped last (volume, block), for the planted bug {@link Plant#CHECKPOINT_SKIPS_DIRTY_ENTRY}. */
    private int lastSetVolume = -1;

    private long lastSetBlock = -1;

    private MapStore(Path dir, long nvramBytes, Seams seams) {
        this.nvramFile = dir.resolve(NVRAM_FILE);
        this.nvramBytes = nvramBytes;
        this.seams = seams;
        this.plantSkipDirty = seams.planted(Plant.CHECKPOINT_SKIPS_DIRTY_ENTRY);
    }

    /**
     * A C role over {@code dir} whose journal region is {@code nvramBytes}; nothing is opened until
     * {@link #recover}. Until then D may hand it its checkpoint sections and C's records from D's journal.
     * {@code seams}: {@link Seams#REAL} for a controller; a simulation's has no drainer thread and may plant bugs.
     */
    public static MapStore create(Path dir, long nvramBytes, Seams seams) {
        return new MapStore(dir, nvramBytes, seams);
    }

    /**
     * C's journal region for a D journal of {@code dataNvramBytes}: half of it, at least 4 MiB. A
     * one-block map record takes about 64 bytes, against about 90 for D's duplicate put: at an eighth,
     * duplicate writes filled C's region first and brought a whole checkpoint five times as often
     * (measured: 0.79x the IOPS of duplicate writes before the split); at half, D's region still
     * fills first.
     */
    public static long nvramBytesFor(long dataNvramBytes) {
        return Math.min(BatteryBackedMemory.DATA_BYTES_MAX, Math.max(4L << 20, dataNvramBytes / 2));
    }

    // ---------------------------------------------------------------- start-up

    @Override
    public boolean owns(int kind) {
        return kind == SECTION_A2H || kind == SECTION_A2H_LEAVES || kind == MapState.KIND || kind == LegacyOutbox.KIND;
    }

    @Override
    public void load(int kind, int id, ReadableByteChannel ch) throws IOException {
        lock.lock();
        try {
            if (kind == SECTION_A2H) {
                replaceMap(id, A2hCheckpoint.read(ch));
                loadedIds.add(id);
            } else if (kind == SECTION_A2H_LEAVES) {
                A2hMap before = volumes.get(id);
                A2hMap after = A2hLeaves.read(ch, before);
                if (after != before) {
                    replaceMap(id, after);
                }
                loadedIds.add(id);
            } else if (kind == MapState.KIND) {
                MapState s = MapState.read(ch);
                outbox.reset(s.start(), s.handles());
                checkpointSequence = s.journalSequence();
                lastSequence = checkpointSequence;
                stateLoaded = true;
            } else if (kind == LegacyOutbox.KIND && !stateLoaded) {
                LegacyOutbox o = LegacyOutbox.read(ch); // a pool upgraded in place: D takes the mark
                outbox.reset(o.start(), o.handles());
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Opens C's journal and replays it after C's checkpoint, then makes the volumes match the catalog:
     * those it lists exist at least at its size, the others are unmapped (journalled) and forgotten.
     */
    public void recover(List<VolumeRef> catalog) throws IOException {
        boolean fresh = !Files.exists(nvramFile);
        if (fresh && stateLoaded && checkpointSequence > 0) {
            throw new IOException("C's NVRAM journal is missing but the DAE holds a checkpoint of it: file=" + nvramFile
                    + " journal_sequence=" + checkpointSequence
                    + " (acknowledged writes after the checkpoint would be lost; restore the file)");
        }
        long[] replayed = new long[1];
        lock.lock();
        try {
            nvram = BatteryBackedMemory.open(nvramFile, 0, nvramBytes);
            JournalRegion region = new NvramRegion(nvram);
            if (fresh) {
                Journal.format(region);
            }
            JournalConfig jc = JournalConfig.defaults().withMaxPayloadBytes(MAX_PAYLOAD);
            journal = Journal.open(region, jc, NanoClock.SYSTEM, mirror, (type, seq, e, r, off, len) -> {
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
                throw new IOException("C's journal was released past the checkpoint loaded: checkpoint_sequence="
                        + checkpointSequence + " journal_first_sequence=" + journalFirst
                        + " (a newer checkpoint is missing or unreadable; refusing to start rather than lose"
                        + " acknowledged writes)");
            }
            for (VolumeRef v : catalog) {
                A2hMap m = volumes.get(v.id());
                if (m == null) {
                    volumes.put(v.id(), new A2hMap(Math.max(1, v.blocks())));
                } else if (m.blocks() < v.blocks()) {
                    m.grow(v.blocks());
                }
            }
            replaying = false;
            Log.info(
                    "map_journal_replayed",
                    "records=" + replayed[0] + " from_sequence=" + (checkpointSequence + 1) + " to_sequence="
                            + lastSequence + " volumes=" + volumes.size() + " outbox_handles=" + outbox.size()
                            + " fresh=" + fresh + " stop="
                            + journal.replayResult().reason());
        } finally {
            lock.unlock();
        }
        for (int id : volumes.ids()) {
            if (catalog.stream().noneMatch(v -> v.id() == id)) {
                dropVolume(id); // deleted while the controller was down, or mid-delete at a crash
            }
        }
    }

    /**
     * Binds D: the outbox drains to {@code data}; {@code writable} says whether D's pool takes writes
     * (maps and unmaps are refused as READ_ONLY when not).
     */
    public void bind(DataService data, BooleanSupplier writable) {
        bind(data, writable, 0);
    }

    /**
     * Binds D for a cluster's controller: the outbox's derefs go out as {@code outboxSender}
     * ({@code DerefCall.CONTROLLER_SENDER + K}), which every D owner de-duplicates by position. Only the
     * drainer thread sends them then: a map served on a role server's thread that waited for another
     * controller's D could wait on a controller waiting on it.
     */
    public void bind(DataService data, BooleanSupplier writable, int outboxSender) {
        this.outboxSender = outboxSender;
        this.data = data;
        this.writable = writable;
    }

    /** Starts the drainer thread (after recovery). */
    public void start() {
        if (!seams.backgroundThreads()) {
            return; // a simulation drains the outbox itself
        }
        running = true;
        drainer = new Thread(this::drainLoop, "map-outbox");
        drainer.setDaemon(true);
        drainer.start();
    }

    private void drainLoop() {
        while (running) {
            if (backgroundDrain && outboxSize() > 0) {
                try {
                    drainOutbox();
                } catch (RuntimeException e) { // the drainer goes on: the batch stays in the outbox
                    outboxRefusals++;
                    if (outboxRefusals % 1000 == 1) {
                        Log.error("outbox_drain_failed", "error=" + Log.q(e) + " refusals=" + outboxRefusals);
                    }
                }
            }
            LockSupport.parkNanos(20_000_000); // batches of a 20 ms worth (mapping threads drain past 1024)
        }
    }

    // ---------------------------------------------------------------- volumes

    public void addVolume(int id, long blocks) {
        lock.lock();
        try {
            if (volumes.containsKey(id)) {
                throw new IllegalStateException("volume id in use: id=" + id);
            }
            volumes.put(id, new A2hMap(blocks));
        } finally {
            lock.unlock();
        }
    }

    public void growVolume(int id, long blocks) {
        lock.lock();
        try {
            A2hMap m = volumes.get(id);
            if (m == null) {
                throw new IllegalArgumentException("unknown volume id: id=" + id);
            }
            m.grow(blocks);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Drops a volume (its catalog entry is gone already): every mapping is unmapped by journalled
     * records (the handles go through the outbox, so a crash half-way finishes the job at the next
     * start), then the empty map is forgotten.
     */
    public void dropVolume(int id) {
        long blocks;
        lock.lock();
        try {
            A2hMap m = volumes.get(id);
            if (m == null) {
                return;
            }
            blocks = m.blocks();
        } finally {
            lock.unlock();
        }
        UnmapCall x = new UnmapCall();
        x.volume = id;
        x.firstBlock = 0;
        x.count = blocks;
        unmapRuns(x, false);
        long mappings = x.unmapped;
        lock.lock();
        try {
            A2hMap m = volumes.remove(id);
            if (m != null) {
                m.close();
            }
        } finally {
            lock.unlock();
        }
        Log.info("volume_dropped", "id=" + id + " mappings=" + mappings + " status=" + x.status);
    }

    // ---------------------------------------------------------------- the C role's operations

    /** Maps blocks to handles (see {@link MapCall}); replaced handles go to the deref outbox. */
    public void map(MapCall x) {
        Ctx c = contexts.get();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            long seq;
            lock.lock();
            try {
                seq = mapLocked(c, x);
            } finally {
                lock.unlock();
            }
            if (settle(c, x, seq, deadline)) {
                break;
            }
        }
        drainOutboxIfLong();
    }

    private long mapLocked(Ctx c, MapCall x) {
        if (x.count < 0 || x.count > CHUNK) {
            throw new IllegalArgumentException("map: at most " + CHUNK + " blocks a call: count=" + x.count);
        }
        if (pastBudget(x)) {
            return DONE;
        }
        if (!writable.getAsBoolean()) {
            x.status = Status.READ_ONLY;
            return DONE;
        }
        A2hMap m = volumes.get(x.volume);
        if (m == null) {
            x.status = Status.UNKNOWN_VOLUME;
            return DONE;
        }
        if (x.firstBlock < 0 || x.firstBlock + x.count > m.blocks()) {
            x.status = Status.OUT_OF_RANGE;
            return DONE;
        }
        for (int i = 0; i < x.count; i++) {
            if (x.conditional && m.get(x.firstBlock + i) != x.expected[i]) {
                mapConflicts++;
                x.status = Status.MAP_CONFLICT;
                return DONE;
            }
            long h = x.handles[i];
            if (h != Handles.NONE && !A2hMap.storable(h)) {
                Log.error(
                        "map_bad_handle",
                        "volume=" + x.volume + " block=" + (x.firstBlock + i) + " handle=0x" + Long.toHexString(h)
                                + " op=" + x.operationId);
                x.status = Status.STALE_HANDLE;
                return DONE;
            }
        }
        MemorySegment p = c.payload;
        p.set(U32, 0, x.volume);
        p.set(U16, 4, (short) x.count);
        p.set(U16, 6, (short) 0);
        p.set(U64, 8, x.firstBlock);
        for (int i = 0; i < x.count; i++) {
            p.set(U64, SET_HEADER + 8L * i, x.handles[i]);
        }
        long seq = append(c, SET_RECORD, p.asSlice(0, SET_HEADER + 8L * x.count));
        if (seq > 0) {
            applySet(p, 0, x.replaced);
            journal.writeInline();
        }
        return seq;
    }

    /** Handles of a run of blocks. */
    public void resolve(ResolveCall x) {
        lock.lock();
        try {
            A2hMap m = volumes.get(x.volume);
            if (m == null) {
                x.status = Status.UNKNOWN_VOLUME;
                return;
            }
            if (x.firstBlock < 0 || x.count < 0 || x.firstBlock + x.count > m.blocks()) {
                x.status = Status.OUT_OF_RANGE;
                return;
            }
            for (int i = 0; i < x.count; i++) {
                long h = m.get(x.firstBlock + i);
                x.handles[i] = h == A2hMap.UNMAPPED ? Handles.NONE : h;
            }
            x.status = Status.OK;
        } finally {
            lock.unlock();
        }
    }

    /** Unmaps a run (one small record per 2^20 blocks), or measures the provisioning run. */
    public void unmap(UnmapCall x) {
        if (x.countRun) {
            lock.lock();
            try {
                A2hMap m = volumes.get(x.volume);
                if (m == null) {
                    x.status = Status.UNKNOWN_VOLUME;
                } else if (x.firstBlock < 0 || x.firstBlock >= m.blocks()) {
                    x.status = Status.OUT_OF_RANGE;
                } else {
                    x.run = runLocked(m, x.firstBlock);
                    x.status = Status.OK;
                }
            } finally {
                lock.unlock();
            }
            return;
        }
        unmapRuns(x, true);
    }

    private void unmapRuns(UnmapCall x, boolean checkWritable) {
        Ctx c = contexts.get();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        long done = 0;
        x.unmapped = 0;
        while (done < x.count) {
            long n = Math.min(UNMAP_RUN_MAX, x.count - done);
            long seq;
            lock.lock();
            try {
                seq = unmapLocked(c, x, x.firstBlock + done, n, checkWritable);
            } finally {
                lock.unlock();
            }
            if (settle(c, x, seq, deadline)) {
                if (x.status != Status.OK) {
                    return;
                }
                done += n;
                drainOutboxIfLong();
            }
        }
        x.status = Status.OK;
    }

    /**
     * A remote call that waited past its server's budget (queued behind others, say) is refused
     * BACK_PRESSURE before anything changes: it is never applied after its sender gave up on it.
     */
    private static boolean pastBudget(io.hashbrick.node.api.RoleCall x) {
        if (x.applyByNs != 0 && System.nanoTime() - x.applyByNs > 0) {
            x.status = Status.BACK_PRESSURE;
            return true;
        }
        return false;
    }

    private long unmapLocked(Ctx c, UnmapCall x, long first, long n, boolean checkWritable) {
        if (pastBudget(x)) {
            return DONE;
        }
        if (checkWritable && !writable.getAsBoolean()) {
            x.status = Status.READ_ONLY;
            return DONE;
        }
        A2hMap m = volumes.get(x.volume);
        if (m == null) {
            x.status = Status.UNKNOWN_VOLUME;
            return DONE;
        }
        if (first < 0 || n < 0 || first + n > m.blocks()) {
            x.status = Status.OUT_OF_RANGE;
            return DONE;
        }
        MemorySegment p = c.payload;
        p.set(U32, 0, x.volume);
        p.set(U32, 4, 0);
        p.set(U64, 8, first);
        p.set(U64, 16, n);
        long seq = append(c, UNMAP_RECORD, p.asSlice(0, UNMAP_BYTES));
        if (seq > 0) {
            x.unmapped += applyUnmapRun(p, 0);
            journal.writeInline();
        }
        return seq;
    }

    /**
     * The run of blocks from {@code block} that are all mapped (positive) or all unmapped (negative),
     * at most 65536 (GET LBA STATUS).
     */
    private static long runLocked(A2hMap m, long block) {
        boolean mapped = m.get(block) != A2hMap.UNMAPPED;
        long n = 1;
        long end = Math.min(m.blocks(), block + 65536);
        while (block + n < end && (m.get(block + n) != A2hMap.UNMAPPED) == mapped) {
            n++;
        }
        return mapped ? n : -n;
    }

    // ---------------------------------------------------------------- journal

    /** Appends a record (or asks for a checkpoint on back-pressure); the lock is held. */
    private long append(Ctx c, byte type, MemorySegment payload) {
        c.entry.set(type, 0, payload, c.completion);
        long seq = journal.append(c.entry);
        if (seq > 0) {
            lastSequence = seq;
            changesSinceCheckpoint++;
        } else if (seq == Journal.BACK_PRESSURED) {
            checkpointRequested = true; // D's destage thread takes the checkpoint that releases C's journal
        }
        return seq;
    }

    /** After an append: true with the status set when the call is over, false to try again. */
    private boolean settle(Ctx c, RoleCall x, long seq, long deadline) {
        return JournalSettle.settle(c.entry, x, seq, deadline, readOnly, "map_journal_full_timeout", mirror);
    }

    private final BooleanSupplier readOnly = () -> !writable.getAsBoolean();

    private boolean replayRecord(byte type, MemorySegment r, long off) {
        switch (type) {
            case SET_RECORD -> applySet(r, off, null);
            case UNMAP_RECORD -> applyUnmapRun(r, off);
            case ACK_RECORD -> applyAck(r.get(U64, off));
            default -> {
                return false;
            }
        }
        return true;
    }

    /** Applies a SET record (live and replay): A2H changes, replaced handles into the outbox. */
    private void applySet(MemorySegment p, long base, long[] replaced) {
        int volume = p.get(U32, base);
        int count = p.get(U16, base + 4) & 0xFFFF;
        long first = p.get(U64, base + 8);
        A2hMap m = volumeForApply(volume, first + count);
        for (int i = 0; i < count; i++) {
            long h = p.get(U64, base + SET_HEADER + 8L * i);
            long old = h == Handles.NONE ? m.remove(first + i) : m.put(first + i, h);
            if (h == Handles.NONE && !replaying) {
                writesZero++;
            }
            if (plantSkipDirty && h != Handles.NONE) {
                lastSetVolume = volume;
                lastSetBlock = first + i;
            }
            if (replaced != null) {
                replaced[i] = old == A2hMap.UNMAPPED ? Handles.NONE : old;
            }
            if (old != A2hMap.UNMAPPED) {
                outbox.add(old);
            }
        }
    }

    /** Applies an UNMAP record (live and replay). @return the blocks that were mapped */
    private long applyUnmapRun(MemorySegment p, long base) {
        int volume = p.get(U32, base);
        long first = p.get(U64, base + 8);
        long n = p.get(U64, base + 16);
        A2hMap m = volumeForApply(volume, 1);
        long end = Math.min(first + n, m.blocks());
        long mapped = 0;
        for (long b = first; b < end; b++) {
            long old = m.remove(b);
            if (old != A2hMap.UNMAPPED) {
                outbox.add(old);
                mapped++;
            }
        }
        return mapped;
    }

    /** The volume a record names; on replay a volume deleted later is re-created and dropped at the end. */
    private A2hMap volumeForApply(int volume, long endBlock) {
        A2hMap m = volumes.get(volume);
        if (m == null) {
            if (!replaying) {
                throw new IllegalStateException("record for an unknown volume: volume=" + volume);
            }
            m = new A2hMap(Math.max(1, endBlock));
            volumes.put(volume, m);
        } else if (replaying && endBlock > m.blocks()) {
            m.grow(Math.max(endBlock, m.blocks() * 2));
        }
        return m;
    }

    /** Applies an outbox ACK record: D has dropped every reference queued before {@code position}. */
    private void applyAck(long position) {
        outbox.ackUpTo(position);
    }

    @Override
    public boolean replayForeign(byte type, MemorySegment record, long offset) {
        lock.lock();
        try {
            if (!replaying) {
                throw new IllegalStateException("C's records from D's journal after recovery: type=" + type);
            }
            boolean known = replayRecord(type, record, offset);
            if (known) {
                changesSinceCheckpoint++; // the next checkpoint holds them: D's journal is released by it
            }
            return known;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public long replayLegacyMapping(int volume, long block, long handle) {
        lock.lock();
        try {
            A2hMap m = volumeForApply(volume, block + 1);
            long old = handle == Handles.NONE ? m.remove(block) : m.put(block, handle);
            changesSinceCheckpoint++;
            return old == A2hMap.UNMAPPED ? Handles.NONE : old;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void replayLegacyUnmap(int volume, long first, long count, LongConsumer released) {
        lock.lock();
        try {
            A2hMap m = volumeForApply(volume, 1);
            long end = Math.min(first + count, m.blocks());
            for (long b = first; b < end; b++) {
                long old = m.remove(b);
                if (old != A2hMap.UNMAPPED) {
                    released.accept(old);
                }
            }
            changesSinceCheckpoint++;
        } finally {
            lock.unlock();
        }
    }

    // ---------------------------------------------------------------- the outbox

    private void drainOutboxIfLong() {
        if (outboxSender == 0 && outboxSize() >= OUTBOX_DRAIN_AT) {
            drainOutbox();
        }
    }

    /** Handles in the deref outbox, waiting for D to drop their references. */
    public int outboxSize() {
        lock.lock();
        try {
            return outbox.size();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Sends the outbox to D in batches (operation id: the outbox position after the batch), each
     * followed by an ACK record; one drainer at a time. Stops early when D refuses or is not bound.
     * @return whether the outbox is empty
     */
    public boolean drainOutbox() {
        DataService d = data;
        if (d == null || !draining.compareAndSet(false, true)) {
            return false;
        }
        try {
            Ctx c = contexts.get();
            DerefCall call = c.outboxCall;
            while (true) {
                lock.lock();
                try {
                    if (outbox.size() == 0) {
                        return true;
                    }
                    int n = outbox.copyOldest(call.handles, DEREF_BATCH);
                    call.count = n;
                    call.header(0, outbox.start() + n, outboxSender);
                    call.positioned = false;
                } finally {
                    lock.unlock();
                }
                c.derefDone = false;
                d.deref(call, c.derefCompletion); // without C's lock: D takes its own
                while (!c.derefDone) {
                    LockSupport.parkNanos(c, 1_000_000);
                }
                if (call.status != Status.OK) {
                    outboxRefusals++;
                    if (outboxRefusals % 1000 == 1) {
                        Log.error(
                                "outbox_deref_refused",
                                "status=" + call.status + " op=" + call.operationId + " refusals=" + outboxRefusals);
                    }
                    return false;
                }
                lock.lock();
                try {
                    MemorySegment p = c.payload;
                    p.set(U64, 0, call.operationId);
                    if (append(c, ACK_RECORD, p.asSlice(0, 8)) <= 0) {
                        return false; // D applied it; the ACK comes with the next drain (a duplicate then)
                    }
                    applyAck(call.operationId);
                    outboxBatches++;
                    journal.writeInline();
                } finally {
                    lock.unlock();
                }
            }
        } finally {
            draining.set(false);
        }
    }

    // ---------------------------------------------------------------- census, checkpoints, stats

    /**
     * Visits every reference C holds, under its lock: one per mapped block, one per outbox handle at a
     * position from {@code outboxFrom} on (those before it D has dropped already, their ACK not yet
     * journalled). @return the mapped blocks
     */
    public long forEachReference(long outboxFrom, LongConsumer visitor) {
        lock.lock();
        try {
            long mapped = 0;
            for (A2hMap m : volumes.values()) {
                m.forEachMapped((block, handle) -> visitor.accept(handle));
                mapped += m.mappedBlocks();
            }
            outbox.forEachFrom(outboxFrom, visitor);
            return mapped;
        } finally {
            lock.unlock();
        }
    }

    /** Volumes C holds a map of. */
    public int volumeCount() {
        lock.lock();
        try {
            return volumes.size();
        } finally {
            lock.unlock();
        }
    }

    /** Loading: the volumes the chain's checkpoint being handed over has a section for. */
    private final java.util.Set<Integer> loadedIds = new java.util.HashSet<>();

    private void replaceMap(int id, A2hMap map) {
        A2hMap old = volumes.get(id);
        volumes.put(id, map);
        if (old != null) {
            old.close();
        }
    }

    @Override
    public void loadingCheckpoint() {
        lock.lock();
        try {
            loadedIds.clear();
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void loadedChain() {
        lock.lock();
        try {
            for (int id : volumes.ids()) {
                if (!loadedIds.contains(id)) { // deleted before the chain's last checkpoint
                    A2hMap m = volumes.remove(id);
                    m.close();
                }
            }
            loadedIds.clear();
        } finally {
            lock.unlock();
        }
    }

    @Override
    public int sections() {
        lock.lock();
        try {
            return volumes.size() + 1;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void write(Sections out) throws IOException {
        lock.lock();
        try {
            checkpointRequested = false; // before the capture: a request from now on brings the next one
            for (int id : volumes.ids()) { // every volume, changed or not: loading drops those without one
                A2hMap m = volumes.get(id);
                long skipped = plantSkipDirty && id == lastSetVolume ? m.remove(lastSetBlock) : A2hMap.UNMAPPED;
                A2hLeaves.write(m, out.section(SECTION_A2H_LEAVES, id), out.base() || m.fresh());
                if (skipped != A2hMap.UNMAPPED) { // planted bug: the entry changed last left out
                    m.put(lastSetBlock, skipped);
                    m.forgetChange(lastSetBlock); // and not in the next delta either
                }
                out.endSection();
            }
            new MapState(lastSequence, outbox.start(), outbox.snapshot()).write(out.section(MapState.KIND, 0));
            out.endSection();
            capturedSequence = lastSequence;
            capturedChanges = changesSinceCheckpoint;
        } finally {
            lock.unlock();
        }
    }

    /** C's journal mirrored to the brick peer through {@code m}; before {@link #recover}. */
    public void mirror(JournalMirror m) {
        this.mirror = m;
    }

    /** C's journal, for its mirror's image (reads only). */
    public Journal journalForMirror() {
        return journal;
    }

    @Override
    public boolean awaitCaptureMirrored() {
        long seq;
        lock.lock();
        try {
            seq = capturedSequence;
        } finally {
            lock.unlock();
        }
        return seq <= 0 || mirror.awaitMirrored(seq);
    }

    @Override
    public void committed() {
        lock.lock();
        try {
            if (capturedSequence < 0) {
                return;
            }
            checkpointSequence = capturedSequence;
            changesSinceCheckpoint -= capturedChanges;
            capturedSequence = -1;
            if (journal != null) {
                journal.release(checkpointSequence);
                journal.writeInline(); // frees the space now
            }
        } finally {
            lock.unlock();
        }
    }

    @Override
    public boolean wantsCheckpoint() {
        Journal j = journal;
        return checkpointRequested || (j != null && j.reservedBytes() > nvramBytes * 3 / 5);
    }

    @Override
    public boolean changedSinceCheckpoint() {
        lock.lock();
        try {
            return changesSinceCheckpoint > 0;
        } finally {
            lock.unlock();
        }
    }

    /** C's statistics (the controller adds those that need both roles). */
    public Map<String, Object> stats() {
        lock.lock();
        try {
            long mapped = 0;
            long ram = 0;
            for (A2hMap m : volumes.values()) {
                mapped += m.mappedBlocks();
                ram += m.nativeBytes() + m.heapBytes();
            }
            Map<String, Object> s = new java.util.LinkedHashMap<>();
            s.put("mapped_blocks", mapped);
            s.put("a2h_ram_bytes", ram);
            s.put("writes_zero_blocks", writesZero);
            s.put("deref_outbox_handles", outbox.size());
            s.put("deref_outbox_batches", outboxBatches);
            s.put("map_conflicts", mapConflicts);
            s.put("map_journal_reserved_bytes", journal == null ? 0 : journal.reservedBytes());
            s.put("map_journal_capacity_bytes", nvramBytes);
            s.put("map_checkpoint_sequence", checkpointSequence);
            return s;
        } finally {
            lock.unlock();
        }
    }

    // ---------------------------------------------------------------- stop

    /** Stops the drainer (it finishes the batch it is in). */
    public void stop() {
        running = false;
        Thread t = drainer;
        if (t != null) {
            LockSupport.unpark(t);
            try {
                t.join(30_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Closes C's journal and region and frees the maps (after D's last checkpoint). */
    @Override
    public void close() {
        stop();
        lock.lock();
        try {
            if (journal != null) {
                journal.writeInline();
                journal.close();
            }
        } finally {
            lock.unlock();
        }
        release();
        Log.info("map_store_closed", "checkpoint_sequence=" + checkpointSequence);
    }

    private void release() {
        try {
            if (nvram != null) {
                nvram.close();
            }
        } catch (IOException e) {
            Log.error("map_store_close_failed", "error=" + Log.q(String.valueOf(e)));
        }
        lock.lock();
        try {
            for (A2hMap m : volumes.values()) {
                m.close();
            }
        } finally {
            lock.unlock();
        }
    }

    /** Tests: the process dies here: nothing more is written, memory is freed. */
    public void crashForTest() {
        stop();
        release();
    }

    /** Tests: the drainer leaves the outbox alone (mapping threads still drain it past 1024). */
    public void pauseOutboxDrainForTest() {
        backgroundDrain = false;
    }

    /** Tests: how many handles the outbox holds. */
    public int outboxSizeForTest() {
        return outboxSize();
    }

    /** Per-thread buffers: nothing is allocated per call. */
    private static final class Ctx {
        final MemorySegment payload = Arena.ofAuto().allocate(MAX_PAYLOAD, 8);
        final JournalEntry entry = new JournalEntry();
        final Thread thread = Thread.currentThread();
        final JournalCompletion completion = e -> LockSupport.unpark(thread);
        final DerefCall outboxCall = new DerefCall(DEREF_BATCH);
        volatile boolean derefDone;
        final Completion<DerefCall> derefCompletion = call -> {
            derefDone = true;
            LockSupport.unpark(thread);
        };
    }
}
