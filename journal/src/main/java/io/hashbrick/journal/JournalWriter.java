package io.hashbrick.journal;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The journal's single writer: takes appends from the {@link AppendQueue} in sequence order, copies
 * them into the region, and commits them in groups: one persist and one mirror call per batch, then
 * every entry of the batch completes. It alone moves the log's head and tail and writes the region.
 * Driven by {@link #doWork()} in a bounded step: by {@link JournalWriterThread} in a controller, by
 * the test or the simulation directly (with a fake {@link NanoClock}) for determinism.
 *
 * <p>Group commit follows BookKeeper's journal ({@code bookie/Journal.java}, its {@code run()} loop),
 * with its three reasons to end a batch, reimplemented for memory that is persisted rather than a file
 * that is fsynced:
 * <ol>
 *   <li><b>(a) wait</b>: the oldest record of the batch has waited {@code maxWaitNs} since it was
 *       appended. Bounds the latency that grouping may add under a steady trickle of appends that
 *       never empties the queue and never fills a batch.
 *   <li><b>(b) bytes</b>: the batch holds {@code flushBytes} or more (or {@code maxBatchEntries}
 *       records). Waiting longer buys nothing, since the persist cost grows with the bytes anyway, and
 *       it bounds how much one persist (and one mirror message) carries.
 *   <li><b>(c) empty queue</b>: nothing else is waiting, so nothing can join the batch without waiting
 *       for a new append; with one outstanding request at a time, grouping would only add latency.
 *       Optional ({@code flushWhenQueueEmpty}), as in BookKeeper: off, the batch waits for (a) or (b).
 * </ol>
 * Under load the queue refills while a batch is persisted, so the next batch is larger: the batch size
 * adapts to the persist latency by itself (Disruptor's "smart batching").
 */
public final class JournalWriter {
    /** Release steps per {@link #doWork()}: bounds the work one step does for a huge release. */
    static final int MAX_RELEASES_PER_WORK = 4096;

    private final JournalRegion region;
    private final MemorySegment segment;
    private final RecordLayout layout;
    private final AppendQueue queue;
    private final JournalConfig config;
    private final NanoClock clock;
    private final JournalMirror mirror;
    private final JournalMetrics metrics;
    private final JournalBatch batchView;
    private final AtomicLong reservedBytes;
    private final AtomicLong releaseRequested;
    private final long regionBytes;
    private final long dataBytes;
    private final int incarnation;

    private long generation;
    private long headPosition;
    private long writePosition;
    /** {@link #headPosition} and {@link #writePosition} as of the last release and batch, for the mirror's image. */
    private volatile long publishedHead;

    private volatile long publishedWrite;
    private long releasedSequence;
    private volatile long durableSequence;

    /** The thread that owns the writer (Disruptor's {@code assert sameThread()}); handed over by {@link #handOver()}. */
    private Thread owner;

    private final JournalEntry[] batch;
    private int batchCount;
    private long batchStartPosition;
    private long batchBytes;
    private long batchOldestNs;

    JournalWriter(
            JournalRegion region,
            JournalConfig config,
            NanoClock clock,
            JournalMirror mirror,
            JournalMetrics metrics,
            AppendQueue queue,
            AtomicLong reservedBytes,
            AtomicLong releaseRequested,
            RegionLayout.Header header,
            ReplayResult replayed) {
        this.region = region;
        this.segment = region.segment();
        this.layout = new RecordLayout(segment);
        this.queue = queue;
        this.config = config;
        this.clock = clock;
        this.mirror = mirror;
        this.metrics = metrics;
        this.batchView = new JournalBatch(segment);
        this.reservedBytes = reservedBytes;
        this.releaseRequested = releaseRequested;
        this.regionBytes = segment.byteSize();
        this.dataBytes = regionBytes - RegionLayout.DATA_OFFSET;
        this.incarnation = header.incarnation();
        this.generation = header.generation();
        this.headPosition = header.replayPosition();
        this.writePosition = replayed.stopPosition();
        this.publishedHead = headPosition;
        this.publishedWrite = writePosition;
        this.releasedSequence = header.replaySequence() - 1;
        this.durableSequence = replayed.nextSequence() - 1;
        this.batch = new JournalEntry[config.maxBatchEntries()];
    }

    /** One bounded step: apply releases, write up to {@code maxBatchEntries} records, flush if a trigger holds. */
    public int doWork() {
        assert sameThread();
        int work = applyRelease();
        boolean queueEmpty = false;
        int taken = 0;
        while (taken < config.maxBatchEntries()) {
            JournalEntry entry = queue.poll();
            if (entry == null) {
                queueEmpty = true;
                break;
            }
            write(entry);
            taken++;
            if (batchBytes >= config.flushBytes()) {
                metrics.flushesByBytes++; // (b)
                flush();
            } else if (batchCount == batch.length) {
                metrics.flushesByFullBatch++; // (b), counted in records
                flush();
            }
        }
        work += taken;
        if (batchCount > 0) {
            if (queueEmpty && config.flushWhenQueueEmpty()) {
                metrics.flushesByEmptyQueue++; // (c)
                flush();
                work++;
            } else if (clock.nanoTime() - batchOldestNs >= config.maxWaitNs()) {
                metrics.flushesByWait++; // (a)
                flush();
                work++;
            }
        }
        return work;
    }

    private boolean sameThread() {
        if (owner == null) {
            owner = Thread.currentThread();
        }
        return owner == Thread.currentThread();
    }

    /** Lets another thread drive the writer next (the writer thread has ended; close drains). */
    void handOver() {
        owner = null;
    }

    /** Ends the current batch whatever the triggers say (close). */
    void flushNow() {
        assert sameThread();
        if (batchCount > 0) {
            flush();
        }
    }

    private void write(JournalEntry entry) {
        int length = (int) entry.payload.byteSize();
        int bytes = RecordLayout.recordBytes(length);
        if (batchCount == 0) {
            batchStartPosition = writePosition;
            batchBytes = 0;
            batchOldestNs = entry.enqueuedNs;
        }
        long offset = physical(writePosition);
        long remaining = regionBytes - offset;
        long padding = remaining < bytes ? remaining : 0;
        // Admission in Journal.append keeps live records below dataBytes - maxRecordBytes, and at most
        // one padding is ever live, so this holds; if it did not, we would overwrite unreleased records.
        Checks.state(
                writePosition + padding + bytes - headPosition <= dataBytes,
                "journal would overwrite unreleased records",
                "writePosition",
                writePosition,
                "headPosition",
                headPosition);
        if (padding > 0) {
            if (padding >= RecordLayout.HEADER_BYTES) {
                layout.writePadding(offset, (int) padding, incarnation, entry.sequence);
                metrics.paddingRecords++;
            }
            writePosition += padding;
            batchBytes += padding;
            offset = RegionLayout.DATA_OFFSET;
        }
        layout.write(offset, entry.type, incarnation, entry.sequence, entry.epoch, entry.payload);
        assert layout.checksum(offset, length) == layout.storedChecksum(offset) : "sequence=" + entry.sequence;
        entry.position = writePosition;
        writePosition += bytes;
        batchBytes += bytes;
        batch[batchCount++] = entry;
        metrics.recordsWritten++;
        metrics.bytesWritten += bytes + padding;
    }

    /** Persist the batch (one range, two if it wraps), mirror it, then complete its entries. */
    private void flush() {
        long first = batch[0].sequence;
        long last = batch[batchCount - 1].sequence;
        long length = writePosition - batchStartPosition;
        long offset = physical(batchStartPosition);
        long firstLength = Math.min(length, regionBytes - offset);
        batchView.reset(first, last, incarnation);
        region.persist(offset, firstLength);
        batchView.addRange(offset, firstLength);
        metrics.persistCalls++;
        if (length > firstLength) {
            region.persist(RegionLayout.DATA_OFFSET, length - firstLength);
            batchView.addRange(RegionLayout.DATA_OFFSET, length - firstLength);
            metrics.persistCalls++;
        }
        publishedWrite = writePosition; // before the mirror sees the batch: an image read after it covers it
        boolean mirrored = mirror.replicate(batchView);
        if (!mirrored) {
            metrics.mirrorFailures++;
        }
        metrics.batches++;
        durableSequence = last;
        int status = mirrored ? JournalEntry.DURABLE : JournalEntry.MIRROR_FAILED;
        for (int i = 0; i < batchCount; i++) {
            JournalEntry entry = batch[i];
            batch[i] = null;
            JournalCompletion completion = entry.completion; // read before the status frees the entry
            entry.status(status);
            completion.onComplete(entry);
        }
        batchCount = 0;
        batchBytes = 0;
    }

    /**
     * Moves the head past released records, persists the new start in the region header, and only
     * then returns their bytes to the appenders: a crash between the two must find a header that
     * points at records still intact.
     */
    private int applyRelease() {
        long target = Math.min(releaseRequested.get(), durableSequence);
        if (target <= releasedSequence) {
            return 0;
        }
        long freed = 0;
        int steps = 0;
        while (releasedSequence < target && steps < MAX_RELEASES_PER_WORK) {
            long offset = physical(headPosition);
            long remaining = regionBytes - offset;
            if (remaining < RecordLayout.HEADER_BYTES || layout.type(offset) == RecordType.PADDING) {
                headPosition += remaining;
                continue;
            }
            assert layout.sequence(offset) == releasedSequence + 1
                    : "sequence=" + layout.sequence(offset) + " expected=" + (releasedSequence + 1);
            int bytes = RecordLayout.recordBytes(layout.payloadLength(offset));
            headPosition += bytes;
            freed += bytes;
            releasedSequence++;
            steps++;
        }
        skipPaddingAtHead();
        generation++;
        RegionLayout.write(
                segment, region, new RegionLayout.Header(generation, headPosition, releasedSequence + 1, incarnation));
        publishedHead = headPosition;
        mirror.headerWritten(segment);
        metrics.persistCalls++;
        metrics.releases++;
        metrics.bytesReleased += freed;
        reservedBytes.addAndGet(-freed);
        return steps;
    }

    /** Keeps the head on a record (or on the tail): at most one padding is then ever live. */
    private void skipPaddingAtHead() {
        while (headPosition < writePosition) {
            long offset = physical(headPosition);
            long remaining = regionBytes - offset;
            if (remaining >= RecordLayout.HEADER_BYTES && layout.type(offset) != RecordType.PADDING) {
                return;
            }
            headPosition += remaining;
        }
    }

    private long physical(long position) {
        return RegionLayout.DATA_OFFSET + position % dataBytes;
    }

    /**
     * The region's live records as up to two physical ranges ({@code offsets}, {@code lengths}, two when
     * they wrap), as of the last batch and release; any thread. A mirror's image copies them (with the
     * header); a batch written after the mirror last saw one may be missing and comes as its own.
     *
     * @return how many ranges
     */
    int liveRanges(long[] offsets, long[] lengths) {
        long head = publishedHead; // read before the write position: a release never passes it
        return Journal.physicalRanges(regionBytes, head, publishedWrite, offsets, lengths);
    }

    /** Highest sequence persisted in the region (and handed to the mirror). */
    public long durableSequence() {
        return durableSequence;
    }

    long releasedSequence() {
        return releasedSequence;
    }

    boolean hasPendingBatch() {
        return batchCount > 0;
    }

    /** Nanoseconds until trigger (a) fires for the current batch; for the idle strategy. */
    long nanosUntilWaitTrigger() {
        return batchCount == 0 ? Long.MAX_VALUE : config.maxWaitNs() - (clock.nanoTime() - batchOldestNs);
    }

    boolean releasePending() {
        return Math.min(releaseRequested.get(), durableSequence) > releasedSequence;
    }
}
