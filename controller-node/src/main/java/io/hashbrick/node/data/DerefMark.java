package io.hashbrick.node.data;

import io.hashbrick.node.CorruptCheckpointException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;

/**
 * D's checkpoint section of its deref high-water marks: per C (0, the local C of a single node; K,
 * controller K's C in a cluster, sender {@code CONTROLLER_SENDER + K} on the wire), the next outbox
 * position of that C D has not applied (the
 * metadata area checks each section's CRC32C). Version 1 held sender 0's mark only.
 *
 * <pre>
 *  0   magic "HBDM"   u32
 *  4   version        u32 (2)
 *  8   count          u32 (n, marks that are not 0)
 * 12   reserved       u32 (0)
 * 16   n x { c u32, reserved u32, mark u64 }, c ascending
 * </pre>
 */
final class DerefMark {
    static final int MAGIC = 0x4D44_4248; // "HBDM" read as little-endian
    static final int VERSION = 2;
    /** Marks: 0 (a single node's C) and 1..256 (the controllers of a cluster). */
    static final int SENDERS = 257;

    private static final int HEADER = 16;
    private static final int ENTRY = 16;

    private DerefMark() {}

    static void write(long[] marks, WritableByteChannel ch) throws IOException {
        int n = 0;
        for (long m : marks) {
            if (m != 0) {
                n++;
            }
        }
        ByteBuffer b = ByteBuffer.allocate(HEADER + ENTRY * n).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(MAGIC).putInt(VERSION).putInt(n).putInt(0);
        for (int s = 0; s < marks.length; s++) {
            if (marks[s] != 0) {
                b.putInt(s).putInt(0).putLong(marks[s]);
            }
        }
        b.flip();
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    /** The marks, indexed by sender ({@link #SENDERS} of them). */
    static long[] read(ReadableByteChannel ch) throws IOException {
        ByteBuffer h = fill(ch, ByteBuffer.allocate(HEADER), "header");
        int magic = h.getInt();
        int version = h.getInt();
        long[] marks = new long[SENDERS];
        if (magic == MAGIC && version == 1) {
            marks[0] = h.getLong();
            if (marks[0] < 0) {
                throw new CorruptCheckpointException("deref mark section invalid: version=1 high_water=" + marks[0]);
            }
            return marks;
        }
        int n = h.getInt();
        if (magic != MAGIC || version != VERSION || n < 0 || n > SENDERS) {
            throw new CorruptCheckpointException("deref mark section invalid: magic=0x" + Integer.toHexString(magic)
                    + " version=" + version + " senders=" + n);
        }
        ByteBuffer b = fill(ch, ByteBuffer.allocate(ENTRY * n), "marks");
        int last = -1;
        for (int i = 0; i < n; i++) {
            int sender = b.getInt();
            b.getInt();
            long mark = b.getLong();
            if (sender <= last || sender >= SENDERS || mark <= 0) {
                throw new CorruptCheckpointException(
                        "deref mark section invalid: sender=" + sender + " previous=" + last + " mark=" + mark);
            }
            marks[sender] = mark;
            last = sender;
        }
        return marks;
    }

    private static ByteBuffer fill(ReadableByteChannel ch, ByteBuffer b, String what) throws IOException {
        b.order(ByteOrder.LITTLE_ENDIAN);
        while (b.hasRemaining()) {
            if (ch.read(b) < 0) {
                throw new CorruptCheckpointException(
                        "deref mark section truncated: part=" + what + " missing=" + b.remaining());
            }
        }
        return b.flip();
    }
}
