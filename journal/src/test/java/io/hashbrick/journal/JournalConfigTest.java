package io.hashbrick.journal;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

class JournalConfigTest {
    private static void rejects(Executable e, String expected) {
        IllegalArgumentException x = assertThrows(IllegalArgumentException.class, e);
        assertTrue(x.getMessage().contains(expected), x.getMessage());
    }

    @Test
    void badConfigurationNamesTheValue() {
        JournalConfig ok = JournalConfig.defaults();
        rejects(() -> ok.withQueueCapacity(100), "queueCapacity=100");
        rejects(() -> ok.withQueueCapacity(1), "queueCapacity=1");
        rejects(() -> ok.withMaxBatchEntries(0), "maxBatchEntries=0");
        rejects(() -> ok.withMaxBatchEntries(ok.queueCapacity() + 1), "maxBatchEntries=4097");
        rejects(() -> ok.withFlushBytes(8), "flushBytes=8");
        rejects(() -> ok.withMaxWaitNs(-1), "maxWaitNs=-1");
        rejects(() -> ok.withMaxPayloadBytes(-1), "maxPayloadBytes=-1");
        rejects(() -> ok.withMaxPayloadBytes(JournalConfig.MAX_PAYLOAD_LIMIT + 1), "maxPayloadBytes=1048577");
    }

    @Test
    void regionTooSmallForTheRecordsIsRefused() {
        try (MemoryJournalRegion region = new MemoryJournalRegion(8192)) {
            Journal.format(region);
            rejects(
                    () -> Journal.open(
                            region,
                            JournalConfig.defaults(),
                            new JournalFixture.FakeClock(),
                            JournalMirror.NONE,
                            ReplayHandler.NONE),
                    "regionBytes=8192");
        }
        rejects(() -> new MemoryJournalRegion(0), "sizeBytes=0");
    }

    @Test
    void badAppendsAreRefused() {
        try (MemoryJournalRegion region = new MemoryJournalRegion(1 << 16)) {
            Journal journal =
                    JournalFixture.formatAndOpen(region, JournalFixture.smallConfig(), new JournalFixture.FakeClock());
            rejects(
                    () -> journal.append(JournalFixture.entry(RecordType.A2H_MAP, 1, new byte[1025])),
                    "payloadLength=1025");
            rejects(() -> new JournalEntry().set(RecordType.PADDING, 1, null, JournalCompletion.NONE), "type=1");
            JournalEntry e = JournalFixture.entry(RecordType.A2H_MAP, 1, new byte[8]);
            journal.append(e);
            rejects(() -> journal.append(e), "entry appended twice");
            rejects(() -> journal.release(5), "upToSequence=5 durableSequence=0");
        }
    }

    @Test
    void mappedFileOfAnotherSizeIsRefused(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("nvram");
        Files.write(file, new byte[4096]);
        rejects(() -> MappedFileRegion.open(file, 1 << 16), "sizeBytes=4096 expected=65536");
        rejects(() -> MappedFileRegion.open(file, 0), "sizeBytes=0");
    }

    @Test
    void unformattedRegionIsCorrupt() {
        try (MemoryJournalRegion region = new MemoryJournalRegion(1 << 16)) {
            region.segment().fill((byte) 0x5A);
            CorruptRecordException x = assertThrows(
                    CorruptRecordException.class,
                    () -> Journal.open(
                            region,
                            JournalFixture.smallConfig(),
                            new JournalFixture.FakeClock(),
                            JournalMirror.NONE,
                            ReplayHandler.NONE));
            assertTrue(x.getMessage().contains("slot0=invalid"), x.getMessage());
        }
    }
}
