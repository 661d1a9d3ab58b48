package io.hashbrick.sim;

/**
 * Where the simulator's event lines go: one line per event, {@code key=value} pairs, the same shape as
 * the node's log (the sim may not depend on the node's {@code Log}, DESIGN.md "Modules"). Lines carry
 * the simulation clock ({@code t_ns=}), not wall time, so two runs from one seed print identical lines.
 * Only faults and state changes are logged, never a per-I/O event.
 */
@FunctionalInterface
public interface EventSink {
    void line(String line);

    EventSink STDERR = line -> {
        synchronized (System.err) {
            System.err.println(line);
        }
    };

    EventSink NONE = line -> {};

    /** Formats and emits {@code t_ns=<now> event=<event> <fields>}. */
    static void emit(EventSink sink, SimClock clock, String event, String fields) {
        sink.line("t_ns=" + clock.nanoTime() + " event=" + event + (fields.isEmpty() ? "" : " " + fields));
    }
}
