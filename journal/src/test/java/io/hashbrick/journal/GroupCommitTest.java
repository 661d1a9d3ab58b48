package io.hashbrick.journal;

import static io.hashbrick.journal.JournalFixture.entry;
import static io.hashbrick.journal.JournalFixture.formatAndOpen;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hashbrick.journal.JournalFixture.FakeClock;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

class GroupCommitTest {
    private static final JournalConfig BASE = JournalFixture.smallConfig();

    /** Counts persist calls, to check that completions come after the persist of their batch. */
    private static final class CountingRegion implements JournalRegion {
        final MemoryJournalRegion inner;
        long persists;

        CountingRegion(long size) {
            inner = new MemoryJournalRegion(size);
        }

        @Override
        public MemorySegment segment() {
            return inner.segment();
        }

        @Override
        public void persist(long offset, long length) {
            persists++;
        }

        @Override
        public void close() {
            inner.close();
        }
    }

    private static List<JournalEntry> appendN(Journal journal, int n, int payloadBytes) {
        List<JournalEntry> entries = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            JournalEntry e = entry(RecordType.BLOCK_PUT, 1, new byte[payloadBytes]);
            assertTrue(journal.append(e) > 0);
            entries.add(e);
        }
        return entries;
    }

    @Test
    void triggerC_emptyQueueFlushesEverythingQueuedInOnePersist() {
        try (CountingRegion region = new CountingRegion(1 << 16)) {
            Journal journal = formatAndOpen(region, BASE.withFlushWhenQueueEmpty(true), new FakeClock());
            long persistsBefore = region.persists;
            List<JournalEntry> entries = appendN(journal, 5, 10);
            journal.writer().doWork();
            assertEquals(1, region.persists - persistsBefore);
            assertEquals(1, journal.metrics().batches());
            assertEquals(1, journal.metrics().flushesByEmptyQueue());
            for (JournalEntry e : entries) {
                assertEquals(JournalEntry.DURABLE, e.status());
            }
            assertEquals(5, journal.durableSequence());
        }
    }

    @Test
    void triggerA_oldestEntryWaitedMaxWait() {
        FakeClock clock = new FakeClock();
        try (CountingRegion region = new CountingRegion(1 << 16)) {
            Journal journal =
                    formatAndOpen(region, BASE.withFlushWhenQueueEmpty(false).withMaxWaitNs(1_000), clock);
            List<JournalEntry> first = appendN(journal, 2, 10);
            journal.writer().doWork();
            assertEquals(0, journal.metrics().batches(), "queue empty, but (c) is off and nothing waited long");
            clock.now += 600;
            List<JournalEntry> second = appendN(journal, 2, 10);
            journal.writer().doWork();
            clock.now += 399;
            journal.writer().doWork();
            assertEquals(0, journal.metrics().batches(), "oldest waited 999 ns");
            assertEquals(JournalEntry.QUEUED, first.get(0).status());
            clock.now += 1;
            journal.writer().doWork();
            assertEquals(1, journal.metrics().batches(), "oldest waited 1000 ns: one batch for all four");
            assertEquals(1, journal.metrics().flushesByWait());
            assertEquals(JournalEntry.DURABLE, second.get(1).status());
            assertEquals(4, journal.durableSequence());
        }
    }

    @Test
    void triggerB_bufferedBytesAndFullBatch() {
        try (CountingRegion region = new CountingRegion(1 << 16)) {
            JournalConfig config = BASE.withFlushWhenQueueEmpty(false)
                    .withMaxWaitNs(Long.MAX_VALUE / 4)
                    .withFlushBytes(4096);
            Journal journal = formatAndOpen(region, config, new FakeClock());
            appendN(journal, 10, 1000); // 1040 bytes each: 4 reach 4096
            journal.writer().doWork();
            assertEquals(2, journal.metrics().flushesByBytes());
            assertEquals(8, journal.durableSequence(), "two records wait for the next trigger");
        }
        try (CountingRegion region = new CountingRegion(1 << 16)) {
            JournalConfig config = BASE.withFlushWhenQueueEmpty(false)
                    .withMaxWaitNs(Long.MAX_VALUE / 4)
                    .withMaxBatchEntries(4);
            Journal journal = formatAndOpen(region, config, new FakeClock());
            appendN(journal, 10, 8);
            journal.writer().doWork(); // bounded step: takes at most maxBatchEntries
            journal.writer().doWork();
            journal.writer().doWork();
            assertEquals(2, journal.metrics().flushesByFullBatch());
            assertEquals(8, journal.durableSequence());
        }
    }

    @Test
    void completionRunsAfterPersistAndMirror() {
        List<String> events = new ArrayList<>();
        CountingRegion region = new CountingRegion(1 << 16);
        JournalMirror mirror = batch -> {
            events.add("mirror " + batch.firstSequence() + ".." + batch.lastSequence() + " ranges=" + batch.rangeCount()
                    + " persists=" + region.persists);
            return true;
        };
        Journal.format(region);
        Journal journal = Journal.open(region, BASE, new FakeClock(), mirror, ReplayHandler.NONE);
        long persistsAtOpen = region.persists;
        JournalCompletion completion = e -> events.add("complete " + e.sequence() + " persists=" + region.persists);
        for (int i = 0; i < 3; i++) {
            journal.append(
                    new JournalEntry().set(RecordType.A2H_MAP, 1, MemorySegment.ofArray(new byte[24]), completion));
        }
        journal.writer().doWork();
        long p = persistsAtOpen + 1;
        assertEquals(
                List.of(
                        "mirror 1..3 ranges=1 persists=" + p,
                        "complete 1 persists=" + p,
                        "complete 2 persists=" + p,
                        "complete 3 persists=" + p),
                events);
        region.close();
    }

    @Test
    void refusedMirrorFailsTheBatch() {
        try (MemoryJournalRegion region = new MemoryJournalRegion(1 << 16)) {
            Journal.format(region);
            Journal journal = Journal.open(region, BASE, new FakeClock(), batch -> false, ReplayHandler.NONE);
            JournalEntry e = entry(RecordType.A2H_MAP, 1, new byte[8]);
            journal.append(e);
            journal.writer().doWork();
            assertEquals(JournalEntry.MIRROR_FAILED, e.status());
            assertEquals(1, journal.metrics().mirrorFailures());
        }
    }

    /**
     * Concurrent appenders against the writer thread on a memory-mapped file (real msync): every
     * append completes, there are fewer persists than appends, and replay returns them all.
     */
    @Test
    @Timeout(60)
    void concurrentAppendersShareBatches(@TempDir Path dir) throws Exception {
        int threads = 4; // two cores are shared: spinning appenders must not starve the writer
        int perThread = 2000;
        int inFlight = 16;
        JournalConfig config = JournalConfig.defaults();
        AtomicLong completed = new AtomicLong();
        JournalCompletion completion = e -> completed.incrementAndGet();
        try (MappedFileRegion region = MappedFileRegion.open(dir.resolve("nvram"), 16 << 20)) {
            Journal.format(region);
            Journal journal = Journal.open(region, config, NanoClock.SYSTEM, JournalMirror.NONE, ReplayHandler.NONE);
            journal.startWriterThread("journal-writer-test");
            CountDownLatch done = new CountDownLatch(threads);
            for (int t = 0; t < threads; t++) {
                int id = t;
                Thread.ofPlatform().start(() -> {
                    try {
                        appendAll(journal, id, perThread, inFlight, completion);
                    } finally {
                        done.countDown();
                    }
                });
            }
            assertTrue(done.await(60, TimeUnit.SECONDS));
            journal.close();
            long appends = journal.metrics().appends();
            long batches = journal.metrics().batches();
            double ratio = (double) appends / batches;
            String line = "group_commit appends=" + appends + " batches=" + batches + " persists="
                    + journal.metrics().persistCalls() + " appendsPerBatch=" + String.format("%.1f", ratio) + " "
                    + journal.metrics();
            System.out.println(line);
            assertEquals((long) threads * perThread, appends);
            assertEquals(appends, completed.get());
            assertTrue(batches < appends, line);
            JournalFixture.Collector c = JournalFixture.reopen(region, config);
            assertEquals(appends, c.records.size());
        }
    }

    private static void appendAll(Journal journal, int id, int perThread, int inFlight, JournalCompletion completion) {
        JournalEntry[] pool = new JournalEntry[inFlight];
        MemorySegment[] payloads = new MemorySegment[inFlight];
        for (int i = 0; i < inFlight; i++) {
            pool[i] = new JournalEntry();
            payloads[i] = MemorySegment.ofArray(new byte[64]);
        }
        for (int i = 0; i < perThread; i++) {
            JournalEntry e = pool[i % inFlight];
            while (e.status() == JournalEntry.QUEUED) {
                Thread.yield();
            }
            payloads[i % inFlight].set(RecordLayout.INT, 0, id);
            e.set(RecordType.BLOCK_PUT, id, payloads[i % inFlight], completion);
            while (journal.append(e) == Journal.BACK_PRESSURED) {
                Thread.yield();
            }
        }
    }
}
