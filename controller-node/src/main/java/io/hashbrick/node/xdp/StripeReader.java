package io.hashbrick.node.xdp;

import io.hashbrick.node.Log;
import io.hashbrick.node.api.BlockCodec;
import io.hashbrick.sim.Dae;
import io.hashbrick.sim.IoStatus;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.concurrent.Executor;

/**
 * Part of {@link SegmentStore} (see {@link StripeTable} for why it is a layer): reads. A record is read
 * from its cells; a cell on a lost or slow column, or whose read fails, is reconstructed from its row (P)
 * or from the whole stripe ({@link Rdp#reconstruct}). Also the whole-stripe reads a rebuild prepares.
 */
abstract class StripeReader extends StripeRefill {
    StripeReader(Dae dae, StripeLayout layout, Executor probes) {
        super(dae, layout, probes);
    }

    // ---------------------------------------------------------------- reads

    /**
     * Reads the stored record at {@code location} of {@code bytes} (header included) into
     * {@code scratch} ({@link #SegmentStore.READ_SCRATCH_BYTES}, aligned). Cells on lost columns, or whose read
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
    static int rawRecord(ByteBuffer scratch, int cellOff) {
        if (cellOff < 0) {
            return -1;
        }
        scratch.put(CELL - 2, (byte) BlockCodec.RAW).put(CELL - 1, (byte) (BlockCodec.RAW >>> 8));
        return CELL - 2;
    }

    static ByteBuffer rawScratch(ByteBuffer scratch) {
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
        bytes = SegmentStore.span(bytes);
        int off = (int) (location - stripeOf(location) * stripeBytes);
        int a = off / StripeLayout.COLUMN_BYTES;
        int b = (off + bytes - 1) / StripeLayout.COLUMN_BYTES;
        return a == b ? new int[] {a} : new int[] {a, b};
    }

    /** @param suspects data columns (as a mask) to rebuild from parity rather than read */
    int read(long location, int bytes, ByteBuffer scratch, int suspects) {
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
    int read(long location, int bytes, ByteBuffer scratch, int suspects, boolean aroundSlow) {
        if (SegmentStore.isRaw(bytes)) {
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
    boolean reconstruct(
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
    int readStripe(int s, int[] col, int zero, int extCells, int unreadable, StripeScratch x) {
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
}
