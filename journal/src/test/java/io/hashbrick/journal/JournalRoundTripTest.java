package io.hashbrick.journal;

import static io.hashbrick.journal.JournalFixture.appendDurably;
import static io.hashbrick.journal.JournalFixture.formatAndOpen;
import static io.hashbrick.journal.JournalFixture.reopen;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hashbrick.journal.JournalFixture.Collector;
import io.hashbrick.journal.JournalFixture.FakeClock;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class JournalRoundTripTest {
    private static final JournalConfig CONFIG = JournalFixture.smallConfig();

    @Test
    void appendThenReplayReturnsEveryRecord(@TempDir Path dir) throws Exception {
        SplittableRandom random = new SplittableRandom(7);
        List<byte[]> written = new ArrayList<>();
        byte[] types = {RecordType.BLOCK_PUT, RecordType.REFCOUNT_DELTA, RecordType.A2H_MAP, RecordType.CHECKPOINT_MARK
        };
        try (MappedFileRegion region = MappedFileRegion.open(dir.resolve("nvram"), 1 << 17)) {
            Journal journal = formatAndOpen(region, CONFIG, new FakeClock());
            for (int i = 0; i < 50; i++) {
                byte[] p = JournalFixture.payload(random, 1024);
                written.add(p);
                JournalEntry e = JournalFixture.entry(types[i % 4], 100 + i, p);
                assertEquals(i + 1, journal.append(e));
                if (i % 7 == 6) {
                    journal.writer().doWork();
                }
            }
            journal.close();
            assertEquals(50, journal.durableSequence());
        }
        try (MappedFileRegion region = MappedFileRegion.open(dir.resolve("nvram"), 1 << 17)) {
            Collector c = new Collector();
            Journal journal = Journal.open(region, CONFIG, new FakeClock(), JournalMirror.NONE, c);
            assertEquals(
                    ReplayResult.Stop.END_OF_LOG,
                    journal.replayResult().reason(),
                    journal.replayResult().toString());
            assertEquals(50, c.records.size());
            for (int i = 0; i < 50; i++) {
                assertEquals(i + 1, c.records.get(i).sequence());
                assertEquals(types[i % 4], c.records.get(i).type());
                assertEquals(100 + i, c.records.get(i).epoch());
                assertArrayEquals(written.get(i), c.records.get(i).payload());
            }
            assertEquals(51, appendDurably(journal, new byte[] {1, 2, 3}), "appends continue after replay");
        }
    }

    /** Many laps of a small region with destage lagging behind: replay always returns the live window. */
    @ParameterizedTest
    @MethodSource("io.hashbrick.journal.JournalFixture#seeds")
    void wrapAroundKeepsTheLiveRecords(long seed) {
        JournalFixture.withSeed(seed, () -> {
            SplittableRandom random = new SplittableRandom(seed);
            try (MemoryJournalRegion region = new MemoryJournalRegion(4096 + 16 * 1024)) {
                Journal journal = formatAndOpen(region, CONFIG, new FakeClock());
                List<byte[]> all = new ArrayList<>();
                all.add(null); // sequences start at 1
                long released = 0;
                for (int i = 0; i < 600; i++) {
                    byte[] p = JournalFixture.payload(random, 1024);
                    long seq = appendDurably(journal, p);
                    while (seq == Journal.BACK_PRESSURED) {
                        released += 1 + random.nextInt(4);
                        journal.release(Math.min(released, journal.durableSequence()));
                        journal.writer().doWork();
                        seq = appendDurably(journal, p);
                    }
                    assertEquals(all.size(), seq);
                    all.add(p);
                }
                released = journal.writer().releasedSequence();
                assertTrue(
                        journal.metrics().paddingRecords() > 0,
                        journal.metrics().toString());
                assertTrue(journal.metrics().bytesWritten() > 10L * 16 * 1024, "several laps");
                Collector c = reopen(JournalFixture.copyOf(region), CONFIG);
                assertEquals(all.size() - 1 - released, c.records.size());
                for (int i = 0; i < c.records.size(); i++) {
                    long seq = released + 1 + i;
                    assertEquals(seq, c.records.get(i).sequence());
                    assertArrayEquals(all.get((int) seq), c.records.get(i).payload());
                }
            }
        });
    }

    @Test
    void fullRegionReturnsBackPressureAndReleaseFreesSpace() {
        try (MemoryJournalRegion region = new MemoryJournalRegion(4096 + 8 * 1064)) {
            Journal journal = formatAndOpen(region, CONFIG, new FakeClock());
            byte[] p = new byte[1024];
            long last = 0;
            while (true) {
                long seq = appendDurably(journal, p);
                if (seq < 0) {
                    assertEquals(Journal.BACK_PRESSURED, seq);
                    break;
                }
                last = seq;
            }
            assertEquals(7, last, "8 slots less one kept back for the wrap padding");
            assertEquals(1, journal.metrics().backPressured());
            assertEquals(Journal.BACK_PRESSURED, appendDurably(journal, new byte[0]), "still full for a header");
            journal.release(2);
            assertEquals(Journal.BACK_PRESSURED, appendDurably(journal, p), "released only once the writer ran");
            journal.writer().doWork();
            assertEquals(8, appendDurably(journal, p));
            assertEquals(9, appendDurably(journal, p));
            assertEquals(Journal.BACK_PRESSURED, appendDurably(journal, p));
            assertEquals(2 * 1064, journal.metrics().bytesReleased());
            Collector c = reopen(JournalFixture.copyOf(region), CONFIG);
            assertEquals(7, c.records.size(), "3..9");
            assertEquals(3, c.records.get(0).sequence());
        }
    }

    @Test
    void fullQueueReturnsBackPressure() {
        try (MemoryJournalRegion region = new MemoryJournalRegion(1 << 20)) {
            Journal journal = formatAndOpen(region, CONFIG, new FakeClock());
            for (int i = 0; i < CONFIG.queueCapacity(); i++) {
                assertEquals(i + 1, journal.append(JournalFixture.entry(RecordType.A2H_MAP, 1, new byte[16])));
            }
            long before = journal.reservedBytes();
            assertEquals(
                    Journal.BACK_PRESSURED, journal.append(JournalFixture.entry(RecordType.A2H_MAP, 1, new byte[16])));
            assertEquals(before, journal.reservedBytes(), "a refused append holds no space");
            journal.writer().doWork();
            assertEquals(
                    CONFIG.queueCapacity() + 1,
                    journal.append(JournalFixture.entry(RecordType.A2H_MAP, 1, new byte[16])));
            journal.close();
            assertEquals(Journal.CLOSED, journal.append(JournalFixture.entry(RecordType.A2H_MAP, 1, new byte[16])));
            assertEquals(CONFIG.queueCapacity() + 1, journal.durableSequence(), "close drains the queue");
        }
    }

    @Test
    void releasedRecordsAreNotReplayedAndTheStartSurvivesReopen() {
        try (MemoryJournalRegion region = new MemoryJournalRegion(1 << 16)) {
            Journal journal = formatAndOpen(region, CONFIG, new FakeClock());
            for (int i = 0; i < 10; i++) {
                appendDurably(journal, new byte[] {(byte) i});
            }
            journal.release(4);
            journal.writer().doWork();
            Collector c = reopen(region, CONFIG);
            assertEquals(6, c.records.size());
            assertEquals(5, c.records.get(0).sequence());
            assertEquals(4, c.records.get(0).payload()[0]);
            Collector again = reopen(region, CONFIG);
            assertEquals(6, again.records.size(), "reopening twice replays the same");
        }
    }
}
