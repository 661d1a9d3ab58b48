package io.hashbrick.node.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hashbrick.node.api.BlockCodec;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReductionIdealTest {
    private static final int B = 4096;

    @TempDir
    Path dir;

    private static byte[] randomBlock(long seed) {
        byte[] b = new byte[B];
        new SplittableRandom(seed).nextBytes(b);
        return b;
    }

    private static byte[] compressibleBlock(int salt) {
        byte[] b = new byte[B];
        for (int i = 0; i < B; i++) {
            b[i] = (byte) (i % 64 < 48 ? 'a' : i + salt);
        }
        return b;
    }

    private static int lz4Length(byte[] block) {
        ByteBuffer in = ByteBuffer.allocateDirect(B).put(0, block);
        ByteBuffer out = ByteBuffer.allocateDirect(BlockCodec.MAX_COMPRESSED_BYTES);
        return new BlockCodec().compress(in, 0, out, 0);
    }

    private Path file(String name, byte[]... blocks) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] b : blocks) {
            out.write(b);
        }
        return Files.write(dir.resolve(name), out.toByteArray());
    }

    @Test
    void zeroBlocksAreNeitherLogicalNorStored() throws Exception {
        ReductionIdeal ideal = new ReductionIdeal();
        ideal.addFile(file("zeros.img", new byte[B], new byte[B], new byte[B]));
        ReductionIdeal.Result r = ideal.result();
        assertEquals(1, r.files());
        assertEquals(3, r.zeroBlocks());
        assertEquals(0, r.nonzeroBlocks());
        assertEquals(0, r.logicalBytes());
        assertEquals(0, r.uniqueBlocks());
        assertEquals(0, r.idealPhysicalBytes());
        assertTrue(r.toJson().contains("\"ideal_data_reduction_ratio\":null"), r.toJson());
    }

    @Test
    void duplicatesAreStoredOnceAcrossFiles() throws Exception {
        byte[] a = randomBlock(1);
        byte[] b = randomBlock(2);
        ReductionIdeal ideal = new ReductionIdeal();
        ideal.addFile(file("one.img", a, new byte[B], b, a));
        ideal.addFile(file("two.img", b, a));
        ReductionIdeal.Result r = ideal.result();
        assertEquals(5 * B, r.logicalBytes());
        assertEquals(5, r.nonzeroBlocks());
        assertEquals(2, r.uniqueBlocks());
        assertEquals(2 * B, r.idealPhysicalBytes());
        assertEquals(2.5, r.dataReductionRatio(), 1e-9);
        assertEquals(2.5, r.dedupRatio(), 1e-9);
        assertEquals(1.0, r.compressionRatio(), 1e-9);
    }

    @Test
    void aRandomBlockCostsAWholeBlock() throws Exception {
        ReductionIdeal ideal = new ReductionIdeal();
        ideal.addFile(file("random.img", randomBlock(3)));
        ReductionIdeal.Result r = ideal.result();
        assertEquals(B, r.idealPhysicalBytes());
        assertEquals(1, r.rawUniqueBlocks());
    }

    @Test
    void aCompressibleBlockCostsItsLz4Length() throws Exception {
        byte[] c1 = compressibleBlock(1);
        byte[] c2 = compressibleBlock(2);
        int n1 = lz4Length(c1);
        int n2 = lz4Length(c2);
        assertTrue(n1 < B / 2 && n2 < B / 2, n1 + " " + n2);
        ReductionIdeal ideal = new ReductionIdeal();
        ideal.addFile(file("db.img", c1, c2, c1));
        ReductionIdeal.Result r = ideal.result();
        assertEquals(2, r.uniqueBlocks());
        assertEquals((long) n1 + n2, r.idealPhysicalBytes());
        assertEquals(0, r.rawUniqueBlocks());
        assertEquals(3.0 * B / (n1 + n2), r.dataReductionRatio(), 1e-9);
    }

    @Test
    void aShortTailIsPaddedWithZeros() throws Exception {
        byte[] full = compressibleBlock(5);
        byte[] tail = new byte[100];
        System.arraycopy(full, 0, tail, 0, 100);
        byte[] padded = new byte[B];
        System.arraycopy(full, 0, padded, 0, 100);
        ReductionIdeal ideal = new ReductionIdeal();
        ideal.addFile(file("tail.img", randomBlock(4), tail));
        ideal.addFile(file("padded.img", padded));
        ReductionIdeal.Result r = ideal.result();
        assertEquals(3, r.nonzeroBlocks());
        assertEquals(2, r.uniqueBlocks(), "the tail padded with zeros is the same block as the padded copy");
        assertEquals(B + lz4Length(padded), r.idealPhysicalBytes());
    }

    @Test
    void filesLargerThanOneReadChunkAreReadWhole() throws Exception {
        int blocks = (8 << 20) / B * 2 + 3; // two 8 MiB read chunks and a bit
        Path big = dir.resolve("big.img");
        ByteBuffer data = ByteBuffer.allocate(blocks * B);
        for (int i = 0; i < blocks; i++) {
            data.putLong(i * B, i + 1L); // every block distinct and non-zero
        }
        Files.write(big, data.array());
        ReductionIdeal ideal = new ReductionIdeal();
        ideal.addFile(big);
        ReductionIdeal.Result r = ideal.result();
        assertEquals(blocks, r.nonzeroBlocks());
        assertEquals(blocks, r.uniqueBlocks());
    }

    @Test
    void theFingerprintSetGrowsAndKeepsEveryKey() {
        ReductionIdeal.FingerprintSet set = new ReductionIdeal.FingerprintSet();
        SplittableRandom rnd = new SplittableRandom(7);
        long[] keys = new long[2 * 100_000];
        for (int i = 0; i < keys.length; i++) {
            keys[i] = rnd.nextLong();
        }
        for (int i = 0; i < keys.length; i += 2) {
            assertTrue(set.add(keys[i], keys[i + 1]));
        }
        assertTrue(set.add(0, 0));
        for (int i = 0; i < keys.length; i += 2) {
            assertTrue(!set.add(keys[i], keys[i + 1]));
        }
        assertTrue(!set.add(0, 0));
        assertEquals(100_001, set.size());
    }
}
