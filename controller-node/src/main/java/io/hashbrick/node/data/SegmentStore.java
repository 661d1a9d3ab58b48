package io.hashbrick.node.data;

import io.hashbrick.node.Log;
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
    /** Scratch a reader passes to {@link #read}: a stored record spans at most 3 cells. */
    public static final int READ_SCRATCH_BYTES = 3 * StripeLayout.CELL;

    static final byte FREE = 0;
    static final byte OPEN = 1;
    static final byte SEALED = 2;
    static final byte RECLAIMABLE = 3;

    private static final int CELL = StripeLayout.CELL;
    private static final int ROWS = StripeLayout.ROWS;
    private static final int SECTION_MAGIC = 0x54535248; // "HRST"
    private static final int SECTION_VERSION = 2;

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
    /** Bumped each time a stripe is opened: cached reconstructions of an older use are stale. */
    private final int[] epoch;
    /** Whole stripes rebuilt from parity, most recent last (sealed stripes only: their data is fixed). */
    private final java.util.ArrayDeque<Reconstructed> reconstructed = new java.util.ArrayDeque<>();

    private record Reconstructed(int stripe, int epoch, byte[][][] columns) {}

    private static final int RECONSTRUCTED_MAX = 4;
    /** Generation of each slot's drive as this store last knew it (a replace is a lost column). */
    private final int[] generation;
    /** Health of each slot as last polled. */
    private final Health[] health;

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

    private long liveTotal;
    private long freeStripes;
    private long writeErrors;
    private long cellsWritten;
    private long parityCellsWritten;
    private long degradedReads;
    private long cellsReconstructed;
    private long reconstructReads;
    private long unrecoverable;
    private long scrubbedStripes;
    private long scrubMismatches;

    public SegmentStore(Dae dae, StripeLayout layout) {
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
        this.freeStripes = n;
        this.generation = new int[slots];
        this.health = new Health[slots];
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
        int w = Integer.bitCount(memberMask);
        int[] sorted = new int[w];
        for (int i = 0, j = 0; i < 32; i++) {
            if ((memberMask & (1 << i)) != 0) {
                sorted[j++] = i;
            }
        }
        int[] col = new int[w];
        for (int j = 0; j < w; j++) {
            col[j] = sorted[(int) ((j + stripe) % w)];
        }
        return col;
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
        live[s] += bytes;
        liveTotal += bytes;
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
     * Appends one stored block (header written here) and returns its pool location, or -1 when no
     * stripe has room (the caller compacts and checkpoints, then retries). A new stripe is opened only
     * while more than {@code keepFree} stripes are free: destage keeps some for compaction.
     */
    public long append(ByteBuffer stored, int off, int length, int keepFree) {
        int bytes = HEADER_BYTES + length;
        if (openStripe < 0 || fill + bytes > openCapacity) {
            if (openStripe >= 0 && seal() != IoStatus.OK) {
                return -1;
            }
            if (!openNext(keepFree)) {
                return -1;
            }
        }
        long location = openStripe * stripeBytes + fill;
        put(fill, (byte) length);
        put(fill + 1, (byte) (length >>> 8));
        for (int i = 0; i < length; ) {
            int at = fill + HEADER_BYTES + i;
            int n = Math.min(length - i, CELL - at % CELL);
            byte[] cell = cellAt(at);
            stored.get(off + i, cell, at % CELL, n);
            i += n;
        }
        fill += bytes;
        return location;
    }

    private byte[] cellAt(int dataOffset) {
        int cell = dataOffset / CELL;
        return image[cell / ROWS][cell % ROWS];
    }

    private void put(int dataOffset, byte v) {
        cellAt(dataOffset)[dataOffset % CELL] = v;
    }

    private boolean openNext(int keepFree) {
        int healthy = knownGoodMask();
        int w = Integer.bitCount(healthy);
        if (w < 4) {
            Log.error("stripe_open_refused", "healthy_ssds=" + w + " reason=fewer_than_4_healthy_ssds");
            return false;
        }
        synchronized (this) {
            if (freeStripes <= keepFree) {
                return false;
            }
            openStripe = -1;
            for (int s = 0; s < state.length; s++) {
                if (state[s] == FREE) {
                    state[s] = OPEN;
                    freeStripes--;
                    openStripe = s;
                    members[s] = healthy;
                    epoch[s]++;
                    degraded[s] = 0;
                    zeroed[s] = 0;
                    extent[s] = 0;
                    break;
                }
            }
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
        if (openStripe < 0 || flushed == fill) {
            return IoStatus.OK;
        }
        long s = openStripe;
        int[] col = columnSlots(s, members[(int) s]);
        int w = col.length;
        int first = flushed / CELL;
        int end = (fill + CELL - 1) / CELL;
        int cell = first;
        while (cell < end) {
            int column = cell / ROWS;
            int runEnd = Math.min(end, (column + 1) * ROWS);
            writeCells(s, col[column], image[column], cell % ROWS, runEnd - cell, false);
            cell = runEnd;
        }
        // Parity over the whole image (cells past the fill are zero, and count as zero).
        byte[][][] view = view(w);
        new Rdp(w - 2).encode(view);
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

    /** Flushes and closes the open stripe: nothing is appended to it after this (called before checkpoints). */
    public IoStatus seal() {
        if (openStripe < 0) {
            return IoStatus.OK;
        }
        IoStatus st = flush();
        if (st != IoStatus.OK) {
            return st;
        }
        synchronized (this) {
            // Its blocks are placed (published to H2P) after this: SEALED even while live is 0.
            state[(int) openStripe] = SEALED;
            extent[(int) openStripe] = fill;
        }
        openStripe = -1;
        return IoStatus.OK;
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

    /** A block appended and flushed is now referenced by H2P. */
    public synchronized void placed(long location, int bytes) {
        int s = stripeOf(location);
        live[s] += bytes;
        liveTotal += bytes;
    }

    /** A placed block lost its last reference (or moved): its bytes are garbage now. */
    public synchronized void released(long location, int bytes) {
        int s = stripeOf(location);
        live[s] -= bytes;
        liveTotal -= bytes;
        if (live[s] < 0) {
            throw new IllegalStateException("stripe live bytes went negative: stripe=" + s + " live=" + live[s]);
        }
        if (live[s] == 0 && state[s] == SEALED) {
            state[s] = RECLAIMABLE;
        }
    }

    /**
     * A checkpoint is durable; it references no RECLAIMABLE stripe, nor a SEALED one without live
     * bytes (blocks that died before destage published them): they are free again. Call it with no
     * destage round in flight.
     */
    public synchronized long checkpointed() {
        long n = 0;
        for (int s = 0; s < state.length; s++) {
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
            if (state[s] == SEALED && live[s] < bestLive) {
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
            if (state[s] == SEALED && live[s] > 0 && (degraded[s] & ~zeroing[s]) != 0) {
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
        return read(location, bytes, scratch, -1);
    }

    /**
     * As {@link #read}, but every cell of the record in data column {@code suspect} is rebuilt from
     * parity rather than read (the SSD returned bytes that fail their fingerprint). Returns -1 when
     * that is not possible.
     */
    public int readRepaired(long location, int bytes, ByteBuffer scratch, int suspect) {
        return read(location, bytes, scratch, suspect);
    }

    /** Data columns the record at {@code location} spans (1 or 2; for {@link #readRepaired}). */
    public int[] columnsOf(long location, int bytes) {
        int off = (int) (location - stripeOf(location) * stripeBytes);
        int a = off / StripeLayout.COLUMN_BYTES;
        int b = (off + bytes - 1) / StripeLayout.COLUMN_BYTES;
        return a == b ? new int[] {a} : new int[] {a, b};
    }

    private int read(long location, int bytes, ByteBuffer scratch, int suspect) {
        int s = stripeOf(location);
        int memberMask;
        int lost;
        int zero;
        int ext;
        synchronized (this) {
            memberMask = members[s];
            lost = degraded[s];
            zero = zeroed[s];
            ext = extent[s];
        }
        if (memberMask == 0) {
            return -1; // freed under us: the caller retries from H2P
        }
        int[] col = columnSlots(s, memberMask);
        int off = (int) (location - s * stripeBytes);
        int first = off / CELL;
        int last = (off + bytes - 1) / CELL;
        int missing = 0; // data columns to reconstruct, as a column mask
        int cell = first;
        while (cell <= last) {
            int column = cell / ROWS;
            int runEnd = Math.min(last + 1, (column + 1) * ROWS);
            int slot = col[column];
            ByteBuffer dst = scratch.slice((cell - first) * CELL, (runEnd - cell) * CELL);
            if ((zero & (1 << slot)) != 0) {
                return -1; // a rebuilt (emptied) column holds no live record
            }
            if (column == suspect || (lost & (1 << slot)) != 0 || !usable(slot)) {
                missing |= 1 << column;
            } else {
                IoStatus st = dae.slot(slot).read(ssdOffset(s, cell % ROWS), dst);
                if (st != IoStatus.OK) {
                    Log.warn(
                            "segment_read_failed",
                            "stripe=" + s + " cell=" + cell + " slot=" + slot + " status=" + st
                                    + " action=reconstruct");
                    missing |= 1 << column;
                }
            }
            cell = runEnd;
        }
        if (missing != 0) {
            synchronized (this) {
                degradedReads++;
            }
            if (!reconstruct(s, col, lost, zero, ext, missing, suspect, first, last, scratch)) {
                synchronized (this) {
                    unrecoverable++;
                }
                return -1;
            }
        }
        return off - first * CELL;
    }

    /**
     * Rebuilds the cells of {@code missing} data columns among [first, last] into scratch. One missing
     * data column with P readable: per row, XOR of the row. Otherwise the whole stripe and RDP.
     */
    private boolean reconstruct(
            int s,
            int[] col,
            int lost,
            int zero,
            int ext,
            int missing,
            int suspect,
            int first,
            int last,
            ByteBuffer scratch) {
        int w = col.length;
        int extCells = (ext + CELL - 1) / CELL;
        // Columns we cannot read: lost or unhealthy members, plus the suspect and the missing ones.
        int unreadable = 0; // by our column index (0..w-1)
        for (int j = 0; j < w; j++) {
            if ((zero & (1 << col[j])) != 0) {
                continue; // a zeroed column is known: all zero
            }
            if ((lost & (1 << col[j])) != 0 || !usable(col[j]) || ((missing >>> j) & 1) != 0 || j == suspect) {
                unreadable |= 1 << j;
            }
        }
        if (suspect != -2
                && Integer.bitCount(unreadable) == 1
                && Integer.numberOfTrailingZeros(unreadable) < w - 2
                && rowRebuild(
                        s, col, zero, extCells, Integer.numberOfTrailingZeros(unreadable), first, last, scratch)) {
            return true;
        }
        byte[][][] cached = suspect >= 0 ? null : cachedReconstruction(s);
        if (cached != null) {
            copyOut(cached, unreadable, first, last, scratch);
            return true;
        }
        for (int attempt = 0; attempt < 3; attempt++) {
            if (Integer.bitCount(unreadable) > 2) {
                Log.error(
                        "stripe_unrecoverable",
                        "stripe=" + s + " unreadable_columns=" + Integer.toBinaryString(unreadable) + " width=" + w);
                return false;
            }
            byte[][][] v = new byte[w][ROWS][CELL];
            int failedRead = readStripe(s, col, zero, extCells, unreadable, v);
            if (failedRead >= 0) {
                unreadable |= 1 << failedRead;
                continue;
            }
            int a = Integer.numberOfTrailingZeros(unreadable);
            int rest = unreadable & ~(1 << a);
            int b = rest == 0 ? -1 : Integer.numberOfTrailingZeros(rest);
            new Rdp(w - 2).reconstruct(v, a, b);
            copyOut(v, unreadable, first, last, scratch);
            synchronized (this) {
                if (state[s] == SEALED && suspect < 0) {
                    reconstructed.removeIf(e -> e.stripe() == s);
                    reconstructed.addLast(new Reconstructed(s, epoch[s], v));
                    while (reconstructed.size() > RECONSTRUCTED_MAX) {
                        reconstructed.removeFirst();
                    }
                }
            }
            return true;
        }
        return false;
    }

    private synchronized byte[][][] cachedReconstruction(int s) {
        if (state[s] != SEALED) {
            return null;
        }
        for (Reconstructed e : reconstructed) {
            if (e.stripe() == s && e.epoch() == epoch[s]) {
                return e.columns();
            }
        }
        return null;
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
        synchronized (this) {
            if (state[(int) s] != SEALED || cachedReconstruction((int) s) != null) {
                return;
            }
            memberMask = members[(int) s];
            lost = degraded[(int) s];
            zero = zeroed[(int) s];
            ext = extent[(int) s];
        }
        int[] col = columnSlots(s, memberMask);
        int missing = 0;
        for (int j = 0; j < col.length - 2; j++) {
            if ((zero & (1 << col[j])) == 0 && ((lost & (1 << col[j])) != 0 || !usable(col[j]))) {
                missing |= 1 << j;
            }
        }
        if (missing != 0) {
            reconstruct((int) s, col, lost, zero, ext, missing, -2, 0, -1, null);
        }
    }

    /**
     * One data column lost, P readable: each needed cell of column {@code m} is the XOR of its row's
     * other data cells and P (w - 2 cell reads per cell). @return false if a read failed (the caller
     * falls back to the whole stripe)
     */
    private boolean rowRebuild(
            int s, int[] col, int zero, int extCells, int m, int first, int last, ByteBuffer scratch) {
        int w = col.length;
        ByteBuffer buf = Ssd.allocateAligned(CELL);
        byte[] acc = new byte[CELL];
        byte[] tmp = new byte[CELL];
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
                buf.clear();
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
     * Reads every readable column of stripe {@code s} into {@code v} (cells past the extent and zeroed
     * columns stay zero). @return a column whose read failed, or -1
     */
    private int readStripe(int s, int[] col, int zero, int extCells, int unreadable, byte[][][] v) {
        int w = col.length;
        ByteBuffer buf = ByteBuffer.allocateDirect(StripeLayout.COLUMN_BYTES + CELL)
                .alignedSlice(CELL)
                .limit(StripeLayout.COLUMN_BYTES)
                .slice();
        for (int j = 0; j < w; j++) {
            if (((unreadable >>> j) & 1) != 0) {
                continue;
            }
            int rows = ROWS;
            if (j < w - 2) {
                if ((zero & (1 << col[j])) != 0) {
                    continue;
                }
                rows = Math.max(0, Math.min(ROWS, extCells - j * ROWS));
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
        new Rdp(k).encode(delta);
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
            reconstructed.removeIf(e -> e.stripe() == x.stripe);
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

    /** The next sealed, fully present stripe at or after {@code from} (wrapping), or -1. */
    public synchronized long nextScrubStripe(long from) {
        for (int k = 0; k < state.length; k++) {
            int s = (int) ((from + k) % state.length);
            if (state[s] == SEALED && degraded[s] == 0) {
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
        int[] col = columnSlots(s, memberMask);
        byte[][][] v = new byte[col.length][ROWS][CELL];
        if (readStripe((int) s, col, zero, (ext + CELL - 1) / CELL, 0, v) >= 0) {
            return ScrubResult.SKIPPED; // a read failed: the read path and the health poll deal with it
        }
        synchronized (this) {
            scrubbedStripes++;
        }
        if (new Rdp(col.length - 2).verify(v)) {
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
     * data). @return whether it was written
     */
    public boolean reencode(long s) {
        int memberMask;
        int ext;
        int zero;
        synchronized (this) {
            if (state[(int) s] != SEALED || (degraded[(int) s] & ~zeroing[(int) s]) != 0) {
                return false;
            }
            memberMask = members[(int) s];
            ext = extent[(int) s];
            zero = zeroed[(int) s] | zeroing[(int) s];
        }
        int[] col = columnSlots(s, memberMask);
        int w = col.length;
        byte[][][] v = new byte[w][ROWS][CELL];
        if (readStripe((int) s, col, zero, (ext + CELL - 1) / CELL, (1 << (w - 2)) | (1 << (w - 1)), v) >= 0) {
            return false;
        }
        new Rdp(w - 2).encode(v);
        ByteBuffer buf = Ssd.allocateAligned(StripeLayout.COLUMN_BYTES);
        for (int j = w - 2; j < w; j++) {
            buf.clear();
            for (byte[] cell : v[j]) {
                buf.put(cell);
            }
            buf.flip();
            if (dae.slot(col[j]).write(ssdOffset(s, 0), buf) != IoStatus.OK) {
                return false;
            }
            dae.slot(col[j]).flush();
            synchronized (this) {
                parityCellsWritten += ROWS;
            }
        }
        return true;
    }

    public synchronized long scrubbedStripes() {
        return scrubbedStripes;
    }

    public synchronized long scrubMismatches() {
        return scrubMismatches;
    }

    /**
     * Writes cells [first, last] of data column cells, as now known good in {@code scratch}, back in
     * place (repairing a corrupted SSD cell). Only for sealed stripes whose column is present.
     */
    public boolean rewrite(long location, int bytes, ByteBuffer scratch, int column) {
        int s = stripeOf(location);
        int memberMask;
        synchronized (this) {
            if (state[s] != SEALED) {
                return false;
            }
            memberMask = members[s];
        }
        int[] col = columnSlots(s, memberMask);
        int slot = col[column];
        if (!usable(slot)) {
            return false;
        }
        int off = (int) (location - s * stripeBytes);
        int first = off / CELL;
        int last = (off + bytes - 1) / CELL;
        for (int cell = first; cell <= last; cell++) {
            if (cell / ROWS != column) {
                continue;
            }
            IoStatus st = dae.slot(slot).write(ssdOffset(s, cell % ROWS), scratch.slice((cell - first) * CELL, CELL));
            if (st != IoStatus.OK) {
                return false;
            }
            synchronized (this) {
                cellsWritten++;
            }
        }
        dae.slot(slot).flush();
        return true;
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

    /** Data bytes a stripe opened now would hold (healthy SSDs less P and Q). */
    public long nextStripeCapacity() {
        return (long) Math.max(0, Integer.bitCount(knownGoodMask()) - 2) * StripeLayout.COLUMN_BYTES;
    }

    /** Bytes still free in the open stripe (destage thread's view). */
    public int openRemaining() {
        return openStripe < 0 ? 0 : openCapacity - fill;
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
