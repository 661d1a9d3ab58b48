package io.hashbrick.node.api;

import java.nio.ByteBuffer;

/**
 * D: read stored blocks, decompressed and verified against their fingerprints, into the caller's
 * buffer: block i at {@code dst[dstOffset + i * 4096]} (zero copy from D's cache or journal where it
 * can); {@link Handles#NONE} reads as zeros. Per block: OK, {@link Status#STALE_HANDLE} (resolve
 * again) or {@link Status#MEDIUM_ERROR}.
 */
public final class FetchCall extends RoleCall {
    public int count;
    public final long[] handles;
    public ByteBuffer dst;
    public int dstOffset;
    public final Status[] blockStatus;

    public FetchCall(int maxBlocks) {
        handles = new long[maxBlocks];
        blockStatus = new Status[maxBlocks];
    }
}
