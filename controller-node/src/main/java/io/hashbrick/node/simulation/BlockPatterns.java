package io.hashbrick.node.simulation;

import io.hashbrick.node.api.BlockCodec;
import io.hashbrick.routing.placement.Placement;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.SplittableRandom;

/**
 * The blocks a simulation writes: {@link #COUNT} distinct 4 KiB patterns, each starting with its own
 * tag so a block read back names the pattern it holds. Every pattern's fingerprint falls in one of
 * two H2P buckets: a slot freed by an overwrite is soon taken by another pattern (H2P reuses a
 * bucket's freed slots first), which is what an old handle without its generation would then read.
 * Half the patterns compress (runs of a byte), half do not. Made once from a fixed seed: the same in
 * every run, so a seed replays.
 */
final class BlockPatterns {
    static final int COUNT = 48;
    static final int B = BlockCodec.BLOCK_BYTES;
    /** What {@link #identify} answers for a block of zeros. */
    static final int ZERO = -1;
    /** What {@link #identify} answers for a block that is no pattern (another block's bytes, garbage). */
    static final int NONE = -2;

    private static final long TAG = 0x48425349_4D000000L; // "HBSIM" and the pattern number
    private static final int BUCKETS_KEPT = 2;

    private final byte[][] blocks = new byte[COUNT][];
    private final int[] buckets = new int[BUCKETS_KEPT];

    private BlockPatterns() {}

    private static final class Holder {
        static final BlockPatterns INSTANCE = make();
    }

    static BlockPatterns get() {
        return Holder.INSTANCE;
    }

    private static BlockPatterns make() {
        BlockPatterns p = new BlockPatterns();
        BlockCodec codec = new BlockCodec();
        SplittableRandom rnd = new SplittableRandom(0x5EED_B10CL);
        ByteBuffer candidate = ByteBuffer.allocate(B);
        byte[] fp = new byte[BlockCodec.FINGERPRINT_BYTES];
        int kept = 0;
        int bucketsFound = 0;
        for (long tries = 0; kept < COUNT; tries++) {
            if (tries > 50_000_000L) {
                throw new IllegalStateException("simulation patterns: too few in the chosen buckets: kept=" + kept);
            }
            fill(candidate.array(), kept, rnd);
            codec.fingerprint(candidate, 0, fp, 0);
            int bucket = Placement.bucket(MemorySegment.ofArray(fp), 0);
            int known = indexOf(p.buckets, bucketsFound, bucket);
            if (known < 0 && bucketsFound < BUCKETS_KEPT) {
                p.buckets[bucketsFound++] = bucket;
                known = bucketsFound - 1;
            }
            if (known >= 0) {
                p.blocks[kept++] = candidate.array().clone();
            }
        }
        return p;
    }

    private static int indexOf(int[] a, int n, int v) {
        for (int i = 0; i < n; i++) {
            if (a[i] == v) {
                return i;
            }
        }
        return -1;
    }

    /** Pattern {@code id}'s bytes: its tag, then random bytes (odd ids) or runs of a byte (even ids). */
    private static void fill(byte[] b, int id, SplittableRandom rnd) {
        if (id % 2 == 1) {
            for (int i = 0; i < B; i += 8) {
                long v = rnd.nextLong();
                for (int k = 0; k < 8; k++) {
                    b[i + k] = (byte) (v >>> (8 * k));
                }
            }
        } else {
            for (int i = 0; i < B; i += 256) {
                byte v = (byte) rnd.nextInt(256);
                java.util.Arrays.fill(b, i, i + 256, v);
            }
            b[B - 1] = (byte) rnd.nextInt(); // the candidate's own bits: its fingerprint differs per try
            b[B - 2] = (byte) rnd.nextInt();
            b[B - 3] = (byte) rnd.nextInt();
        }
        long tag = TAG | id;
        for (int k = 0; k < 8; k++) {
            b[k] = (byte) (tag >>> (56 - 8 * k));
        }
    }

    /** Copies pattern {@code id} (or zeros for {@link #ZERO}) to {@code dst[at ..]}. */
    void write(int id, ByteBuffer dst, int at) {
        if (id == ZERO) {
            for (int i = 0; i < B; i += 8) {
                dst.putLong(at + i, 0);
            }
        } else {
            dst.put(at, blocks[id], 0, B);
        }
    }

    /** Which pattern the 4 KiB at {@code src[at ..]} hold: an id, {@link #ZERO} or {@link #NONE}. */
    int identify(ByteBuffer src, int at) {
        long tag = src.getLong(at);
        if (tag == 0) {
            for (int i = 0; i < B; i += 8) {
                if (src.getLong(at + i) != 0) {
                    return NONE;
                }
            }
            return ZERO;
        }
        int id = (int) (tag & 0xFFFFFF);
        if ((tag & ~0xFFFFFFL) != TAG || id >= COUNT) {
            return NONE;
        }
        return ByteBuffer.wrap(blocks[id]).equals(src.duplicate().limit(at + B).position(at)) ? id : NONE;
    }

    /** The two H2P buckets every pattern falls in (for the run's summary). */
    int bucket(int i) {
        return buckets[i];
    }
}
