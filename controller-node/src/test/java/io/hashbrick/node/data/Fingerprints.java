package io.hashbrick.node.data;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.SplittableRandom;

/** Test fingerprints: uniform random bytes, which is how SHA-256 output spreads over the 4096 buckets. */
final class Fingerprints {
    static final ValueLayout.OfLong LONG_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private Fingerprints() {}

    /** Fills {@code fp[offset .. offset+32)} with random bytes. */
    static void random(SplittableRandom random, MemorySegment fp, long offset) {
        for (int i = 0; i < 4; i++) {
            fp.set(LONG_LE, offset + 8L * i, random.nextLong());
        }
    }

    /** Fills {@code fp} with random bytes, then forces its top 12 bits to {@code bucket}. */
    static void randomInBucket(SplittableRandom random, MemorySegment fp, long offset, int bucket) {
        random(random, fp, offset);
        setBucket(fp, offset, bucket);
    }

    static void setBucket(MemorySegment fp, long offset, int bucket) {
        fp.set(ValueLayout.JAVA_BYTE, offset, (byte) (bucket >>> 4));
        byte b1 = fp.get(ValueLayout.JAVA_BYTE, offset + 1);
        fp.set(ValueLayout.JAVA_BYTE, offset + 1, (byte) ((bucket & 0xF) << 4 | (b1 & 0x0F)));
    }

    static MemorySegment newSegment() {
        return MemorySegment.ofArray(new byte[H2pHandle.FINGERPRINT_BYTES]);
    }
}
