package io.hashbrick.node;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;

/**
 * The checkpoint section (kind 5) that held C's deref outbox and D's deref high-water mark together,
 * written before C and D checkpointed their own sections (C's {@code MapState}, D's deref mark): read
 * when a pool is upgraded in place, C taking the outbox and D the mark. Never written any more except
 * by tests that make an old pool. The metadata area checks each section's CRC32C:
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
public record LegacyOutbox(long start, long derefHighWater, long[] handles) {
    public static final int KIND = 5;
    static final int MAGIC = 0x424F_4248; // "HBOB" read as little-endian
    static final int VERSION = 1;
    private static final int HEADER_BYTES = 28;

    public void write(WritableByteChannel ch) throws IOException {
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

    public static LegacyOutbox read(ReadableByteChannel ch) throws IOException {
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
        return new LegacyOutbox(start, high, handles);
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
