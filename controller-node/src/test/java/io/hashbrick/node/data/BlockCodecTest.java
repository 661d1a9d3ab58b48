package io.hashbrick.node.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hashbrick.node.api.BlockCodec;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class BlockCodecTest {
    private final BlockCodec codec = new BlockCodec();

    @Test
    void fingerprintIsSha256OfTheBlock() throws Exception {
        ByteBuffer b = ByteBuffer.allocateDirect(3 * 4096);
        byte[] data = new byte[4096];
        new SplittableRandom(1).nextBytes(data);
        b.put(4096, data);
        byte[] fp = new byte[40];
        codec.fingerprint(b, 4096, fp, 8);
        byte[] want = MessageDigest.getInstance("SHA-256").digest(data);
        byte[] got = new byte[32];
        System.arraycopy(fp, 8, got, 0, 32);
        assertArrayEquals(want, got);
        assertEquals(0, b.position(), "buffer position untouched");
    }

    @Test
    void zeroBlocksAreRecognised() {
        ByteBuffer b = ByteBuffer.allocateDirect(8192);
        assertTrue(BlockCodec.isZero(b, 0));
        b.put(8191, (byte) 1);
        assertTrue(BlockCodec.isZero(b, 0));
        assertFalse(BlockCodec.isZero(b, 4096));
    }

    @Test
    void compressibleBlocksShrinkAndRandomOnesStayRaw() {
        ByteBuffer block = ByteBuffer.allocateDirect(4096);
        ByteBuffer stored = ByteBuffer.allocateDirect(BlockCodec.MAX_COMPRESSED_BYTES);
        ByteBuffer back = ByteBuffer.allocateDirect(4096);
        for (int i = 0; i < 4096; i++) {
            block.put(i, (byte) (i % 64 < 48 ? 0 : i));
        }
        int n = codec.compress(block, 0, stored, 0);
        assertTrue(n < 2048, "compressible: " + n);
        assertTrue(codec.decompress(stored, 0, n, back, 0));
        assertEquals(-1, block.mismatch(back));
        byte[] rnd = new byte[4096];
        new SplittableRandom(2).nextBytes(rnd);
        block.put(0, rnd);
        assertEquals(BlockCodec.RAW, codec.compress(block, 0, stored, 0));
        assertTrue(codec.decompress(stored, 0, BlockCodec.RAW, back, 0));
        assertEquals(-1, block.mismatch(back));
    }

    @Test
    void corruptCompressedDataIsReportedNotThrown() {
        ByteBuffer block = ByteBuffer.allocateDirect(4096);
        ByteBuffer stored = ByteBuffer.allocateDirect(BlockCodec.MAX_COMPRESSED_BYTES);
        int n = codec.compress(block, 0, stored, 0);
        stored.put(0, (byte) 0xff);
        stored.put(1, (byte) 0xff);
        assertFalse(codec.decompress(stored, 0, n, ByteBuffer.allocateDirect(4096), 0));
        assertFalse(codec.decompress(stored, 0, 0, ByteBuffer.allocateDirect(4096), 0));
    }
}
