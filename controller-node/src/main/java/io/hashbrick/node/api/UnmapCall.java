package io.hashbrick.node.api;

/**
 * C: unmap blocks {@code [firstBlock, firstBlock + count)} (UNMAP, WRITE SAME with UNMAP); the replaced
 * handles go to C's deref outbox. Also answers provisioning queries: with {@code countRun}, nothing
 * changes and {@code run} is the length of the run of mapped (positive) or unmapped (negative) blocks
 * starting at {@code firstBlock}.
 */
public final class UnmapCall extends RoleCall {
    public int volume;
    public long firstBlock;
    public long count;
    public boolean countRun;
    /** Reply: blocks that were mapped (unmap), or the run (countRun). */
    public long unmapped;

    public long run;
}
