package io.hashbrick.journal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hashbrick.journal.JournalFixture.FakeClock;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import org.junit.jupiter.api.Test;

/**
 * STYLE "no allocation per I/O after warm-up": append, write, persist, complete and release of
 * records, measured with the JVM's per-thread allocation counter. Releases (one region-header write
 * each, rare) may allocate a little; records may not.
 */
class AllocationTest {
    private static final int RECORDS = 100_000;
    private static final int RELEASE_EVERY = 1_000;

    @Test
    void steadyStateAppendsAllocateNothingPerRecord() {
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        try (MemoryJournalRegion region = new MemoryJournalRegion(1 << 20)) {
            Journal journal = JournalFixture.formatAndOpen(region, JournalFixture.smallConfig(), new FakeClock());
            JournalEntry entry = new JournalEntry();
            MemorySegment payload = MemorySegment.ofArray(new byte[200]);
            run(journal, entry, payload); // warm-up: JIT compiles the path
            long before = threads.getCurrentThreadAllocatedBytes();
            run(journal, entry, payload);
            long allocated = threads.getCurrentThreadAllocatedBytes() - before;
            long perRecord = allocated / RECORDS;
            System.out.println(
                    "allocation records=" + RECORDS + " allocatedBytes=" + allocated + " perRecord=" + perRecord);
            assertTrue(perRecord < 8, "allocatedBytes=" + allocated + " records=" + RECORDS);
            assertEquals(2L * RECORDS, journal.durableSequence());
        }
    }

    private static void run(Journal journal, JournalEntry entry, MemorySegment payload) {
        for (int i = 0; i < RECORDS; i++) {
            entry.set(RecordType.BLOCK_PUT, 1, payload, JournalCompletion.NONE);
            long sequence = journal.append(entry);
            assert sequence > 0 : sequence;
            journal.writer().doWork();
            if (sequence % RELEASE_EVERY == 0) {
                journal.release(sequence);
            }
        }
    }
}
