package io.hashbrick.routing.placement;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;

/**
 * The serialized {@link Assignment}: what the cluster map's state machine stores per epoch and sends
 * to controllers. Little-endian, offsets derived from each other, homes only (owners follow from
 * homes and the down flags):
 *
 * <pre>
 *  offset
 *       0  magic "HBRKPLAC" (8)
 *       8  format version (4)
 *      12  n: controllers (4), even, 2..256
 *      16  epoch (8), &gt;= 1
 *      24  controller table, n entries in ascending id order, 9 bytes each:
 *            id (4) | brick (4) | state (1): 0 up, 1 down
 *  24+9n   bucket homes: 4096 x member index (1), an index into the controller table
 *  +4096   region partition homes: 4096 x member index (1)
 *  +4096   CRC32C of every byte before it (4)
 *  total   28 + 9n + 8192 (8.5 KiB for 4 bricks)
 * </pre>
 *
 * Checked in order: length, magic, version, controller count against the length, checksum, then the
 * contents (members, indices, states), each failure naming the offending values.
 */
final class AssignmentCodec {
    static final long MAGIC = 0x4341_4C50_4B52_4248L; // "HBRKPLAC" read as a little-endian long
    static final int VERSION = 1;

    static final int MAGIC_OFFSET = 0;
    static final int VERSION_OFFSET = MAGIC_OFFSET + Long.BYTES;
    static final int COUNT_OFFSET = VERSION_OFFSET + Integer.BYTES;
    static final int EPOCH_OFFSET = COUNT_OFFSET + Integer.BYTES;
    static final int TABLE_OFFSET = EPOCH_OFFSET + Long.BYTES;
    static final int ENTRY_BYTES = Integer.BYTES + Integer.BYTES + 1;
    static final int HEADER_BYTES = TABLE_OFFSET;

    private AssignmentCodec() {}

    static int bucketsOffset(int controllers) {
        return TABLE_OFFSET + controllers * ENTRY_BYTES;
    }

    static int regionsOffset(int controllers) {
        return bucketsOffset(controllers) + Placement.BUCKETS;
    }

    static int crcOffset(int controllers) {
        return regionsOffset(controllers) + Placement.REGION_PARTITIONS;
    }

    static int length(int controllers) {
        return crcOffset(controllers) + Integer.BYTES;
    }

    static byte[] encode(Assignment a) {
        ClusterMembers members = a.members();
        int n = members.size();
        byte[] bytes = new byte[length(n)];
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(MAGIC_OFFSET, MAGIC);
        b.putInt(VERSION_OFFSET, VERSION);
        b.putInt(COUNT_OFFSET, n);
        b.putLong(EPOCH_OFFSET, a.epoch());
        for (int i = 0; i < n; i++) {
            int at = TABLE_OFFSET + i * ENTRY_BYTES;
            b.putInt(at, members.controller(i));
            b.putInt(at + Integer.BYTES, members.brickAt(i));
            b.put(at + 2 * Integer.BYTES, (byte) (a.downAt(i) ? 1 : 0));
        }
        for (int p = 0; p < Placement.BUCKETS; p++) {
            bytes[bucketsOffset(n) + p] = a.bucketHomeIndex(p);
        }
        for (int p = 0; p < Placement.REGION_PARTITIONS; p++) {
            bytes[regionsOffset(n) + p] = a.regionHomeIndex(p);
        }
        b.putInt(crcOffset(n), crc(bytes, crcOffset(n)));
        return bytes;
    }

    static Assignment decode(byte[] bytes) {
        if (bytes.length < HEADER_BYTES) {
            throw fail("assignment truncated: length=" + bytes.length + " header=" + HEADER_BYTES);
        }
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        long magic = b.getLong(MAGIC_OFFSET);
        if (magic != MAGIC) {
            throw fail("assignment magic mismatch: expected=0x" + Long.toHexString(MAGIC) + " found=0x"
                    + Long.toHexString(magic));
        }
        int version = b.getInt(VERSION_OFFSET);
        if (version != VERSION) {
            throw fail("assignment version unsupported: supported=" + VERSION + " found=" + version);
        }
        int n = b.getInt(COUNT_OFFSET);
        if (n < ClusterMembers.CONTROLLERS_PER_BRICK || n > ClusterMembers.MAX_CONTROLLERS) {
            throw fail("assignment controller count out of range: controllers=" + n + " max="
                    + ClusterMembers.MAX_CONTROLLERS);
        }
        if (bytes.length != length(n)) {
            throw fail("assignment length mismatch: controllers=" + n + " expected=" + length(n) + " found="
                    + bytes.length);
        }
        int stored = b.getInt(crcOffset(n));
        int computed = crc(bytes, crcOffset(n));
        if (stored != computed) {
            throw fail("assignment checksum mismatch: stored=0x" + Integer.toHexString(stored) + " computed=0x"
                    + Integer.toHexString(computed));
        }
        try {
            return contents(b, bytes, n);
        } catch (IllegalArgumentException e) {
            throw new CorruptAssignmentException("assignment contents invalid: " + e.getMessage(), e);
        }
    }

    /** The fields after the checksum passed; the constructors check what a map must satisfy. */
    private static Assignment contents(ByteBuffer b, byte[] bytes, int n) {
        int[] controllers = new int[n];
        int[] bricks = new int[n];
        boolean[] down = new boolean[n];
        for (int i = 0; i < n; i++) {
            int at = TABLE_OFFSET + i * ENTRY_BYTES;
            controllers[i] = b.getInt(at);
            bricks[i] = b.getInt(at + Integer.BYTES);
            byte state = b.get(at + 2 * Integer.BYTES);
            if (state != 0 && state != 1) {
                throw new IllegalArgumentException(
                        "controller state unknown: controller=" + controllers[i] + " state=" + state);
            }
            down[i] = state == 1;
            if (i > 0 && controllers[i] <= controllers[i - 1]) {
                throw new IllegalArgumentException("controllers not in ascending order: index=" + i + " id="
                        + controllers[i] + " previous=" + controllers[i - 1]);
            }
        }
        ClusterMembers members = ClusterMembers.of(controllers, bricks);
        byte[] bucketHome = new byte[Placement.BUCKETS];
        System.arraycopy(bytes, bucketsOffset(n), bucketHome, 0, Placement.BUCKETS);
        byte[] regionHome = new byte[Placement.REGION_PARTITIONS];
        System.arraycopy(bytes, regionsOffset(n), regionHome, 0, Placement.REGION_PARTITIONS);
        return new Assignment(b.getLong(EPOCH_OFFSET), members, down, bucketHome, regionHome);
    }

    private static int crc(byte[] bytes, int length) {
        CRC32C crc = new CRC32C();
        crc.update(bytes, 0, length);
        return (int) crc.getValue();
    }

    private static CorruptAssignmentException fail(String message) {
        return new CorruptAssignmentException(message);
    }
}
