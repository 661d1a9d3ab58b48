package io.hashbrick.node.api;

/**
 * C: map blocks {@code [firstBlock, firstBlock + count)} of a volume to handles ({@link Handles#NONE}:
 * unmap). Answered once the mapping is durable, with the handles it replaced; C dereferences those
 * itself, after the answer, through its durable deref outbox. With {@code conditional}, block i is
 * mapped only if it maps {@code expected[i]} now, else nothing changes and the status is
 * {@link Status#MAP_CONFLICT} (a read-modify-write of part of a block that lost a race).
 */
public final class MapCall extends RoleCall {
    public int volume;
    public long firstBlock;
    public int count;
    public final long[] handles;
    public boolean conditional;
    public final long[] expected;
    /** Reply: what each block mapped before. */
    public final long[] replaced;

    public MapCall(int maxBlocks) {
        handles = new long[maxBlocks];
        expected = new long[maxBlocks];
        replaced = new long[maxBlocks];
    }
}
