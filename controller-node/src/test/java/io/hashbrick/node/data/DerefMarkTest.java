package io.hashbrick.node.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.hashbrick.node.CorruptCheckpointException;
import io.hashbrick.node.api.DerefCall;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** D's deref marks section: one mark per C, version 1 (one mark) still read, damage refused. */
class DerefMarkTest {
    private static byte[] write(long[] marks) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        DerefMark.write(marks, Channels.newChannel(out));
        return out.toByteArray();
    }

    private static long[] read(byte[] b) throws Exception {
        return DerefMark.read(Channels.newChannel(new ByteArrayInputStream(b)));
    }

    @Test
    void roundTripsEveryControllersMark() throws Exception {
        long[] marks = new long[DerefMark.SENDERS];
        marks[0] = 17;
        marks[1] = 4096;
        marks[256] = 1L << 40;
        byte[] b = write(marks);
        assertEquals(16 + 3 * 16, b.length);
        assertArrayEquals(marks, read(b));
        assertArrayEquals(new long[DerefMark.SENDERS], read(write(new long[DerefMark.SENDERS])));
    }

    @Test
    void versionOneIsTheSingleNodesMark() throws Exception {
        ByteBuffer v1 = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
        v1.putInt(DerefMark.MAGIC).putInt(1).putLong(12345);
        long[] marks = read(v1.array());
        assertEquals(12345, marks[0]);
        assertEquals(12345, Arrays.stream(marks).sum());
    }

    @Test
    void damageIsRefused() throws Exception {
        long[] marks = new long[DerefMark.SENDERS];
        marks[3] = 9;
        marks[5] = 10;
        byte[] good = write(marks);
        byte[] truncated = Arrays.copyOf(good, good.length - 1);
        assertThrows(CorruptCheckpointException.class, () -> read(truncated));
        byte[] unordered = good.clone();
        unordered[16] = 5; // first entry's C = 5, then 5 again
        assertThrows(CorruptCheckpointException.class, () -> read(unordered));
        byte[] badMagic = good.clone();
        badMagic[0] ^= 1;
        assertThrows(CorruptCheckpointException.class, () -> read(badMagic));
        byte[] tooMany = good.clone();
        tooMany[8] = (byte) 0xff;
        tooMany[9] = (byte) 0xff;
        assertThrows(CorruptCheckpointException.class, () -> read(tooMany));
    }

    @Test
    void onlyTheCsOfAClusterAndTheSingleNodesAreDeduplicated() {
        assertEquals(0, DataPath.markIndex(0));
        assertEquals(1, DataPath.markIndex(DerefCall.CONTROLLER_SENDER + 1));
        assertEquals(256, DataPath.markIndex(DerefCall.CONTROLLER_SENDER + 256));
        assertEquals(-1, DataPath.markIndex(1)); // R's give-backs
        assertEquals(-1, DataPath.markIndex(-1)); // recovery
        assertEquals(-1, DataPath.markIndex(DerefCall.CONTROLLER_SENDER));
        assertEquals(-1, DataPath.markIndex(DerefCall.CONTROLLER_SENDER + 257));
    }
}
