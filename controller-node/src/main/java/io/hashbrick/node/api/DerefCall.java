package io.hashbrick.node.api;

/**
 * D: drop one reference per handle, idempotent for a sender's stream: the local C's outbox (sender 0)
 * sends {@code operationId} = its outbox position after the batch, so a batch covers positions
 * [operationId - count, operationId) and the owner applies only those past the highest it applied.
 * A batch with none new is answered OK with {@code duplicate} set, changing nothing.
 */
public final class DerefCall extends RoleCall {
    public int count;
    public final long[] handles;
    /** Reply: every position of this batch was applied before (a retry). */
    public boolean duplicate;

    public DerefCall(int maxHandles) {
        handles = new long[maxHandles];
    }
}
