package io.hashbrick.node.api;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;

/**
 * D: take one reference per block, storing the blocks it does not hold. Block i is fingerprint i with,
 * when {@code lengths[i] > 0}, its stored form at {@code data[i * MAX_COMPRESSED_BYTES]} (LZ4, or the
 * 4096 raw bytes). Answered once the new blocks and references are durable, with a handle per block;
 * {@link Status#NEED_DATA} (nothing taken) when a block came without data and its fingerprint is not
 * held: {@code blockStatus} says which.
 */
public final class PutCall extends RoleCall {
    public final int maxBlocks;
    public int count;
    public final byte[] fingerprintBytes;
    public final MemorySegment fingerprints;
    public final ByteBuffer data;
    public final MemorySegment dataSegment;
    public final int[] lengths;
    /** Reply: the handle of each block (status OK). */
    public final long[] handles;
    /** Reply: per block, with status NEED_DATA. */
    public final Status[] blockStatus;

    public PutCall(int maxBlocks) {
        this.maxBlocks = maxBlocks;
        fingerprintBytes = new byte[maxBlocks * BlockCodec.FINGERPRINT_BYTES];
        fingerprints = MemorySegment.ofArray(fingerprintBytes);
        data = ByteBuffer.allocateDirect(maxBlocks * BlockCodec.MAX_COMPRESSED_BYTES);
        dataSegment = MemorySegment.ofBuffer(data);
        lengths = new int[maxBlocks];
        handles = new long[maxBlocks];
        blockStatus = new Status[maxBlocks];
    }
}
