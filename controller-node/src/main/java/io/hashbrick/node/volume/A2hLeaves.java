package io.hashbrick.node.volume;

import io.hashbrick.node.CheckpointInput;
import io.hashbrick.node.CheckpointOutput;
import io.hashbrick.node.CorruptCheckpointException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;

/**
 * One volume's {@link A2hMap} in a checkpoint as its leaves, byte for byte (issue 16 step e,
 * incremental checkpoints): whole (every allocated leaf; a base, or a map created since the last
 * checkpoint) or a delta (the leaves changed since the checkpoint before, a freed one as zeros).
 * Loading applies a volume's sections along the chain in order. Little-endian:
 *
 * <pre>
 * header (40):
 *  0   magic "HBA2HLV1"        8 bytes
 *  8   format version          u32 (1)
 *  12  flags                   u32 (bit 0: whole; else a delta onto the map the chain holds)
 *  16  volume size in blocks   u64 (a map only grows)
 *  24  leaves that follow      u64
 *  32  zero                    u64
 * leaf (328), ascending:
 *  0   region                  u32 (1 GiB of the volume)
 *  4   leaf in the region      u32 (0..4095, 64 blocks each)
 *  8   64 cells of 5 bytes     320 bytes (A2hMap draws them; all zero: no block mapped)
 * trailer:
 *  0   end magic "A2HL"        u32
 *  4   CRC32C of every byte before this field   u32
 * </pre>
 * Any failed check throws {@link CorruptCheckpointException}; the metadata area's own section CRC is
 * checked before any byte is used.
 */
final class A2hLeaves {
    static final long MAGIC = 0x3156_4C48_3241_4248L; // "HBA2HLV1" read as little-endian
    static final int END_MAGIC = 0x4C48_3241; // "A2HL" read as little-endian
    static final int VERSION = 1;
    static final int FLAG_WHOLE = 1;
    static final int HEADER_BYTES = 40;
    static final int LEAF_RECORD_BYTES = 8 + A2hMap.LEAF_BYTES;

    private A2hLeaves() {}

    /**
     * Writes {@code map} whole or its changed leaves, and forgets the changes (a capture).
     * @return leaves written
     */
    static long write(A2hMap map, WritableByteChannel channel, boolean whole) throws IOException {
        CheckpointOutput out = new CheckpointOutput(channel);
        long leaves = whole ? map.leaves() : map.dirtyLeaves();
        out.reserve(HEADER_BYTES)
                .putLong(MAGIC)
                .putInt(VERSION)
                .putInt(whole ? FLAG_WHOLE : 0)
                .putLong(map.blocks())
                .putLong(leaves)
                .putLong(0);
        long[] written = {0};
        map.forEachLeaf(whole, (region, leaf, address) -> {
            ByteBuffer b = out.reserve(LEAF_RECORD_BYTES);
            b.putInt(region).putInt(leaf);
            if (address == 0) {
                for (int i = 0; i < A2hMap.LEAF_BYTES; i += 8) {
                    b.putLong(0L);
                }
            } else {
                A2hMap.copyLeafOut(address, out.segment(), b.position());
                b.position(b.position() + A2hMap.LEAF_BYTES);
            }
            written[0]++;
        });
        if (written[0] != leaves) {
            throw new IllegalStateException(
                    "A2H changed during its checkpoint: leaves=" + leaves + " written=" + written[0]);
        }
        ByteBuffer b = out.reserve(8).putInt(END_MAGIC);
        b.putInt(out.crcSoFar());
        out.flush();
        return leaves;
    }

    /**
     * Applies one section: whole into a new map (returned; {@code onto} is left to the caller), a delta
     * onto {@code onto} (returned). A map built here is closed when a check fails.
     */
    static A2hMap read(ReadableByteChannel channel, A2hMap onto) throws IOException {
        CheckpointInput in = new CheckpointInput(channel);
        ByteBuffer b = in.need(HEADER_BYTES);
        long magic = b.getLong();
        int version = b.getInt();
        int flags = b.getInt();
        long blocks = b.getLong();
        long leaves = b.getLong();
        b.getLong();
        boolean whole = (flags & FLAG_WHOLE) != 0;
        if (magic != MAGIC || version != VERSION || blocks <= 0 || blocks > (1L << 40) || leaves < 0) {
            throw fail(
                    in,
                    "not an A2H leaf section of this format: magic=0x%x version=%d blocks=%d leaves=%d",
                    magic,
                    version,
                    blocks,
                    leaves);
        }
        if (!whole && onto == null) {
            throw fail(in, "A2H delta for a volume with no whole section before it in the chain");
        }
        if (!whole && blocks < onto.blocks()) {
            throw fail(in, "A2H delta shrinks the volume: blocks=%d was=%d", blocks, onto.blocks());
        }
        A2hMap map = whole ? new A2hMap(blocks) : onto;
        boolean ok = false;
        try {
            if (!whole && blocks > map.blocks()) {
                map.grow(blocks);
            }
            long last = -1;
            for (long i = 0; i < leaves; i++) {
                b = in.need(LEAF_RECORD_BYTES);
                long region = Integer.toUnsignedLong(b.getInt());
                long leaf = Integer.toUnsignedLong(b.getInt());
                long key = region << 12 | leaf;
                if (leaf >= A2hMap.LEAVES_PER_REGION || key <= last) {
                    throw fail(in, "A2H leaf out of order or range: region=%d leaf=%d", region, leaf);
                }
                last = key;
                try {
                    map.restoreLeaf((int) Math.min(region, Integer.MAX_VALUE), (int) leaf, in.segment(), b.position());
                } catch (IllegalArgumentException e) {
                    throw fail(in, "A2H leaf refused: %s", e.getMessage());
                }
                b.position(b.position() + A2hMap.LEAF_BYTES);
            }
            b = in.need(8);
            int end = b.getInt();
            int expect = in.crcSoFar(); // every byte before the CRC field, the end magic included
            int stored = b.getInt();
            if (end != END_MAGIC || stored != expect || !in.atEnd()) {
                throw fail(in, "A2H leaf section: bad trailer or CRC (end=0x%x)", end);
            }
            map.restored();
            ok = true;
            return map;
        } finally {
            if (!ok && whole) {
                map.close();
            }
        }
    }

    private static CorruptCheckpointException fail(CheckpointInput in, String format, Object... args) {
        return new CorruptCheckpointException(String.format(format, args) + " offset=" + in.offset());
    }
}
