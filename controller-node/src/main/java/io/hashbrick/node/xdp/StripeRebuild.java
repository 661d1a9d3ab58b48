package io.hashbrick.node.xdp;

import io.hashbrick.node.Log;
import io.hashbrick.sim.Dae;
import io.hashbrick.sim.IoStatus;
import io.hashbrick.sim.Ssd;
import java.nio.ByteBuffer;
import java.util.concurrent.Executor;

/**
 * Part of {@link SegmentStore} (see {@link StripeTable} for why it is a layer): the rebuild of one lost
 * data column in place ({@link ColumnRebuild}, read by {@link RebuildPlan}), reading records from the
 * rebuilt column while destage moves them out, then taking the column out of the parity (zeroing).
 */
abstract class StripeRebuild extends StripeReader {
    StripeRebuild(Dae dae, StripeLayout layout, Executor probes) {
        super(dae, layout, probes);
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
        boolean[] plan = RebuildPlan.hybridPlan(k, m);
        ByteBuffer buf = Ssd.allocateAligned(CELL);
        for (int r = 0; r < ROWS; r++) {
            byte[] acc = new byte[CELL];
            x.rebuilt[r] = acc;
            if (m * ROWS + r >= extCells) {
                continue; // never written: zero, and zero in the parity
            }
            int[] failed = {-1};
            RebuildPlan.forEachSource(k, m, r, plan[r], (j, row) -> {
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

    /** Cell (j, row) of the stripe being rebuilt: zero when virtual or past the extent; else read once. */
    byte[] cell(ColumnRebuild x, long s, int j, int row, int zero, int extCells, ByteBuffer buf) {
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
        if (SegmentStore.isRaw(bytes)) {
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
}
