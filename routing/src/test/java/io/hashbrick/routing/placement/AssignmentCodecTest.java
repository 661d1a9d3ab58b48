package io.hashbrick.routing.placement;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;

class AssignmentCodecTest {
    private static final Assignment MAP = AssignmentTest.grown(3).failover(5);

    @Test
    void roundTripsEveryField() {
        byte[] bytes = MAP.toBytes();
        assertEquals(28 + 9 * 6 + 8192, bytes.length);
        Assignment back = Assignment.parse(bytes);
        assertEquals(MAP, back);
        assertEquals(MAP.hashCode(), back.hashCode());
        assertTrue(back.isDown(5));
        assertEquals(MAP.epoch(), back.epoch());
        assertEquals(Arrays.toString(MAP.bucketOwners()), Arrays.toString(back.bucketOwners()));
        Assignment big = Assignment.initial(ClusterMembers.ofBricks(ClusterMembers.MAX_BRICKS));
        assertEquals(big, Assignment.parse(big.toBytes()));
    }

    @Test
    void refusesBadMagicVersionAndChecksumByName() {
        assertRefused(flip(MAP.toBytes(), 3), "magic mismatch");
        assertRefused(flip(MAP.toBytes(), AssignmentCodec.VERSION_OFFSET), "version unsupported");
        assertRefused(flip(MAP.toBytes(), AssignmentCodec.EPOCH_OFFSET), "checksum mismatch");
        assertRefused(flip(MAP.toBytes(), AssignmentCodec.crcOffset(6) + 1), "checksum mismatch");
        assertRefused(flip(MAP.toBytes(), AssignmentCodec.COUNT_OFFSET), "length mismatch");
        assertRefused(Arrays.copyOf(MAP.toBytes(), 10), "truncated");
        assertRefused(Arrays.copyOf(MAP.toBytes(), MAP.toBytes().length - 1), "length mismatch");
        assertRefused(Arrays.copyOf(MAP.toBytes(), MAP.toBytes().length + 1), "length mismatch");
        assertRefused(new byte[0], "truncated");
    }

    /** Every single byte changed, anywhere, is refused: CRC32C catches every burst of up to 32 bits. */
    @Test
    void refusesEverySingleByteCorruption() {
        byte[] good = MAP.toBytes();
        for (int at = 0; at < good.length; at++) {
            for (int mask : new int[] {0x01, 0x80, 0xff}) {
                byte[] bad = good.clone();
                bad[at] ^= (byte) mask;
                int offset = at;
                CorruptAssignmentException e =
                        assertThrows(CorruptAssignmentException.class, () -> Assignment.parse(bad), "offset=" + offset);
                assertTrue(e.getMessage().startsWith("assignment "), e.getMessage());
            }
        }
    }

    /** Bytes with a valid checksum that no map can have: named, with the offending values. */
    @Test
    void refusesContentsNoMapCanHaveEvenWithAValidChecksum() {
        int n = 6;
        assertContents(b -> b.put(AssignmentCodec.bucketsOffset(n) + 7, (byte) n), "home is no member");
        assertContents(b -> b.put(AssignmentCodec.TABLE_OFFSET + 8, (byte) 2), "controller state unknown");
        assertContents(b -> b.put(AssignmentCodec.TABLE_OFFSET + 4 * 9 + 8, (byte) 1), "both controllers of a brick");
        assertContents(b -> b.putInt(AssignmentCodec.TABLE_OFFSET + 9, 0), "ascending");
        assertContents(b -> b.putInt(AssignmentCodec.TABLE_OFFSET + 4, 2), "exactly two controllers");
        assertContents(b -> b.putLong(AssignmentCodec.EPOCH_OFFSET, 0), "epoch out of range");
    }

    private static void assertContents(java.util.function.Consumer<ByteBuffer> edit, String expected) {
        byte[] bytes = MAP.toBytes();
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        edit.accept(b);
        int crcAt = AssignmentCodec.crcOffset(6);
        CRC32C crc = new CRC32C();
        crc.update(bytes, 0, crcAt);
        b.putInt(crcAt, (int) crc.getValue());
        CorruptAssignmentException e = assertThrows(CorruptAssignmentException.class, () -> Assignment.parse(bytes));
        assertTrue(e.getMessage().startsWith("assignment contents invalid"), e.getMessage());
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }

    private static void assertRefused(byte[] bytes, String expected) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Assignment.parse(bytes));
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }

    private static byte[] flip(byte[] bytes, int at) {
        bytes[at] ^= 0x10;
        return bytes;
    }
}
