package io.hashbrick.sim;

import java.util.concurrent.locks.LockSupport;

/**
 * How an injected slow-I/O fault spends its latency. Tests pass a {@link ManualClock}, which advances
 * virtual time instead of sleeping, so a "50 ms slow drive" costs the test suite nothing.
 */
@FunctionalInterface
public interface Sleeper {
    void sleepNanos(long nanos);

    /**
     * Really parks the calling thread for at least {@code nanos}. {@code parkNanos} may return early
     * (spurious wake-up, interrupt), so it loops against a deadline; the loop is bounded because every
     * turn either passes the deadline or parks again for what is left.
     */
    Sleeper REAL = nanos -> {
        long deadline = System.nanoTime() + nanos;
        for (long left = nanos; left > 0; left = deadline - System.nanoTime()) {
            LockSupport.parkNanos(left);
            if (Thread.currentThread().isInterrupted()) {
                return; // the caller's interrupt wins over simulated latency; the flag stays set
            }
        }
    };
}
