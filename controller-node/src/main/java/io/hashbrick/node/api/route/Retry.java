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
    /**
     * An owner that cannot be reached or answer (its process died, its share not yet failed over) is tried for
     * longer, about 10 s: a failover (noticed, the pool opened by the brick peer, the new map committed)
     * takes well under that, and the host's command timeout (30 s) is longer still.
     */
    static final int MAX_UNREACHABLE_ATTEMPTS = 105;
    /** Every retry of one call, whatever its causes, within this time from its first sending. */
    static final long BUDGET_NS = 10_000_000_000L;

    private static final ScheduledExecutorService TIMER = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "route-retry");
        t.setDaemon(true);
        return t;
    });

    private Retry() {}

    /**
     * A refusal the owner answered without doing anything (BACK_PRESSURE: too many calls in flight on a
     * connection, or a server's queue full), so the call may go again as it is.
     */
    static boolean retryable(Status s) {
        return s == Status.STALE_EPOCH || s == Status.NOT_OWNER || s == Status.BACK_PRESSURE;
    }

    /**
     * Whether a call answered {@code s} goes again: a refusal that did nothing and a call not sent (no
     * connection: {@link Status#UNREACHABLE}) always, a call sent but not answered ({@link
     * Status#NO_REPLY}) only when {@code repeatable} (applying it twice is harmless: a read, a probe, a put whose second reference can only leak, a deref the
     * owner de-duplicates by its outbox position), within {@code attempt}'s bound.
     */
    static boolean again(Status s, boolean repeatable, int attempt, long sinceNs) {
        if (!goesAgain(s, repeatable) || attempt >= MAX_UNREACHABLE_ATTEMPTS) {
            return false;
        }
        // one budget for every retry of a call: a call that waited out a deadline (NO_REPLY after
        // 10 s, an owner paused or stalled) is spent, so the front end answers instead of hanging
        return System.nanoTime() - sinceNs < BUDGET_NS;
    }

    /** Whether a call answered {@code s} may go again at all (before counting attempts). */
    static boolean goesAgain(Status s, boolean repeatable) {
        return retryable(s)
                || s == Status.UNREACHABLE
                || ((s == Status.NO_REPLY || s == Status.TIMED_OUT) && repeatable);
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
