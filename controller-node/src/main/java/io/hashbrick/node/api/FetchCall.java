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
    /**
     * The caller's thread must not wait (the front end's connection thread trying a read from memory):
     * D serves the blocks from its memory only (read cache, journal copies, unmapped zeros) and
     * answers {@link Status#WOULD_BLOCK} for the call when one of them would need an SSD read, or its
     * lock is held (nothing is read from an SSD, {@code dst} may hold part of the blocks); a binding
     * that would go over the network answers {@link Status#WOULD_BLOCK} at once.
     */
    public boolean noWait;

    public FetchCall(int maxBlocks) {
        handles = new long[maxBlocks];
        blockStatus = new Status[maxBlocks];
    }
}
