package io.hashbrick.node.api.tcp;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SocketChannel;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.zip.CRC32C;

/**
 * The sending half of a connection: frames are encoded straight into a buffer under one lock, and
 * written by whichever thread found no write going on (smart batching, as the Disruptor's
 * {@code endOfBatch}): it swaps the filled buffer with the drained one, writes it outside the lock, and
 * goes again while others appended meanwhile. An idle connection's frame goes out at once from its
 * caller's thread (no hand-off); a busy one's frames go out together in one write. No thread of its
 * own, nothing allocated per frame. A caller waits only when a whole buffer is queued behind a write.
 */
final class FrameWriter {
    /** Two of the largest frames: any frame fits in an empty buffer. */
    static final int BUFFER_BYTES = 2 * Frame.MAX_FRAME_BYTES;

    private final SocketChannel channel;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition room = lock.newCondition();
    private final CRC32C crc = new CRC32C();
    private ByteBuffer fill = ByteBuffer.allocateDirect(BUFFER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
    private ByteBuffer drain = ByteBuffer.allocateDirect(BUFFER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
    private boolean writing;
    private boolean dead;
    /** When the write in progress last made progress ({@code System.nanoTime()}); 0: none going on. */
    private volatile long progressNs;

    private int start;

    FrameWriter(SocketChannel channel) {
        this.channel = channel;
    }

    /**
     * Takes the lock and starts a frame of at most {@code maxBytes} (header included): the caller
     * writes its payload into the buffer returned, then calls {@link #send} (or {@link #abort}).
     *
     * @throws IOException the connection is closed (the lock is not held then)
     */
    ByteBuffer open(int type, long requestId, int maxBytes) throws IOException {
        return open(type, requestId, maxBytes, Long.MAX_VALUE);
    }

    /**
     * As {@link #open(int, long, int)}, waiting for room no later than {@code deadlineNs} ({@code
     * System.nanoTime()}; {@code Long.MAX_VALUE}: no limit): a peer that stopped reading fails the send.
     */
    ByteBuffer open(int type, long requestId, int maxBytes, long deadlineNs) throws IOException {
        if (maxBytes > Frame.MAX_FRAME_BYTES) {
            throw new IllegalArgumentException("frame_bytes=" + maxBytes + " max=" + Frame.MAX_FRAME_BYTES);
        }
        lock.lock();
        while (!dead && fill.remaining() < maxBytes) {
            if (deadlineNs == Long.MAX_VALUE) {
                room.awaitUninterruptibly(); // a whole buffer waits behind the write in progress
            } else {
                long left = deadlineNs - System.nanoTime();
                if (left <= 0) {
                    lock.unlock();
                    throw new IOException("send stalled past the call's deadline: the peer reads nothing");
                }
                try {
                    room.awaitNanos(left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    lock.unlock();
                    throw new IOException("interrupted waiting to send");
                }
            }
        }
        if (dead) {
            lock.unlock();
            throw new IOException("connection closed");
        }
        start = fill.position();
        Frame.putHeader(fill, type, requestId);
        return fill;
    }

    /** Drops the frame begun by {@link #open} and releases the lock. */
    void abort() {
        fill.position(start);
        lock.unlock();
    }

    /** Seals the frame begun by {@link #open}, releases the lock, and writes unless a write is going on. */
    void send() throws IOException {
        Frame.seal(fill, start, crc);
        if (writing) { // that writer takes this frame with its next swap
            lock.unlock();
            return;
        }
        writing = true;
        try {
            while (fill.position() > 0) {
                ByteBuffer out = fill;
                fill = drain;
                drain = out;
                room.signalAll();
                lock.unlock();
                try {
                    out.flip();
                    progressNs = System.nanoTime();
                    while (out.hasRemaining()) {
                        if (channel.write(out) > 0) {
                            progressNs = System.nanoTime();
                        }
                    }
                    out.clear();
                    progressNs = 0;
                } finally {
                    lock.lock();
                }
            }
        } catch (IOException e) {
            dead = true;
            room.signalAll();
            throw e;
        } finally {
            writing = false;
            lock.unlock();
        }
    }

    /**
     * Whether a write has been blocked (the peer's window full, nothing taken) for more than {@code
     * limitNs}: a peer that reads nothing holds the writing thread in the kernel until the connection is
     * closed, which only another thread can do (the client's sweeper).
     */
    boolean stalled(long nowNs, long limitNs) {
        long p = progressNs;
        return p != 0 && nowNs - p > limitNs;
    }

    /** No frame is taken after this; callers waiting for room fail. */
    void kill() {
        lock.lock();
        try {
            dead = true;
            room.signalAll();
        } finally {
            lock.unlock();
        }
    }
}
