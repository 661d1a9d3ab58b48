package io.hashbrick.node.xdp;

import io.hashbrick.node.Log;

/**
 * The pace and progress of the rebuild into hot space (DESIGN.md "XDP"): a credit of bytes that grows
 * at the rate set ({@link #setRate}; 0 pauses) up to 64 stripes' worth, the degraded stripes to rebuild
 * next while the credit lasts, and the figures of the rebuild under way and of the last one. Moving the
 * live blocks out is D's part (D knows which blocks are live): D's destage thread asks {@link #next}
 * each round, then reports what it did ({@link #columnRebuilt}, {@link #moved}).
 *
 * <p>Threads: the destage thread, but the rate (volatile, set by management); stats read the figures
 * without a lock, as they did when they were fields of D's data path.
 */
public final class RebuildSchedule {
    /** What {@link #next} returns when the rebuild under way has just finished (the caller checkpoints). */
    public static final long[] FINISHED = new long[0];

    private final SegmentStore store;
    private final long stripeBytes;
    private volatile long rateBytes = 256L << 20;
    private long credit;
    private long lastNs;
    private long startNs;
    private long totalStripes;
    private long totalBytes;
    private long movedBytes;
    private long lastMs;
    private long completed;
    private long cellsRead;
    private long cellsRebuilt;
    private long raid6Reads;

    public RebuildSchedule(SegmentStore store, long nowNs) {
        this.store = store;
        this.stripeBytes = store.layout().stripeDataBytes();
        this.lastNs = nowNs;
    }

    /** Bytes per second the rebuild may move (0 pauses it). */
    public void setRate(long bytesPerSecond) {
        rateBytes = Math.max(0, bytesPerSecond);
    }

    /**
     * The degraded stripes to rebuild now (up to 16, as many as the credit covers), null when none is
     * due (none degraded, paused, or not credit enough yet), or {@link #FINISHED} when the last degraded
     * stripe was rebuilt since the previous call.
     */
    public long[] next(long now) {
        long rate = rateBytes;
        credit = Math.min(credit + (now - lastNs) * rate / 1_000_000_000L, 64 * stripeBytes);
        lastNs = now;
        long[] pendingRebuild = store.degradedLive();
        if (pendingRebuild[0] == 0) {
            if (startNs != 0) {
                lastMs = (now - startNs) / 1_000_000;
                completed++;
                Log.info(
                        "rebuild_done",
                        "stripes=" + totalStripes + " bytes=" + movedBytes + " ms=" + lastMs
                                + " mb_per_s="
                                + String.format(
                                        java.util.Locale.ROOT,
                                        "%.1f",
                                        movedBytes / 1048576.0 / Math.max(0.001, lastMs / 1000.0)));
                startNs = 0;
                return FINISHED;
            }
            return null;
        }
        if (startNs == 0) {
            startNs = now;
            totalStripes = pendingRebuild[0];
            totalBytes = pendingRebuild[1];
            movedBytes = 0;
            Log.warn(
                    "rebuild_started",
                    "stripes=" + pendingRebuild[0] + " live_bytes=" + pendingRebuild[1] + " rate_bytes_per_s=" + rate);
        }
        totalStripes = Math.max(totalStripes, pendingRebuild[0]);
        if (rate == 0 || credit < Math.min(pendingRebuild[1], stripeBytes / 4)) {
            return null;
        }
        int max = (int) Math.max(1, Math.min(16, credit / Math.max(1, stripeBytes / 2)));
        return store.degradedStripes(max);
    }

    /** A column rebuilt in place: the cells it read and rebuilt, and what RAID 6 would have read for them. */
    public void columnRebuilt(ColumnRebuild x) {
        cellsRead += x.cellsRead();
        cellsRebuilt += x.cellsRebuilt();
        raid6Reads += (long) x.cellsRebuilt() * x.dataColumns();
    }

    /** Live bytes moved out and bytes read in place by one round: spent from the credit (at least 1). */
    public void moved(long moved, long ioBytes) {
        movedBytes += moved;
        credit -= Math.max(moved + ioBytes, 1);
    }

    public long rateBytes() {
        return rateBytes;
    }

    /** Stripes the rebuild under way (or the last one) has had to rebuild, at most. */
    public long totalStripes() {
        return totalStripes;
    }

    /** Live bytes the rebuild under way (or the last one) moved out. */
    public long movedBytes() {
        return movedBytes;
    }

    public long completed() {
        return completed;
    }

    /** How long the last finished rebuild took. */
    public long lastMs() {
        return lastMs;
    }

    public long cellsRead() {
        return cellsRead;
    }

    public long cellsRebuilt() {
        return cellsRebuilt;
    }

    public long raid6Reads() {
        return raid6Reads;
    }
}
