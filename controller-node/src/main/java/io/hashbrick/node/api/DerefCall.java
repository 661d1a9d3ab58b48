package io.hashbrick.node.api;

/**
 * D: drop one reference per handle. Idempotent by ({@code sender}, {@code operationId}): operation ids
 * of one sender increase, and one the owner has applied already is answered OK with
 * {@code duplicate} set, changing nothing.
 */
public final class DerefCall extends RoleCall {
    public int count;
    public final long[] handles;
    /** Reply: this operation id was applied before (a retry). */
    public boolean duplicate;

    public DerefCall(int maxHandles) {
        handles = new long[maxHandles];
    }
}
