package io.hashbrick.node.xdp;

import io.hashbrick.node.Log;
import io.hashbrick.node.api.BlockCodec;
import io.hashbrick.sim.Dae;
import io.hashbrick.sim.IoStatus;
import io.hashbrick.sim.Ssd;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.concurrent.Executor;

/**
 * Part of {@link SegmentStore} (see {@link StripeTable} for why it is a layer): destage's writes. The
 * open stripe's image in memory, appending stored records to it, flushing the data cells filled since
 * the last flush with the P and Q cells that changed, sealing, and syncing the SSDs. The refill target's
 * state lives here too (an append to a refill marks its cells dirty); {@link StripeRefill} runs it.
 * Destage thread only, but for what it publishes under the store's monitor.
 */
abstract class StripeWriter extends ReconstructCache {
    StripeWriter(Dae dae, StripeLayout layout, Executor probes) {
        super(dae, layout, probes);
    }

    /** The sealed, fully healthy stripe with the most free cells worth a refill, or -1 ({@link StripeRefill}). */
    abstract int emptiestSealed(int healthy);

    /** Opens sealed stripe {@code s} as the refill target ({@link StripeRefill}). */
    abstract boolean openRefill(int s);

    /** Writes the refill target's dirty cells and their parity delta ({@link StripeRefill}). */
    abstract IoStatus flushRefill();

    // The open stripe: image of its data columns (0..22), P (23) and Q (24), destage thread only.
    final byte[][][] image = new byte[25][ROWS][CELL];
    final byte[][] lastP = new byte[ROWS][CELL];
    final byte[][] lastQ = new byte[ROWS][CELL];
    private boolean parityOnDisk;
    final ByteBuffer io = Ssd.allocateAligned(StripeLayout.COLUMN_BYTES);
    private final boolean[] unsynced = new boolean[Dae.SLOTS_MAX]; // destage thread only
    int openCapacity;
    int fill;
    int flushed;

    // The refill target (destage thread): a sealed stripe whose free cells receive new blocks.
    boolean refilling;
    final boolean[] alloc = new boolean[23 * ROWS];
    final boolean[] claimed = new boolean[23 * ROWS];
    final boolean[] dirty = new boolean[23 * ROWS];
    final boolean[] beforeKnown = new boolean[23 * ROWS];
    /** What the SSD holds in each claimed cell (zero past the extent), for the parity delta. */
    final byte[][][] before = new byte[23][ROWS][CELL];

    final boolean[] pKnown = new boolean[ROWS];
    final boolean[] qKnown = new boolean[ROWS];
    int refillExtentCells;
    int allocLeft;
    boolean intentWritten;
    long intentSeq;
    private IoStatus pendingFailure = IoStatus.OK;

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
        int span = raw ? CELL : SegmentStore.HEADER_BYTES + length;
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
                int p = at + SegmentStore.HEADER_BYTES + i;
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
    int place(int pos, int span, boolean raw) {
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

    void put(int dataOffset, byte v) {
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

    byte[][][] view(int w) {
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
    void writeCells(long s, int slot, byte[][] column, int row, int n, boolean parity) {
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
}
