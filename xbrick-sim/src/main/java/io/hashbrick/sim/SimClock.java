package io.hashbrick.sim;

/** Monotonic time for the simulator, injected so a simulation can run on virtual time (STYLE.md "Determinism"). */
@FunctionalInterface
public interface SimClock {
    /** Monotonic nanoseconds; only differences are meaningful. */
    long nanoTime();

    /** The machine's monotonic clock: for a real controller process, never inside a simulation. */
    SimClock SYSTEM = System::nanoTime;
}
