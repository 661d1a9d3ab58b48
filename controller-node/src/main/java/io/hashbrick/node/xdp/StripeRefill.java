package io.hashbrick.node.xdp;

import io.hashbrick.node.Log;
import io.hashbrick.sim.Dae;
import io.hashbrick.sim.IoStatus;
import io.hashbrick.sim.Ssd;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.concurrent.Executor;

/**
 * Part of {@link SegmentStore} (see {@link StripeTable} for why it is a layer): refills, new blocks
 * written into the free cells of a sealed stripe by read-modify-write of its parity, and the refill
 * intent record that lets a start after a crash re-encode a stripe whose refill was cut short.
 */
abstract class StripeRefill extends StripeWriter {
    StripeRefill(Dae dae, StripeLayout layout, Executor probes) {
        super(dae, layout, probes);
    }

    /** Recomputes P and Q of sealed stripe {@code s} from its data ({@link SegmentStore#reencode}). */
    abstract boolean reencode(long s);

    /** Member slots of stripe {@code s} whose column is lost (degraded, or down now), zeroed ones aside. */
    private int lostColumns(int s, int healthy) {
        return (degraded[s] | (members[s] & ~healthy)) & ~zeroed[s];
    }

    /**
     * Free cells stripe {@code s} offers a refill now (its own width; not on zeroed or lost columns,
     * nor on a slow SSD's: a refill writes around it).
     */
    int refillRoom(int s) {
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

    /** The sealed, fully healthy stripe with the most free cells (at least {@link #SegmentStore.MIN_REFILL_CELLS}), or -1. */
    int emptiestSealed(int healthy) {
        if (!refillAllowed) {
            return -1;
        }
        int best = -1;
        int bestRoom = SegmentStore.MIN_REFILL_CELLS - 1;
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
    boolean openRefill(int s) {
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
    IoStatus flushRefill() {
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
    volatile long lastIntentStripe = -1;

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
}
