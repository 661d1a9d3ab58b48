package io.hashbrick.node.data;

import io.hashbrick.node.CorruptCheckpointException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;

/**
 * The checkpoint section of C's deref outbox and D's deref high-water mark (the metadata area checks
 * each section's CRC32C):
 *
 * <pre>
 *  0   magic "HBOB"                u32
 *  4   version                     u32 (1)
 *  8   position of the first handle u64  (handles ever queued before it)
 *  16  deref high-water mark       u64   the last operation id D applied for the local C
 *  24  handle count n              u32
 *  28  n handles                   u64 each
 * </pre>
 *
 * @param start outbox position of {@code handles[0]}
 * @param derefHighWater D's last applied deref operation id
 * @param handles the outbox, oldest first
 */
record Outbox(long start, long derefHighWater, long[] handles) {
    static final int MAGIC = 0x424F_4248; // "HBOB" read as little-endian
    static final int VERSION = 1;
    private static final int HEADER_BYTES = 28;

    void write(WritableByteChannel ch) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(HEADER_BYTES + 8 * handles.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(MAGIC).putInt(VERSION).putLong(start).putLong(derefHighWater).putInt(handles.length);
        for (long h : handles) {
            b.putLong(h);
        }
        b.flip();
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    static Outbox read(ReadableByteChannel ch) throws IOException {
        ByteBuffer head = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, head);
        int magic = head.getInt();
        int version = head.getInt();
        long start = head.getLong();
        long high = head.getLong();
        int n = head.getInt();
        if (magic != MAGIC || version != VERSION || n < 0 || n > (1 << 28) || start < 0) {
            throw new CorruptCheckpointException("outbox section invalid: magic=0x" + Integer.toHexString(magic)
                    + " version=" + version + " handles=" + n + " start=" + start);
        }
        ByteBuffer body = ByteBuffer.allocate(8 * n).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, body);
        long[] handles = new long[n];
        for (int i = 0; i < n; i++) {
            handles[i] = body.getLong();
        }
        return new Outbox(start, high, handles);
    }

    private static void readFully(ReadableByteChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            if (ch.read(b) < 0) {
                throw new CorruptCheckpointException("outbox section truncated: missing=" + b.remaining());
            }
        }
        b.flip();
    }
}
