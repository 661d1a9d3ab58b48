package io.hashbrick.journal;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.LongStream;

/** Shared test helpers: a fake clock, a replay collector, region copies, seeds. */
final class JournalFixture {
    private JournalFixture() {}

    /** Small batches and records so that wrap-around and triggers happen in a few appends. */
    static JournalConfig smallConfig() {
        return new JournalConfig(64, 16, 4096, 1_000, true, 1024);
    }

    static final class FakeClock implements NanoClock {
        long now = 1_000_000;

        @Override
        public long nanoTime() {
            return now;
        }
    }

    record Rec(byte type, long sequence, long epoch, byte[] payload) {}

    static final class Collector implements ReplayHandler {
        final List<Rec> records = new ArrayList<>();

        @Override
        public void onRecord(
                byte type, long sequence, long epoch, MemorySegment region, long payloadOffset, int payloadLength) {
            byte[] p = region.asSlice(payloadOffset, payloadLength).toArray(ValueLayout.JAVA_BYTE);
            records.add(new Rec(type, sequence, epoch, p));
        }
    }

    static Journal formatAndOpen(JournalRegion region, JournalConfig config, NanoClock clock) {
        Journal.format(region);
        return Journal.open(region, config, clock, JournalMirror.NONE, ReplayHandler.NONE);
    }

    static Collector reopen(JournalRegion region, JournalConfig config) {
        Collector c = new Collector();
        Journal.open(region, config, new FakeClock(), JournalMirror.NONE, c);
        return c;
    }

    static byte[] payload(SplittableRandom random, int maxLength) {
        byte[] p = new byte[random.nextInt(maxLength + 1)];
        random.nextBytes(p);
        return p;
    }

    /** Appends and returns the entry (not yet durable unless the writer runs). */
    static JournalEntry entry(byte type, long epoch, byte[] payload) {
        return new JournalEntry().set(type, epoch, MemorySegment.ofArray(payload), JournalCompletion.NONE);
    }

    static long appendDurably(Journal journal, byte[] payload) {
        JournalEntry e = entry(RecordType.BLOCK_PUT, 7, payload);
        long seq = journal.append(e);
        if (seq < 0) {
            return seq;
        }
        journal.writer().doWork();
        if (e.status() != JournalEntry.DURABLE) {
            throw new AssertionError("not durable after doWork status=" + e.status() + " sequence=" + seq);
        }
        return seq;
    }

    static MemoryJournalRegion copyOf(JournalRegion region) {
        MemoryJournalRegion copy = new MemoryJournalRegion(region.segment().byteSize());
        MemorySegment.copy(
                region.segment(), 0, copy.segment(), 0, region.segment().byteSize());
        return copy;
    }

    /** {@code -Dseed=N} runs only that seed; otherwise a fixed list (CI determinism). */
    static LongStream seeds() {
        Long one = Long.getLong("seed");
        return one != null ? LongStream.of(one) : LongStream.of(1, 2, 3, 42, 0xC0FFEE, 20250101);
    }

    static void withSeed(long seed, Runnable body) {
        try {
            body.run();
        } catch (AssertionError | RuntimeException e) {
            throw new AssertionError("failed seed=" + seed + " (rerun: -Dseed=" + seed + ")", e);
        }
    }
}
