package io.hashbrick.node;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ReadableByteChannel;
import java.util.zip.CRC32C;

/**
 * A buffered, CRC32C-summing source for metadata checkpoints (H2P, A2H), the mirror of {@link CheckpointOutput}:
 * one 64 KiB heap buffer, nothing allocated per record. Blocking channels only. Running out of bytes is corruption (the
 * checkpoint is truncated), reported with the offset where it happened.
 */
public final class CheckpointInput {
    private final ReadableByteChannel channel;
    private final byte[] bytes = new byte[CheckpointOutput.BUFFER_BYTES];
    private final ByteBuffer buf =
            ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).limit(0);
    private final MemorySegment segment = MemorySegment.ofArray(bytes);
    private final CRC32C crc = new CRC32C();
    /** Buffer bytes [0, summed) are in the CRC already. */
    private int summed;
    /** Stream offset of buffer byte 0. */
    private long bufferStart;

    public CheckpointInput(ReadableByteChannel channel) {
        this.channel = channel;
    }

    /** Makes {@code n} contiguous bytes readable; @return the buffer, positioned at them */
    public ByteBuffer need(int n) throws IOException {
        assert n <= bytes.length : "n=" + n;
        if (buf.remaining() < n) {
            refill(n);
        }
        return buf;
    }

    /** The buffer as a segment: absolute offsets equal the buffer's positions. */
    public MemorySegment segment() {
        return segment;
    }

    /** @return stream offset of the next unread byte */
    public long offset() {
        return bufferStart + buf.position();
    }

    /** @return CRC32C of every byte consumed so far */
    public int crcSoFar() {
        sum();
        return (int) crc.getValue();
    }

    /** @return whether the channel has no byte left after the ones consumed */
    public boolean atEnd() throws IOException {
        return !buf.hasRemaining() && fillOnce() < 0;
    }

    private void refill(int n) throws IOException {
        while (buf.remaining() < n) {
            if (fillOnce() < 0) {
                throw new CorruptCheckpointException("checkpoint truncated: offset=" + offset() + " needed_bytes=" + n
                        + " available_bytes=" + buf.remaining());
            }
        }
    }

    /** Moves unread bytes to the front and reads once. @return bytes read, -1 at end of stream */
    private int fillOnce() throws IOException {
        sum();
        int consumed = buf.position();
        bufferStart += consumed;
        buf.compact(); // now in write mode: position = unread bytes
        summed = 0;
        int read = channel.read(buf);
        buf.flip();
        return read;
    }

    private void sum() {
        crc.update(bytes, summed, buf.position() - summed);
        summed = buf.position();
    }
}
