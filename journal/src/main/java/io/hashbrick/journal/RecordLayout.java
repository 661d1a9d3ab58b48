package io.hashbrick.journal;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;

/**
 * One journal record: a 40-byte header, the payload, zero fill to the next multiple of 8. All fields
 * little-endian; every record starts 8-byte aligned (the data area starts on a page).
 *
 * <pre>
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +---------------------------------------------------------------+
 * |          magic 0x484A4252 (bytes "RBJH" in memory)            |  0
 * +---------------+---------------+-------------------------------+
 * |  version (1)  |     type      |          flags (0)            |  4
 * +---------------+---------------+-------------------------------+
 * |                        payload length                         |  8
 * +---------------------------------------------------------------+
 * |          incarnation (journal opens since format)             | 12
 * +---------------------------------------------------------------+
 * |                     sequence (u64), +1 per record             | 16
 * |                                                               |
 * +---------------------------------------------------------------+
 * |                 epoch (u64), the cluster-map epoch            | 24
 * |                                                               |
 * +---------------------------------------------------------------+
 * |                         reserved (0)                          | 32
 * +---------------------------------------------------------------+
 * |       CRC32C of bytes 0..35 and of the payload                | 36
 * +---------------------------------------------------------------+
 * |                 payload (length bytes) ...                    | 40
 * |                 ... zero fill to a multiple of 8              |
 * +---------------------------------------------------------------+
 * </pre>
 *
 * <p>A {@link RecordType#PADDING} record fills the end of the region when the next record does not fit
 * before the wrap: its length field covers the rest of the region, it carries the sequence of the record
 * that follows it (it consumes none), and its CRC covers the header only (its "payload" is stale bytes).
 * A gap shorter than a header cannot hold one: replay skips any tail shorter than {@link #HEADER_BYTES}.
 *
 * <p>The incarnation (how many times the journal was opened since it was formatted) never decreases
 * along the log. After a crash the journal resumes writing where replay stopped; a record left over
 * from before the crash that happens to follow the new ones with the "right" sequence number still
 * carries an older incarnation, and replay stops there instead of resurrecting it.
 *
 * <p>One instance per thread: it owns a {@link CRC32C} and a {@link ByteBuffer} view of the region so
 * that checksumming a record allocates nothing.
 */
final class RecordLayout {
    static final int MAGIC = 0x484A_4252; // "RBJH" in memory order: R B J H
    static final byte VERSION = 1;
    static final int MAGIC_OFFSET = 0;
    static final int VERSION_OFFSET = MAGIC_OFFSET + 4;
    static final int TYPE_OFFSET = VERSION_OFFSET + 1;
    static final int FLAGS_OFFSET = TYPE_OFFSET + 1;
    static final int LENGTH_OFFSET = FLAGS_OFFSET + 2;
    static final int INCARNATION_OFFSET = LENGTH_OFFSET + 4;
    static final int SEQUENCE_OFFSET = INCARNATION_OFFSET + 4;
    static final int EPOCH_OFFSET = SEQUENCE_OFFSET + 8;
    static final int RESERVED_OFFSET = EPOCH_OFFSET + 8;
    static final int CRC_OFFSET = RESERVED_OFFSET + 4;
    static final int HEADER_BYTES = CRC_OFFSET + 4;
    static final int ALIGNMENT = 8;

    static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    static {
        assert HEADER_BYTES == 40 && HEADER_BYTES % ALIGNMENT == 0;
    }

    private final MemorySegment region;
    private final ByteBuffer view;
    private final CRC32C crc = new CRC32C();

    RecordLayout(MemorySegment region) {
        this.region = region;
        this.view = region.asByteBuffer(); // once: reused with position/limit for every checksum
    }

    /** Bytes a record with this payload takes in the region, header and fill included. */
    static int recordBytes(int payloadLength) {
        return align(HEADER_BYTES + payloadLength);
    }

    static int align(int bytes) {
        return (bytes + ALIGNMENT - 1) & -ALIGNMENT;
    }

    /** Writes header, payload and fill of one record at {@code offset}, checksum last. */
    void write(long offset, byte type, int incarnation, long sequence, long epoch, MemorySegment payload) {
        int length = (int) payload.byteSize();
        writeHeader(offset, type, length, incarnation, sequence, epoch);
        MemorySegment.copy(payload, 0, region, offset + HEADER_BYTES, length);
        long end = offset + HEADER_BYTES + length;
        for (long fill = end; fill < offset + recordBytes(length); fill++) {
            region.set(ValueLayout.JAVA_BYTE, fill, (byte) 0);
        }
        region.set(INT, offset + CRC_OFFSET, checksum(offset, length));
    }

    /** Writes a padding record that spans {@code bytes} (at least a header) from {@code offset}. */
    void writePadding(long offset, int bytes, int incarnation, long nextSequence) {
        assert bytes >= HEADER_BYTES && bytes % ALIGNMENT == 0 : bytes;
        writeHeader(offset, RecordType.PADDING, bytes - HEADER_BYTES, incarnation, nextSequence, 0);
        region.set(INT, offset + CRC_OFFSET, checksum(offset, 0));
    }

    private void writeHeader(long offset, byte type, int length, int incarnation, long sequence, long epoch) {
        assert offset % ALIGNMENT == 0 : offset;
        region.set(INT, offset + MAGIC_OFFSET, MAGIC);
        region.set(ValueLayout.JAVA_BYTE, offset + VERSION_OFFSET, VERSION);
        region.set(ValueLayout.JAVA_BYTE, offset + TYPE_OFFSET, type);
        region.set(SHORT, offset + FLAGS_OFFSET, (short) 0);
        region.set(INT, offset + LENGTH_OFFSET, length);
        region.set(INT, offset + INCARNATION_OFFSET, incarnation);
        region.set(LONG, offset + SEQUENCE_OFFSET, sequence);
        region.set(LONG, offset + EPOCH_OFFSET, epoch);
        region.set(INT, offset + RESERVED_OFFSET, 0);
    }

    /** CRC32C of the header (without the CRC field) and of {@code checkedPayload} payload bytes. */
    int checksum(long offset, int checkedPayload) {
        crc.reset();
        update(offset, CRC_OFFSET);
        update(offset + HEADER_BYTES, checkedPayload);
        return (int) crc.getValue();
    }

    private void update(long offset, int length) {
        view.clear();
        view.limit(Math.toIntExact(offset + length));
        view.position(Math.toIntExact(offset));
        crc.update(view);
    }

    int magic(long offset) {
        return region.get(INT, offset + MAGIC_OFFSET);
    }

    byte version(long offset) {
        return region.get(ValueLayout.JAVA_BYTE, offset + VERSION_OFFSET);
    }

    byte type(long offset) {
        return region.get(ValueLayout.JAVA_BYTE, offset + TYPE_OFFSET);
    }

    int payloadLength(long offset) {
        return region.get(INT, offset + LENGTH_OFFSET);
    }

    int incarnation(long offset) {
        return region.get(INT, offset + INCARNATION_OFFSET);
    }

    long sequence(long offset) {
        return region.get(LONG, offset + SEQUENCE_OFFSET);
    }

    long epoch(long offset) {
        return region.get(LONG, offset + EPOCH_OFFSET);
    }

    int storedChecksum(long offset) {
        return region.get(INT, offset + CRC_OFFSET);
    }
}
