package io.hashbrick.routing.placement;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.security.MessageDigest;
import org.junit.jupiter.api.Test;

class PlacementTest {
    @Test
    void bucketIsTheTopTwelveBits() throws Exception {
        assertEquals(0xABC, Placement.bucket((byte) 0xAB, (byte) 0xCD));
        assertEquals(0, Placement.bucket((byte) 0, (byte) 0x0F));
        assertEquals(4095, Placement.bucket((byte) 0xFF, (byte) 0xF0));
        byte[] fp = MessageDigest.getInstance("SHA-256").digest(new byte[4096]);
        int b = Placement.bucket(fp[0], fp[1]);
        assertEquals(((fp[0] & 0xff) << 8 | (fp[1] & 0xff)) >>> 4, b);
    }

    @Test
    void handlesPackBucketAndSlotInFortyEightBits() {
        long h = Placement.handle(4095, Placement.MAX_SLOT);
        assertEquals((1L << 48) - 1, h);
        assertEquals(4095, Placement.bucketOf(h));
        assertEquals(Placement.MAX_SLOT, Placement.slotOf(h));
        long h2 = Placement.handle(17, 123_456_789L);
        assertEquals(17, Placement.bucketOf(h2));
        assertEquals(123_456_789L, Placement.slotOf(h2));
        assertThrows(IllegalArgumentException.class, () -> Placement.handle(4096, 0));
        assertThrows(IllegalArgumentException.class, () -> Placement.handle(0, Placement.MAX_SLOT + 1));
    }

    /** The segment form reads the same 12 bits as the byte form, at any offset, over seeded fingerprints. */
    @Test
    void bucketOfASegmentIsTheTopTwelveBitsAtItsOffset() {
        java.util.SplittableRandom random = new java.util.SplittableRandom(0x5EED_0006L);
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            java.lang.foreign.MemorySegment seg = arena.allocate(3 * 32);
            byte[] fp = new byte[32];
            for (int n = 0; n < 10_000; n++) {
                random.nextBytes(fp);
                long offset = 32L * (n % 3);
                java.lang.foreign.MemorySegment.copy(
                        fp, 0, seg, java.lang.foreign.ValueLayout.JAVA_BYTE, offset, fp.length);
                int expected =
                        new java.math.BigInteger(1, fp).shiftRight(256 - 12).intValue();
                assertEquals(expected, Placement.bucket(seg, offset), "n=" + n);
                assertEquals(expected, Placement.bucket(fp[0], fp[1]), "n=" + n);
            }
        }
    }

    @Test
    void regionsAreOneGibOfFourKibBlocks() {
        assertEquals(1L << 30, Placement.REGION_BYTES);
        assertEquals(1L << 18, Placement.BLOCKS_PER_REGION);
        assertEquals(0, Placement.region(0));
        assertEquals(0, Placement.region((1L << 18) - 1));
        assertEquals(1, Placement.region(1L << 18));
        assertEquals((1 << 22) - 1, Placement.region((1L << 40) - 1), "the last block of the largest volume");
        assertEquals(5L << 18, Placement.firstBlock(5));
        assertEquals(Placement.region(Placement.firstBlock(77)), 77);
        assertEquals(0, Placement.regions(0));
        assertEquals(1, Placement.regions(1));
        assertEquals(1, Placement.regions(1L << 18));
        assertEquals(2, Placement.regions((1L << 18) + 1));
        assertEquals(1 << 22, Placement.regions(1L << 40));
    }

    /** Consecutive regions of a volume are consecutive partitions; the scramble is pinned (a format). */
    @Test
    void regionPartitionsFollowEachOtherWithinAVolume() {
        assertEquals(Placement.REGION_PARTITIONS, 4096);
        for (int volume : new int[] {0, 1, 2, 1000, -5, Integer.MAX_VALUE}) {
            int first = Placement.regionPartition(volume, 0);
            java.util.BitSet seen = new java.util.BitSet();
            for (int r = 0; r < Placement.REGION_PARTITIONS; r++) {
                int p = Placement.regionPartition(volume, r);
                assertEquals((first + r) % Placement.REGION_PARTITIONS, p, "volume=" + volume + " region=" + r);
                seen.set(p);
            }
            assertEquals(Placement.REGION_PARTITIONS, seen.cardinality(), "4 TiB of one volume: every partition once");
            assertEquals(first, Placement.regionPartition(volume, Placement.REGION_PARTITIONS), "wraps after 4 TiB");
        }
        assertEquals(0, Placement.scramble(0));
        assertEquals(0x514e_28b7, Placement.scramble(1), "Murmur3 fmix32(1): changing it moves every region");
    }
}
