package io.hashbrick.node.tools;

import io.hashbrick.node.api.BlockCodec;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Locale;

/**
 * The ideal data reduction of a set of volume images, computed offline from the same bytes a
 * benchmark writes through iSCSI (issue 3, "Data reduction"): each file is a volume image cut into
 * 4 KiB blocks (a short tail padded with zeros); all-zero blocks are neither stored nor counted as
 * logical data (the node's {@code logical_bytes} is "mapped non-zero host data"); every distinct
 * non-zero block (SHA-256) is stored once at its exact LZ4 length, capped at 4096 bytes (raw) — no
 * headers, no rounding to sectors. It uses the node's own {@link BlockCodec}, so the LZ4 is the same.
 *
 * <p>Usage: {@code ReductionIdeal FILE...}; prints one line of JSON. Distinct blocks are tracked by
 * the first 128 bits of their SHA-256 in an open-addressing table of longs (16 bytes a slot, at most
 * 2/3 full: about 24-48 bytes per unique block), so tens of millions of unique blocks fit in 2 GiB.
 */
public final class ReductionIdeal {
    private static final int BLOCK = BlockCodec.BLOCK_BYTES;
    /** Read size: large sequential reads straight into a direct buffer. */
    private static final int CHUNK = 8 << 20;

    private final BlockCodec codec = new BlockCodec();
    private final byte[] fp = new byte[BlockCodec.FINGERPRINT_BYTES];
    private final ByteBuffer compressed = ByteBuffer.allocateDirect(BlockCodec.MAX_COMPRESSED_BYTES);
    private final FingerprintSet seen = new FingerprintSet();

    private long files;
    private long zeroBlocks;
    private long nonzeroBlocks;
    private long uniqueBlocks;
    private long rawUniqueBlocks;
    private long idealPhysicalBytes;

    /** Accounts the 4 KiB block at {@code block[off, off+4096)}; the buffer's position and limit are kept. */
    public void addBlock(ByteBuffer block, int off) {
        if (BlockCodec.isZero(block, off)) {
            zeroBlocks++;
            return;
        }
        nonzeroBlocks++;
        codec.fingerprint(block, off, fp, 0);
        if (!seen.add(longAt(fp, 0), longAt(fp, 8))) {
            return;
        }
        uniqueBlocks++;
        int stored = codec.compress(block, off, compressed, 0);
        if (stored >= BlockCodec.RAW) {
            rawUniqueBlocks++;
            stored = BlockCodec.RAW;
        }
        idealPhysicalBytes += stored;
    }

    /** Accounts every 4 KiB block of the file; a short last block is padded with zeros. */
    public void addFile(Path file) throws IOException {
        ByteBuffer buf = ByteBuffer.allocateDirect(CHUNK);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            boolean eof = false;
            while (!eof) {
                buf.clear();
                while (buf.hasRemaining()) {
                    if (ch.read(buf) < 0) {
                        eof = true;
                        break;
                    }
                }
                int n = buf.position();
                if (n == 0) {
                    break;
                }
                int padded = (n + BLOCK - 1) / BLOCK * BLOCK;
                while (buf.position() < padded) {
                    buf.put((byte) 0);
                }
                buf.flip();
                for (int off = 0; off < padded; off += BLOCK) {
                    addBlock(buf, off);
                }
            }
        }
        files++;
    }

    public Result result() {
        return new Result(files, zeroBlocks, nonzeroBlocks, uniqueBlocks, rawUniqueBlocks, idealPhysicalBytes);
    }

    /** The totals; ratios are {@code null} in JSON when undefined (no data). */
    public record Result(
            long files,
            long zeroBlocks,
            long nonzeroBlocks,
            long uniqueBlocks,
            long rawUniqueBlocks,
            long idealPhysicalBytes) {
        public long logicalBytes() {
            return nonzeroBlocks * BLOCK;
        }

        /** logical / ideal physical. */
        public double dataReductionRatio() {
            return ratio(logicalBytes(), idealPhysicalBytes);
        }

        /** non-zero blocks / unique blocks. */
        public double dedupRatio() {
            return ratio(nonzeroBlocks, uniqueBlocks);
        }

        /** unique blocks x 4096 / ideal physical. */
        public double compressionRatio() {
            return ratio(uniqueBlocks * BLOCK, idealPhysicalBytes);
        }

        public String toJson() {
            return "{\"files\":" + files
                    + ",\"logical_bytes\":" + logicalBytes()
                    + ",\"nonzero_blocks\":" + nonzeroBlocks
                    + ",\"unique_blocks\":" + uniqueBlocks
                    + ",\"ideal_physical_bytes\":" + idealPhysicalBytes
                    + ",\"ideal_data_reduction_ratio\":" + json(dataReductionRatio())
                    + ",\"ideal_dedup_ratio\":" + json(dedupRatio())
                    + ",\"ideal_compression_ratio\":" + json(compressionRatio())
                    + ",\"zero_blocks\":" + zeroBlocks
                    + ",\"raw_unique_blocks\":" + rawUniqueBlocks
                    + "}";
        }

        private static double ratio(long a, long b) {
            return b == 0 ? Double.NaN : (double) a / b;
        }

        private static String json(double v) {
            return Double.isNaN(v) ? "null" : String.format(Locale.ROOT, "%.4f", v);
        }
    }

    public static void main(String[] args) throws IOException {
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        if (args.length == 0 || args[0].startsWith("-")) {
            System.err.println("usage: ReductionIdeal FILE...   (prints the ideal data reduction as one line of JSON)");
            System.exit(2);
        }
        ReductionIdeal ideal = new ReductionIdeal();
        for (String a : args) {
            ideal.addFile(Path.of(a));
        }
        out.println(ideal.result().toJson());
    }

    private static long longAt(byte[] b, int off) {
        long v = 0;
        for (int i = 0; i < 8; i++) {
            v = (v << 8) | (b[off + i] & 0xFF);
        }
        return v;
    }

    /**
     * A set of 128-bit keys (two longs, here the first half of a SHA-256) with open addressing and
     * linear probing; grows at 2/3 load. The all-zero key, the empty-slot marker, is kept aside.
     */
    static final class FingerprintSet {
        private long[] slots = new long[2 * 1024];
        private int mask = 1023;
        private long size;
        private boolean hasZeroKey;

        /** Adds the key; true if it was not there yet. */
        boolean add(long hi, long lo) {
            if (hi == 0 && lo == 0) {
                if (hasZeroKey) {
                    return false;
                }
                hasZeroKey = true;
                size++;
                return true;
            }
            if (insert(slots, mask, hi, lo)) {
                if (++size * 3 > (long) (mask + 1) * 2) {
                    grow();
                }
                return true;
            }
            return false;
        }

        long size() {
            return size;
        }

        private static boolean insert(long[] table, int mask, long hi, long lo) {
            // The key is a cryptographic hash: its low bits are already uniform.
            int i = (int) lo & mask;
            while (true) {
                long h = table[2 * i];
                long l = table[2 * i + 1];
                if (h == 0 && l == 0) {
                    table[2 * i] = hi;
                    table[2 * i + 1] = lo;
                    return true;
                }
                if (h == hi && l == lo) {
                    return false;
                }
                i = (i + 1) & mask;
            }
        }

        private void grow() {
            int capacity = (mask + 1) * 2;
            if (capacity > (1 << 29)) {
                throw new IllegalStateException("too many unique blocks: " + size);
            }
            long[] bigger = new long[2 * capacity];
            int biggerMask = capacity - 1;
            for (int i = 0; i <= mask; i++) {
                long h = slots[2 * i];
                long l = slots[2 * i + 1];
                if (h != 0 || l != 0) {
                    insert(bigger, biggerMask, h, l);
                }
            }
            slots = bigger;
            mask = biggerMask;
        }
    }
}
