package io.hashbrick.node.api;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.security.DigestException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Factory;
import net.jpountz.lz4.LZ4SafeDecompressor;

/**
 * What the write path does to every 4 KiB block before placement (DESIGN.md "Write path"): its
 * SHA-256 fingerprint, whether it is all zeros (zeros are never stored: thin provisioning), and LZ4
 * compression of unique blocks, kept raw when compression does not shrink them. One codec per thread:
 * it owns a {@link MessageDigest} and LZ4 state, and allocates nothing per block.
 */
public final class BlockCodec {
    public static final int BLOCK_BYTES = 4096;
    public static final int FINGERPRINT_BYTES = 32;
    /** Stored length meaning "raw": compression did not save anything worth a decompression. */
    public static final int RAW = BLOCK_BYTES;
    /** LZ4's bound for 4 KiB of input: the room {@link #compress} needs at its destination. */
    public static final int MAX_COMPRESSED_BYTES =
            LZ4Factory.fastestInstance().fastCompressor().maxCompressedLength(BLOCK_BYTES);

    private static final MemorySegment ZEROS = MemorySegment.ofArray(new byte[BLOCK_BYTES]);

    private final MessageDigest sha256;
    private final LZ4Compressor compressor = LZ4Factory.fastestInstance().fastCompressor();
    private final LZ4SafeDecompressor decompressor =
            LZ4Factory.fastestInstance().safeDecompressor();

    public BlockCodec() {
        try {
            sha256 = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 unavailable", e);
        }
    }

    /** Writes the SHA-256 of the 4 KiB at {@code block[off, off+4096)} into {@code fp[fpOff, fpOff+32)}. */
    public void fingerprint(ByteBuffer block, int off, byte[] fp, int fpOff) {
        int p = block.position();
        int l = block.limit();
        block.limit(off + BLOCK_BYTES).position(off);
        sha256.update(block);
        block.limit(l).position(p);
        try {
            sha256.digest(fp, fpOff, FINGERPRINT_BYTES);
        } catch (DigestException e) {
            throw new IllegalArgumentException(
                    "fingerprint buffer too small: fp_length=" + fp.length + " offset=" + fpOff, e);
        }
    }

    /** True if the 4 KiB at {@code off} are all zero (vectorised compare). */
    public static boolean isZero(ByteBuffer block, int off) {
        return MemorySegment.ofBuffer(block)
                        .asSlice(off - block.position(), BLOCK_BYTES)
                        .mismatch(ZEROS)
                < 0;
    }

    /**
     * Compresses the 4 KiB at {@code block[off]} into {@code dst[dstOff]}, which must have room for
     * {@link #MAX_COMPRESSED_BYTES} (LZ4's worst case, so incompressible input costs no exception).
     * Returns the stored length: the LZ4 length if it is smaller than the block, else {@link #RAW}
     * with the block copied as it is.
     */
    public int compress(ByteBuffer block, int off, ByteBuffer dst, int dstOff) {
        int n = compressor.compress(block, off, BLOCK_BYTES, dst, dstOff, MAX_COMPRESSED_BYTES);
        if (n < BLOCK_BYTES) {
            return n;
        }
        dst.put(dstOff, block, off, BLOCK_BYTES);
        return RAW;
    }

    /** Expands {@code length} stored bytes at {@code src[srcOff]} into 4 KiB at {@code dst[dstOff]}; false if corrupt. */
    public boolean decompress(ByteBuffer src, int srcOff, int length, ByteBuffer dst, int dstOff) {
        if (length == RAW) {
            dst.put(dstOff, src, srcOff, BLOCK_BYTES);
            return true;
        }
        if (length <= 0 || length > RAW) {
            return false;
        }
        try {
            return decompressor.decompress(src, srcOff, length, dst, dstOff, BLOCK_BYTES) == BLOCK_BYTES;
        } catch (net.jpountz.lz4.LZ4Exception e) {
            return false; // corrupt input: the caller repairs from parity and counts it
        }
    }
}
