package io.hashbrick.journal;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Counters of one journal. Appender-side counters are atomics (many threads); writer-side counters are
 * volatile longs written by the writer thread only (single writer: a plain increment is safe, readers
 * see a recent value). The controller exports them to Micrometer.
 */
public final class JournalMetrics {
    final AtomicLong appends = new AtomicLong();
    final AtomicLong backPressured = new AtomicLong();
    volatile long recordsWritten;
    volatile long bytesWritten;
    volatile long paddingRecords;
    volatile long batches;
    volatile long persistCalls;
    volatile long flushesByWait;
    volatile long flushesByBytes;
    volatile long flushesByEmptyQueue;
    volatile long flushesByFullBatch;
    volatile long mirrorFailures;
    volatile long releases;
    volatile long bytesReleased;

    /** Appends accepted (back-pressured ones excluded). */
    public long appends() {
        return appends.get();
    }

    /** Appends refused with {@link Journal#BACK_PRESSURED} (queue or region full). */
    public long backPressured() {
        return backPressured.get();
    }

    public long recordsWritten() {
        return recordsWritten;
    }

    /** Bytes of records written into the region, headers and padding included. */
    public long bytesWritten() {
        return bytesWritten;
    }

    public long paddingRecords() {
        return paddingRecords;
    }

    /** Group commits: one persist (two if the batch wraps) and one mirror call each. */
    public long batches() {
        return batches;
    }

    /** {@link JournalRegion#persist} calls, region-header updates included. */
    public long persistCalls() {
        return persistCalls;
    }

    public long flushesByWait() {
        return flushesByWait;
    }

    public long flushesByBytes() {
        return flushesByBytes;
    }

    public long flushesByEmptyQueue() {
        return flushesByEmptyQueue;
    }

    public long flushesByFullBatch() {
        return flushesByFullBatch;
    }

    public long mirrorFailures() {
        return mirrorFailures;
    }

    /** Release steps applied by the writer (each persists the region header once). */
    public long releases() {
        return releases;
    }

    public long bytesReleased() {
        return bytesReleased;
    }

    @Override
    public String toString() {
        return "appends=" + appends() + " backPressured=" + backPressured() + " records=" + recordsWritten
                + " bytes=" + bytesWritten + " padding=" + paddingRecords + " batches=" + batches + " persists="
                + persistCalls + " byWait=" + flushesByWait + " byBytes=" + flushesByBytes + " byEmpty="
                + flushesByEmptyQueue + " byFullBatch=" + flushesByFullBatch + " mirrorFailures=" + mirrorFailures
                + " releases=" + releases + " bytesReleased=" + bytesReleased;
    }
}
