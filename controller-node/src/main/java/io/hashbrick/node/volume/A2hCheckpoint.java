package io.hashbrick.node.volume;

import io.hashbrick.node.CorruptCheckpointException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.util.zip.CRC32C;

/**
 * The on-disk image of one volume's {@link A2hMap}, written at a checkpoint and read back at restart
 * before the journal is replayed over it (DESIGN.md "Metadata"). Little-endian:
 * <pre>
 *  0   magic "HBA2HCK1"        8 bytes
 *  8   format version          u32 (1)
 *  12  reserved                u32 (0)
 *  16  volume size in blocks   u64
 *  24  mapped blocks (n)       u64
 *  32  n records: block u64, handle u64      (ascending block order)
 *  32+16n  CRC32C of bytes [0, 32+16n)       u32
 * </pre>
 * A checkpoint that fails any check is refused whole ({@link CorruptCheckpointException}): a map is
 * never half restored.
 */
public final class A2hCheckpoint {
    static final long MAGIC = 0x314B_4348_3241_4248L; // "HBA2HCK1" read as little-endian
    static final int VERSION = 1;
    static final int HEADER_BYTES = 32;
    static final int RECORD_BYTES = 16;

    private A2hCheckpoint() {}

    /** Writes {@code map} to {@code out}; returns the bytes written. */
    public static long write(A2hMap map, WritableByteChannel out) throws IOException {
        ByteBuffer buf = ByteBuffer.allocateDirect(64 * 1024).order(ByteOrder.LITTLE_ENDIAN);
        CRC32C crc = new CRC32C();
        buf.putLong(MAGIC).putInt(VERSION).putInt(0).putLong(map.blocks()).putLong(map.mappedBlocks());
        long[] written = {0};
        IOException[] failure = {null};
        map.forEachMapped((block, handle) -> {
            if (failure[0] != null) {
                return;
            }
            if (buf.remaining() < RECORD_BYTES) {
                try {
                    written[0] += drain(buf, out, crc);
                } catch (IOException e) {
                    failure[0] = e;
                    return;
                }
            }
            buf.putLong(block).putLong(handle);
        });
        if (failure[0] != null) {
            throw failure[0];
        }
        written[0] += drain(buf, out, crc);
        buf.putInt((int) crc.getValue()).flip();
        while (buf.hasRemaining()) {
            written[0] += out.write(buf);
        }
        return written[0];
    }

    /** Reads a checkpoint into a new map; throws {@link CorruptCheckpointException} if it is not intact. */
    public static A2hMap read(ReadableByteChannel in) throws IOException {
        ByteBuffer buf = ByteBuffer.allocateDirect(64 * 1024).order(ByteOrder.LITTLE_ENDIAN);
        CRC32C crc = new CRC32C();
        fill(in, buf, HEADER_BYTES);
        long magic = buf.getLong(0);
        int version = buf.getInt(8);
        long blocks = buf.getLong(16);
        long n = buf.getLong(24);
        if (magic != MAGIC || version != VERSION) {
            throw new CorruptCheckpointException(
                    "not an A2H checkpoint: magic=0x" + Long.toHexString(magic) + " version=" + version);
        }
        if (blocks <= 0 || blocks > (1L << 40) || n < 0 || n > blocks) {
            throw new CorruptCheckpointException(
                    "A2H checkpoint header out of range: blocks=" + blocks + " mapped=" + n);
        }
        crc.update(buf.flip());
        A2hMap map = new A2hMap(blocks);
        try {
            long previous = -1;
            for (long i = 0; i < n; i++) {
                buf.clear();
                fill(in, buf, RECORD_BYTES);
                long block = buf.getLong(0);
                long handle = buf.getLong(8);
                if (block <= previous || block >= blocks || handle < 0 || handle > A2hMap.MAX_HANDLE) {
                    throw new CorruptCheckpointException("A2H checkpoint record invalid: index=" + i + " block=" + block
                            + " handle=" + handle + " previous_block=" + previous);
                }
                previous = block;
                crc.update(buf.flip());
                map.put(block, handle);
            }
            buf.clear();
            fill(in, buf, 4);
            int stored = buf.getInt(0);
            if (stored != (int) crc.getValue()) {
                throw new CorruptCheckpointException("A2H checkpoint checksum mismatch: stored=0x"
                        + Integer.toHexString(stored) + " computed=0x" + Integer.toHexString((int) crc.getValue()));
            }
            return map;
        } catch (IOException | RuntimeException e) {
            map.close();
            throw e;
        }
    }

    private static long drain(ByteBuffer buf, WritableByteChannel out, CRC32C crc) throws IOException {
        buf.flip();
        crc.update(buf.duplicate());
        long n = 0;
        while (buf.hasRemaining()) {
            n += out.write(buf);
        }
        buf.clear();
        return n;
    }

    private static void fill(ReadableByteChannel in, ByteBuffer buf, int bytes) throws IOException {
        buf.limit(buf.position() + bytes);
        while (buf.hasRemaining()) {
            if (in.read(buf) < 0) {
                throw new CorruptCheckpointException("A2H checkpoint truncated");
            }
        }
    }
}
