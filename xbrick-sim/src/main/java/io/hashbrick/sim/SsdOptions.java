package io.hashbrick.sim;

/**
 * How an {@link Ssd} is opened, validated once here (STYLE.md: configuration checked at start-up).
 *
 * @param preferredMode {@link IoMode#DIRECT} tries {@code O_DIRECT} and falls back to buffered I/O if the
 *     file system refuses it; {@link IoMode#BUFFERED} never tries
 * @param sleeper spends injected slow-I/O latency ({@link ManualClock} in tests)
 * @param clock stamps event lines
 * @param events receives state changes and fired faults, one {@code key=value} line each
 */
public record SsdOptions(IoMode preferredMode, Sleeper sleeper, SimClock clock, EventSink events) {
    public SsdOptions {
        if (preferredMode == null || sleeper == null || clock == null || events == null) {
            throw new IllegalArgumentException("ssd options must all be set preferredMode=" + preferredMode
                    + " sleeper=" + sleeper + " clock=" + clock + " events=" + events);
        }
    }

    /** A real controller: O_DIRECT if possible, real sleeping, the system clock, events on stderr. */
    public static SsdOptions defaults() {
        return new SsdOptions(IoMode.DIRECT, Sleeper.REAL, SimClock.SYSTEM, EventSink.STDERR);
    }

    /** A test or simulation: virtual time, nothing really sleeps. */
    public static SsdOptions simulated(ManualClock clock, EventSink events) {
        return new SsdOptions(IoMode.DIRECT, clock, clock, events);
    }

    public SsdOptions withMode(IoMode mode) {
        return new SsdOptions(mode, sleeper, clock, events);
    }
}
