package io.hashbrick.node.cluster;

import io.hashbrick.node.CorruptCheckpointException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.zip.CRC32C;

/**
 * The state machine's snapshot file: a fixed header, then the state's image (a {@code StateImage}
 * protobuf). Little-endian, like the node's other on-disk formats.
 *
 * <pre>
 *  offset  size
 *   0       4   magic "HBCS" (Hashbrick Cluster State)
 *   4       2   format version (1)
 *   6       2   header bytes (32): where the payload starts
 *   8       8   Raft term of the last entry applied
 *  16       8   Raft index of the last entry applied
 *  24       4   payload bytes
 *  28       4   CRC32C of bytes [0, 28) and of the payload
 *  32       -   payload
 * </pre>
 *
 * Written to a temporary file, forced, renamed over the final name and the directory forced: a crash
 * leaves the old snapshot or the new one, never half of one. Read back, every field is checked before
 * the payload is trusted; a file that fails is refused whole.
 */
final class SnapshotFile {
    static final int MAGIC = 0x53434248; // "HBCS" in file order
    static final short VERSION = 1;
    static final int HEADER_BYTES = 32;
    static final int CRC_OFFSET = 28;
    /** The state is a few MiB at most (a 4096-entry bucket table, catalogs of thousands of entries). */
    static final int MAX_PAYLOAD_BYTES = 256 << 20;

    private SnapshotFile() {}

    /** What a snapshot file holds, checked. */
    static final class Contents {
        private final long term;
        private final long index;
        private final byte[] payload;

        Contents(long term, long index, byte[] payload) {
            this.term = term;
            this.index = index;
            this.payload = payload;
        }

        long term() {
            return term;
        }

        long index() {
            return index;
        }

        /** The state's image; owned by the caller. */
        byte[] payload() {
            return payload;
        }
    }

    static void write(Path file, long term, long index, byte[] payload) throws IOException {
        if (payload.length > MAX_PAYLOAD_BYTES) {
            throw new IllegalArgumentException(
                    "snapshot payload too large: payload_bytes=" + payload.length + " max=" + MAX_PAYLOAD_BYTES);
        }
        ByteBuffer header = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        header.putInt(MAGIC)
                .putShort(VERSION)
                .putShort((short) HEADER_BYTES)
                .putLong(term)
                .putLong(index)
                .putInt(payload.length);
        CRC32C crc = new CRC32C();
        crc.update(header.array(), 0, CRC_OFFSET);
        crc.update(payload);
        header.putInt((int) crc.getValue()).flip();

        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try (FileChannel ch = FileChannel.open(
                tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
            ByteBuffer body = ByteBuffer.wrap(payload);
            while (header.hasRemaining() || body.hasRemaining()) {
                ch.write(new ByteBuffer[] {header, body});
            }
            ch.force(true);
        }
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        try (FileChannel dir = FileChannel.open(file.getParent(), StandardOpenOption.READ)) {
            dir.force(true);
        }
    }

    static Contents read(Path file) throws IOException {
        long size = Files.size(file);
        if (size < HEADER_BYTES || size > HEADER_BYTES + (long) MAX_PAYLOAD_BYTES) {
            throw fail(
                    file, "file_bytes=" + size + " range=" + HEADER_BYTES + ".." + (HEADER_BYTES + MAX_PAYLOAD_BYTES));
        }
        byte[] bytes = Files.readAllBytes(file);
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        int magic = b.getInt(0);
        if (magic != MAGIC) {
            throw fail(file, "magic=0x" + Integer.toHexString(magic) + " expected=0x" + Integer.toHexString(MAGIC));
        }
        short version = b.getShort(4);
        if (version != VERSION) {
            throw fail(file, "version=" + version + " supported=" + VERSION);
        }
        short headerBytes = b.getShort(6);
        int length = b.getInt(24);
        if (headerBytes != HEADER_BYTES || length != bytes.length - HEADER_BYTES) {
            throw fail(
                    file, "header_bytes=" + headerBytes + " payload_bytes=" + length + " file_bytes=" + bytes.length);
        }
        CRC32C crc = new CRC32C();
        crc.update(bytes, 0, CRC_OFFSET);
        crc.update(bytes, HEADER_BYTES, length);
        int stored = b.getInt(CRC_OFFSET);
        if (stored != (int) crc.getValue()) {
            throw fail(
                    file,
                    "crc32c=0x" + Integer.toHexString(stored) + " computed=0x"
                            + Integer.toHexString((int) crc.getValue()));
        }
        byte[] payload = new byte[length];
        System.arraycopy(bytes, HEADER_BYTES, payload, 0, length);
        return new Contents(b.getLong(8), b.getLong(16), payload);
    }

    private static CorruptCheckpointException fail(Path file, String detail) {
        return new CorruptCheckpointException("cluster snapshot refused: file=" + file + " " + detail);
    }
}
