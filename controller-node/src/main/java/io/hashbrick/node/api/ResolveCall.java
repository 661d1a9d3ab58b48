package io.hashbrick.node.api;

/** C: the handles of blocks {@code [firstBlock, firstBlock + count)} ({@link Handles#NONE}: unmapped). */
public final class ResolveCall extends RoleCall {
    public int volume;
    public long firstBlock;
    public int count;
    public final long[] handles;

    public ResolveCall(int maxBlocks) {
        handles = new long[maxBlocks];
    }
}
