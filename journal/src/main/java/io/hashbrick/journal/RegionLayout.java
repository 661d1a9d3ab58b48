package io.hashbrick.journal;

import java.lang.foreign.MemorySegment;
import java.util.zip.CRC32C;

/**
 * The journal region: two copies of the region header, then the circular data area of records.
 *
 * <pre>
 * region offset
 *      0  header slot 0 (64 bytes)   \  written alternately, so a torn header write
 *    512  header slot 1 (64 bytes)   /  always leaves the other copy intact
 *   4096  data area: records, circular, until the end of the region
 *
 * header slot (little-endian)
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +---------------------------------------------------------------+
 * |          magic 0x484A4248 (bytes "HBJH" in memory)            |  0
 * +-------------------------------+-------------------------------+
 * |          version (1)          |          slot (0|1)           |  4
 * +-------------------------------+-------------------------------+
 * |                     region bytes (u64)                        |  8
 * +---------------------------------------------------------------+
 * |       generation (u64): +1 per header write, newest wins      | 16
 * +---------------------------------------------------------------+
 * |  replay position (u64): logical byte position of the oldest   | 24
 * |  unreleased record; physical = 4096 + position % data bytes   |
 * +---------------------------------------------------------------+
 * |   replay sequence (u64): the sequence expected at that spot   | 32
 * +---------------------------------------------------------------+
 * |         incarnation (u32)     |      data offset (u32)        | 40
 * +-------------------------------+-------------------------------+
 * |                       reserved (0) 48..59                     | 48
 * +---------------------------------------------------------------+
 * |                  CRC32C of bytes 0..59                        | 60
 * +---------------------------------------------------------------+
 * </pre>
 *
 * <p>Only the start of the log is recorded (it moves on release, rarely). The end is not: replay finds
 * it by validating records from the start until the first one that fails. Positions are logical and
 * never wrap (64 bits of bytes last forever), so full and empty are never ambiguous.
 */
final class RegionLayout {
    static final int MAGIC = 0x484A_4248;
    static final short VERSION = 1;
    static final int SLOT_BYTES = 64;
    static final int SLOT_STRIDE = 512;
    static final int DATA_OFFSET = 4096;
    /** The CRC needs a ByteBuffer view of the whole region: keep it well inside an int. */
    static final long MAX_REGION_BYTES = 1L << 30;

    static final int MAGIC_OFFSET = 0;
    static final int VERSION_OFFSET = 4;
    static final int SLOT_OFFSET = 6;
    static final int REGION_BYTES_OFFSET = 8;
    static final int GENERATION_OFFSET = 16;
    static final int REPLAY_POSITION_OFFSET = 24;
    static final int REPLAY_SEQUENCE_OFFSET = 32;
    static final int INCARNATION_OFFSET = 40;
    static final int DATA_OFFSET_OFFSET = 44;
    static final int CRC_OFFSET = 60;

    static {
        assert CRC_OFFSET + 4 == SLOT_BYTES && SLOT_STRIDE + SLOT_BYTES <= DATA_OFFSET;
    }

    private RegionLayout() {}

    /** The decoded newest valid header. */
    record Header(long generation, long replayPosition, long replaySequence, int incarnation) {}

    static void write(MemorySegment region, JournalRegion persist, Header h) {
        int slot = (int) (h.generation() & 1);
        long base = (long) slot * SLOT_STRIDE;
        MemorySegment s = region.asSlice(base, SLOT_BYTES);
        s.fill((byte) 0);
        s.set(RecordLayout.INT, MAGIC_OFFSET, MAGIC);
        s.set(RecordLayout.SHORT, VERSION_OFFSET, VERSION);
        s.set(RecordLayout.SHORT, SLOT_OFFSET, (short) slot);
        s.set(RecordLayout.LONG, REGION_BYTES_OFFSET, region.byteSize());
        s.set(RecordLayout.LONG, GENERATION_OFFSET, h.generation());
        s.set(RecordLayout.LONG, REPLAY_POSITION_OFFSET, h.replayPosition());
        s.set(RecordLayout.LONG, REPLAY_SEQUENCE_OFFSET, h.replaySequence());
        s.set(RecordLayout.INT, INCARNATION_OFFSET, h.incarnation());
        s.set(RecordLayout.INT, DATA_OFFSET_OFFSET, DATA_OFFSET);
        s.set(RecordLayout.INT, CRC_OFFSET, crc(s));
        persist.persist(base, SLOT_BYTES);
    }

    /** The valid slot with the highest generation. */
    static Header read(MemorySegment region) {
        Header a = decode(region, 0);
        Header b = decode(region, 1);
        if (a == null && b == null) {
            throw new CorruptRecordException(
                    "no valid journal region header slot0=invalid slot1=invalid" + " regionBytes=" + region.byteSize());
        }
        if (a == null) {
            return b;
        }
        if (b == null) {
            return a;
        }
        return a.generation() > b.generation() ? a : b;
    }

    private static Header decode(MemorySegment region, int slot) {
        MemorySegment s = region.asSlice((long) slot * SLOT_STRIDE, SLOT_BYTES);
        if (s.get(RecordLayout.INT, MAGIC_OFFSET) != MAGIC
                || s.get(RecordLayout.SHORT, VERSION_OFFSET) != VERSION
                || s.get(RecordLayout.INT, CRC_OFFSET) != crc(s)) {
            return null;
        }
        long regionBytes = s.get(RecordLayout.LONG, REGION_BYTES_OFFSET);
        int dataOffset = s.get(RecordLayout.INT, DATA_OFFSET_OFFSET);
        long generation = s.get(RecordLayout.LONG, GENERATION_OFFSET);
        if (regionBytes != region.byteSize() || dataOffset != DATA_OFFSET || (generation & 1) != slot) {
            throw new CorruptRecordException("journal region header contradicts its region slot=" + slot
                    + " regionBytes=" + regionBytes + " actual=" + region.byteSize() + " dataOffset=" + dataOffset
                    + " generation=" + generation);
        }
        return new Header(
                generation,
                s.get(RecordLayout.LONG, REPLAY_POSITION_OFFSET),
                s.get(RecordLayout.LONG, REPLAY_SEQUENCE_OFFSET),
                s.get(RecordLayout.INT, INCARNATION_OFFSET));
    }

    private static int crc(MemorySegment slot) {
        CRC32C crc = new CRC32C(); // header writes are rare (open, release): allocation is fine here
        crc.update(slot.asSlice(0, CRC_OFFSET).asByteBuffer());
        return (int) crc.getValue();
    }

    static void check(MemorySegment region, int maxRecordBytes) {
        long size = region.byteSize();
        Checks.argument(size <= MAX_REGION_BYTES, "region too large", "regionBytes", size, "max", MAX_REGION_BYTES);
        Checks.argument(size % RecordLayout.ALIGNMENT == 0, "region size must be a multiple of 8", "regionBytes", size);
        // Four records of the largest size must fit: one may be lost to padding at the wrap, and the
        // log still needs room to make progress while the oldest waits for destage.
        Checks.argument(
                size - DATA_OFFSET >= 4L * maxRecordBytes,
                "region too small for maxPayloadBytes",
                "regionBytes",
                size,
                "maxRecordBytes",
                maxRecordBytes);
    }
}
