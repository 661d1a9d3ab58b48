package io.hashbrick.node.api.route;

import io.hashbrick.node.api.Status;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The pieces of one split call: each piece's answer is merged into the caller's call by its own
 * completion (disjoint blocks), then {@link #arrive} counts it; the last one runs the end. The atomic
 * count orders every merge before the end.
 */
final class Join {
    private final AtomicInteger left;
    private volatile Status failure;

    Join(int pieces) {
        left = new AtomicInteger(pieces);
    }

    /** Records a piece's status: the first one that is not OK is the call's. */
    void status(Status s) {
        if (s != Status.OK) {
            synchronized (this) {
                if (failure == null) {
                    failure = s;
                }
            }
        }
    }

    /** @return whether this was the last piece */
    boolean arrive() {
        return left.decrementAndGet() == 0;
    }

    /** OK, or the first failure. */
    Status result() {
        Status f = failure;
        return f == null ? Status.OK : f;
    }
}
