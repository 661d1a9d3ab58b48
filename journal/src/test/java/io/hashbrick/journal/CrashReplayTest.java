package io.hashbrick.journal;

import static io.hashbrick.journal.JournalFixture.formatAndOpen;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hashbrick.journal.JournalFixture.Collector;
import io.hashbrick.journal.JournalFixture.FakeClock;
import io.hashbrick.journal.ReplayResult.Stop;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Crashes simulated on copies of the region: a torn last record at every byte, random torn tails,
 * bit flips, sequence gaps, leftovers from before a crash, and copies taken while appenders run.
 */
class CrashReplayTest {
    private static final JournalConfig CONFIG = JournalFixture.smallConfig();

    /** What was appended: logical position, payload. Index = sequence - 1. */
    private record Written(long position, byte[] payload) {}

    private static List<Written> fill(Journal journal, SplittableRandom random, int n) {
        List<Written> written = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            byte[] p = JournalFixture.payload(random, 1024);
            JournalEntry e = JournalFixture.entry(RecordType.BLOCK_PUT, 3, p);
            journal.append(e);
            journal.writer().doWork();
            written.add(new Written(e.position(), p));
        }
        return written;
    }

    private static long physical(JournalRegion region, long position) {
        return RegionLayout.DATA_OFFSET + position % (region.segment().byteSize() - RegionLayout.DATA_OFFSET);
    }

    /** Overwrites logical {@code [from, to)} of the data area: zeros, or garbage if random is given. */
    private static void tear(JournalRegion region, long from, long to, SplittableRandom garbage) {
        for (long p = from; p < to; p++) {
            byte b = garbage == null ? 0 : (byte) garbage.nextInt(256);
            region.segment().set(ValueLayout.JAVA_BYTE, physical(region, p), b);
        }
    }

    private static ReplayResult replay(JournalRegion image, Collector into) {
        return Journal.open(image, CONFIG, new FakeClock(), JournalMirror.NONE, into)
                .replayResult();
    }

    @Test
    void tornLastRecordAtEveryByteOffset() {
        SplittableRandom random = new SplittableRandom(11);
        try (MemoryJournalRegion region = new MemoryJournalRegion(1 << 16)) {
            Journal journal = formatAndOpen(region, CONFIG, new FakeClock());
            List<Written> written = fill(journal, random, 20);
            while (written.getLast().payload().length < 100) {
                written.addAll(fill(journal, random, 1));
            }
            int n = written.size();
            Written last = written.getLast();
            long start = last.position();
            long end = start + RecordLayout.HEADER_BYTES + last.payload().length;
            for (int variant = 0; variant < 2; variant++) {
                for (long cut = start; cut < end; cut++) {
                    try (MemoryJournalRegion image = JournalFixture.copyOf(region)) {
                        tear(image, cut, end, variant == 0 ? null : new SplittableRandom(cut));
                        Collector c = new Collector();
                        ReplayResult r = replay(image, c);
                        String ctx = "cut=" + cut + " variant=" + variant + " " + r;
                        assertEquals(n - 1, c.records.size(), ctx);
                        assertEquals(start, r.stopPosition(), ctx);
                        assertArrayEquals(
                                written.get(n - 2).payload(),
                                c.records.getLast().payload(),
                                ctx);
                    }
                }
            }
            Collector whole = new Collector();
            assertEquals(
                    Stop.END_OF_LOG,
                    replay(JournalFixture.copyOf(region), whole).reason());
            assertEquals(n, whole.records.size());
        }
    }

    /** A tail torn at a random logical offset (after wrap-around, through padding too). */
    @ParameterizedTest
    @MethodSource("io.hashbrick.journal.JournalFixture#seeds")
    void randomTornTailsKeepExactlyTheCompleteRecords(long seed) {
        JournalFixture.withSeed(seed, () -> {
            SplittableRandom random = new SplittableRandom(seed);
            try (MemoryJournalRegion region = new MemoryJournalRegion(4096 + 12 * 1024)) {
                Journal journal = formatAndOpen(region, CONFIG, new FakeClock());
                List<Written> written = new ArrayList<>();
                for (int round = 0; round < 8; round++) { // several laps, destage releasing as it goes
                    written.addAll(fill(journal, random, 4));
                    journal.release(journal.durableSequence() - 2);
                    journal.writer().doWork();
                }
                long released = journal.writer().releasedSequence();
                long head = written.get((int) released).position();
                Written last = written.getLast();
                long tail = last.position() + RecordLayout.recordBytes(last.payload().length);
                for (int trial = 0; trial < 50; trial++) {
                    long cut = head + random.nextLong(tail - head + 1);
                    long expected = 0;
                    for (long s = released + 1; s <= written.size(); s++) {
                        Written w = written.get((int) s - 1);
                        if (w.position() + RecordLayout.HEADER_BYTES + w.payload().length <= cut) {
                            expected++;
                        }
                    }
                    try (MemoryJournalRegion image = JournalFixture.copyOf(region)) {
                        tear(image, cut, tail, random.nextBoolean() ? null : random.split());
                        Collector c = new Collector();
                        ReplayResult r = replay(image, c);
                        assertEquals(expected, c.records.size(), "cut=" + cut + " head=" + head + " " + r);
                        for (int i = 0; i < c.records.size(); i++) {
                            assertEquals(released + 1 + i, c.records.get(i).sequence());
                            assertArrayEquals(
                                    written.get((int) released + i).payload(),
                                    c.records.get(i).payload());
                        }
                    }
                }
            }
        });
    }

    @Test
    void bitFlipInTheMiddleStopsReplayThere() {
        try (MemoryJournalRegion region = new MemoryJournalRegion(1 << 16)) {
            Journal journal = formatAndOpen(region, CONFIG, new FakeClock());
            List<Written> written = fill(journal, new SplittableRandom(5), 10);
            Written victim = written.get(4);
            for (int bit = 0; bit < 8; bit++) {
                try (MemoryJournalRegion image = JournalFixture.copyOf(region)) {
                    long at = physical(
                            image, victim.position() + RecordLayout.HEADER_BYTES + victim.payload().length / 2);
                    byte b = image.segment().get(ValueLayout.JAVA_BYTE, at);
                    image.segment().set(ValueLayout.JAVA_BYTE, at, (byte) (b ^ (1 << bit)));
                    Collector c = new Collector();
                    ReplayResult r = replay(image, c);
                    assertEquals(Stop.BAD_CRC, r.reason(), r.toString());
                    assertEquals(4, c.records.size(), "records 6..10 are intact but not skipped to");
                    assertEquals(victim.position(), r.stopPosition());
                }
            }
        }
    }

    @Test
    void sequenceGapStopsReplay() {
        try (MemoryJournalRegion region = new MemoryJournalRegion(1 << 16)) {
            Journal journal = formatAndOpen(region, CONFIG, new FakeClock());
            List<Written> written = fill(journal, new SplittableRandom(6), 10);
            long at = physical(region, written.get(6).position());
            RecordLayout layout = new RecordLayout(region.segment());
            region.segment().set(RecordLayout.LONG, at + RecordLayout.SEQUENCE_OFFSET, 9L); // 7 -> 9, CRC redone
            region.segment()
                    .set(
                            RecordLayout.INT,
                            at + RecordLayout.CRC_OFFSET,
                            layout.checksum(at, written.get(6).payload().length));
            Collector c = new Collector();
            ReplayResult r = replay(JournalFixture.copyOf(region), c);
            assertEquals(Stop.BAD_SEQUENCE, r.reason(), r.toString());
            assertEquals(6, c.records.size());
        }
    }

    /**
     * Record 5 of 10 is torn, 6..10 survive. After the crash the journal writes a new record 5 of the
     * same size, so the old 6 follows it with the "right" sequence: its older incarnation stops replay.
     */
    @Test
    void leftoversFromBeforeACrashAreNotResurrected() {
        SplittableRandom random = new SplittableRandom(9);
        try (MemoryJournalRegion region = new MemoryJournalRegion(1 << 16)) {
            Journal journal = formatAndOpen(region, CONFIG, new FakeClock());
            List<Written> written = fill(journal, random, 10);
            Written five = written.get(4);
            tear(region, five.position() + 3, five.position() + 4, new SplittableRandom(1));
            Collector first = new Collector();
            Journal reopened = Journal.open(region, CONFIG, new FakeClock(), JournalMirror.NONE, first);
            assertEquals(4, first.records.size());
            byte[] replacement = new byte[five.payload().length];
            assertEquals(5, JournalFixture.appendDurably(reopened, replacement));
            Collector second = new Collector();
            ReplayResult r = replay(region, second);
            assertEquals(5, second.records.size(), r.toString());
            assertEquals(Stop.STALE_INCARNATION, r.reason());
            assertArrayEquals(replacement, second.records.getLast().payload());
        }
    }

    /**
     * Copies of the region file taken while appenders run: each replays a gap-free prefix that holds at
     * least every record that was durable before the copy began, each record intact.
     */
    @Test
    @Timeout(60)
    void copiesTakenMidStreamReplayAPrefix(@TempDir Path dir) throws Exception {
        JournalConfig config = JournalConfig.defaults().withMaxPayloadBytes(512);
        Path file = dir.resolve("nvram");
        try (MappedFileRegion region = MappedFileRegion.open(file, 8 << 20)) {
            Journal.format(region);
            Journal journal = Journal.open(region, config, NanoClock.SYSTEM, JournalMirror.NONE, ReplayHandler.NONE);
            journal.startWriterThread("journal-writer-crash");
            AtomicBoolean stop = new AtomicBoolean();
            List<Thread> appenders = new ArrayList<>();
            for (int t = 0; t < 3; t++) {
                int id = t;
                appenders.add(Thread.ofPlatform().start(() -> {
                    SplittableRandom random = new SplittableRandom(id);
                    // 3 x 4000 records of at most 560 bytes fit the region: no release is needed.
                    for (long i = 0; !stop.get() && i < 4_000; i++) {
                        byte[] p = selfDescribing(random.nextLong(), random.nextInt(8, 513));
                        JournalEntry e = JournalFixture.entry(RecordType.BLOCK_PUT, id, p);
                        while (journal.append(e) == Journal.BACK_PRESSURED && !stop.get()) {
                            Thread.yield();
                        }
                    }
                }));
            }
            // Copy for as long as the appenders run (bounded), so copies land in many half-written batches.
            for (int copy = 0; copy < 200 && appenders.stream().anyMatch(Thread::isAlive); copy++) {
                long durableBefore = journal.durableSequence();
                Path image = dir.resolve("copy" + copy);
                Files.copy(file, image);
                try (MappedFileRegion copied = MappedFileRegion.open(image, 8 << 20)) {
                    Collector c = new Collector();
                    ReplayResult r = Journal.open(copied, config, new FakeClock(), JournalMirror.NONE, c)
                            .replayResult();
                    System.out.println("mid_stream_copy copy=" + copy + " durableBefore=" + durableBefore + " " + r);
                    assertTrue(r.records() >= durableBefore, "durableBefore=" + durableBefore + " " + r);
                    for (int i = 0; i < c.records.size(); i++) {
                        assertEquals(i + 1, c.records.get(i).sequence());
                        assertTrue(isSelfConsistent(c.records.get(i).payload()), "sequence=" + (i + 1));
                    }
                }
                Files.delete(image);
            }
            stop.set(true);
            for (Thread t : appenders) {
                t.join();
            }
            journal.close();
        }
    }

    /** 8 bytes of seed, then bytes drawn from it: checkable without knowing the sequence. */
    private static byte[] selfDescribing(long seed, int length) {
        byte[] p = new byte[length];
        MemorySegment.ofArray(p).set(RecordLayout.LONG, 0, seed);
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = 8; i < length; i++) {
            p[i] = (byte) r.nextInt(256);
        }
        return p;
    }

    private static boolean isSelfConsistent(byte[] p) {
        long seed = MemorySegment.ofArray(p).get(RecordLayout.LONG, 0);
        return java.util.Arrays.equals(p, selfDescribing(seed, p.length));
    }
}
