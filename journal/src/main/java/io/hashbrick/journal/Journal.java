package io.hashbrick.journal;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A controller's NVRAM write journal: records appended by many threads, written into a
 * {@link JournalRegion} by one {@link JournalWriter} in group commits, replayed after a crash, and
 * released once destaged. Layouts: {@link RecordLayout} (records), {@link RegionLayout} (the region).
 *
 * <pre>
 * appenders --append(entry)--> AppendQueue --> JournalWriter: copy, persist, mirror --> onComplete
 *                                             region: [hdr|hdr| ...released... |head  live  tail| ... ]
 * destage   --release(seq)---------------------------------------^ (moves head, frees space)
 * </pre>
 *
 * Life cycle: {@link #format} once per region, {@link #open} after every start (it replays), then
 * {@link #startWriterThread} or drive {@link #writer()} directly, {@link #close} at the end.
 */
public final class Journal implements AutoCloseable {
    /** {@link #append} result: the queue or the region is full; retry after completions or a release. */
    public static final long BACK_PRESSURED = -1;
    /** {@link #append} result: the journal is closed. */
    public static final long CLOSED = -2;

    private final JournalRegion region;
    private final JournalConfig config;
    private final NanoClock clock;
    private final JournalMetrics metrics;
    private final AppendQueue queue;
    private final AtomicLong reservedBytes;
    private final AtomicLong releaseRequested;
    private final AtomicInteger activeAppends = new AtomicInteger();
    private final long reserveLimitBytes;
    private final JournalWriter writer;
    private final ReplayResult replayed;
    private volatile boolean closed;
    private volatile JournalWriterThread thread;

    private Journal(
            JournalRegion region,
            JournalConfig config,
            NanoClock clock,
            JournalMirror mirror,
            RegionLayout.Header header,
            ReplayResult replayed) {
        this.region = region;
        this.config = config;
        this.clock = clock;
        this.replayed = replayed;
        this.metrics = new JournalMetrics();
        this.queue = new AppendQueue(config.queueCapacity(), replayed.nextSequence());
        this.reservedBytes = new AtomicLong(replayed.liveRecordBytes());
        this.releaseRequested = new AtomicLong(header.replaySequence() - 1);
        // One record's worth is kept back for the padding at the wrap (see JournalWriter.write).
        this.reserveLimitBytes = region.segment().byteSize() - RegionLayout.DATA_OFFSET - config.maxRecordBytes();
        this.writer = new JournalWriter(
                region, config, clock, mirror, metrics, queue, reservedBytes, releaseRequested, header, replayed);
    }

    /** Makes {@code region} an empty journal: zeroes it, writes the header, persists all of it. */
    public static void format(JournalRegion region) {
        var segment = region.segment();
        RegionLayout.check(segment, RecordLayout.recordBytes(0));
        segment.fill((byte) 0); // replay then ends at the first never-written header: END_OF_LOG
        region.persist(0, segment.byteSize());
        RegionLayout.write(segment, region, new RegionLayout.Header(0, 0, 1, 0));
    }

    /**
     * Opens a formatted region: replays its records into {@code handler} (see {@link Replayer} for
     * where and why replay stops), then starts a new incarnation that appends after the last valid
     * record. The writer is not started.
     *
     * @throws CorruptRecordException if neither region-header copy is valid
     */
    public static Journal open(
            JournalRegion region, JournalConfig config, NanoClock clock, JournalMirror mirror, ReplayHandler handler) {
        var segment = region.segment();
        RegionLayout.check(segment, config.maxRecordBytes());
        RegionLayout.Header stored = RegionLayout.read(segment);
        ReplayResult replayed = new Replayer(segment).replay(stored, handler);
        // Every record ever written carries an incarnation <= the stored one (each open persists its
        // incarnation before writing), so records of this incarnation are newer than any leftover.
        RegionLayout.Header header = new RegionLayout.Header(
                stored.generation() + 1, stored.replayPosition(), stored.replaySequence(), stored.incarnation() + 1);
        RegionLayout.write(segment, region, header);
        return new Journal(region, config, clock, mirror, header, replayed);
    }

    /**
     * Queues {@code entry}. Returns its sequence number (positive), {@link #BACK_PRESSURED} if the
     * queue or the region is full, or {@link #CLOSED}. Never blocks; allocates nothing.
     */
    public long append(JournalEntry entry) {
        long length = entry.payload == null ? -1 : entry.payload.byteSize();
        Checks.argument(
                length >= 0 && length <= config.maxPayloadBytes(),
                "payload length out of range",
                "payloadLength",
                length,
                "maxPayloadBytes",
                config.maxPayloadBytes());
        Checks.argument(entry.status() != JournalEntry.QUEUED, "entry appended twice", "sequence", entry.sequence);
        activeAppends.incrementAndGet(); // lets close() wait for appends that passed the closed check
        try {
            if (closed) {
                return CLOSED;
            }
            int bytes = RecordLayout.recordBytes((int) length);
            if (!reserve(bytes)) {
                metrics.backPressured.incrementAndGet();
                return BACK_PRESSURED;
            }
            entry.enqueuedNs = clock.nanoTime();
            entry.status(JournalEntry.QUEUED);
            long sequence = queue.offer(entry);
            if (sequence < 0) {
                entry.status(JournalEntry.IDLE);
                reservedBytes.addAndGet(-bytes);
                metrics.backPressured.incrementAndGet();
                return BACK_PRESSURED;
            }
            metrics.appends.incrementAndGet();
            JournalWriterThread t = thread;
            if (t != null) {
                t.wake();
            }
            return sequence;
        } finally {
            activeAppends.decrementAndGet();
        }
    }

    private boolean reserve(int bytes) {
        while (true) {
            long reserved = reservedBytes.get();
            if (reserved + bytes > reserveLimitBytes) {
                return false;
            }
            if (reservedBytes.compareAndSet(reserved, reserved + bytes)) {
                return true;
            }
        }
    }

    /**
     * Destage has made records up to {@code upToSequence} redundant: the writer frees their space
     * (after persisting the new log start). Asynchronous; releasing less than before is a no-op.
     */
    public void release(long upToSequence) {
        long durable = writer.durableSequence();
        Checks.argument(
                upToSequence <= durable,
                "release beyond the durable sequence",
                "upToSequence",
                upToSequence,
                "durableSequence",
                durable);
        long current;
        do {
            current = releaseRequested.get();
        } while (current < upToSequence && !releaseRequested.compareAndSet(current, upToSequence));
        JournalWriterThread t = thread;
        if (t != null) {
            t.wake();
        }
    }

    /** A record's header: a zeroed one (magic 0) ends a replay. */
    public static final int RECORD_HEADER_BYTES = RecordLayout.HEADER_BYTES;

    /** Where log position {@code position} lies in a region of {@code regionBytes} (records wrap after the header). */
    public static long physicalOffset(long regionBytes, long position) {
        return RegionLayout.DATA_OFFSET + position % (regionBytes - RegionLayout.DATA_OFFSET);
    }

    /**
     * Log positions {@code [from, to)} of a region of {@code regionBytes} (less than one lap) as up to
     * two physical ranges, two when they wrap. @return how many ranges
     */
    public static int physicalRanges(long regionBytes, long from, long to, long[] offsets, long[] lengths) {
        long length = Math.max(0, to - from);
        if (length == 0) {
            return 0;
        }
        long offset = physicalOffset(regionBytes, from);
        long first = Math.min(length, regionBytes - offset);
        offsets[0] = offset;
        lengths[0] = first;
        if (length == first) {
            return 1;
        }
        offsets[1] = RegionLayout.DATA_OFFSET;
        lengths[1] = length - first;
        return 2;
    }

    /** See {@link JournalWriter#liveRanges}: what a mirror's image copies, with the header. */
    public int liveRanges(long[] offsets, long[] lengths) {
        return writer.liveRanges(offsets, lengths);
    }

    /** The region this journal writes. */
    public JournalRegion region() {
        return region;
    }

    /**
     * Reads a region without changing it (a mirror's copy, a file to compare it with): where its
     * replay would stop, and the last sequence it would replay ({@code nextSequence() - 1}).
     *
     * @throws CorruptRecordException if neither region-header copy is valid
     */
    public static ReplayResult scan(java.lang.foreign.MemorySegment segment) {
        return new Replayer(segment).replay(RegionLayout.read(segment), ReplayHandler.NONE);
    }

    /** Highest sequence persisted in the region; every lower one is too. */
    public long durableSequence() {
        return writer.durableSequence();
    }

    /** The single writer, to drive by hand (tests, simulation) when no writer thread is started. */
    public JournalWriter writer() {
        return writer;
    }

    public ReplayResult replayResult() {
        return replayed;
    }

    public JournalMetrics metrics() {
        return metrics;
    }

    public JournalConfig config() {
        return config;
    }

    /** Region bytes held by queued and unreleased records. */
    public long reservedBytes() {
        return reservedBytes.get();
    }

    /**
     * Writes and persists what is queued on the calling thread, then applies pending releases: for a
     * caller that serialises every append under a lock of its own and holds it here, over a region
     * whose persist is cheap (battery-backed memory, where it is a fence). The appended entries are
     * DURABLE when this returns, with no thread hand-off. Not for use with {@link #startWriterThread}.
     * @return work done, as {@link JournalWriter#doWork()}
     */
    public int writeInline() {
        Checks.state(
                thread == null, "writeInline with a writer thread running", "started", 1, "closed", closed ? 1 : 0);
        writer.handOver();
        int work = 0;
        for (int n; (n = writer.doWork()) > 0; ) {
            work += n;
        }
        return work;
    }

    /** Starts the platform thread that runs the writer. */
    public synchronized void startWriterThread(String name) {
        Checks.state(
                thread == null && !closed,
                "writer already started or journal closed",
                "started",
                thread == null ? 0 : 1,
                "closed",
                closed ? 1 : 0);
        writer.handOver(); // the caller may have driven doWork() itself until now (replay, tests)
        JournalWriterThread t = new JournalWriterThread(name, writer, queue);
        thread = t;
        t.start();
    }

    /**
     * Refuses new appends, stops the writer thread, then writes and persists every entry already
     * queued (they complete DURABLE). The region stays the caller's to close.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        JournalWriterThread t = thread;
        if (t != null) {
            t.shutdown();
        }
        for (long spins = 0; activeAppends.get() != 0; spins++) {
            Checks.state(
                    spins < 100_000_000L,
                    "appender stuck in append",
                    "activeAppends",
                    activeAppends.get(),
                    "spins",
                    spins);
            Thread.onSpinWait();
        }
        for (long spins = 0; queue.head() != queue.tail(); spins++) {
            Checks.state(
                    spins < 100_000_000L, "queued entry never published", "head", queue.head(), "tail", queue.tail());
            writer.doWork();
        }
        writer.flushNow();
    }
}
