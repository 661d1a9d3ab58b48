package io.hashbrick.sim;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.UUID;
import java.util.zip.CRC32C;

/**
 * The label in an SSD file's first 4 KiB cell, so a DAE recognises its drives after a restart and a
 * controller can tell a replaced drive from the one it knew. Little-endian, offsets derived from each
 * other (after BookKeeper's {@code directentrylogger/Header.java}):
 *
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |                     magic "HBRKSSD1" (8)                      |  0
 *  +---------------------------------------------------------------+
 *  |                     format version (4)                        |  8
 *  +---------------------------------------------------------------+
 *  |                     slot (4)                                  | 12
 *  +---------------------------------------------------------------+
 *  |                     capacity: data bytes (8)                  | 16
 *  +---------------------------------------------------------------+
 *  |                     drive UUID, most significant (8)          | 24
 *  +---------------------------------------------------------------+
 *  |                     drive UUID, least significant (8)         | 32
 *  +---------------------------------------------------------------+
 *  |                     CRC32C of bytes [0, 40) (4)               | 40
 *  +---------------------------------------------------------------+
 *  |                     zero up to 4096                           | 44
 *  +---------------------------------------------------------------+
 *  |                     data area: capacity bytes                 | 4096
 * </pre>
 *
 * The file is exactly {@code 4096 + capacity} bytes. Version 1 is the only version; a reader refuses
 * others by name rather than guessing, so a format change can be upgraded in place deliberately.
 */
record SsdHeader(int slot, long capacityBytes, UUID uuid) {
    static final long MAGIC = 0x3144_5353_4B52_4248L; // "HBRKSSD1" read as a little-endian long
    static final int VERSION = 1;

    static final int MAGIC_OFFSET = 0;
    static final int VERSION_OFFSET = MAGIC_OFFSET + Long.BYTES;
    static final int SLOT_OFFSET = VERSION_OFFSET + Integer.BYTES;
    static final int CAPACITY_OFFSET = SLOT_OFFSET + Integer.BYTES;
    static final int UUID_MSB_OFFSET = CAPACITY_OFFSET + Long.BYTES;
    static final int UUID_LSB_OFFSET = UUID_MSB_OFFSET + Long.BYTES;
    static final int CRC_OFFSET = UUID_LSB_OFFSET + Long.BYTES;
    static final int LENGTH = CRC_OFFSET + Integer.BYTES;

    /** Writes the whole 4 KiB cell (label + zeros) into {@code cell}, position 0, limit 4096. */
    void encode(ByteBuffer cell) {
        cell.clear();
        cell.order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < Ssd.CELL_BYTES; i += Long.BYTES) {
            cell.putLong(i, 0L);
        }
        cell.putLong(MAGIC_OFFSET, MAGIC);
        cell.putInt(VERSION_OFFSET, VERSION);
        cell.putInt(SLOT_OFFSET, slot);
        cell.putLong(CAPACITY_OFFSET, capacityBytes);
        cell.putLong(UUID_MSB_OFFSET, uuid.getMostSignificantBits());
        cell.putLong(UUID_LSB_OFFSET, uuid.getLeastSignificantBits());
        cell.putInt(CRC_OFFSET, crc(cell));
    }

    /** Checks magic, version and CRC, in that order (the first failure names what is wrong). */
    static SsdHeader decode(ByteBuffer cell, Path file) throws CorruptHeaderException {
        cell.order(ByteOrder.LITTLE_ENDIAN);
        long magic = cell.getLong(MAGIC_OFFSET);
        if (magic != MAGIC) {
            throw new CorruptHeaderException("ssd header magic mismatch file=" + file + " expected=0x"
                    + Long.toHexString(MAGIC) + " found=0x" + Long.toHexString(magic));
        }
        int version = cell.getInt(VERSION_OFFSET);
        if (version != VERSION) {
            throw new CorruptHeaderException(
                    "ssd header version unsupported file=" + file + " supported=" + VERSION + " found=" + version);
        }
        int stored = cell.getInt(CRC_OFFSET);
        int computed = crc(cell);
        if (stored != computed) {
            throw new CorruptHeaderException("ssd header crc mismatch file=" + file + " stored=0x"
                    + Integer.toHexString(stored) + " computed=0x" + Integer.toHexString(computed));
        }
        return new SsdHeader(
                cell.getInt(SLOT_OFFSET),
                cell.getLong(CAPACITY_OFFSET),
                new UUID(cell.getLong(UUID_MSB_OFFSET), cell.getLong(UUID_LSB_OFFSET)));
    }

    private static int crc(ByteBuffer cell) {
        CRC32C crc = new CRC32C();
        crc.update(cell.duplicate().position(0).limit(CRC_OFFSET));
        return (int) crc.getValue();
    }
}
