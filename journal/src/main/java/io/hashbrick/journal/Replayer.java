package io.hashbrick.journal;

import io.hashbrick.journal.ReplayResult.Stop;
import java.lang.foreign.MemorySegment;

/**
 * Replays the log from the oldest unreleased record and stops at the first record that fails any
 * check: magic, version, type, length bounds, CRC32C, sequence (exactly one more than the last),
 * incarnation (never decreasing).
 *
 * <p>Why stop, and never skip: a record is acknowledged only after its whole batch, and every batch
 * before it, were persisted, so every acknowledged record precedes the first incomplete one. A torn
 * tail (the batch a crash interrupted) therefore costs only unacknowledged records. A record corrupted
 * in the middle of the log also ends replay there: skipping it would apply later records without it
 * (an A2H change without the block it maps, a refcount delta twice), and the log cannot tell how far
 * the damage reaches. The records after it are recovered from the brick peer's mirror, not guessed.
 */
final class Replayer {
    private final MemorySegment region;
    private final RecordLayout layout;
    private final long dataBytes;

    Replayer(MemorySegment region) {
        this.region = region;
        this.layout = new RecordLayout(region);
        this.dataBytes = region.byteSize() - RegionLayout.DATA_OFFSET;
    }

    ReplayResult replay(RegionLayout.Header header, ReplayHandler handler) {
        long start = header.replayPosition();
        long position = start;
        long expected = header.replaySequence();
        int lastIncarnation = Integer.MIN_VALUE;
        long records = 0;
        long liveBytes = 0;
        Stop stop;
        while (true) { // bounded: position grows by >= 8 per pass and stops after one lap
            if (position - start >= dataBytes) {
                stop = Stop.FULL_LAP;
                break;
            }
            long offset = physical(position);
            long remaining = region.byteSize() - offset;
            if (remaining < RecordLayout.HEADER_BYTES) {
                position += remaining; // too short for a header: the writer skipped it
                continue;
            }
            stop = validate(offset, remaining, expected, lastIncarnation);
            if (stop != null) {
                break;
            }
            lastIncarnation = layout.incarnation(offset);
            if (layout.type(offset) == RecordType.PADDING) {
                position += remaining;
                continue;
            }
            int length = layout.payloadLength(offset);
            handler.onRecord(
                    layout.type(offset),
                    expected,
                    layout.epoch(offset),
                    region,
                    offset + RecordLayout.HEADER_BYTES,
                    length);
            records++;
            expected++;
            position += RecordLayout.recordBytes(length);
            liveBytes += RecordLayout.recordBytes(length);
        }
        return new ReplayResult(
                records, header.replaySequence(), expected, start, position, physical(position), liveBytes, stop);
    }

    /** Null if the record at {@code offset} is valid and next, else why not. */
    private Stop validate(long offset, long remaining, long expected, int lastIncarnation) {
        int magic = layout.magic(offset);
        if (magic != RecordLayout.MAGIC) {
            return magic == 0 ? Stop.END_OF_LOG : Stop.BAD_MAGIC;
        }
        if (layout.version(offset) != RecordLayout.VERSION) {
            return Stop.BAD_VERSION;
        }
        byte type = layout.type(offset);
        boolean padding = type == RecordType.PADDING;
        if (!padding && !RecordType.isUserType(type)) {
            return Stop.BAD_TYPE;
        }
        long length = layout.payloadLength(offset) & 0xFFFF_FFFFL;
        long bytes = RecordLayout.HEADER_BYTES + length;
        if (padding ? bytes != remaining : length > JournalConfig.MAX_PAYLOAD_LIMIT || bytes > remaining) {
            return Stop.BAD_LENGTH;
        }
        if (layout.checksum(offset, padding ? 0 : (int) length) != layout.storedChecksum(offset)) {
            return Stop.BAD_CRC;
        }
        if (layout.sequence(offset) != expected) {
            return Stop.BAD_SEQUENCE;
        }
        if (layout.incarnation(offset) < lastIncarnation) {
            return Stop.STALE_INCARNATION;
        }
        return null;
    }

    private long physical(long position) {
        return RegionLayout.DATA_OFFSET + position % dataBytes;
    }
}
