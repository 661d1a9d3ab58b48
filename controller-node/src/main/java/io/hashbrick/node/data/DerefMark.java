package io.hashbrick.node.data;

import io.hashbrick.node.CorruptCheckpointException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;

/**
 * D's checkpoint section of its deref high-water mark: the last outbox position of the local C whose
 * deref D applied (the metadata area checks each section's CRC32C).
 *
 * <pre>
 *  0   magic "HBDM"   u32
 *  4   version        u32 (1)
 *  8   high-water     u64
 * </pre>
 */
final class DerefMark {
    static final int MAGIC = 0x4D44_4248; // "HBDM" read as little-endian
    static final int VERSION = 1;
    private static final int BYTES = 16;

    private DerefMark() {}

    static void write(long highWater, WritableByteChannel ch) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(BYTES).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(MAGIC).putInt(VERSION).putLong(highWater).flip();
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    static long read(ReadableByteChannel ch) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(BYTES).order(ByteOrder.LITTLE_ENDIAN);
        while (b.hasRemaining()) {
            if (ch.read(b) < 0) {
                throw new CorruptCheckpointException("deref mark section truncated: missing=" + b.remaining());
            }
        }
        b.flip();
        int magic = b.getInt();
        int version = b.getInt();
        long high = b.getLong();
        if (magic != MAGIC || version != VERSION || high < 0) {
            throw new CorruptCheckpointException("deref mark section invalid: magic=0x" + Integer.toHexString(magic)
                    + " version=" + version + " high_water=" + high);
        }
        return high;
    }
}
