package io.hashbrick.node.iscsi;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SocketChannel;
import java.util.concurrent.locks.ReentrantLock;
import java.util.zip.CRC32C;

/**
 * PDU framing over one TCP connection (RFC 7143 §11.2): header, additional header segments, data
 * segment with padding, and the optional CRC32C digests (§11.2.2, sent little-endian as initiators
 * expect). Single reader (the connection's thread); senders hold {@link #sendLock}.
 *
 * <p>Both directions are staged in direct buffers: one read syscall usually brings several
 * pipelined PDUs, and their responses accumulate in the send stage until the reader is about to
 * block, so a burst of N commands costs one read and one write ("smart batching"). Data segments
 * larger than {@link #DIRECT_BYTES} bypass the stages in both directions. No allocation per PDU.
 */
final class PduChannel {
    /** Segments at least this large go straight between the socket and the caller's buffer. */
    static final int DIRECT_BYTES = 16 * 1024;

    static final int MAX_AHS_BYTES = 255 * 4;

    private final SocketChannel channel;
    private final ByteBuffer in = ByteBuffer.allocateDirect(256 * 1024);
    private final ByteBuffer out = ByteBuffer.allocateDirect(256 * 1024);
    private final ByteBuffer rx = ByteBuffer.allocateDirect(Bhs.LENGTH + MAX_AHS_BYTES);
    private final ByteBuffer tx = ByteBuffer.allocateDirect(Bhs.LENGTH + Bhs.DIGEST_LENGTH);
    private final ByteBuffer trailer = ByteBuffer.allocateDirect(8).order(ByteOrder.LITTLE_ENDIAN);
    private final ByteBuffer[] gather = new ByteBuffer[3];
    private final CRC32C crc = new CRC32C();
    final ReentrantLock sendLock = new ReentrantLock();

    volatile boolean headerDigest;
    volatile boolean dataDigest;
    /** Nanosecond clock reading when a blocking write began, 0 when none is in progress (stall detection). */
    volatile long writeBlockedSinceNs;

    private final java.util.function.LongSupplier clockNs;
    /** The socket's stream, only for {@link #moreReceived()} (its available() asks the kernel). */
    private final java.io.InputStream socketIn;

    private int dataLength;

    PduChannel(SocketChannel channel, java.util.function.LongSupplier clockNs) {
        this.channel = channel;
        this.socketIn = socketStream(channel);
        this.clockNs = clockNs;
        in.flip();
    }

    private static java.io.InputStream socketStream(SocketChannel channel) {
        try {
            return channel.socket().getInputStream();
        } catch (IOException e) {
            // not connected (a closed channel): the stream would never be asked
            return java.io.InputStream.nullInputStream();
        }
    }

    // ------------------------------------------------------------------ receive

    /** The header of the PDU last received: 48 bytes of BHS then the AHS, big-endian. */
    ByteBuffer header() {
        return rx;
    }

    int dataLength() {
        return dataLength;
    }

    /**
     * Reads the next PDU's header. Returns false on a clean end of stream before any byte of it.
     *
     * @throws DigestException on a header digest mismatch (the connection must then be dropped,
     *     RFC 7143 §7.8: the length fields cannot be trusted)
     */
    boolean receiveHeader() throws IOException {
        if (!fill(Bhs.LENGTH, true)) {
            return false;
        }
        rx.clear();
        copyIn(rx, Bhs.LENGTH);
        int ahs = Bhs.totalAhsLength(rx);
        dataLength = Bhs.dataSegmentLength(rx);
        if (ahs > 0) {
            fill(ahs, false);
            copyIn(rx, ahs);
        }
        rx.flip();
        if (headerDigest) {
            fill(Bhs.DIGEST_LENGTH, false);
            int sent = Integer.reverseBytes(in.getInt());
            crc.reset();
            crc.update(rx);
            rx.rewind();
            if ((int) crc.getValue() != sent) {
                throw new DigestException("header digest mismatch");
            }
        }
        return true;
    }

    /**
     * Reads the data segment of the current PDU: its first {@code keep} bytes into {@code dst} at
     * {@code dst.position()} (which advances), the rest discarded; then padding and digest.
     *
     * @return false if the data digest did not match (the caller sends Reject, RFC 7143 §7.8)
     */
    boolean receiveData(ByteBuffer dst, int keep) throws IOException {
        int total = dataLength;
        int padded = Bhs.padded(total);
        if (dataDigest) {
            crc.reset();
        }
        int start = dst == null ? 0 : dst.position();
        int kept = dst == null ? 0 : Math.min(keep, total);
        if (kept >= DIRECT_BYTES) {
            int staged = Math.min(in.remaining(), kept);
            copyIn(dst, staged);
            readDirect(dst, kept - staged);
        } else if (kept > 0) {
            fill(kept, false);
            copyIn(dst, kept);
        }
        if (dataDigest && kept > 0) {
            digest(dst, start, kept);
        }
        skip(padded - kept);
        if (dataDigest && total > 0) {
            fill(Bhs.DIGEST_LENGTH, false);
            int sent = Integer.reverseBytes(in.getInt());
            return (int) crc.getValue() == sent;
        }
        return true;
    }

    /** Discards {@code n} bytes, feeding them to the data digest. */
    private void skip(int n) throws IOException {
        while (n > 0) {
            if (!in.hasRemaining()) {
                fill(1, false);
            }
            int step = Math.min(n, in.remaining());
            if (dataDigest) {
                int lim = in.limit();
                in.limit(in.position() + step);
                crc.update(in);
                in.limit(lim);
            } else {
                in.position(in.position() + step);
            }
            n -= step;
        }
    }

    private void digest(ByteBuffer b, int from, int len) {
        int p = b.position();
        int l = b.limit();
        b.limit(from + len).position(from);
        crc.update(b);
        b.limit(l).position(p);
    }

    private void copyIn(ByteBuffer dst, int n) {
        int lim = in.limit();
        in.limit(in.position() + n);
        dst.put(in);
        in.limit(lim);
    }

    private void readDirect(ByteBuffer dst, int n) throws IOException {
        int lim = dst.limit();
        dst.limit(dst.position() + n);
        flushIfPending();
        while (dst.hasRemaining()) {
            if (channel.read(dst) < 0) {
                throw new EOFException("connection closed inside a data segment");
            }
        }
        dst.limit(lim);
    }

    /** Makes at least n bytes available in the receive stage; flushes pending sends before blocking. */
    private boolean fill(int n, boolean eofOk) throws IOException {
        if (in.remaining() >= n) {
            return true;
        }
        boolean first = !in.hasRemaining();
        in.compact();
        try {
            while (in.position() < n) {
                flushIfPending();
                if (channel.read(in) < 0) {
                    if (eofOk && first && in.position() == 0) {
                        return false;
                    }
                    throw new EOFException("connection closed inside a PDU");
                }
            }
        } finally {
            in.flip();
        }
        return true;
    }
    /**
     * Whether bytes of a further PDU have arrived: staged after the current one, or readable from the
     * socket without blocking (FIONREAD, one system call; only asked when the staged bytes are used
     * up). Receiving thread only. A false answer may be stale a moment later; it only says that
     * nothing was waiting.
     */
    boolean moreReceived() throws IOException {
        return in.hasRemaining() || socketIn.available() > 0;
    }

    /** Whether bytes of a further PDU are staged after the current one (no system call). */
    boolean moreStaged() {
        return in.hasRemaining();
    }

    // ------------------------------------------------------------------ send

    /** The header under construction, cleared; the caller holds {@link #sendLock}. */
    ByteBuffer beginHeader() {
        assert sendLock.isHeldByCurrentThread();
        tx.clear();
        Bhs.clear(tx);
        return tx;
    }

    /**
     * Queues the header built in {@link #beginHeader()} with {@code len} data bytes of {@code data}
     * starting at {@code off} (data may be null when len is 0). Sets DataSegmentLength itself.
     */
    void send(ByteBuffer data, int off, int len) throws IOException {
        assert sendLock.isHeldByCurrentThread();
        Bhs.dataSegmentLength(tx, len);
        tx.limit(Bhs.LENGTH).position(0);
        int headerBytes = Bhs.LENGTH + (headerDigest ? Bhs.DIGEST_LENGTH : 0);
        if (headerDigest) {
            crc.reset();
            crc.update(tx);
            tx.limit(headerBytes);
            tx.putInt(Bhs.LENGTH, Integer.reverseBytes((int) crc.getValue()));
        }
        tx.limit(headerBytes).position(0);
        int pad = Bhs.padded(len) - len;
        trailer.clear();
        for (int i = 0; i < pad; i++) {
            trailer.put((byte) 0);
        }
        if (dataDigest && len > 0) {
            crc.reset();
            digest(data, off, len);
            trailer.flip();
            crc.update(trailer);
            trailer.limit(8).putInt((int) crc.getValue());
        }
        trailer.flip();
        if (len >= DIRECT_BYTES || out.remaining() < headerBytes + len + 8) {
            flushIfPending();
        }
        if (len >= DIRECT_BYTES) {
            writeGathered(data, off, len);
            return;
        }
        out.put(tx);
        if (len > 0) {
            int p = data.position();
            int l = data.limit();
            data.limit(off + len).position(off);
            out.put(data);
            data.limit(l).position(p);
        }
        out.put(trailer);
    }

    private void writeGathered(ByteBuffer data, int off, int len) throws IOException {
        int p = data.position();
        int l = data.limit();
        data.limit(off + len).position(off);
        gather[0] = tx;
        gather[1] = data;
        gather[2] = trailer;
        long remaining = tx.remaining() + (long) len + trailer.remaining();
        writeBlockedSinceNs = clockNs.getAsLong();
        try {
            while (remaining > 0) {
                remaining -= channel.write(gather, 0, 3);
            }
        } finally {
            writeBlockedSinceNs = 0;
            gather[1] = null;
            data.limit(l).position(p);
        }
    }

    /** Writes whatever the send stage holds. */
    void flushIfPending() throws IOException {
        if (out.position() == 0) {
            return;
        }
        sendLock.lock();
        try {
            out.flip();
            writeBlockedSinceNs = clockNs.getAsLong();
            while (out.hasRemaining()) {
                channel.write(out);
            }
        } finally {
            writeBlockedSinceNs = 0;
            out.clear();
            sendLock.unlock();
        }
    }

    void close() {
        try {
            channel.close();
        } catch (IOException ignored) {
            // closing: nothing left to do with the error
        }
    }

    /** A digest mismatch on a header. */
    static final class DigestException extends IOException {
        DigestException(String message) {
            super(message);
        }
    }
}
