package io.hashbrick.node.api.route;

import io.hashbrick.node.api.Status;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * When a routed call goes again: a refusal that did nothing (STALE_EPOCH, NOT_OWNER, or no map yet) is
 * retried against the newest map, at once the first time, then after a growing pause on a timer thread
 * (no caller thread waits), about 3 s in all before the refusal reaches the caller.
 */
final class Retry {
    static final int MAX_ATTEMPTS = 40;

    private static final ScheduledExecutorService TIMER = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "route-retry");
        t.setDaemon(true);
        return t;
    });

    private Retry() {}

    /** A refusal the owner answered without doing anything, so the call may go again as it is. */
    static boolean retryable(Status s) {
        return s == Status.STALE_EPOCH || s == Status.NOT_OWNER;
    }

    /** Runs {@code again} as attempt {@code next}: at once for the second, later for the others. */
    static void later(int next, Runnable again) {
        if (next <= 2) {
            again.run();
        } else {
            TIMER.schedule(again, Math.min(100, 5L * next), TimeUnit.MILLISECONDS);
        }
    }
}
