package io.hashbrick.node.data;

import io.hashbrick.node.Log;
import io.hashbrick.sim.Sleeper;
import java.io.IOException;

/**
 * Whether the pool takes writes, and the bounded retry of failed destage rounds that decides it. A round
 * that throws is retried after a backoff that doubles from {@link #BACKOFF_NS_MIN} up to
 * {@link #BACKOFF_NS_MAX}; after {@link #RETRIES_MAX} failed retries in a row (about 16 s) the pool goes
 * read-only for good (until a restart): writes are refused, reads keep being served from the journal
 * copies and the SSDs. Retrying forever would let the journal fill while every write waits its 60 s
 * back-pressure timeout and fails as a MEDIUM ERROR that says nothing of the cause.
 *
 * <p>Single writer: {@link #retry} and {@link #succeeded} run on the destage thread only; the state
 * they publish is read by any thread through the volatile {@link #readOnlyReason} (written last, so a
 * reader that sees it also sees the error).
 */
final class PoolState {
    static final int RETRIES_MAX = 8;
    static final long BACKOFF_NS_MIN = 100_000_000L;
    static final long BACKOFF_NS_MAX = 5_000_000_000L;

    private volatile Sleeper sleeper;
    private int failures;
    private volatile String readOnlyError = "";
    private volatile String readOnlyReason;

    PoolState(Sleeper sleeper) {
        this.sleeper = sleeper;
    }

    /** Tests: how the backoff is spent (a recorder instead of real sleeps). */
    void sleeper(Sleeper s) {
        this.sleeper = s;
    }

    /** A round went through: the next failure starts the count again. */
    void succeeded() {
        failures = 0;
    }

    /**
     * A destage round failed with {@code e}: waits out the backoff and answers true (try again), or,
     * when the retries are spent, puts the pool read-only and answers false (stop destaging).
     */
    boolean retry(String what, Exception e) {
        failures++;
        if (failures > RETRIES_MAX) {
            readOnly(what + "_failed", e);
            return false;
        }
        long backoffNs = Math.min(BACKOFF_NS_MAX, BACKOFF_NS_MIN << Math.min(failures - 1, 30));
        Log.error(
                what + "_failed",
                "attempt=" + failures + " retries_max=" + RETRIES_MAX + " backoff_ms=" + backoffNs / 1_000_000
                        + " error=" + Log.q(String.valueOf(e)));
        sleeper.sleepNanos(backoffNs);
        return true;
    }

    /**
     * The pool takes no more writes: one log line. An {@link IOException} is the disks' trouble, named
     * by its message; anything else is a bug, and its stack trace follows the line.
     */
    void readOnly(String reason, Exception e) {
        readOnlyError = String.valueOf(e);
        readOnlyReason = reason;
        Log.error(
                "pool_read_only",
                "reason=" + reason + " retries=" + RETRIES_MAX + " error=" + Log.q(readOnlyError)
                        + " writes=refused reads=served");
        if (!(e instanceof IOException)) {
            Log.stackTrace("pool_read_only", e);
        }
    }

    boolean isReadOnly() {
        return readOnlyReason != null;
    }

    /** "read_write" or "read_only" (stats {@code pool_state}). */
    String state() {
        return readOnlyReason == null ? "read_write" : "read_only";
    }

    /** Why the pool is read-only ("" while it takes writes). */
    String reason() {
        String r = readOnlyReason;
        return r == null ? "" : r;
    }

    /** The error that made it read-only ("" while it takes writes). */
    String error() {
        return readOnlyReason == null ? "" : readOnlyError;
    }
}
