package io.hashbrick.node.xdp;

/**
 * The scrub's pace and cursor (DESIGN.md "XDP"): one sealed stripe at a time, in stripe order round
 * and round, at most {@link #setRate} bytes per second read. D's destage thread asks {@link #next} each
 * round, scrubs the stripe ({@link SegmentStore#scrub}) and repairs what it finds wrong (D knows which
 * blocks are live and what they should read).
 *
 * <p>Threads: the destage thread, but the rate (volatile, set by management); stats read the figures
 * without a lock, as they did when they were fields of D's data path.
 */
public final class ScrubSchedule {
    private final SegmentStore store;
    /** Bytes a scrub of one stripe reads: every column of a full-width stripe. */
    private final long stripeRaw;

    private volatile long rateBytes = 16L << 20;
    private long cursor;
    private long lastNs;
    private long passes;

    public ScrubSchedule(SegmentStore store, long nowNs) {
        this.store = store;
        this.stripeRaw = (long) store.layout().width() * StripeLayout.COLUMN_BYTES;
        this.lastNs = nowNs;
    }

    /** Bytes per second the scrub may read (0 stops it). */
    public void setRate(long bytesPerSecond) {
        rateBytes = Math.max(0, bytesPerSecond);
    }

    /** The stripe to scrub now, or -1 (stopped, not due yet at the rate, or no sealed stripe). */
    public long next(long now) {
        long rate = rateBytes;
        if (rate == 0 || now - lastNs < stripeRaw * 1_000_000_000L / rate) {
            return -1;
        }
        lastNs = now;
        long s = store.nextScrubStripe(cursor);
        if (s < 0) {
            return -1;
        }
        if (s < cursor) {
            passes++;
        }
        cursor = s + 1;
        return s;
    }

    public long rateBytes() {
        return rateBytes;
    }

    /** Times the cursor went round (a pass ends where the next begins). */
    public long passes() {
        return passes;
    }
}
