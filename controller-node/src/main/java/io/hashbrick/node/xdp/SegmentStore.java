package io.hashbrick.node.xdp;

import io.hashbrick.node.CorruptCheckpointException;
import io.hashbrick.node.Log;
import io.hashbrick.node.api.BlockCodec;
import io.hashbrick.sim.Dae;
import io.hashbrick.sim.Health;
import io.hashbrick.sim.IoStatus;
import io.hashbrick.sim.Ssd;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.util.Arrays;

/**
 * The D role's packed block store on a DAE ({@link StripeLayout}), protected by XDP: row-diagonal
 * parity ({@link Rdp}) over every stripe. Destage appends stored blocks (a 2-byte little-endian length
 * header, then the LZ4 or raw bytes) back to back into the open stripe, whose image is held in memory;
 * {@link #flush} writes the data cells filled since the last flush and the P and Q cells that changed,
 * so that every flushed byte is parity-protected before destage publishes it.
 *
 * <p><b>Stripe members.</b> A stripe spans the SSDs that were healthy when it was opened: 25 on a full
 * DAE (23 data + P + Q), 24 (22 + 2) or 23 (21 + 2) with one or two SSDs failed. Column j of stripe
 * s (data 0..w-3, then P, then Q) is on the ((j + s) mod w)-th member slot, so parity rotates. Per
 * stripe we keep the member mask, the degraded mask (members whose column is lost: failed, pulled or
 * replaced by an empty drive since), the zeroed mask (data columns a rebuild emptied and took out of
 * the parity, now virtual zero columns) and the extent (bytes of the data area ever filled; cells past
 * it are zero as far as parity is concerned, whatever the SSD holds).
 *
 * <p><b>Reads</b> go to the SSDs. A cell on a lost column, or whose read fails, is reconstructed: from
 * its row (P) when it is the only data column missing, else from the whole stripe ({@link
 * Rdp#reconstruct}, up to two columns). Callers verify what they read against the fingerprint and may
 * ask for a {@link #readRepaired} copy, rebuilt from parity as if a column were lost, when the SSD
 * returned wrong bytes.
 *
 * <p><b>Space</b>: every stripe is FREE, OPEN, SEALED (holds live blocks) or RECLAIMABLE (no live block
 * left, but the last checkpoint may still point into it). RECLAIMABLE stripes become FREE when a
 * checkpoint that no longer references them is on the DAE ({@link #checkpointed}). The open stripe is
 * sealed before every checkpoint ({@link #seal}), so a stripe the checkpoint references never has its
 * parity rewritten by destage afterwards (no write hole for checkpointed data).
 *
 * <p>Threads: {@link #append}, {@link #flush}, {@link #seal} and the rebuild/scrub writes on the destage
 * thread; {@link #read} on any thread; stripe metadata is guarded by this object's monitor.
 */
public final class SegmentStore {
    public static final int HEADER_BYTES = 2;
    /** Largest stored record: header + a raw block. */
    public static final int MAX_STORED_BYTES = HEADER_BYTES + BlockCodec.BLOCK_BYTES;
    /** Bytes a stored block of {@code length} takes in a stripe: a raw block one cell, else header + length. */
    public static int footprint(int length) {
        return span(HEADER_BYTES + length);
    }

    /** Scratch a reader passes to {@link #read}: a stored record spans at most 3 cells. */
    public static final int READ_SCRATCH_BYTES = 3 * StripeLayout.CELL;

    static final byte FREE = 0;
    static final byte OPEN = 1;
    static final byte SEALED = 2;
    static final byte RECLAIMABLE = 3;

    private static final int CELL = StripeLayout.CELL;
    private static final int ROWS = StripeLayout.ROWS;
    private static final int SECTION_MAGIC = 0x54535248; // "HRST"
    private static final int SECTION_VERSION = 3;

    private final Dae dae;
    private final StripeLayout layout;
    private final long stripeBytes;
    private final int slots;
    private final byte[] state;
    private final int[] live;
    private final int[] members;
    private final int[] degraded;
    private final int[] zeroed;
    private final int[] extent;
    /** Data columns (by slot) whose live blocks a rebuild moved out and whose parity it is taking out. */
    private final int[] zeroing;
    /**
     * The stripe's generation: bumped each time it is opened, and when a refill target is opened and
     * after each refill flush (its data and parity changed). A reconstruction, or a repair's copy, read
     * under an older generation is stale.
     */
    private final int[] epoch;
    /**
     * Stripes a repair write-back ({@link #rewrite}) or a parity re-encode ({@link #reencode}) is
     * writing, one at a time per stripe: no refill targets them and no checkpoint frees them meanwhile,
     * so nothing else writes their cells under the writer (which holds no lock across its I/O).
     */
    private final boolean[] busy;
    /** The sealed stripe open as refill target, or -1: the monitor's copy of the destage thread's state. */
    private int refillTarget = -1;
    /**
     * Whole stripes rebuilt from parity (sealed stripes only), each kept with the generation it was
     * read under: an entry is served only while the stripe is still at that generation.
     */
    private static final int RECONSTRUCTED_MAX = 4;

    private final int[] cachedStripe = new int[RECONSTRUCTED_MAX];
    private final int[] cachedEpoch = new int[RECONSTRUCTED_MAX];
    private final long[] cachedUse = new long[RECONSTRUCTED_MAX];
    private final StripeScratch[] cachedScratch = new StripeScratch[RECONSTRUCTED_MAX];
    private long cacheClock;
    /** Free whole-stripe scratch areas (see {@link StripeScratch}): a small bounded pool. */
    private static final int SCRATCH_POOL_MAX = 2;

    private final StripeScratch[] scratchPool = new StripeScratch[SCRATCH_POOL_MAX];
    private int scratchPooled;
    private long scratchAllocations;
    /** Generation of each slot's drive as this store last knew it (a replace is a lost column). */
    private final int[] generation;
    /** Health of each slot as last polled. */
    private final Health[] health;
    /** The SSDs found slow, which new writes and reads go around ({@link SlowSsds}). */
    private final SlowSsds slow;

    // The open stripe: image of its data columns (0..22), P (23) and Q (24), destage thread only.
    private final byte[][][] image = new byte[25][ROWS][CELL];
    private final byte[][] lastP = new byte[ROWS][CELL];
    private final byte[][] lastQ = new byte[ROWS][CELL];
    private boolean parityOnDisk;
    private final ByteBuffer io = Ssd.allocateAligned(StripeLayout.COLUMN_BYTES);
    private final boolean[] unsynced = new boolean[Dae.SLOTS_MAX]; // destage thread only
    private long openStripe = -1;
    private int openCapacity;
    private int fill;
    private int flushed;

    // Per-cell liveness, for refilling the free cells of partly dead stripes (index stripe * cps + cell).
    private final int cps;
    /** Live stored records overlapping each data cell. */
    private final short[] cellLive;
    /** Cells whose last record died since the last checkpoint: that checkpoint may still point there. */
    private final long[] held;
    /** Cells freed since the last checkpoint, to release when the next one is durable (may repeat). */
    private int[] freedList = new int[1024];

    private int freedCount;
    /** Per stripe: cells with no live record and not held (of the full layout's cps; see refillRoom). */
    private final int[] freeCells;
    /** False after a start until the first checkpoint: the loaded checkpoint may point into dead cells. */
    private boolean refillAllowed;

    // The refill target (destage thread): a sealed stripe whose free cells receive new blocks.
    private boolean refilling;
    private final boolean[] alloc = new boolean[23 * ROWS];
    private final boolean[] claimed = new boolean[23 * ROWS];
    private final boolean[] dirty = new boolean[23 * ROWS];
    private final boolean[] beforeKnown = new boolean[23 * ROWS];
    /** What the SSD holds in each claimed cell (zero past the extent), for the parity delta. */
    private final byte[][][] before = new byte[23][ROWS][CELL];

    private final boolean[] pKnown = new boolean[ROWS];
    private final boolean[] qKnown = new boolean[ROWS];
    private int refillExtentCells;
    private int allocLeft;
    private boolean intentWritten;
    private long intentSeq;
    private IoStatus pendingFailure = IoStatus.OK;
    /** Fewest free cells worth a refill (the P and Q cells it rewrites are up to 56). */
    public static final int MIN_REFILL_CELLS = 32;

    /** Stripes a rebuild or compaction is moving blocks out of: not refill targets meanwhile. */
    private final int[] noRefill;
    /**
     * Degraded reads rebuild cells from P and Q: they must not see a refill of a degraded stripe
     * half-written (data cells written, parity not yet). Refills of healthy stripes do not take it.
     */
    private final java.util.concurrent.locks.ReentrantReadWriteLock reconstructGate =
            new java.util.concurrent.locks.ReentrantReadWriteLock();

    private long refills;
    private long refillCells;
    private long refillAborts;
    private long intentCellsWritten;
    private long refillReads;
    private long refillFlushes;
    private long refillParityCells;

    private long liveTotal;
    private long freeStripes;
    private long writeErrors;
    private long cellsWritten;
    private long parityCellsWritten;
    private long degradedReads;
    private long readsAroundSlow;
    private long cellsReconstructed;
    private long reconstructReads;
    private long unrecoverable;
    private long scrubbedStripes;
    private long scrubMismatches;

    public SegmentStore(Dae dae, StripeLayout layout) {
        this(dae, layout, SlowSsds.VIRTUAL_THREADS);
    }

    /** @param probes runs the probes of slow SSDs ({@link SlowSsds}) */
    SegmentStore(Dae dae, StripeLayout layout, java.util.concurrent.Executor probes) {
        if (layout.stripes() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("too many stripes: stripes=" + layout.stripes());
        }
        this.dae = dae;
        this.layout = layout;
        this.stripeBytes = layout.stripeDataBytes();
        this.slots = layout.width();
        int n = (int) layout.stripes();
        this.state = new byte[n];
        this.live = new int[n];
        this.members = new int[n];
        this.degraded = new int[n];
        this.zeroed = new int[n];
        this.extent = new int[n];
        this.zeroing = new int[n];
        this.epoch = new int[n];
        this.busy = new boolean[n];
        Arrays.fill(cachedStripe, -1);
        this.freeStripes = n;
        this.cps = layout.cellsPerStripe();
        if ((long) n * cps > Integer.MAX_VALUE - 64) {
            throw new IllegalArgumentException("too many cells for the per-cell map: stripes=" + n);
        }
        this.cellLive = new short[n * cps];
        this.held = new long[(n * cps + 63) / 64];
        this.freeCells = new int[n];
        this.noRefill = new int[n];
        Arrays.fill(freeCells, cps);
        this.generation = new int[slots];
        this.health = new Health[slots];
        this.slow = new SlowSsds(dae, slots, probes);
        for (int i = 0; i < slots; i++) {
            generation[i] = dae.slot(i).generation();
            health[i] = dae.health(i);
        }
    }

    public StripeLayout layout() {
        return layout;
    }

    // ---------------------------------------------------------------- geometry

    /** Slot of every column of {@code stripe}: data 0..w-3, P at w-2, Q at w-1. */
    private static int[] columnSlots(long stripe, int memberMask) {
        return columnSlots(stripe, memberMask, new int[Integer.bitCount(memberMask)]);
    }

    /** As {@link #columnSlots(long, int)}, into {@code col} (of the stripe's width). */
    private static int[] columnSlots(long stripe, int memberMask, int[] col) {
        for (int j = 0; j < col.length; j++) {
            col[j] = slotOf(stripe, memberMask, j);
        }
        return col;
    }

    /** Slot of column {@code j} of {@code stripe}: the ((j + stripe) mod w)-th member slot, lowest first. */
    private static int slotOf(long stripe, int memberMask, int j) {
        int m = memberMask;
        for (int n = (int) ((j + stripe) % Integer.bitCount(memberMask)); n > 0; n--) {
            m &= m - 1; // drops the lowest member
        }
        return Integer.numberOfTrailingZeros(m);
    }

    private static final Rdp[] RDP = new Rdp[24];

    static {
        for (int k = 1; k < RDP.length; k++) {
            RDP[k] = new Rdp(k);
        }
    }

    /** The (stateless) RDP coder for {@code k} data columns. */
    private static Rdp rdp(int k) {
        return RDP[k];
    }

    private long ssdOffset(long stripe, int row) {
        return layout.metadataBytes() + stripe * StripeLayout.COLUMN_BYTES + (long) row * CELL;
    }

    // ---------------------------------------------------------------- health

    /**
     * Compares every slot with what this store last saw: a slot that failed, was pulled or had its
     * drive replaced loses its column in every stripe that uses it (degraded until rebuilt). Returns a
     * description of the changes ("" when none), for the caller to log and act on.
     */
    public synchronized String pollHealth() {
        slow.poll();
        StringBuilder changes = new StringBuilder();
        for (int i = 0; i < slots; i++) {
            Health h = dae.health(i);
            int g = dae.slot(i).generation();
            if (h == health[i] && g == generation[i]) {
                continue;
            }
            boolean lost = h != Health.OK || g != generation[i];
            if (lost) {
                long n = markLost(i);
                changes.append(changes.isEmpty() ? "" : " ")
                        .append("slot=")
                        .append(i)
                        .append(":")
                        .append(g != generation[i] ? "replaced" : h.name().toLowerCase(java.util.Locale.ROOT))
                        .append(":stripes_degraded=")
                        .append(n);
            } else {
                changes.append(changes.isEmpty() ? "" : " ")
                        .append("slot=")
                        .append(i)
                        .append(":back");
            }
            health[i] = h;
            generation[i] = g;
        }
        return changes.toString();
    }

    private long markLost(int slot) {
        long n = 0;
        for (int s = 0; s < state.length; s++) {
            int bit = 1 << slot;
            if (state[s] != FREE && (members[s] & bit) != 0 && (degraded[s] & bit) == 0 && (zeroed[s] & bit) == 0) {
                degraded[s] |= 1 << slot;
                n++;
            }
        }
        return n;
    }

    private boolean usable(int slot) {
        return dae.health(slot) == Health.OK;
    }

    /**
     * Slots healthy now and as {@link #pollHealth} last saw them (a drive replaced since joins new
     * stripes only once the poll has marked the old drive's columns lost).
     */
    private synchronized int knownGoodMask() {
        int m = 0;
        for (int i = 0; i < slots; i++) {
            if (usable(i) && health[i] == Health.OK && dae.slot(i).generation() == generation[i]) {
                m |= 1 << i;
            }
        }
        return m;
    }

    /** Slots that are healthy now, as a mask. */
    public synchronized int healthyMask() {
        int m = 0;
        for (int i = 0; i < slots; i++) {
            if (usable(i)) {
                m |= 1 << i;
            }
        }
        return m;
    }

    /**
     * Of the {@code healthy} slots (a mask), those a write goes to: all but the slow ones while enough
     * are left ({@link SlowSsds#writeMask}). The checkpoint's writer asks it too.
     */
    public int writeMaskAroundSlow(int healthy) {
        return slow.writeMask(healthy);
    }

    /** Healthy slots that new writes go around because they are slow ({@link SlowSsds#writeMask}). */
    private int writtenAround(int healthy) {
        return healthy & ~slow.writeMask(healthy);
    }

    /** How many SSDs a stripe opened now would span: the healthy ones, less those written around. */
    public synchronized int newStripeWidth() {
        return Integer.bitCount(slow.writeMask(knownGoodMask()));
    }

    /** Slow SSDs, e.g. {@code 3} ("" when none): see {@link SlowSsds}. */
    public String slowSlots() {
        return slow.describe();
    }

    // ---------------------------------------------------------------- recovery

    /** Recovery: a live block of {@code bytes} found at {@code location} in the loaded H2P. */
    public synchronized void recoverLive(long location, int bytes) {
        int s = stripeOf(location);
        if (state[s] == FREE) {
            // Only a checkpoint without a stripe section gets here: assume a full-width stripe.
            state[s] = SEALED;
            freeStripes--;
            members[s] = (1 << slots) - 1;
            extent[s] = (int) stripeBytes;
        }
        placed(location, bytes);
    }

    /** Writes the stripe table (every non-free stripe's geometry) as a checkpoint section. */
    public synchronized void writeSection(WritableByteChannel ch) throws IOException {
        int n = 0;
        for (byte b : state) {
            n += b != FREE ? 1 : 0;
        }
        ByteBuffer b =
                ByteBuffer.allocate(16 + 8 * slots + 24 * Math.min(n, 4096)).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(SECTION_MAGIC).putInt(SECTION_VERSION).putInt(slots).putInt(n);
        for (int i = 0; i < slots; i++) {
            b.putInt(generation[i]).putInt(health[i] == Health.OK ? 0 : 1);
        }
        for (int s = 0; s < state.length; s++) {
            if (state[s] == FREE) {
                continue;
            }
            if (b.remaining() < 24) {
                drain(ch, b);
            }
            b.putInt(s)
                    .putInt(members[s])
                    .putInt(degraded[s])
                    .putInt(zeroed[s])
                    .putInt(extent[s])
                    .putInt(zeroing[s]);
        }
        drain(ch, b);
    }

    private static void drain(WritableByteChannel ch, ByteBuffer b) throws IOException {
        b.flip();
        while (b.hasRemaining()) {
            ch.write(b);
        }
        b.clear();
    }

    /**
     * Loads a stripe table written by {@link #writeSection}. Stripes come back SEALED with no live
     * bytes (recovery counts them from H2P); a slot whose drive changed, or that is not healthy now,
     * loses its column in each stripe that uses it.
     */
    public synchronized void readSection(ReadableByteChannel ch) throws IOException {
        ByteBuffer h = readFully(ch, 16);
        if (h.getInt(0) == SECTION_MAGIC && h.getInt(4) == 2) {
            throw new CorruptCheckpointException("stripe table version 2 (raw blocks packed behind a header) is"
                    + " not readable by this build, which stores raw blocks cell-aligned (version 3):"
                    + " re-create the array (wipe its data directory) with this build");
        }
        if (h.getInt(0) != SECTION_MAGIC || h.getInt(4) != SECTION_VERSION || h.getInt(8) != slots) {
            throw new IOException("stripe table: bad magic, version or width: version=" + h.getInt(4) + " width="
                    + h.getInt(8) + " expected_width=" + slots);
        }
        int n = h.getInt(12);
        ByteBuffer g = readFully(ch, 8 * slots);
        int[] savedGeneration = new int[slots];
        boolean[] savedDown = new boolean[slots];
        for (int i = 0; i < slots; i++) {
            savedGeneration[i] = g.getInt(8 * i);
            savedDown[i] = g.getInt(8 * i + 4) != 0;
        }
        for (int k = 0; k < n; k++) {
            ByteBuffer e = readFully(ch, 24);
            int s = e.getInt(0);
            if (s < 0 || s >= state.length || state[s] != FREE) {
                throw new IOException("stripe table: bad or repeated stripe=" + s);
            }
            state[s] = SEALED;
            freeStripes--;
            members[s] = e.getInt(4);
            degraded[s] = e.getInt(8);
            zeroed[s] = e.getInt(12);
            extent[s] = e.getInt(16);
            zeroing[s] = e.getInt(20);
        }
        for (int i = 0; i < slots; i++) {
            if (savedGeneration[i] != generation[i] || (!savedDown[i] && !usable(i))) {
                long m = markLost(i);
                Log.warn(
                        "ssd_lost_while_down",
                        "slot=" + i + " saved_generation=" + savedGeneration[i] + " generation=" + generation[i]
                                + " health=" + dae.health(i) + " stripes_degraded=" + m);
            }
        }
    }

    private static ByteBuffer readFully(ReadableByteChannel ch, int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
        while (b.hasRemaining()) {
            if (ch.read(b) < 0) {
                throw new IOException("stripe table truncated");
            }
        }
        return b.flip();
    }

    // ---------------------------------------------------------------- destage

    /**
     * Appends one stored block and returns its pool location, or -1 when no stripe has room (the
     * caller compacts and checkpoints, then retries). A compressed block is written behind a 2-byte
     * length header, packed at byte granularity; a raw block ({@link BlockCodec#RAW}) takes one whole
     * cell, no header, so that it frees that cell when it dies. The target is a free stripe while more
     * than {@code keepFree} are free, else the sealed stripe with the most free cells (a refill).
     */
    public long append(ByteBuffer stored, int off, int length, int keepFree) {
        boolean raw = length == BlockCodec.RAW;
        int span = raw ? CELL : HEADER_BYTES + length;
        int at = openStripe < 0 ? -1 : place(fill, span, raw);
        if (at < 0) {
            if (openStripe >= 0) {
                IoStatus st = seal();
                if (st != IoStatus.OK) {
                    pendingFailure = st; // what was appended before is not to be published
                    return -1;
                }
            }
            if (!openNext(keepFree)) {
                return -1;
            }
            at = place(fill, span, raw);
            if (at < 0) {
                return -1;
            }
        }
        long location = openStripe * stripeBytes + at;
        if (raw) {
            stored.get(off, cellAt(at), 0, CELL);
        } else {
            put(at, (byte) length);
            put(at + 1, (byte) (length >>> 8));
            for (int i = 0; i < length; ) {
                int p = at + HEADER_BYTES + i;
                int n = Math.min(length - i, CELL - p % CELL);
                stored.get(off + i, cellAt(p), p % CELL, n);
                i += n;
            }
        }
        if (refilling) {
            for (int c = at / CELL, last = (at + span - 1) / CELL; c <= last; c++) {
                dirty[c] = true;
            }
        }
        fill = at + span;
        return location;
    }

    /**
     * Where in the open stripe a record of {@code span} bytes goes, at or after {@code pos}, or -1 when
     * it does not fit. In a refill it must lie in cells that are free or already ours.
     */
    private int place(int pos, int span, boolean raw) {
        while (true) {
            if (raw) {
                pos = (pos + CELL - 1) / CELL * CELL;
            }
            if (pos + span > openCapacity) {
                return -1;
            }
            if (!refilling) {
                return pos;
            }
            int first = pos / CELL;
            int last = (pos + span - 1) / CELL;
            int bad = -1;
            for (int c = last; c >= first; c--) {
                if (!claimed[c] && !alloc[c]) {
                    bad = c;
                    break;
                }
            }
            if (bad < 0) {
                for (int c = first; c <= last; c++) {
                    if (!claimed[c]) {
                        claimed[c] = true;
                        allocLeft--;
                        Arrays.fill(image[c / ROWS][c % ROWS], (byte) 0);
                    }
                }
                return pos;
            }
            pos = (bad + 1) * CELL;
        }
    }

    private byte[] cellAt(int dataOffset) {
        int cell = dataOffset / CELL;
        return image[cell / ROWS][cell % ROWS];
    }

    private void put(int dataOffset, byte v) {
        cellAt(dataOffset)[dataOffset % CELL] = v;
    }

    private boolean openNext(int keepFree) {
        // A look at the drives' service times per stripe too, not only per destage round: a round
        // under a steady writer can go on for seconds, writing every stripe's column to a slow drive.
        slow.poll();
        int healthy = knownGoodMask();
        int width = slow.writeMask(healthy); // a slow SSD is left out of new stripes
        int w = Integer.bitCount(width);
        if (w < 4) {
            Log.error("stripe_open_refused", "healthy_ssds=" + w + " reason=fewer_than_4_healthy_ssds");
            return false;
        }
        int target = -1;
        synchronized (this) {
            openStripe = -1;
            refillTarget = -1;
            if (freeStripes > keepFree) {
                for (int s = 0; s < state.length; s++) {
                    if (state[s] == FREE) {
                        state[s] = OPEN;
                        freeStripes--;
                        openStripe = s;
                        members[s] = width;
                        epoch[s]++;
                        degraded[s] = 0;
                        zeroed[s] = 0;
                        extent[s] = 0;
                        break;
                    }
                }
            } else {
                target = emptiestSealed(healthy);
            }
        }
        if (target >= 0) {
            return openRefill(target);
        }
        if (openStripe < 0) {
            return false;
        }
        int dataColumns = w - 2;
        openCapacity = dataColumns * StripeLayout.COLUMN_BYTES;
        for (int c = 0; c < 23; c++) {
            for (byte[] cell : image[c]) {
                Arrays.fill(cell, (byte) 0);
            }
        }
        parityOnDisk = false;
        refilling = false;
        fill = 0;
        flushed = 0;
        return true;
    }

    /** Member slots of stripe {@code s} whose column is lost (degraded, or down now), zeroed ones aside. */
    private int lostColumns(int s, int healthy) {
        return (degraded[s] | (members[s] & ~healthy)) & ~zeroed[s];
    }

    /**
     * Free cells stripe {@code s} offers a refill now (its own width; not on zeroed or lost columns,
     * nor on a slow SSD's: a refill writes around it).
     */
    private int refillRoom(int s) {
        int cap = (Integer.bitCount(members[s]) - 2) * ROWS;
        int healthy = healthyMask();
        int skip = zeroed[s] | lostColumns(s, healthy) | (members[s] & writtenAround(healthy));
        if (skip == 0) {
            return freeCells[s] - (cps - cap);
        }
        int[] col = columnSlots(s, members[s]);
        int n = 0;
        for (int c = 0; c < cap; c++) {
            int i = s * cps + c;
            n += cellLive[i] == 0 && !isHeld(i) && (skip & (1 << col[c / ROWS])) == 0 ? 1 : 0;
        }
        return n;
    }

    /** Stripes a rebuild or compaction moves blocks out of are no refill targets until released (+1 / -1). */
    public synchronized void excludeFromRefill(long[] stripes, int delta) {
        for (long s : stripes) {
            noRefill[(int) s] += delta;
        }
    }

    /** The sealed, fully healthy stripe with the most free cells (at least {@link #MIN_REFILL_CELLS}), or -1. */
    private int emptiestSealed(int healthy) {
        if (!refillAllowed) {
            return -1;
        }
        int best = -1;
        int bestRoom = MIN_REFILL_CELLS - 1;
        for (int s = 0; s < state.length; s++) {
            if (state[s] != SEALED || zeroing[s] != 0 || noRefill[s] != 0 || busy[s] || freeCells[s] <= bestRoom) {
                continue;
            }
            int bad = lostColumns(s, healthy);
            int slowHere = members[s] & ~zeroed[s] & writtenAround(healthy);
            if ((bad | slowHere) != 0) {
                // A lost data column is left alone (P and Q updates keep it reconstructible); a lost
                // P or Q, or more than two lost columns, is the rebuild's business. A slow SSD's data
                // column is left alone the same way; its P or Q would make every flush wait for it.
                int[] col = columnSlots(s, members[s]);
                int w = col.length;
                int parity = (1 << col[w - 2]) | (1 << col[w - 1]);
                if (Integer.bitCount(bad) > 2 || ((bad | slowHere) & parity) != 0) {
                    continue;
                }
            }
            int room = refillRoom(s);
            if (room > bestRoom) {
                best = s;
                bestRoom = room;
            }
        }
        return best;
    }

    /** Free cells the best refill target offers now (0 when none is worth it). */
    public synchronized int refillRoomCells() {
        int s = emptiestSealed(knownGoodMask());
        return s < 0 ? 0 : refillRoom(s);
    }

    /** Opens sealed stripe {@code s} as the refill target: its free cells take new blocks. */
    private boolean openRefill(int s) {
        int cap;
        synchronized (this) {
            int[] col = columnSlots(s, members[s]);
            cap = (col.length - 2) * ROWS;
            allocLeft = 0;
            int healthy = healthyMask();
            int skip = zeroed[s] | lostColumns(s, healthy) | (members[s] & writtenAround(healthy));
            for (int c = 0; c < 23 * ROWS; c++) {
                int i = s * cps + c;
                alloc[c] = c < cap && cellLive[i] == 0 && !isHeld(i) && (skip & (1 << col[c / ROWS])) == 0;
                allocLeft += alloc[c] ? 1 : 0;
            }
            refillExtentCells = (extent[s] + CELL - 1) / CELL;
            epoch[s]++;
            refillTarget = s;
            refills++;
        }
        Arrays.fill(claimed, false);
        Arrays.fill(dirty, false);
        Arrays.fill(beforeKnown, false);
        Arrays.fill(pKnown, false);
        Arrays.fill(qKnown, false);
        openStripe = s;
        openCapacity = cap * CELL;
        refilling = true;
        intentWritten = false;
        fill = 0;
        flushed = 0;
        return true;
    }

    /**
     * Writes the data cells filled since the last flush (the last, partly filled cell is written again
     * later) and the parity cells that changed. Writes to a failed member are skipped (its column is
     * lost: parity covers it). Fails only when the stripe has lost more than two columns.
     */
    public IoStatus flush() {
        IoStatus failed = pendingFailure;
        pendingFailure = IoStatus.OK;
        IoStatus st = refilling ? flushRefill() : flushOpen();
        return failed != IoStatus.OK ? failed : st;
    }

    private IoStatus flushOpen() {
        if (openStripe < 0 || flushed == fill) {
            return IoStatus.OK;
        }
        long s = openStripe;
        int[] col = columnSlots(s, members[(int) s]);
        int w = col.length;
        int first = flushed / CELL;
        int end = (fill + CELL - 1) / CELL;
        reserve((int) s, null, first, end);
        int cell = first;
        while (cell < end) {
            int column = cell / ROWS;
            int runEnd = Math.min(end, (column + 1) * ROWS);
            writeCells(s, col[column], image[column], cell % ROWS, runEnd - cell, false);
            cell = runEnd;
        }
        // Parity over the whole image (cells past the fill are zero, and count as zero).
        byte[][][] view = view(w);
        rdp(w - 2).encode(view);
        writeParity(s, col[w - 2], image[23], lastP);
        writeParity(s, col[w - 1], image[24], lastQ);
        parityOnDisk = true;
        synchronized (this) {
            extent[(int) s] = fill;
            if (Integer.bitCount(degraded[(int) s]) > 2) {
                // More SSDs lost than parity covers: give the stripe up. Blocks not yet published go to
                // the next stripe (they are still in the journal); published ones are lost.
                Log.error(
                        "stripe_unprotected",
                        "stripe=" + s + " lost_columns=" + Integer.bitCount(degraded[(int) s])
                                + " action=abandoned_unpublished_blocks_go_to_next_stripe");
                state[(int) s] = SEALED;
                openStripe = -1;
                return IoStatus.DEVICE_FAILED;
            }
        }
        flushed = fill;
        return IoStatus.OK;
    }

    private byte[][][] view(int w) {
        byte[][][] v = new byte[w][][];
        for (int j = 0; j < w - 2; j++) {
            v[j] = image[j];
        }
        v[w - 2] = image[23];
        v[w - 1] = image[24];
        return v;
    }

    private void writeParity(long s, int slot, byte[][] column, byte[][] last) {
        int r = 0;
        while (r < ROWS) {
            if (parityOnDisk && Arrays.equals(column[r], last[r])) {
                r++;
                continue;
            }
            int runEnd = r + 1;
            while (runEnd < ROWS && !(parityOnDisk && Arrays.equals(column[runEnd], last[runEnd]))) {
                runEnd++;
            }
            writeCells(s, slot, column, r, runEnd - r, true);
            for (int k = r; k < runEnd; k++) {
                System.arraycopy(column[k], 0, last[k], 0, CELL);
            }
            r = runEnd;
        }
    }

    /** Writes rows [row, row + n) of one column of stripe {@code s} to {@code slot}; a failure loses the column. */
    private void writeCells(long s, int slot, byte[][] column, int row, int n, boolean parity) {
        synchronized (this) {
            if ((degraded[(int) s] & (1 << slot)) != 0) {
                return; // lost already: parity covers it
            }
        }
        io.clear();
        for (int k = 0; k < n; k++) {
            io.put(column[row + k]);
        }
        io.flip();
        unsynced[slot] = true;
        IoStatus st = dae.slot(slot).write(ssdOffset(s, row), io);
        synchronized (this) {
            if (st != IoStatus.OK) {
                writeErrors++;
                degraded[(int) s] |= 1 << slot;
                Log.warn(
                        "segment_write_failed",
                        "stripe=" + s + " row=" + row + " cells=" + n + " slot=" + slot + " status=" + st
                                + " action=column_lost_parity_covers_it");
            } else if (parity) {
                parityCellsWritten += n;
            } else {
                cellsWritten += n;
            }
        }
    }

    /**
     * Flushes and closes the open stripe or refill target: nothing is appended to it after this (called
     * before checkpoints). A failure means the blocks appended since the last flush are not on the SSDs.
     */
    public IoStatus seal() {
        if (openStripe < 0) {
            return IoStatus.OK;
        }
        IoStatus st = flush();
        if (st != IoStatus.OK) {
            return st;
        }
        if (openStripe >= 0) {
            synchronized (this) {
                if (!refilling) {
                    // Its blocks are placed (published to H2P) after this: SEALED even while live is 0.
                    state[(int) openStripe] = SEALED;
                    extent[(int) openStripe] = fill;
                }
                refillTarget = -1;
            }
        }
        openStripe = -1;
        refilling = false;
        return IoStatus.OK;
    }

    // ---------------------------------------------------------------- refill: read-modify-write

    /**
     * Writes the refill target's dirty cells and updates P and Q by read-modify-write: the delta of each
     * written cell (new XOR what the SSD held, zero past the extent) is encoded with RDP and XORed into
     * the P and Q cells it changes, read first. Nothing is written before every read succeeded; a target
     * that lost a column is given up (its unpublished blocks go elsewhere from the journal). Data cells
     * go first, then P, then Q; a crash in between leaves the target's parity stale, which the start-up
     * resync ({@link #resyncInterrupted}) recomputes, as the intent record written before the first
     * write names the target. Not closed: a crash together with the loss of an SSD holding a data
     * column of the target. The resync cannot recompute P and Q without that column, and the stale
     * parity rebuilds it wrong (RefillWriteHoleTest, disabled): closing it needs the refilled cells'
     * and parity rows' before images (or after images) logged durably before the first write.
     */
    private IoStatus flushRefill() {
        int s = (int) openStripe;
        int[] col;
        int lost;
        int zero;
        synchronized (this) {
            col = columnSlots(s, members[s]);
            lost = degraded[s];
            zero = zeroed[s];
        }
        int w = col.length;
        int k = w - 2;
        int cap = k * ROWS;
        int maxDirty = -1;
        for (int c = 0; c < cap; c++) {
            if (dirty[c]) {
                maxDirty = c;
            }
        }
        if (maxDirty < 0) {
            return IoStatus.OK;
        }
        for (int slot : col) {
            if (!usable(slot) && (zero & (1 << slot)) == 0) {
                lost |= 1 << slot; // a zeroed column's SSD may be gone: nothing is read or written there
            }
        }
        // A lost data column without dirty cells is fine: the parity deltas keep it reconstructible.
        if ((lost & ((1 << col[k]) | (1 << col[k + 1]))) != 0 || Integer.bitCount(lost) > 2) {
            return abortRefill(s, "parity_column_lost");
        }
        for (int c = 0; c <= maxDirty; c++) {
            if (dirty[c] && (lost & (1 << col[c / ROWS])) != 0) {
                return abortRefill(s, "member_lost");
            }
        }
        int lostBefore = lost;
        // 1. What the SSDs hold in the dirty cells (their parity contribution), read once per refill.
        for (int c = 0; c < cap; ) {
            if (!dirty[c] || beforeKnown[c]) {
                c++;
                continue;
            }
            if (c >= refillExtentCells) {
                Arrays.fill(before[c / ROWS][c % ROWS], (byte) 0); // past the extent: zero for parity
                beforeKnown[c] = true;
                c++;
                continue;
            }
            int column = c / ROWS;
            int end = c + 1;
            while (end < Math.min(refillExtentCells, (column + 1) * ROWS) && dirty[end] && !beforeKnown[end]) {
                end++;
            }
            if (!readCells(s, col[column], c % ROWS, end - c, before[column])) {
                return abortRefill(s, "read_failed");
            }
            for (int x = c; x < end; x++) {
                beforeKnown[x] = true;
            }
            c = end;
        }
        // 2. The parity delta.
        byte[][][] d = new byte[w][ROWS][];
        for (int j = 0; j < w; j++) {
            for (int r = 0; r < ROWS; r++) {
                int c = j * ROWS + r;
                if (j < k && dirty[c]) {
                    byte[] x = image[j][r].clone();
                    xor(x, before[j][r]);
                    d[j][r] = x;
                } else {
                    d[j][r] = j < k ? ZERO_CELL : new byte[CELL];
                }
            }
        }
        rdp(k).encode(d);
        // 3. The P and Q cells that change, as the SSDs hold them now.
        if (!readParity(s, col[k], d[k], lastP, pKnown) || !readParity(s, col[k + 1], d[k + 1], lastQ, qKnown)) {
            return abortRefill(s, "parity_read_failed");
        }
        // 4. The intent: a crash from here on needs this stripe's parity recomputed at start.
        if (!intentWritten) {
            if (!writeIntent(s)) {
                return abortRefill(s, "intent_write_failed");
            }
            intentWritten = true;
        }
        reserve(s, dirty, 0, cap);
        // 5. Data cells, then P, then Q. A write that fails loses its column; the parity still takes
        // the cell's delta, so the cell reads back (reconstructed) as written.
        java.util.concurrent.locks.Lock gate = lostBefore != 0 ? reconstructGate.writeLock() : null;
        if (gate != null) {
            gate.lock();
        }
        try {
            writeRefillCells(s, col, cap, d);
        } finally {
            if (gate != null) {
                gate.unlock();
            }
        }
        int written = 0;
        for (int c = 0; c <= maxDirty; c++) {
            if (dirty[c]) {
                System.arraycopy(image[c / ROWS][c % ROWS], 0, before[c / ROWS][c % ROWS], 0, CELL);
                dirty[c] = false;
                written++;
            }
        }
        synchronized (this) {
            refillCells += written;
            refillFlushes++;
            extent[s] = Math.max(extent[s], (maxDirty + 1) * CELL);
            epoch[s]++;
            dropCached(s);
            int nowLost = Integer.bitCount(degraded[s] | lostBefore);
            if (nowLost > 2) {
                Log.error(
                        "stripe_unprotected", "stripe=" + s + " lost_columns=" + nowLost + " action=refill_abandoned");
                openStripe = -1;
                refilling = false;
                refillTarget = -1;
                return IoStatus.DEVICE_FAILED;
            }
            if ((degraded[s] & ~lostBefore) != 0) {
                openStripe = -1; // a column was lost while writing: the rebuild takes the stripe over
                refilling = false;
                refillTarget = -1;
            }
        }
        return IoStatus.OK;
    }

    private void writeRefillCells(int s, int[] col, int cap, byte[][][] d) {
        int k = col.length - 2;
        for (int c = 0; c < cap; ) {
            if (!dirty[c]) {
                c++;
                continue;
            }
            int column = c / ROWS;
            int end = c + 1;
            while (end < (column + 1) * ROWS && dirty[end]) {
                end++;
            }
            writeCells(s, col[column], image[column], c % ROWS, end - c, false);
            c = end;
        }
        long parityBefore;
        synchronized (this) {
            parityBefore = parityCellsWritten;
        }
        writeParityDelta(s, col[k], d[k], lastP);
        writeParityDelta(s, col[k + 1], d[k + 1], lastQ);
        synchronized (this) {
            refillParityCells += parityCellsWritten - parityBefore;
        }
    }

    private IoStatus abortRefill(int s, String why) {
        synchronized (this) {
            refillAborts++;
            refillTarget = -1;
        }
        Log.warn("refill_aborted", "stripe=" + s + " reason=" + why + " action=blocks_stay_in_journal");
        openStripe = -1;
        refilling = false;
        return IoStatus.DEVICE_FAILED;
    }

    private static void xor(byte[] dst, byte[] src) {
        for (int i = 0; i < CELL; i++) {
            dst[i] ^= src[i];
        }
    }

    private static boolean isZeroCell(byte[] c) {
        return Arrays.mismatch(c, ZERO_CELL) < 0;
    }

    /** Reads rows [row, row + n) of {@code slot}'s column of stripe {@code s} into {@code into}. */
    private boolean readCells(int s, int slot, int row, int n, byte[][] into) {
        io.clear().limit(n * CELL);
        IoStatus st = dae.slot(slot).read(ssdOffset(s, row), io);
        if (st != IoStatus.OK) {
            Log.warn(
                    "segment_read_failed",
                    "stripe=" + s + " row=" + row + " cells=" + n + " slot=" + slot + " status=" + st
                            + " action=refill_aborted");
            return false;
        }
        for (int k = 0; k < n; k++) {
            io.get(k * CELL, into[row + k], 0, CELL);
        }
        synchronized (this) {
            refillReads += n;
        }
        return true;
    }

    /** Reads the parity cells with a non-zero delta that this refill has not read yet into {@code last}. */
    private boolean readParity(int s, int slot, byte[][] delta, byte[][] last, boolean[] known) {
        for (int r = 0; r < ROWS; ) {
            if (known[r] || isZeroCell(delta[r])) {
                r++;
                continue;
            }
            int end = r + 1;
            while (end < ROWS && !known[end] && !isZeroCell(delta[end])) {
                end++;
            }
            if (!readCells(s, slot, r, end - r, last)) {
                return false;
            }
            for (int x = r; x < end; x++) {
                known[x] = true;
            }
            r = end;
        }
        return true;
    }

    /** XORs the delta into the parity cells it changes and writes them, in runs. */
    private void writeParityDelta(int s, int slot, byte[][] delta, byte[][] last) {
        boolean[] change = new boolean[ROWS];
        for (int r = 0; r < ROWS; r++) {
            if (!isZeroCell(delta[r])) {
                xor(last[r], delta[r]);
                change[r] = true;
            }
        }
        for (int r = 0; r < ROWS; ) {
            if (!change[r]) {
                r++;
                continue;
            }
            int end = r + 1;
            while (end < ROWS && change[end]) {
                end++;
            }
            writeCells(s, slot, last, r, end - r, true);
            r = end;
        }
    }

    // ---------------------------------------------------------------- refill intent

    private static final int INTENT_MAGIC = 0x49524248; // "HBRI"
    private static final int INTENT_VERSION = 1;
    private static final int INTENT_COPIES = 3;
    private volatile long lastIntentStripe = -1;

    /** The stripe the newest intent record names (tests). */
    long lastIntentStripe() {
        return lastIntentStripe;
    }

    /** Slot of every column of stripe {@code s}: data, then P, then Q (tests). */
    synchronized int[] slotsOf(long s) {
        return columnSlots(s, members[(int) s]);
    }

    /**
     * Records durably, on three SSDs, that stripe {@code s} is about to be refilled (its parity is
     * rewritten in place): if the controller stops in the middle, start-up recomputes it.
     */
    private boolean writeIntent(int s) {
        lastIntentStripe = s;
        return writeIntentRecord(s);
    }

    private boolean writeIntentRecord(long s) {
        long seq = ++intentSeq;
        ByteBuffer b = Ssd.allocateAligned(CELL);
        b.order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0, INTENT_MAGIC).putInt(4, INTENT_VERSION).putLong(8, seq).putLong(16, s);
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(b.duplicate().position(0).limit(24));
        b.putInt(24, (int) crc.getValue());
        int done = 0;
        for (int k = 0; k < slots && done < INTENT_COPIES; k++) {
            int slot = (int) ((seq + k) % slots);
            if (!usable(slot) || (slow.isSlow(slot) && slots - k - 1 >= INTENT_COPIES - done)) {
                continue; // a slow SSD takes a copy only when too few others are left to
            }
            b.clear();
            if (dae.slot(slot).write(layout.intentOffset(), b) == IoStatus.OK
                    && dae.slot(slot).flush() == IoStatus.OK) {
                done++;
            }
        }
        synchronized (this) {
            intentCellsWritten += done;
        }
        if (done < Math.min(INTENT_COPIES, slots)) {
            Log.warn("refill_intent_short", "stripe=" + s + " copies=" + done);
        }
        return done > 0;
    }

    /** After the last seal of a clean stop: the intent record names no stripe (nothing to resync). */
    public void stoppedCleanly() {
        if (openStripe < 0 && intentSeq > 0) {
            writeIntentRecord(-1);
        }
    }

    /**
     * Start-up: the stripe the newest intent record names may have been stopped in the middle of a
     * refill (data cells written, P or Q not yet): its P and Q are recomputed from its data.
     * @return the stripe resynced, or -1
     */
    public long resyncInterrupted() {
        long bestSeq = -1;
        long stripe = -1;
        ByteBuffer b = Ssd.allocateAligned(CELL);
        for (int slot = 0; slot < slots; slot++) {
            if (!usable(slot)) {
                continue;
            }
            b.clear();
            if (dae.slot(slot).read(layout.intentOffset(), b) != IoStatus.OK) {
                continue;
            }
            b.order(ByteOrder.LITTLE_ENDIAN);
            java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
            crc.update(b.duplicate().position(0).limit(24));
            if (b.getInt(0) != INTENT_MAGIC || b.getInt(4) != INTENT_VERSION || b.getInt(24) != (int) crc.getValue()) {
                continue; // never written (or torn): no refill to finish from this copy
            }
            long seq = b.getLong(8);
            if (seq > bestSeq) {
                bestSeq = seq;
                stripe = b.getLong(16);
            }
        }
        intentSeq = Math.max(0, bestSeq);
        if (stripe < 0 || stripe >= state.length) {
            return -1;
        }
        synchronized (this) {
            if (state[(int) stripe] != SEALED) {
                return -1; // freed since: nothing points into it
            }
        }
        boolean ok = reencode(stripe);
        if (ok) {
            Log.info("refill_resync", "stripe=" + stripe + " intent_sequence=" + bestSeq + " result=parity_recomputed");
        } else {
            Log.error(
                    "refill_resync",
                    "stripe=" + stripe + " intent_sequence=" + bestSeq
                            + " result=not_possible reason=stripe_lost_a_column_or_parity_write_failed (blocks there are checked against"
                            + " their fingerprints on read)");
        }
        return ok ? stripe : -1;
    }

    /** Makes every SSD's written cells durable against power loss (failed SSDs are skipped: parity covers them). */
    public IoStatus sync() {
        for (int i = 0; i < dae.slotCount() && i < slots; i++) {
            if (!unsynced[i]) {
                continue; // nothing written there since its last flush
            }
            if (!usable(i)) {
                unsynced[i] = false;
                continue;
            }
            IoStatus s = dae.slot(i).flush();
            if (s != IoStatus.OK) {
                return s;
            }
            unsynced[i] = false;
        }
        return IoStatus.OK;
    }

    // ---------------------------------------------------------------- accounting

    /** Whether a stored record of {@code bytes} (header included) is a raw block: one whole cell, no header. */
    static boolean isRaw(int bytes) {
        return bytes == MAX_STORED_BYTES;
    }

    /** Bytes a stored record of {@code bytes} occupies in the stripe (a raw block: one cell). */
    public static int span(int bytes) {
        return isRaw(bytes) ? CELL : bytes;
    }

    /** A block appended and flushed is now referenced by H2P. */
    public synchronized void placed(long location, int bytes) {
        int s = stripeOf(location);
        int span = span(bytes);
        live[s] += span;
        liveTotal += span;
        if (state[s] == RECLAIMABLE) {
            state[s] = SEALED; // refilled after its last block died: live again
        }
        int off = (int) (location - s * stripeBytes);
        for (int c = off / CELL, last = (off + span - 1) / CELL; c <= last; c++) {
            int i = s * cps + c;
            if (cellLive[i] == 0 && !isHeld(i)) {
                freeCells[s]--;
            }
            if (cellLive[i] == Short.MAX_VALUE) {
                throw new IllegalStateException("cell live count overflow: stripe=" + s + " cell=" + c);
            }
            cellLive[i]++;
        }
    }

    /** A placed block lost its last reference (or moved): its bytes are garbage now. */
    public synchronized void released(long location, int bytes) {
        int s = stripeOf(location);
        int span = span(bytes);
        live[s] -= span;
        liveTotal -= span;
        if (live[s] < 0) {
            throw new IllegalStateException("stripe live bytes went negative: stripe=" + s + " live=" + live[s]);
        }
        int off = (int) (location - s * stripeBytes);
        for (int c = off / CELL, last = (off + span - 1) / CELL; c <= last; c++) {
            int i = s * cps + c;
            if (cellLive[i] <= 0) {
                throw new IllegalStateException("cell live count went negative: stripe=" + s + " cell=" + c);
            }
            if (--cellLive[i] == 0 && !isHeld(i)) {
                hold(i); // not free (nor counted free) until the next checkpoint
            }
        }
        if (live[s] == 0 && state[s] == SEALED) {
            state[s] = RECLAIMABLE;
        }
    }

    /**
     * Cells just written are not free until the next checkpoint, whatever their live count: destage
     * publishes (places) their blocks only after the flush, and a stripe sealed in between must not
     * look empty to the refill allocator.
     */
    private synchronized void reserve(int s, boolean[] cells, int from, int to) {
        for (int c = from; c < to; c++) {
            if (cells != null && !cells[c]) {
                continue;
            }
            int i = s * cps + c;
            if (!isHeld(i)) {
                if (cellLive[i] == 0) {
                    freeCells[s]--;
                }
                hold(i);
            }
        }
    }

    private boolean isHeld(int i) {
        return (held[i >>> 6] & (1L << i)) != 0;
    }

    private void hold(int i) {
        held[i >>> 6] |= 1L << i;
        if (freedCount == freedList.length) {
            freedList = Arrays.copyOf(freedList, freedCount * 2);
        }
        freedList[freedCount++] = i;
    }

    /**
     * Checkpoint durable: the cells freed before its capture ({@code upTo} of the freed list) are free
     * for refills; those freed while it was written stay held for the next one.
     */
    private void releaseHeld(int upTo) {
        for (int k = 0; k < upTo; k++) {
            int i = freedList[k];
            if (isHeld(i)) {
                held[i >>> 6] &= ~(1L << i);
                if (cellLive[i] == 0) {
                    freeCells[i / cps]++;
                }
            }
        }
        System.arraycopy(freedList, upTo, freedList, 0, freedCount - upTo);
        freedCount -= upTo;
        if (freedCount == 0 && freedList.length > 1 << 16) {
            freedList = new int[1024];
        }
        refillAllowed = true;
    }

    /** What the checkpoint being written captured: freed cells before it, stripes free once it is durable. */
    private int heldAtCapture = -1;

    private long[] freeableAtCapture = new long[0];

    /**
     * The checkpoint's capture (its sections are taken now, written later without the data path's
     * lock): notes the cells freed so far and the stripes nothing references, which {@link
     * #checkpointed} frees once the checkpoint is durable. What is freed while it is written waits for
     * the next checkpoint (this one's H2P may still point there).
     */
    public synchronized void captureForCheckpoint() {
        heldAtCapture = freedCount;
        if (freeableAtCapture.length != (state.length + 63) >>> 6) {
            freeableAtCapture = new long[(state.length + 63) >>> 6];
        }
        Arrays.fill(freeableAtCapture, 0);
        for (int s = 0; s < state.length; s++) {
            if (!busy[s] && (state[s] == RECLAIMABLE || (state[s] == SEALED && live[s] == 0))) {
                freeableAtCapture[s >>> 6] |= 1L << s;
            }
        }
    }

    /**
     * A checkpoint is durable; it references no RECLAIMABLE stripe, nor a SEALED one without live
     * bytes (blocks that died before destage published them): they are free again. Call it with no
     * destage round in flight.
     */
    public synchronized long checkpointed() {
        if (heldAtCapture < 0) {
            throw new IllegalStateException("checkpointed() without captureForCheckpoint()");
        }
        releaseHeld(heldAtCapture);
        heldAtCapture = -1;
        long n = 0;
        for (int s = 0; s < state.length; s++) {
            if (busy[s] || (freeableAtCapture[s >>> 6] & (1L << s)) == 0) {
                continue; // being written, or referenced by the checkpoint: freed by the next one
            }
            if (state[s] == RECLAIMABLE || (state[s] == SEALED && live[s] == 0)) {
                state[s] = FREE;
                members[s] = 0;
                degraded[s] = 0;
                zeroed[s] = 0;
                zeroing[s] = 0;
                extent[s] = 0;
                freeStripes++;
                n++;
            }
        }
        return n;
    }

    /** @return the sealed stripe with the fewest live bytes, if it is at most {@code maxLiveFraction} full; else -1 */
    public synchronized long compactionVictim(double maxLiveFraction) {
        long best = -1;
        int bestLive = Integer.MAX_VALUE;
        for (int s = 0; s < state.length; s++) {
            if (state[s] == SEALED && live[s] < bestLive && s != openStripe) {
                best = s;
                bestLive = live[s];
            }
        }
        return best >= 0 && bestLive <= maxLiveFraction * stripeBytes ? best : -1;
    }

    /** Up to {@code max} sealed stripes with live data that lost a column: the next to rebuild. */
    public synchronized long[] degradedStripes(int max) {
        long[] out = new long[max];
        int n = 0;
        for (int s = 0; s < state.length && n < max; s++) {
            if (state[s] == SEALED && live[s] > 0 && (degraded[s] & ~zeroing[s]) != 0 && s != openStripe) {
                out[n++] = s;
            }
        }
        return Arrays.copyOf(out, n);
    }

    /** Stripes with live data that lost a column, and their live bytes: {stripes, bytes}. */
    public synchronized long[] degradedLive() {
        long n = 0;
        long bytes = 0;
        for (int s = 0; s < state.length; s++) {
            if (state[s] != FREE && live[s] > 0 && degraded[s] != 0) {
                n++;
                bytes += live[s];
            }
        }
        return new long[] {n, bytes};
    }

    // ---------------------------------------------------------------- reads

    /**
     * Reads the stored record at {@code location} of {@code bytes} (header included) into
     * {@code scratch} ({@link #READ_SCRATCH_BYTES}, aligned). Cells on lost columns, or whose read
     * fails, are reconstructed from parity. Returns the record's offset in scratch, or -1 if the stripe
     * has lost more columns than parity can rebuild.
     */
    public int read(long location, int bytes, ByteBuffer scratch) {
        return read(location, bytes, scratch, 0);
    }

    /**
     * A raw block is one cell on the SSD, no header: it is read into the second cell of scratch and
     * given its header just before, so callers see every record the same way.
     */
    private static int rawRecord(ByteBuffer scratch, int cellOff) {
        if (cellOff < 0) {
            return -1;
        }
        scratch.put(CELL - 2, (byte) BlockCodec.RAW).put(CELL - 1, (byte) (BlockCodec.RAW >>> 8));
        return CELL - 2;
    }

    private static ByteBuffer rawScratch(ByteBuffer scratch) {
        return scratch.slice(CELL, CELL);
    }

    /**
     * As {@link #read}, but every cell of the record in data column {@code suspect} is rebuilt from
     * parity rather than read (the SSD returned bytes that fail their fingerprint). Returns -1 when
     * that is not possible.
     */
    public int readRepaired(long location, int bytes, ByteBuffer scratch, int suspect) {
        return read(location, bytes, scratch, 1 << suspect);
    }

    /**
     * As {@link #readRepaired}, with a second data column {@code other} also taken as wrong (two
     * corrupted cells in one row: the record's, and another block's in column {@code other}).
     */
    public int readRepaired(long location, int bytes, ByteBuffer scratch, int suspect, int other) {
        return read(location, bytes, scratch, (1 << suspect) | (1 << other));
    }

    /** Data columns of the stripe holding {@code location}. */
    public synchronized int dataColumnsOf(long location) {
        return Integer.bitCount(members[stripeOf(location)]) - 2;
    }

    /** Data columns the record at {@code location} spans (1 or 2; for {@link #readRepaired}). */
    public int[] columnsOf(long location, int bytes) {
        bytes = span(bytes);
        int off = (int) (location - stripeOf(location) * stripeBytes);
        int a = off / StripeLayout.COLUMN_BYTES;
        int b = (off + bytes - 1) / StripeLayout.COLUMN_BYTES;
        return a == b ? new int[] {a} : new int[] {a, b};
    }

    /** @param suspects data columns (as a mask) to rebuild from parity rather than read */
    private int read(long location, int bytes, ByteBuffer scratch, int suspects) {
        int at = read(location, bytes, scratch, suspects, true);
        if (at < 0 && slow.mask() != 0) {
            at = read(location, bytes, scratch, suspects, false); // the way around failed: wait for it
        }
        return at;
    }

    /**
     * @param aroundSlow whether a cell on a slow SSD ({@link SlowSsds}) is rebuilt from the rest of its
     *     row instead of read: about 22 fast 4 KiB reads against one 100 ms one. Only for a read (not a
     *     repair), in a sealed stripe that has lost no column and that nothing writes meanwhile (not
     *     the open stripe, the refill target or a write-back's), so its rows' parity is whole.
     */
    private int read(long location, int bytes, ByteBuffer scratch, int suspects, boolean aroundSlow) {
        if (isRaw(bytes)) {
            return rawRecord(scratch, read(location, CELL, rawScratch(scratch), suspects, aroundSlow));
        }
        int s = stripeOf(location);
        int memberMask;
        int lost;
        int zero;
        int ext;
        int ep;
        boolean written; // cells and parity of its rows change meanwhile: a row rebuilt now may be torn
        synchronized (this) {
            memberMask = members[s];
            lost = degraded[s];
            zero = zeroed[s];
            ext = extent[s];
            ep = epoch[s]; // with the geometry: a reconstruction is valid for this generation only
            written = state[s] == OPEN || refillTarget == s || busy[s];
        }
        if (memberMask == 0) {
            return -1; // freed under us: the caller retries from H2P
        }
        int around = memberMask & ~zero & slow.mask();
        if (!aroundSlow || suspects != 0 || lost != 0 || written || Integer.bitCount(around) != 1) {
            around = 0;
        }
        int off = (int) (location - s * stripeBytes);
        int first = off / CELL;
        int last = (off + bytes - 1) / CELL;
        int missing = 0; // data columns to reconstruct, as a column mask
        boolean degradedCells = false; // some lost or unreadable, not only read around a slow SSD
        int cell = first;
        while (cell <= last) {
            int column = cell / ROWS;
            int runEnd = Math.min(last + 1, (column + 1) * ROWS);
            int slot = slotOf(s, memberMask, column);
            ByteBuffer dst = scratch.slice((cell - first) * CELL, (runEnd - cell) * CELL);
            if ((zero & (1 << slot)) != 0) {
                return -1; // a rebuilt (emptied) column holds no live record
            }
            if ((around & (1 << slot)) != 0) {
                missing |= 1 << column; // read around the slow SSD
            } else if (((suspects >>> column) & 1) != 0 || (lost & (1 << slot)) != 0 || !usable(slot)) {
                missing |= 1 << column;
                degradedCells = true;
            } else {
                IoStatus st = dae.slot(slot).read(ssdOffset(s, cell % ROWS), dst);
                if (st != IoStatus.OK) {
                    Log.warn(
                            "segment_read_failed",
                            "stripe=" + s + " cell=" + cell + " slot=" + slot + " status=" + st
                                    + " action=reconstruct");
                    missing |= 1 << column;
                    degradedCells = true;
                }
            }
            cell = runEnd;
        }
        if (missing != 0) {
            synchronized (this) {
                if (degradedCells) {
                    degradedReads++;
                } else {
                    readsAroundSlow++;
                }
            }
            boolean ok;
            reconstructGate.readLock().lock();
            try {
                int mode = suspects != 0 ? FOR_REPAIR : FOR_READ;
                ok = reconstruct(s, ep, memberMask, lost, zero, ext, missing | suspects, mode, first, last, scratch);
            } finally {
                reconstructGate.readLock().unlock();
            }
            if (!ok && around != 0) {
                return -1; // the caller reads the slow SSD instead
            }
            if (!ok) {
                synchronized (this) {
                    unrecoverable++;
                }
                return -1;
            }
        }
        return off - first * CELL;
    }

    /** A read: may be served from, and fills, the reconstruction cache. */
    private static final int FOR_READ = 0;
    /** A repair (suspect columns): neither served from nor put in the cache (it is not what the SSDs say). */
    private static final int FOR_REPAIR = 1;
    /** A rebuild's whole-stripe reconstruction, for the cache only ({@link #prepareRebuild}). */
    private static final int FOR_REBUILD = 2;

    /**
     * Rebuilds the cells of {@code missing} data columns among [first, last] into scratch. One missing
     * data column with P readable: per row, XOR of the row. Otherwise the whole stripe and RDP, into a
     * pooled {@link StripeScratch} that the cache keeps if the stripe is still at generation {@code ep}
     * (the one its geometry was read under) once the reconstruction is done.
     */
    private boolean reconstruct(
            int s,
            int ep,
            int memberMask,
            int lost,
            int zero,
            int ext,
            int missing,
            int mode,
            int first,
            int last,
            ByteBuffer scratch) {
        int w = Integer.bitCount(memberMask);
        StripeScratch x = borrowScratch();
        boolean kept = false;
        try {
            int[] col = columnSlots(s, memberMask, x.slots(w));
            int extCells = (ext + CELL - 1) / CELL;
            // Columns we cannot read: lost or unhealthy members, plus the suspect and the missing ones.
            int unreadable = 0; // by our column index (0..w-1)
            for (int j = 0; j < w; j++) {
                if ((zero & (1 << col[j])) != 0) {
                    continue; // a zeroed column is known: all zero
                }
                if ((lost & (1 << col[j])) != 0 || !usable(col[j]) || ((missing >>> j) & 1) != 0) {
                    unreadable |= 1 << j;
                }
            }
            int m = Integer.numberOfTrailingZeros(unreadable);
            if (Integer.bitCount(unreadable) == 1 && m < w - 2) {
                if (mode == FOR_REBUILD) {
                    return true; // reads rebuild such a column's cells from their rows: nothing to cache
                }
                if (rowRebuild(s, col, zero, extCells, m, first, last, scratch, x)) {
                    return true;
                }
            }
            if (mode != FOR_REPAIR && copyCached(s, ep, unreadable, first, last, scratch)) {
                return true;
            }
            for (int attempt = 0; attempt < 3; attempt++) {
                if (Integer.bitCount(unreadable) > 2) {
                    Log.error(
                            "stripe_unrecoverable",
                            "stripe=" + s + " unreadable_columns=" + Integer.toBinaryString(unreadable) + " width="
                                    + w);
                    return false;
                }
                int failedRead = readStripe(s, col, zero, extCells, unreadable, x);
                if (failedRead >= 0) {
                    unreadable |= 1 << failedRead;
                    continue;
                }
                int a = Integer.numberOfTrailingZeros(unreadable);
                int rest = unreadable & ~(1 << a);
                int b = rest == 0 ? -1 : Integer.numberOfTrailingZeros(rest);
                rdp(w - 2).reconstruct(x.view(w), a, b);
                copyOut(x.cells, unreadable, first, last, scratch);
                kept = mode != FOR_REPAIR && cache(s, ep, x);
                return true;
            }
            return false;
        } finally {
            if (!kept) {
                releaseScratch(x);
            }
        }
    }

    /**
     * Whole-stripe working memory for reconstructs, scrubs and re-encodes: every column's cells, one
     * column's aligned I/O buffer, two cells for row rebuilds and the column-to-slot maps. About 2.9 MB
     * of heap and 1 MiB direct: taken from a small pool ({@link #borrowScratch}) or kept by the
     * reconstruction cache, never allocated per read once warm. Used by one thread at a time.
     */
    private static final class StripeScratch {
        final byte[][][] cells = new byte[MAX_WIDTH][ROWS][CELL];
        final ByteBuffer column = Ssd.allocateAligned(StripeLayout.COLUMN_BYTES);
        final byte[] acc = new byte[CELL];
        final byte[] tmp = new byte[CELL];
        /** views[w]: the first w columns, the shape {@link Rdp} takes for a stripe of width w. */
        private final byte[][][][] views = new byte[MAX_WIDTH + 1][][][];

        private final int[][] slots = new int[MAX_WIDTH + 1][];

        StripeScratch() {
            for (int w = 4; w <= MAX_WIDTH; w++) {
                views[w] = Arrays.copyOf(cells, w);
                slots[w] = new int[w];
            }
        }

        byte[][][] view(int w) {
            return views[w];
        }

        int[] slots(int w) {
            return slots[w];
        }
    }

    private static final int MAX_WIDTH = 25;

    /** A scratch area from the pool, or a new one (counted) when the pool is empty. */
    private StripeScratch borrowScratch() {
        synchronized (this) {
            if (scratchPooled > 0) {
                StripeScratch x = scratchPool[--scratchPooled];
                scratchPool[scratchPooled] = null;
                return x;
            }
            scratchAllocations++;
        }
        return new StripeScratch(); // outside the monitor: megabytes
    }

    /** Back to the pool (dropped when the pool is full: the pool is bounded, readers are not). */
    private synchronized void releaseScratch(StripeScratch x) {
        if (scratchPooled < SCRATCH_POOL_MAX) {
            scratchPool[scratchPooled++] = x;
        }
    }

    /** Whole-stripe scratch areas allocated so far (tests: none more once warm). */
    synchronized long scratchAllocations() {
        return scratchAllocations;
    }

    /**
     * Keeps reconstruction {@code x} of stripe {@code s}, read under generation {@code ep}, if the stripe
     * is still sealed and at that generation (a refill, or a reuse, since means it may mix old and new
     * cells). The entry it replaces goes back to the pool. @return whether {@code x} was kept
     */
    private synchronized boolean cache(int s, int ep, StripeScratch x) {
        if (state[s] != SEALED || epoch[s] != ep) {
            return false;
        }
        int slot = 0;
        for (int i = 0; i < RECONSTRUCTED_MAX; i++) {
            if (cachedStripe[i] == s) {
                slot = i;
                break;
            }
            if (cachedUse[i] < cachedUse[slot]) {
                slot = i; // least recently used (never used: 0)
            }
        }
        if (cachedScratch[slot] != null) {
            releaseScratch(cachedScratch[slot]);
        }
        cachedStripe[slot] = s;
        cachedEpoch[slot] = ep;
        cachedScratch[slot] = x;
        cachedUse[slot] = ++cacheClock;
        return true;
    }

    /**
     * Copies the {@code columns} cells among [first, last] from the cached reconstruction of stripe
     * {@code s} at generation {@code ep}, under the monitor (an entry may be replaced, and its memory
     * reused, as soon as the monitor is free). @return false when there is none
     */
    private synchronized boolean copyCached(int s, int ep, int columns, int first, int last, ByteBuffer scratch) {
        if (state[s] != SEALED || epoch[s] != ep) {
            return false;
        }
        for (int i = 0; i < RECONSTRUCTED_MAX; i++) {
            if (cachedStripe[i] == s && cachedEpoch[i] == ep) {
                cachedUse[i] = ++cacheClock;
                copyOut(cachedScratch[i].cells, columns, first, last, scratch);
                return true;
            }
        }
        return false;
    }

    /** Whether stripe {@code s} has a reconstruction valid at its current generation. */
    private synchronized boolean isCached(int s) {
        for (int i = 0; i < RECONSTRUCTED_MAX; i++) {
            if (cachedStripe[i] == s && cachedEpoch[i] == epoch[s]) {
                return true;
            }
        }
        return false;
    }

    /** Drops stripe {@code s}'s cached reconstruction (its parity or data changed). */
    private synchronized void dropCached(int s) {
        for (int i = 0; i < RECONSTRUCTED_MAX; i++) {
            if (cachedStripe[i] == s) {
                releaseScratch(cachedScratch[i]);
                cachedScratch[i] = null;
                cachedStripe[i] = -1;
                cachedUse[i] = 0;
            }
        }
    }

    private void copyOut(byte[][][] v, int columns, int first, int last, ByteBuffer scratch) {
        for (int cell = first; cell <= last; cell++) {
            int column = cell / ROWS;
            if (((columns >>> column) & 1) != 0) {
                scratch.put((cell - first) * CELL, v[column][cell % ROWS], 0, CELL);
                synchronized (this) {
                    cellsReconstructed++;
                }
            }
        }
    }

    /**
     * Rebuild: reconstructs the whole of sealed stripe {@code s} once (RDP over every readable column)
     * so that moving its live blocks reads no cell twice.
     */
    public void prepareRebuild(long s) {
        int memberMask;
        int lost;
        int zero;
        int ext;
        int ep;
        synchronized (this) {
            if (state[(int) s] != SEALED || isCached((int) s)) {
                return;
            }
            memberMask = members[(int) s];
            lost = degraded[(int) s];
            zero = zeroed[(int) s];
            ext = extent[(int) s];
            ep = epoch[(int) s];
        }
        int[] col = columnSlots(s, memberMask);
        int missing = 0;
        for (int j = 0; j < col.length - 2; j++) {
            if ((zero & (1 << col[j])) == 0 && ((lost & (1 << col[j])) != 0 || !usable(col[j]))) {
                missing |= 1 << j;
            }
        }
        if (missing != 0) {
            reconstructGate.readLock().lock();
            try {
                reconstruct((int) s, ep, memberMask, lost, zero, ext, missing, FOR_REBUILD, 0, -1, null);
            } finally {
                reconstructGate.readLock().unlock();
            }
        }
    }

    /**
     * One data column lost, P readable: each needed cell of column {@code m} is the XOR of its row's
     * other data cells and P (w - 2 cell reads per cell). @return false if a read failed (the caller
     * falls back to the whole stripe)
     */
    private boolean rowRebuild(
            int s, int[] col, int zero, int extCells, int m, int first, int last, ByteBuffer scratch, StripeScratch x) {
        int w = col.length;
        ByteBuffer buf = x.column;
        byte[] acc = x.acc;
        byte[] tmp = x.tmp;
        for (int cell = first; cell <= last; cell++) {
            if (cell / ROWS != m) {
                continue;
            }
            int r = cell % ROWS;
            Arrays.fill(acc, (byte) 0);
            for (int j = 0; j < w - 1; j++) { // data columns and P
                if (j == m || (j < w - 2 && ((zero & (1 << col[j])) != 0 || j * ROWS + r >= extCells))) {
                    continue; // itself, or a zero cell
                }
                buf.clear().limit(CELL);
                if (dae.slot(col[j]).read(ssdOffset(s, r), buf) != IoStatus.OK) {
                    return false;
                }
                buf.get(0, tmp, 0, CELL);
                for (int i = 0; i < CELL; i++) {
                    acc[i] ^= tmp[i];
                }
                synchronized (this) {
                    reconstructReads++;
                }
            }
            scratch.put((cell - first) * CELL, acc, 0, CELL);
            synchronized (this) {
                cellsReconstructed++;
            }
        }
        return true;
    }

    /**
     * Reads every readable column of stripe {@code s} into {@code x}'s cells; cells not read (past the
     * extent, zeroed or unreadable columns) are zeroed, as the pooled memory holds an earlier stripe.
     * @return a column whose read failed, or -1
     */
    private int readStripe(int s, int[] col, int zero, int extCells, int unreadable, StripeScratch x) {
        int w = col.length;
        byte[][][] v = x.cells;
        ByteBuffer buf = x.column;
        for (int j = 0; j < w; j++) {
            int rows = ROWS;
            if (((unreadable >>> j) & 1) != 0) {
                rows = 0;
            } else if (j < w - 2) {
                rows = (zero & (1 << col[j])) != 0 ? 0 : Math.max(0, Math.min(ROWS, extCells - j * ROWS));
            }
            for (int r = rows; r < ROWS; r++) {
                Arrays.fill(v[j][r], (byte) 0);
            }
            if (rows == 0) {
                continue;
            }
            buf.clear().limit(rows * CELL);
            IoStatus st = dae.slot(col[j]).read(ssdOffset(s, 0), buf);
            if (st != IoStatus.OK) {
                Log.warn("segment_read_failed", "stripe=" + s + " column=" + j + " slot=" + col[j] + " status=" + st);
                return j;
            }
            synchronized (this) {
                reconstructReads += rows;
            }
            for (int r = 0; r < rows; r++) {
                buf.get(r * CELL, v[j][r], 0, CELL);
            }
        }
        return -1;
    }

    // ---------------------------------------------------------------- rebuild of one column in place

    /**
     * A data column rebuilt in place: its 28 cells, and every cell read on the way (so that moving the
     * column's live blocks, and taking the column out of the parity, reads nothing twice).
     */
    public static final class ColumnRebuild {
        final int stripe;
        final int epoch;
        final int column;
        final int slot;
        final int[] col;
        final byte[][] rebuilt = new byte[ROWS][];
        final byte[][][] cells;
        long cellsRead;
        int cellsRebuilt;

        ColumnRebuild(int stripe, int epoch, int column, int slot, int[] col) {
            this.stripe = stripe;
            this.epoch = epoch;
            this.column = column;
            this.slot = slot;
            this.col = col;
            this.cells = new byte[col.length][ROWS][];
        }

        public long stripe() {
            return stripe;
        }

        /** Pool locations of the column: [from, to). */
        public long[] range(long stripeBytes) {
            long base = stripe * stripeBytes + (long) column * StripeLayout.COLUMN_BYTES;
            return new long[] {base, base + StripeLayout.COLUMN_BYTES};
        }

        public long cellsRead() {
            return cellsRead;
        }

        public int cellsRebuilt() {
            return cellsRebuilt;
        }

        /** Data columns of the stripe: what RAID 6 reads per cell rebuilt (the others and P). */
        public int dataColumns() {
            return col.length - 2;
        }
    }

    private static final java.util.Map<Long, boolean[]> PLANS = new java.util.concurrent.ConcurrentHashMap<>();

    /**
     * Which rows of lost data column {@code m} (of {@code k} stored data columns) to rebuild from their
     * diagonal (Q) rather than their row (P), chosen so the cells read overlap most: RDP's hybrid
     * single-failure recovery (Xiang et al., SIGMETRICS 2010), found by local search. Reads about 3/4 of
     * what rebuilding every row from P (RAID 6's way) reads.
     */
    static boolean[] hybridPlan(int k, int m) {
        return PLANS.computeIfAbsent(((long) k << 32) | m, key -> {
            boolean[] diag = new boolean[ROWS];
            int best = planCost(k, m, diag);
            boolean improved = true;
            while (improved) {
                improved = false;
                int bestRow = -1;
                for (int r = 0; r < ROWS; r++) {
                    if (!diag[r] && (r + m) % Rdp.P == ROWS) {
                        continue; // the missing diagonal: only its row can rebuild this cell
                    }
                    diag[r] = !diag[r];
                    int c = planCost(k, m, diag);
                    diag[r] = !diag[r];
                    if (c < best) {
                        best = c;
                        bestRow = r;
                    }
                }
                if (bestRow >= 0) {
                    diag[bestRow] = !diag[bestRow];
                    improved = true;
                }
            }
            return diag;
        });
    }

    /** Cells read by a plan: the union over rows of what each row's chosen parity needs. */
    static int planCost(int k, int m, boolean[] diag) {
        java.util.BitSet read = new java.util.BitSet();
        for (int r = 0; r < ROWS; r++) {
            forEachSource(k, m, r, diag[r], (j, row) -> read.set(j * ROWS + row));
        }
        return read.cardinality();
    }

    /** Our column index j (data 0..k-1, P = k, Q = k+1) and row of every cell rebuilding (r, m). */
    private interface CellSink {
        void cell(int j, int row);
    }

    private static void forEachSource(int k, int m, int r, boolean viaDiagonal, CellSink sink) {
        if (!viaDiagonal) {
            for (int j = 0; j <= k; j++) { // data and P
                if (j != m) {
                    sink.cell(j, r);
                }
            }
            return;
        }
        int d = (r + m) % Rdp.P;
        for (int j = 0; j < k; j++) {
            int row = Math.floorMod(d - j, Rdp.P);
            if (j != m && row != ROWS) {
                sink.cell(j, row);
            }
        }
        int pRow = Math.floorMod(d - ROWS, Rdp.P); // P is RDP column 28
        if (pRow != ROWS) {
            sink.cell(k, pRow);
        }
        sink.cell(k + 1, d); // Q is indexed by diagonal
    }

    /**
     * Rebuilds the one lost data column of sealed stripe {@code s} from both parities (the hybrid
     * plan). Returns null when the stripe is not in that state (lost P or Q, two columns, or another
     * member unreadable): the caller moves all its live blocks instead.
     */
    public ColumnRebuild rebuildColumn(long s) {
        int memberMask;
        int lost;
        int zero;
        int ext;
        int ep;
        synchronized (this) {
            if (state[(int) s] != SEALED || Integer.bitCount(degraded[(int) s]) != 1 || zeroing[(int) s] != 0) {
                return null;
            }
            memberMask = members[(int) s];
            lost = degraded[(int) s];
            zero = zeroed[(int) s];
            ext = extent[(int) s];
            ep = epoch[(int) s];
        }
        int[] col = columnSlots(s, memberMask);
        int w = col.length;
        int k = w - 2;
        int m = -1;
        for (int j = 0; j < w; j++) {
            if ((zero & (1 << col[j])) != 0) {
                continue;
            }
            if ((lost & (1 << col[j])) != 0) {
                m = j;
            } else if (!usable(col[j])) {
                return null;
            }
        }
        if (m < 0 || m >= k) {
            return null; // P or Q lost: nothing to gain over moving the blocks
        }
        ColumnRebuild x = new ColumnRebuild((int) s, ep, m, col[m], col);
        int extCells = (ext + CELL - 1) / CELL;
        boolean[] plan = hybridPlan(k, m);
        ByteBuffer buf = Ssd.allocateAligned(CELL);
        for (int r = 0; r < ROWS; r++) {
            byte[] acc = new byte[CELL];
            x.rebuilt[r] = acc;
            if (m * ROWS + r >= extCells) {
                continue; // never written: zero, and zero in the parity
            }
            int[] failed = {-1};
            forEachSource(k, m, r, plan[r], (j, row) -> {
                if (failed[0] >= 0) {
                    return;
                }
                byte[] c = cell(x, s, j, row, zero, extCells, buf);
                if (c == null) {
                    failed[0] = j;
                    return;
                }
                for (int i = 0; i < CELL; i++) {
                    acc[i] ^= c[i];
                }
            });
            if (failed[0] >= 0) {
                return null;
            }
            x.cellsRebuilt++;
        }
        synchronized (this) {
            cellsReconstructed += x.cellsRebuilt;
        }
        return x;
    }

    private static final byte[] ZERO_CELL = new byte[CELL];

    /** Cell (j, row) of the stripe being rebuilt: zero when virtual or past the extent; else read once. */
    private byte[] cell(ColumnRebuild x, long s, int j, int row, int zero, int extCells, ByteBuffer buf) {
        int k = x.col.length - 2;
        if (j < k && ((zero & (1 << x.col[j])) != 0 || j * ROWS + row >= extCells)) {
            return ZERO_CELL;
        }
        if (x.cells[j][row] != null) {
            return x.cells[j][row];
        }
        buf.clear();
        if (dae.slot(x.col[j]).read(ssdOffset(s, row), buf) != IoStatus.OK) {
            Log.warn(
                    "segment_read_failed",
                    "stripe=" + s + " column=" + j + " slot=" + x.col[j] + " action=rebuild_by_moving");
            return null;
        }
        byte[] c = new byte[CELL];
        buf.get(0, c, 0, CELL);
        x.cells[j][row] = c;
        x.cellsRead++;
        synchronized (this) {
            reconstructReads++;
        }
        return c;
    }

    /**
     * Reads a stored record of the stripe {@code x} rebuilt: cells of the rebuilt column from memory,
     * others from what the rebuild read, else from the SSD. Returns its offset in scratch, or -1.
     */
    public int readRebuilt(ColumnRebuild x, long location, int bytes, ByteBuffer scratch) {
        if (isRaw(bytes)) {
            return rawRecord(scratch, readRebuilt(x, location, CELL, rawScratch(scratch)));
        }
        int off = (int) (location - (long) x.stripe * stripeBytes);
        int first = off / CELL;
        int last = (off + bytes - 1) / CELL;
        ByteBuffer buf = Ssd.allocateAligned(CELL);
        for (int cell = first; cell <= last; cell++) {
            int j = cell / ROWS;
            int r = cell % ROWS;
            byte[] c = j == x.column ? x.rebuilt[r] : x.cells[j][r];
            if (c == null) {
                buf.clear();
                if (dae.slot(x.col[j]).read(ssdOffset(x.stripe, r), buf) != IoStatus.OK) {
                    return -1;
                }
                c = new byte[CELL];
                buf.get(0, c, 0, CELL);
                x.cells[j][r] = c;
                x.cellsRead++;
            }
            scratch.put((cell - first) * CELL, c, 0, CELL);
        }
        return off - first * CELL;
    }

    /**
     * The rebuilt column's live blocks have moved: mark it as being taken out of the parity. Durable
     * with the next checkpoint, after which {@link #zeroColumn} may change P and Q (a crash in between
     * is finished by {@link #finishZeroing} at start-up, from the data).
     */
    public synchronized void markZeroing(ColumnRebuild x) {
        if (state[x.stripe] == SEALED && epoch[x.stripe] == x.epoch) {
            zeroing[x.stripe] |= 1 << x.slot;
        }
    }

    /**
     * Takes the rebuilt (and emptied) column out of the parity: P ^= column, Q ^= its diagonals (and
     * P's change), written in place. The stripe is whole again, over its remaining SSDs, with the
     * column a virtual zero one. @return whether it was done
     */
    public boolean zeroColumn(ColumnRebuild x) {
        synchronized (this) {
            if (state[x.stripe] != SEALED || epoch[x.stripe] != x.epoch || (zeroing[x.stripe] & (1 << x.slot)) == 0) {
                return false;
            }
        }
        int w = x.col.length;
        int k = w - 2;
        byte[][][] delta = new byte[w][ROWS][];
        for (int j = 0; j < w; j++) {
            for (int r = 0; r < ROWS; r++) {
                delta[j][r] = j == x.column ? x.rebuilt[r] : j < k ? ZERO_CELL : new byte[CELL];
            }
        }
        rdp(k).encode(delta);
        ByteBuffer one = Ssd.allocateAligned(CELL);
        ByteBuffer col = Ssd.allocateAligned(StripeLayout.COLUMN_BYTES);
        for (int j = k; j < w; j++) {
            col.clear();
            for (int r = 0; r < ROWS; r++) {
                byte[] old = x.cells[j][r];
                if (old == null) {
                    one.clear();
                    if (dae.slot(x.col[j]).read(ssdOffset(x.stripe, r), one) != IoStatus.OK) {
                        return false;
                    }
                    old = new byte[CELL];
                    one.get(0, old, 0, CELL);
                    x.cellsRead++;
                }
                byte[] d = delta[j][r];
                for (int i = 0; i < CELL; i++) {
                    d[i] ^= old[i];
                }
                col.put(d);
            }
            col.flip();
            if (dae.slot(x.col[j]).write(ssdOffset(x.stripe, 0), col) != IoStatus.OK
                    || dae.slot(x.col[j]).flush() != IoStatus.OK) {
                return false; // still marked zeroing: finished from the data at the next start
            }
        }
        synchronized (this) {
            parityCellsWritten += 2L * ROWS;
            zeroed[x.stripe] |= 1 << x.slot;
            degraded[x.stripe] &= ~(1 << x.slot);
            zeroing[x.stripe] &= ~(1 << x.slot);
            dropCached(x.stripe);
        }
        return true;
    }

    /**
     * Start-up: stripes a rebuild was taking a column out of when the controller stopped get P and Q
     * recomputed from their data (the column counts as zero). @return stripes finished
     */
    public long finishZeroing() {
        long n = 0;
        for (int s = 0; s < state.length; s++) {
            int z;
            synchronized (this) {
                z = zeroing[s];
            }
            if (z == 0) {
                continue;
            }
            if (reencode(s)) {
                synchronized (this) {
                    zeroed[s] |= z;
                    degraded[s] &= ~z;
                    zeroing[s] = 0;
                }
                n++;
            } else {
                Log.error("rebuild_zeroing_unfinished", "stripe=" + s + " reason=stripe_not_readable");
            }
        }
        return n;
    }

    // ---------------------------------------------------------------- scrub

    /**
     * The next sealed, fully present stripe at or after {@code from} (wrapping), or -1. Stripes on a
     * slow SSD wait until it is fast again: the scrub runs on the destage thread, which would wait for
     * every cell read there.
     */
    public synchronized long nextScrubStripe(long from) {
        int slowNow = slow.mask();
        for (int k = 0; k < state.length; k++) {
            int s = (int) ((from + k) % state.length);
            if (state[s] == SEALED && degraded[s] == 0 && s != openStripe && (members[s] & ~zeroed[s] & slowNow) == 0) {
                return s;
            }
        }
        return -1;
    }

    /** Result of {@link #scrub}: the stripe was not checked, its parity matches, or it does not. */
    public enum ScrubResult {
        SKIPPED,
        CLEAN,
        MISMATCH
    }

    /** Reads every cell of sealed stripe {@code s} and checks P and Q against the data. */
    public ScrubResult scrub(long s) {
        int memberMask;
        int ext;
        int zero;
        synchronized (this) {
            if (state[(int) s] != SEALED || degraded[(int) s] != 0) {
                return ScrubResult.SKIPPED;
            }
            memberMask = members[(int) s];
            ext = extent[(int) s];
            zero = zeroed[(int) s];
        }
        int w = Integer.bitCount(memberMask);
        StripeScratch x = borrowScratch();
        boolean clean;
        try {
            int[] col = columnSlots(s, memberMask, x.slots(w));
            if (readStripe((int) s, col, zero, (ext + CELL - 1) / CELL, 0, x) >= 0) {
                return ScrubResult.SKIPPED; // a read failed: the read path and the health poll deal with it
            }
            clean = rdp(w - 2).verify(x.view(w));
        } finally {
            releaseScratch(x);
        }
        synchronized (this) {
            scrubbedStripes++;
        }
        if (clean) {
            return ScrubResult.CLEAN;
        }
        synchronized (this) {
            scrubMismatches++;
        }
        return ScrubResult.MISMATCH;
    }

    /**
     * Recomputes P and Q of sealed stripe {@code s} from its data cells and writes them (after the live
     * blocks were verified, or repaired, against their fingerprints: what is wrong is parity, or dead
     * data). Not while a write-back writes the stripe, nor on the refill target. @return whether both
     * were written and flushed (a failed write or flush is logged, and the stripe is left to the next
     * scrub or resync)
     */
    public boolean reencode(long s) {
        int memberMask;
        int ext;
        int zero;
        synchronized (this) {
            if (state[(int) s] != SEALED || (degraded[(int) s] & ~zeroing[(int) s]) != 0) {
                return false;
            }
            if (busy[(int) s] || refillTarget == s) {
                Log.warn(
                        "reencode_refused",
                        "stripe=" + s + " reason=" + (busy[(int) s] ? "stripe_busy" : "refill_target")
                                + " action=left_for_the_next_scrub");
                return false;
            }
            memberMask = members[(int) s];
            ext = extent[(int) s];
            zero = zeroed[(int) s] | zeroing[(int) s];
            busy[(int) s] = true;
        }
        try {
            return encodeAndWrite(s, memberMask, ext, zero);
        } finally {
            synchronized (this) {
                busy[(int) s] = false;
            }
        }
    }

    private boolean encodeAndWrite(long s, int memberMask, int ext, int zero) {
        int w = Integer.bitCount(memberMask);
        StripeScratch x = borrowScratch();
        try {
            int[] col = columnSlots(s, memberMask, x.slots(w));
            if (readStripe((int) s, col, zero, (ext + CELL - 1) / CELL, (1 << (w - 2)) | (1 << (w - 1)), x) >= 0) {
                return false;
            }
            byte[][][] v = x.view(w);
            rdp(w - 2).encode(v);
            ByteBuffer buf = x.column;
            for (int j = w - 2; j < w; j++) {
                buf.clear();
                for (byte[] cell : v[j]) {
                    buf.put(cell);
                }
                buf.flip();
                IoStatus st = dae.slot(col[j]).write(ssdOffset(s, 0), buf);
                String step = "write";
                if (st == IoStatus.OK) {
                    st = dae.slot(col[j]).flush();
                    step = "flush";
                }
                if (st != IoStatus.OK) {
                    Log.warn(
                            "reencode_failed",
                            "stripe=" + s + " column=" + (j == w - 2 ? "P" : "Q") + " slot=" + col[j] + " step=" + step
                                    + " status=" + st + " action=parity_not_rewritten");
                    return false;
                }
                synchronized (this) {
                    parityCellsWritten += ROWS;
                }
            }
            return true;
        } finally {
            releaseScratch(x);
        }
    }

    public synchronized long scrubbedStripes() {
        return scrubbedStripes;
    }

    public synchronized long scrubMismatches() {
        return scrubMismatches;
    }

    /** The generation of the stripe holding {@code location}: read it before reading a record to {@link #rewrite}. */
    public synchronized int stripeGeneration(long location) {
        return epoch[stripeOf(location)];
    }

    /**
     * Writes the record at {@code location}, as now known good in {@code scratch}, back in place in
     * data column {@code column} (repairing a corrupted SSD cell). Only the record's own bytes are
     * taken from {@code scratch}: a cell it shares with a neighbour is read and merged first, because
     * the rest of a rebuilt cell was not verified (a second wrong cell in the row makes it wrong, and
     * writing it would spread the damage to the neighbour).
     *
     * <p>Refused (false, logged) unless, under the monitor: the stripe is SEALED and still at {@code
     * generation} ({@link #stripeGeneration}, read before the record was: a refill of the stripe, or
     * its reuse, since may have put other bytes where the record was); it is not the open refill
     * target (whose free cells are being written, and which bumps the generation only after its
     * writes); no other write-back or re-encode is writing it; and the column is a present data
     * column (not lost, zeroed or being zeroed). The stripe is then busy until the write-back is done:
     * no refill targets it and no checkpoint frees it meanwhile, so nothing else writes its cells, and
     * no lock is held across the I/O. A stripe a rebuild or compaction is moving blocks out of is
     * written (the moves read it; it is not freed while busy). @return whether the record is on the
     * SSD again, flushed
     */
    public boolean rewrite(long location, int bytes, ByteBuffer scratch, int column, int generation) {
        if (isRaw(bytes)) {
            return rewrite(location, CELL, rawScratch(scratch), column, generation);
        }
        int s = stripeOf(location);
        int slot;
        synchronized (this) {
            String refused = rewriteRefusal(s, column, generation);
            if (refused != null) {
                Log.warn(
                        "rewrite_refused",
                        "stripe=" + s + " location=" + location + " column=" + column + " reason=" + refused
                                + " action=not_written");
                return false;
            }
            slot = slotOf(s, members[s], column);
            busy[s] = true;
        }
        try {
            return writeBack(s, slot, location, bytes, scratch, column);
        } finally {
            synchronized (this) {
                busy[s] = false;
            }
        }
    }

    /** Why stripe {@code s} may not take a write-back now, or null (under the monitor). */
    private String rewriteRefusal(int s, int column, int generation) {
        if (state[s] != SEALED) {
            return "stripe_not_sealed";
        }
        if (epoch[s] != generation) {
            return "stripe_changed";
        }
        if (refillTarget == s) {
            return "refill_target";
        }
        if (busy[s]) {
            return "stripe_busy";
        }
        if (column < 0 || column >= Integer.bitCount(members[s]) - 2) {
            return "not_a_data_column";
        }
        int slot = slotOf(s, members[s], column);
        if (((degraded[s] | zeroed[s] | zeroing[s]) & (1 << slot)) != 0 || !usable(slot)) {
            return "column_lost";
        }
        return null;
    }

    private boolean writeBack(int s, int slot, long location, int bytes, ByteBuffer scratch, int column) {
        int off = (int) (location - s * stripeBytes);
        int first = off / CELL;
        int last = (off + bytes - 1) / CELL;
        ByteBuffer merged = null;
        int written = 0;
        for (int cell = first; cell <= last; cell++) {
            if (cell / ROWS != column) {
                continue;
            }
            int from = Math.max(off, cell * CELL) - cell * CELL; // the record's bytes within this cell
            int to = Math.min(off + bytes, (cell + 1) * CELL) - cell * CELL;
            ByteBuffer out = scratch.slice((cell - first) * CELL, CELL);
            if (from > 0 || to < CELL) {
                if (merged == null) {
                    merged = Ssd.allocateAligned(CELL);
                }
                merged.clear();
                IoStatus st = dae.slot(slot).read(ssdOffset(s, cell % ROWS), merged);
                if (st != IoStatus.OK) {
                    return rewriteFailed(s, slot, "read", st);
                }
                merged.put(from, out, from, to - from);
                out = merged.clear();
            }
            IoStatus st = dae.slot(slot).write(ssdOffset(s, cell % ROWS), out);
            if (st != IoStatus.OK) {
                return rewriteFailed(s, slot, "write", st);
            }
            written++;
        }
        IoStatus st = dae.slot(slot).flush();
        if (st != IoStatus.OK) {
            return rewriteFailed(s, slot, "flush", st); // the repair may not be on the SSD: not a success
        }
        synchronized (this) {
            cellsWritten += written;
        }
        return true;
    }

    private static boolean rewriteFailed(int s, int slot, String step, IoStatus st) {
        Log.warn(
                "rewrite_failed",
                "stripe=" + s + " slot=" + slot + " step=" + step + " status=" + st + " action=not_repaired_on_ssd");
        return false;
    }

    /** Where cell {@code row} of data column {@code column} of the stripe at {@code location} is: {slot, SSD cell}. */
    public long[] cellAddress(long location, int column, int row) {
        int s = stripeOf(location);
        int[] col;
        synchronized (this) {
            col = columnSlots(s, members[s]);
        }
        return new long[] {col[column], ssdOffset(s, row) / CELL};
    }

    public long stripeOfLocation(long location) {
        return stripeOf(location);
    }

    private int stripeOf(long location) {
        long s = location / stripeBytes;
        if (location < 0 || s >= state.length) {
            throw new IllegalArgumentException("location outside the pool: location=" + location);
        }
        return (int) s;
    }

    // ---------------------------------------------------------------- reporting

    public synchronized long liveBytes() {
        return liveTotal;
    }

    public synchronized long freeStripes() {
        return freeStripes;
    }

    public synchronized long reclaimableStripes() {
        long n = 0;
        for (byte b : state) {
            n += b == RECLAIMABLE ? 1 : 0;
        }
        return n;
    }

    /** Stripes with live data by columns lost: [0 lost, 1 lost, 2 lost, more]. */
    public synchronized long[] protectionHistogram() {
        long[] h = new long[4];
        int healthy = healthyMask();
        for (int s = 0; s < state.length; s++) {
            if (state[s] != FREE && (live[s] > 0 || state[s] == OPEN)) {
                // Lost columns, counting members down now that the health poll has not marked yet.
                h[Math.min(3, Integer.bitCount(degraded[s] | (members[s] & ~healthy & ~zeroed[s])))]++;
            }
        }
        return h;
    }

    /**
     * Data bytes the next target would take: a free stripe's (healthy SSDs less P and Q) while more
     * than {@code keepFree} are free, else the free cells of the best refill target.
     */
    public synchronized long nextStripeCapacity(int keepFree) {
        int healthy = knownGoodMask();
        if (freeStripes > keepFree) {
            return (long) Math.max(0, Integer.bitCount(slow.writeMask(healthy)) - 2) * StripeLayout.COLUMN_BYTES;
        }
        int s = emptiestSealed(healthy);
        return s < 0 ? 0 : (long) refillRoom(s) * CELL;
    }

    /** Bytes still free in the open stripe or refill target (destage thread's view). */
    public int openRemaining() {
        if (openStripe < 0) {
            return 0;
        }
        if (!refilling) {
            return openCapacity - fill;
        }
        return allocLeft * CELL + (fill % CELL == 0 ? 0 : CELL - fill % CELL);
    }

    /** Whether blocks now go into the free cells of a sealed stripe (destage thread's view). */
    public boolean refilling() {
        return refilling;
    }

    /** Refill targets opened, cells written into them, refills given up, cells read for their parity, intent cells, flushes, parity cells written. */
    public synchronized long[] refillCounters() {
        return new long[] {
            refills, refillCells, refillAborts, refillReads, intentCellsWritten, refillFlushes, refillParityCells
        };
    }

    /** Cells freed since the last checkpoint (free for refills once the next one is durable). */
    public synchronized long heldCells() {
        long n = 0;
        for (long h : held) {
            n += Long.bitCount(h);
        }
        return n;
    }

    public long capacityBytes() {
        return layout.capacityBytes();
    }

    public synchronized long writeErrors() {
        return writeErrors;
    }

    public synchronized long cellsWritten() {
        return cellsWritten;
    }

    public synchronized long parityCellsWritten() {
        return parityCellsWritten;
    }

    public synchronized long degradedReads() {
        return degradedReads;
    }

    /** Reads whose cells on a slow SSD were rebuilt from the rest of their row instead ({@link SlowSsds}). */
    public synchronized long readsAroundSlow() {
        return readsAroundSlow;
    }

    public synchronized long cellsReconstructed() {
        return cellsReconstructed;
    }

    public synchronized long reconstructReads() {
        return reconstructReads;
    }

    public synchronized long unrecoverable() {
        return unrecoverable;
    }
}
