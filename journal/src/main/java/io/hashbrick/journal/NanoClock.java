package io.hashbrick.journal;

/**
 * Monotonic time for the journal. Core code never calls {@code System.nanoTime()} itself, so a
 * deterministic simulation (or a test) can drive the group-commit triggers from a seed.
 */
@FunctionalInterface
public interface NanoClock {
    /** Monotonic nanoseconds; only differences are meaningful. */
    long nanoTime();

    /** The JVM's monotonic clock: for a real controller, never in deterministic tests. */
    NanoClock SYSTEM = System::nanoTime;
}
