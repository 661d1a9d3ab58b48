package io.hashbrick.node.api;

/**
 * D: drop one reference per handle, idempotent for a sender's stream: a C's outbox (sender 0 on a
 * single node, the controller's number in a cluster) sends {@code operationId} = its outbox position
 * after the batch, so a batch covers positions [operationId - count, operationId) and the owner applies
 * only those past the highest it applied. A batch split by bucket owner (a cluster) is
 * {@link #positioned}: handle i carries its own outbox position, ascending. A batch with none new is
 * answered OK with {@code duplicate} set, changing nothing.
 */
public final class DerefCall extends RoleCall {
    /**
     * Sender id of controller K's C outbox in a cluster: {@code CONTROLLER_SENDER + K}. D de-duplicates
     * sender 0 (a single node's C) and these; every other sender (R's own give-backs, recovery) is
     * applied as sent.
     */
    public static final int CONTROLLER_SENDER = 1024;

    public int count;
    public final long[] handles;
    /** Handle i's outbox position is {@code positions[i]} (ascending), not {@code operationId - count + i}. */
    public boolean positioned;

    public final long[] positions;
    /** Reply: every position of this batch was applied before (a retry). */
    public boolean duplicate;

    public DerefCall(int maxHandles) {
        handles = new long[maxHandles];
        positions = new long[maxHandles];
    }
}
