package io.hashbrick.sim;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Virtual time for tests and the deterministic simulation: {@link #sleepNanos} advances the clock
 * instead of blocking, so injected latency is observable (as elapsed virtual time) but free.
 */
public final class ManualClock implements SimClock, Sleeper {
    private final AtomicLong nowNs;
    private final AtomicLong sleptNs = new AtomicLong();
    private final AtomicLong sleeps = new AtomicLong();

    public ManualClock(long startNs) {
        this.nowNs = new AtomicLong(startNs);
    }

    @Override
    public long nanoTime() {
        return nowNs.get();
    }

    @Override
    public void sleepNanos(long nanos) {
        if (nanos < 0) {
            throw new IllegalArgumentException("sleep must not be negative nanos=" + nanos);
        }
        nowNs.addAndGet(nanos);
        sleptNs.addAndGet(nanos);
        sleeps.incrementAndGet();
    }

    public void advance(long nanos) {
        if (nanos < 0) {
            throw new IllegalArgumentException("time must not go backwards nanos=" + nanos);
        }
        nowNs.addAndGet(nanos);
    }

    /** Total virtual nanoseconds spent in {@link #sleepNanos}. */
    public long sleptNs() {
        return sleptNs.get();
    }

    public long sleeps() {
        return sleeps.get();
    }
}
