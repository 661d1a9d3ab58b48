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
import java.util.concurrent.Executor;

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
public final class SegmentStore extends StripeRebuild {
    public static final int HEADER_BYTES = 2;
    /** Largest stored record: header + a raw block. */
    public static final int MAX_STORED_BYTES = HEADER_BYTES + BlockCodec.BLOCK_BYTES;
    /** Bytes a stored block of {@code length} takes in a stripe: a raw block one cell, else header + length. */
    public static int footprint(int length) {
        return span(HEADER_BYTES + length);
    }

    /** Scratch a reader passes to {@link #read}: a stored record spans at most 3 cells. */
    public static final int READ_SCRATCH_BYTES = 3 * StripeLayout.CELL;
    /** Fewest free cells worth a refill (the P and Q cells it rewrites are up to 56). */
    public static final int MIN_REFILL_CELLS = 32;

    public SegmentStore(Dae dae, StripeLayout layout) {
        this(dae, layout, SlowSsds.VIRTUAL_THREADS);
    }

    /** @param probes runs the probes of slow SSDs ({@link SlowSsds}) */
    SegmentStore(Dae dae, StripeLayout layout, Executor probes) {
        super(dae, layout, probes);
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

    // ---------------------------------------------------------------- accounting

    /** Whether a stored record of {@code bytes} (header included) is a raw block: one whole cell, no header. */
    static boolean isRaw(int bytes) {
        return bytes == MAX_STORED_BYTES;
    }

    /** Bytes a stored record of {@code bytes} occupies in the stripe (a raw block: one cell). */
    public static int span(int bytes) {
        return isRaw(bytes) ? CELL : bytes;
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
