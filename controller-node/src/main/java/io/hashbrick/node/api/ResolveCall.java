package io.hashbrick.node.api;

/** C: the handles of blocks {@code [firstBlock, firstBlock + count)} ({@link Handles#NONE}: unmapped). */
public final class ResolveCall extends RoleCall {
    public int volume;
    public long firstBlock;
    public int count;
    public final long[] handles;
    /**
     * The caller's thread must not wait (the front end's connection thread trying a read from memory):
     * the in-process binding answers from C's map as always (memory, under a lock never held across
     * I/O); a binding that would go over the network answers {@link Status#WOULD_BLOCK} at once.
     */
    public boolean noWait;

    public ResolveCall(int maxBlocks) {
        handles = new long[maxBlocks];
    }
}
