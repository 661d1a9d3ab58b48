package io.hashbrick.node.xdp;

import io.hashbrick.sim.Dae;
import io.hashbrick.sim.Health;
import java.util.Arrays;

/**
 * The base of {@link SegmentStore}: the stripe table (state, members, lost and zeroed columns, extent and
 * generation of every stripe), the per-cell liveness that refills and checkpoints go by, stripe geometry
 * (which slot holds which column), the SSDs' health as last polled, and the space accounting.
 *
 * <p>Why a chain of superclasses: the store's parts (this table, {@link ReconstructCache}, {@link
 * StripeWriter}, {@link StripeRefill}, {@link StripeReader}, {@link StripeRebuild}, then {@link
 * SegmentStore} with scrub and repair write-back) share one monitor and the destage thread's state.
 * Layering them keeps that monitor the one object it was, every field one load away on the read path,
 * and each file to one concern, until XDP becomes per-stripe state machines (issue 16, item 4). Each
 * layer sees the fields of the layers above it; fields and helpers are package-private for that.
 */
abstract class StripeTable {

    static final byte FREE = 0;
    static final byte OPEN = 1;
    static final byte SEALED = 2;
    static final byte RECLAIMABLE = 3;

    static final int CELL = StripeLayout.CELL;
    static final int ROWS = StripeLayout.ROWS;
    static final int SECTION_MAGIC = 0x54535248; // "HRST"
    static final int SECTION_VERSION = 3;

    final Dae dae;
    final StripeLayout layout;
    final long stripeBytes;
    final int slots;
    final byte[] state;
    final int[] live;
    final int[] members;
    final int[] degraded;
    final int[] zeroed;
    final int[] extent;
    /** Data columns (by slot) whose live blocks a rebuild moved out and whose parity it is taking out. */
    final int[] zeroing;
    /**
     * The stripe's generation: bumped each time it is opened, and when a refill target is opened and
     * after each refill flush (its data and parity changed). A reconstruction, or a repair's copy, read
     * under an older generation is stale.
     */
    final int[] epoch;
    /**
     * Stripes a repair write-back ({@link #rewrite}) or a parity re-encode ({@link #reencode}) is
     * writing, one at a time per stripe: no refill targets them and no checkpoint frees them meanwhile,
     * so nothing else writes their cells under the writer (which holds no lock across its I/O).
     */
    final boolean[] busy;
    /** The sealed stripe open as refill target, or -1: the monitor's copy of the destage thread's state. */
    int refillTarget = -1;
    /** Generation of each slot's drive as this store last knew it (a replace is a lost column). */
    final int[] generation;
    /** Health of each slot as last polled. */
    final Health[] health;
    /** The SSDs found slow, which new writes and reads go around ({@link SlowSsds}). */
    final SlowSsds slow;

    // Per-cell liveness, for refilling the free cells of partly dead stripes (index stripe * cps + cell).
    final int cps;
    /** Live stored records overlapping each data cell. */
    final short[] cellLive;
    /** Cells whose last record died since the last checkpoint: that checkpoint may still point there. */
    final long[] held;
    /** Cells freed since the last checkpoint, to release when the next one is durable (may repeat). */
    private int[] freedList = new int[1024];

    private int freedCount;
    /** Per stripe: cells with no live record and not held (of the full layout's cps; see refillRoom). */
    final int[] freeCells;
    /** False after a start until the first checkpoint: the loaded checkpoint may point into dead cells. */
    boolean refillAllowed;

    /** Stripes a rebuild or compaction is moving blocks out of: not refill targets meanwhile. */
    final int[] noRefill;
    /**
     * Degraded reads rebuild cells from P and Q: they must not see a refill of a degraded stripe
     * half-written (data cells written, parity not yet). Refills of healthy stripes do not take it.
     */
    final java.util.concurrent.locks.ReentrantReadWriteLock reconstructGate =
            new java.util.concurrent.locks.ReentrantReadWriteLock();

    long refills;
    long refillCells;
    long refillAborts;
    long intentCellsWritten;
    long refillReads;
    long refillFlushes;
    long refillParityCells;

    long liveTotal;
    long freeStripes;
    long writeErrors;
    long cellsWritten;
    long parityCellsWritten;
    long degradedReads;
    long readsAroundSlow;
    long cellsReconstructed;
    long reconstructReads;
    long unrecoverable;
    long scrubbedStripes;
    long scrubMismatches;

    /** The open stripe or refill target, -1 when none (destage thread; read under the monitor). */
    long openStripe = -1;

    static final byte[] ZERO_CELL = new byte[CELL];

    /** @param probes runs the probes of slow SSDs ({@link SlowSsds}) */
    StripeTable(Dae dae, StripeLayout layout, java.util.concurrent.Executor probes) {
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
    static int[] columnSlots(long stripe, int memberMask) {
        return columnSlots(stripe, memberMask, new int[Integer.bitCount(memberMask)]);
    }

    /** As {@link #columnSlots(long, int)}, into {@code col} (of the stripe's width). */
    static int[] columnSlots(long stripe, int memberMask, int[] col) {
        for (int j = 0; j < col.length; j++) {
            col[j] = slotOf(stripe, memberMask, j);
        }
        return col;
    }

    /** Slot of column {@code j} of {@code stripe}: the ((j + stripe) mod w)-th member slot, lowest first. */
    static int slotOf(long stripe, int memberMask, int j) {
        int m = memberMask;
        for (int n = (int) ((j + stripe) % Integer.bitCount(memberMask)); n > 0; n--) {
            m &= m - 1; // drops the lowest member
        }
        return Integer.numberOfTrailingZeros(m);
    }

    static final Rdp[] RDP = new Rdp[24];

    static {
        for (int k = 1; k < RDP.length; k++) {
            RDP[k] = new Rdp(k);
        }
    }

    /** The (stateless) RDP coder for {@code k} data columns. */
    static Rdp rdp(int k) {
        return RDP[k];
    }

    long ssdOffset(long stripe, int row) {
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

    long markLost(int slot) {
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

    boolean usable(int slot) {
        return dae.health(slot) == Health.OK;
    }

    /**
     * Slots healthy now and as {@link #pollHealth} last saw them (a drive replaced since joins new
     * stripes only once the poll has marked the old drive's columns lost).
     */
    synchronized int knownGoodMask() {
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
    int writtenAround(int healthy) {
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

    /** A block appended and flushed is now referenced by H2P. */
    public synchronized void placed(long location, int bytes) {
        int s = stripeOf(location);
        int span = SegmentStore.span(bytes);
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
        int span = SegmentStore.span(bytes);
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
    synchronized void reserve(int s, boolean[] cells, int from, int to) {
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

    boolean isHeld(int i) {
        return (held[i >>> 6] & (1L << i)) != 0;
    }

    void hold(int i) {
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

    int stripeOf(long location) {
        long s = location / stripeBytes;
        if (location < 0 || s >= state.length) {
            throw new IllegalArgumentException("location outside the pool: location=" + location);
        }
        return (int) s;
    }
}
