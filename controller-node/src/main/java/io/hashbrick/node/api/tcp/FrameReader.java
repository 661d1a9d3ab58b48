package io.hashbrick.node.api.tcp;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SocketChannel;
import java.util.zip.CRC32C;

/**
 * The receiving half of a connection, for its one reader thread: reads as much as the socket has into
 * one buffer and hands out the whole frames in it, checked (magic, version, length, type, CRC) before
 * any field of the payload is looked at (the Netty frame decoder's order: bound the length first).
 */
final class FrameReader {
    private final SocketChannel channel;
    private final ByteBuffer in =
            ByteBuffer.allocateDirect(2 * Frame.MAX_FRAME_BYTES).order(ByteOrder.LITTLE_ENDIAN);
    private final CRC32C crc = new CRC32C();
    private final boolean replies;
    /** Where the data not yet handed out starts, and ends. */
    private int head;

    private int tail;
    private int frameEnd;
    int type;
    long requestId;

    /** {@code replies}: frames must be replies (a client) or requests (a server). */
    FrameReader(SocketChannel channel, boolean replies) {
        this.channel = channel;
        this.replies = replies;
    }

    /**
     * Blocks until the next whole frame is in; returns the buffer positioned at its payload, limited
     * to its end. {@link #type} and {@link #requestId} are the frame's.
     */
    ByteBuffer next() throws IOException, CorruptFrameException {
        head = frameEnd;
        in.limit(in.capacity()); // the last frame's limit: the next frame may be in already, past it
        while (tail - head < Frame.HEADER_BYTES) {
            fill();
        }
        int magic = in.getInt(head);
        int version = in.getShort(head + 4) & 0xFFFF;
        int t = in.get(head + 6) & 0xFF;
        int length = in.getInt(head + Frame.LENGTH_AT);
        if (magic != Frame.MAGIC) {
            throw new CorruptFrameException("reason=bad_magic magic=0x" + Integer.toHexString(magic));
        }
        if (version != Frame.VERSION) {
            throw new CorruptFrameException("reason=bad_version version=" + version + " want=" + Frame.VERSION);
        }
        if (length < Frame.HEADER_BYTES || length > Frame.MAX_FRAME_BYTES) {
            throw new CorruptFrameException(
                    "reason=bad_length length=" + Integer.toUnsignedString(length) + " max=" + Frame.MAX_FRAME_BYTES);
        }
        int request = t & ~Frame.REPLY;
        if (request < Frame.PROBE || request >= Frame.TYPES || ((t & Frame.REPLY) != 0) != replies) {
            throw new CorruptFrameException("reason=bad_type type=" + t);
        }
        while (tail - head < length) {
            fill();
        }
        int want = in.getInt(head + Frame.CRC_AT);
        int got = Frame.crc(in, head, head + length, crc);
        if (want != got) {
            throw new CorruptFrameException("reason=bad_crc crc=0x" + Integer.toHexString(got) + " want=0x"
                    + Integer.toHexString(want) + " length=" + length + " type=" + t);
        }
        type = request;
        requestId = in.getLong(head + 16);
        frameEnd = head + length;
        in.limit(frameEnd).position(head + Frame.HEADER_BYTES);
        return in;
    }

    /** The payload was read to its end; anything left over is a frame longer than its counts say. */
    void end() throws CorruptFrameException {
        if (in.position() != frameEnd) {
            throw new CorruptFrameException(
                    "reason=bad_payload type=" + type + " unread_bytes=" + (frameEnd - in.position()));
        }
    }

    /** Reads more, first moving the partial frame to the buffer's start when it would not fit after it. */
    private void fill() throws IOException {
        if (in.capacity() - head < Frame.MAX_FRAME_BYTES) {
            in.limit(tail).position(head);
            in.compact();
            tail -= head;
            frameEnd -= head;
            head = 0;
        }
        in.limit(in.capacity()).position(tail);
        int n = channel.read(in);
        if (n < 0) {
            throw new EOFException("connection closed by peer");
        }
        tail += n;
    }
}
