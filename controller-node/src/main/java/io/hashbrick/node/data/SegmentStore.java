package io.hashbrick.node.data;

import io.hashbrick.node.Log;
import io.hashbrick.sim.Dae;
import io.hashbrick.sim.IoStatus;
import io.hashbrick.sim.Ssd;
import java.nio.ByteBuffer;

/**
 * The D role's packed block store on a DAE ({@link StripeLayout}). Destage appends stored blocks (a
 * 2-byte little-endian length header, then the LZ4 or raw bytes) back to back into the open stripe,
 * held in memory, and {@link #flush}es the cells it filled to the SSDs; readers read cells from the
 * SSDs only, so the open buffer is the destage thread's alone.
 *
 * <p>Space: every stripe is FREE, OPEN, SEALED (holds live blocks) or RECLAIMABLE (no live block
 * left, but the last checkpoint may still point into it). RECLAIMABLE stripes become FREE when a
 * checkpoint that no longer references them is on the DAE ({@link #checkpointed}), so a crash can
 * always fall back to the last checkpoint's locations. Live bytes are counted per stripe, exactly.
 *
 * <p>Threads: {@link #append}, {@link #flush} and {@link #seal} on the destage thread; {@link #read}
 * on any thread; the accounting methods are synchronized.
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

    private final Dae dae;
    private final StripeLayout layout;
    private final long stripeBytes;
    private final byte[] state;
    private final int[] live;
    private final ByteBuffer open;
    private final boolean[] unsynced = new boolean[Dae.SLOTS_MAX]; // destage thread only
    private long openStripe = -1;
    private int fill;
    private int flushed;
    private long liveTotal;
    private long freeStripes;
    private long writeErrors;
    private long cellsWritten;

    public SegmentStore(Dae dae, StripeLayout layout) {
        if (layout.stripes() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("too many stripes: stripes=" + layout.stripes());
        }
        this.dae = dae;
        this.layout = layout;
        this.stripeBytes = layout.stripeDataBytes();
        this.state = new byte[(int) layout.stripes()];
        this.live = new int[state.length];
        this.freeStripes = state.length;
        this.open = Ssd.allocateAligned((int) stripeBytes);
    }

    public StripeLayout layout() {
        return layout;
    }

    /** Recovery: a live block of {@code bytes} found at {@code location} in the loaded H2P. */
    public synchronized void recoverLive(long location, int bytes) {
        int s = stripeOf(location);
        if (state[s] == FREE) {
            state[s] = SEALED;
            freeStripes--;
        }
        live[s] += bytes;
        liveTotal += bytes;
    }

    /**
     * Appends one stored block (header written here) and returns its pool location, or -1 when no
     * stripe has room (the caller compacts and checkpoints, then retries). A new stripe is opened only
     * while more than {@code keepFree} stripes are free: destage keeps some for compaction.
     */
    public long append(ByteBuffer stored, int off, int length, int keepFree) {
        int bytes = HEADER_BYTES + length;
        if (openStripe < 0 || fill + bytes > stripeBytes) {
            if (openStripe >= 0 && flush() != IoStatus.OK) {
                return -1;
            }
            if (!openNext(keepFree)) {
                return -1;
            }
        }
        open.put(fill, (byte) length);
        open.put(fill + 1, (byte) (length >>> 8));
        open.put(fill + HEADER_BYTES, stored, off, length);
        long location = openStripe * stripeBytes + fill;
        fill += bytes;
        return location;
    }

    private boolean openNext(int keepFree) {
        synchronized (this) {
            if (freeStripes <= keepFree) {
                return false;
            }
            if (openStripe >= 0) {
                // Its blocks are placed (published to H2P) after this: SEALED even while live is 0.
                state[(int) openStripe] = SEALED;
            }
            openStripe = -1;
            for (int s = 0; s < state.length; s++) {
                if (state[s] == FREE) {
                    state[s] = OPEN;
                    freeStripes--;
                    openStripe = s;
                    break;
                }
            }
        }
        fill = 0;
        flushed = 0;
        return openStripe >= 0;
    }

    /** Writes the cells filled since the last flush (the last, partly filled cell is written again later). */
    public IoStatus flush() {
        if (openStripe < 0 || flushed == fill) {
            return IoStatus.OK;
        }
        int first = flushed / StripeLayout.CELL;
        int end = (fill + StripeLayout.CELL - 1) / StripeLayout.CELL;
        int cell = first;
        while (cell < end) {
            int column = cell / StripeLayout.ROWS;
            int runEnd = Math.min(end, (column + 1) * StripeLayout.ROWS);
            ByteBuffer src = open.slice(cell * StripeLayout.CELL, (runEnd - cell) * StripeLayout.CELL);
            int slot = layout.ssdOf(openStripe, cell);
            unsynced[slot] = true;
            IoStatus s = dae.slot(slot).write(layout.ssdOffset(openStripe, cell), src);
            if (s != IoStatus.OK) {
                synchronized (this) {
                    writeErrors++;
                }
                Log.warn(
                        "segment_write_failed",
                        "stripe=" + openStripe + " cell=" + cell + " slot=" + slot + " status=" + s);
                return s; // issue 4 (XDP) writes around failed SSDs; until then the destage retries
            }
            synchronized (this) {
                cellsWritten += runEnd - cell;
            }
            cell = runEnd;
        }
        flushed = fill;
        return IoStatus.OK;
    }

    /** Makes every SSD's written cells durable against power loss. */
    public IoStatus sync() {
        for (int i = 0; i < dae.slotCount() && i < layout.width(); i++) {
            if (!unsynced[i]) {
                continue; // nothing written there since its last flush
            }
            IoStatus s = dae.slot(i).flush();
            if (s != IoStatus.OK) {
                return s;
            }
            unsynced[i] = false;
        }
        return IoStatus.OK;
    }

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

    /**
     * Reads the stored record at {@code location} of {@code bytes} (header included) into
     * {@code scratch} ({@link #READ_SCRATCH_BYTES}, aligned). Returns the record's offset in scratch,
     * or -1 if an SSD failed the read.
     */
    public int read(long location, int bytes, ByteBuffer scratch) {
        int s = stripeOf(location);
        int off = (int) (location - s * stripeBytes);
        int first = off / StripeLayout.CELL;
        int last = (off + bytes - 1) / StripeLayout.CELL;
        int cell = first;
        while (cell <= last) {
            int column = cell / StripeLayout.ROWS;
            int runEnd = Math.min(last + 1, (column + 1) * StripeLayout.ROWS);
            ByteBuffer dst = scratch.slice((cell - first) * StripeLayout.CELL, (runEnd - cell) * StripeLayout.CELL);
            IoStatus st = dae.slot(layout.ssdOf(s, cell)).read(layout.ssdOffset(s, cell), dst);
            if (st != IoStatus.OK) {
                Log.warn(
                        "segment_read_failed",
                        "stripe=" + s + " cell=" + cell + " slot=" + layout.ssdOf(s, cell) + " status=" + st);
                return -1;
            }
            cell = runEnd;
        }
        return off - first * StripeLayout.CELL;
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

    /** Bytes still free in the open stripe (destage thread's view). */
    public int openRemaining() {
        return openStripe < 0 ? 0 : (int) (stripeBytes - fill);
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
}
