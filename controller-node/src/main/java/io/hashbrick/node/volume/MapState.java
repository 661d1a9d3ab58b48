package io.hashbrick.node.volume;

import io.hashbrick.node.CorruptCheckpointException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;

/**
 * C's checkpoint section beside its A2H sections: the position of C's own journal the checkpoint
 * covers, and the deref outbox (the metadata area checks each section's CRC32C):
 *
 * <pre>
 *  0   magic "HBMS"                 u32
 *  4   version                      u32 (1)
 *  8   journal sequence             u64  C's records up to it are in this checkpoint
 *  16  position of the first handle u64  (handles ever queued before it)
 *  24  handle count n               u32
 *  28  n handles                    u64 each
 * </pre>
 *
 * @param journalSequence the last of C's journal records the checkpoint holds
 * @param start outbox position of {@code handles[0]}
 * @param handles the outbox, oldest first
 */
record MapState(long journalSequence, long start, long[] handles) {
    static final int KIND = 7;
    static final int MAGIC = 0x534D_4248; // "HBMS" read as little-endian
    static final int VERSION = 1;
    private static final int HEADER_BYTES = 28;

    void write(WritableByteChannel ch) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(HEADER_BYTES + 8 * handles.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(MAGIC).putInt(VERSION).putLong(journalSequence).putLong(start).putInt(handles.length);
        for (long h : handles) {
            b.putLong(h);
        }
        b.flip();
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    static MapState read(ReadableByteChannel ch) throws IOException {
        ByteBuffer head = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, head);
        int magic = head.getInt();
        int version = head.getInt();
        long sequence = head.getLong();
        long start = head.getLong();
        int n = head.getInt();
        if (magic != MAGIC || version != VERSION || n < 0 || n > (1 << 28) || start < 0 || sequence < 0) {
            throw new CorruptCheckpointException("map state section invalid: magic=0x" + Integer.toHexString(magic)
                    + " version=" + version + " handles=" + n + " start=" + start + " sequence=" + sequence);
        }
        ByteBuffer body = ByteBuffer.allocate(8 * n).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, body);
        long[] handles = new long[n];
        for (int i = 0; i < n; i++) {
            handles[i] = body.getLong();
        }
        return new MapState(sequence, start, handles);
    }

    private static void readFully(ReadableByteChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            if (ch.read(b) < 0) {
                throw new CorruptCheckpointException("map state section truncated: missing=" + b.remaining());
            }
        }
        b.flip();
    }
}
