package io.hashbrick.node;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.WritableByteChannel;
import java.util.zip.CRC32C;

/**
 * A buffered, CRC32C-summing sink for metadata checkpoints (H2P, A2H): one 64 KiB heap buffer per checkpoint, seen
 * both as a little-endian {@link ByteBuffer} and as a {@link MemorySegment} so entries copy their
 * fingerprint bytes straight in; nothing is allocated per record. Blocking channels only (a write that
 * accepts 0 bytes is retried).
 */
public final class CheckpointOutput {
    public static final int BUFFER_BYTES = 64 * 1024;

    private final WritableByteChannel channel;
    private final byte[] bytes = new byte[BUFFER_BYTES];
    private final ByteBuffer buf = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    private final MemorySegment segment = MemorySegment.ofArray(bytes);
    private final CRC32C crc = new CRC32C();
    private long flushedBytes;
    /** Buffer bytes [0, summed) are in the CRC already. */
    private int summed;

    public CheckpointOutput(WritableByteChannel channel) {
        this.channel = channel;
    }

    /** Makes room for {@code n} contiguous bytes; @return the buffer, positioned where they go */
    public ByteBuffer reserve(int n) throws IOException {
        assert n <= BUFFER_BYTES : "n=" + n;
        if (buf.remaining() < n) {
            flush();
        }
        return buf;
    }

    /** The buffer as a segment: absolute offsets equal the buffer's positions. */
    public MemorySegment segment() {
        return segment;
    }

    /** @return CRC32C of every byte put so far */
    public int crcSoFar() {
        sum();
        return (int) crc.getValue();
    }

    /** Writes out what is buffered. @return bytes written by this output in all */
    public long flush() throws IOException {
        sum();
        summed = 0;
        buf.flip();
        while (buf.hasRemaining()) {
            flushedBytes += channel.write(buf);
        }
        buf.clear();
        return flushedBytes;
    }

    /** Feeds the bytes put since the last call into the CRC. */
    private void sum() {
        crc.update(bytes, summed, buf.position() - summed);
        summed = buf.position();
    }
}
