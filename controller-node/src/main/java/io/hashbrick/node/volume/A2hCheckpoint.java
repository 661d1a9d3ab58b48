package io.hashbrick.node.volume;

import io.hashbrick.node.CheckpointInput;
import io.hashbrick.node.CheckpointOutput;
import io.hashbrick.node.CorruptCheckpointException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;

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

    /** Writes {@code map} to {@code channel}; returns the bytes written. */
    public static long write(A2hMap map, WritableByteChannel channel) throws IOException {
        CheckpointOutput out = new CheckpointOutput(channel);
        out.reserve(HEADER_BYTES)
                .putLong(MAGIC)
                .putInt(VERSION)
                .putInt(0)
                .putLong(map.blocks())
                .putLong(map.mappedBlocks());
        IOException[] failure = {null};
        map.forEachMapped((block, handle) -> {
            try {
                if (failure[0] == null) {
                    out.reserve(RECORD_BYTES).putLong(block).putLong(handle);
                }
            } catch (IOException e) {
                failure[0] = e;
            }
        });
        if (failure[0] != null) {
            throw failure[0];
        }
        int crc = out.crcSoFar();
        out.reserve(4).putInt(crc);
        return out.flush();
    }

    /** Reads a checkpoint into a new map; throws {@link CorruptCheckpointException} if it is not intact. */
    public static A2hMap read(ReadableByteChannel channel) throws IOException {
        CheckpointInput in = new CheckpointInput(channel);
        ByteBuffer buf = in.need(HEADER_BYTES);
        long magic = buf.getLong();
        int version = buf.getInt();
        buf.getInt(); // reserved
        long blocks = buf.getLong();
        long n = buf.getLong();
        if (magic != MAGIC || version != VERSION) {
            throw new CorruptCheckpointException(
                    "not an A2H checkpoint: magic=0x" + Long.toHexString(magic) + " version=" + version);
        }
        if (blocks <= 0 || blocks > (1L << 40) || n < 0 || n > blocks) {
            throw new CorruptCheckpointException(
                    "A2H checkpoint header out of range: blocks=" + blocks + " mapped=" + n);
        }
        A2hMap map = new A2hMap(blocks);
        try {
            long previous = -1;
            for (long i = 0; i < n; i++) {
                buf = in.need(RECORD_BYTES);
                long block = buf.getLong();
                long handle = buf.getLong();
                if (block <= previous || block >= blocks || !A2hMap.storable(handle)) {
                    throw new CorruptCheckpointException("A2H checkpoint record invalid: index=" + i + " block=" + block
                            + " handle=" + handle + " previous_block=" + previous);
                }
                previous = block;
                map.put(block, handle);
            }
            int computed = in.crcSoFar();
            int stored = in.need(4).getInt();
            if (stored != computed || !in.atEnd()) {
                throw new CorruptCheckpointException("A2H checkpoint checksum mismatch or trailing bytes: stored=0x"
                        + Integer.toHexString(stored) + " computed=0x" + Integer.toHexString(computed));
            }
            return map;
        } catch (IOException | RuntimeException e) {
            map.close();
            throw e;
        }
    }
}
