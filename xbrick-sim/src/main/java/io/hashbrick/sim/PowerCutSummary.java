package io.hashbrick.sim;

/**
 * What a power cut did to the unflushed writes of one drive ({@link Ssd#powerCut}) or a shelf
 * ({@link Dae#powerCut}, the sum over its drives). Counts are per write as decided, so the same writes,
 * flushes and seed give the same summary: fit for a run digest.
 *
 * @param drives drives with the volatile write-cache model on (a drive replaced by the other controller
 *     since its writes counts too: its record is discarded, see {@link Ssd#powerCut})
 * @param writesKept unflushed writes that persisted whole
 * @param writesDropped unflushed writes lost whole: their previous contents are back
 * @param writesTorn unflushed writes of which a prefix of whole 512-byte sectors persisted
 * @param bytesKept bytes the decisions persisted (kept writes, torn prefixes)
 * @param bytesLost bytes the decisions undid (dropped writes, torn suffixes); a sector a later kept write
 *     covers keeps that write's bytes, so fewer bytes may have changed on the file
 * @param writesEvicted writes the model stopped tracking because its cap was reached, since the last
 *     successful flush or cut: treated as flushed (a drive destaging its cache), so they persisted
 */
public record PowerCutSummary(
        int drives,
        long writesKept,
        long writesDropped,
        long writesTorn,
        long bytesKept,
        long bytesLost,
        long writesEvicted) {
    /** Nothing cut: the model was off, or the shelf has no drive with it on. */
    public static final PowerCutSummary NONE = new PowerCutSummary(0, 0, 0, 0, 0, 0, 0);

    public long writes() {
        return writesKept + writesDropped + writesTorn;
    }

    public PowerCutSummary plus(PowerCutSummary o) {
        return new PowerCutSummary(
                drives + o.drives,
                writesKept + o.writesKept,
                writesDropped + o.writesDropped,
                writesTorn + o.writesTorn,
                bytesKept + o.bytesKept,
                bytesLost + o.bytesLost,
                writesEvicted + o.writesEvicted);
    }

    /** {@code drives=1 writes_kept=3 writes_dropped=2 writes_torn=1 bytes_kept=.. bytes_lost=.. writes_evicted=0}. */
    @Override
    public String toString() {
        return "drives=" + drives + " writes_kept=" + writesKept + " writes_dropped=" + writesDropped
                + " writes_torn=" + writesTorn + " bytes_kept=" + bytesKept + " bytes_lost=" + bytesLost
                + " writes_evicted=" + writesEvicted;
    }
}
