package io.hashbrick.node;

import java.io.PrintStream;
import java.time.Instant;

/**
 * The node's event log: one line per event, {@code key=value} pairs, no stack traces for expected
 * conditions (STYLE.md). Lines go to standard error, which the launcher redirects to the node's log
 * file. Not for the I/O hot path: callers log events (logins, errors), never per command.
 */
public final class Log {
    private static final PrintStream OUT = System.err;
    private static volatile boolean debug = Boolean.getBoolean("hashbrick.debug");
    /** Levels below WARN dropped (the simulation runs thousands of node starts; it prints its own lines). */
    private static volatile boolean warnAndAbove;

    private Log() {}

    public static void info(String event, String fields) {
        if (!warnAndAbove) {
            line("INFO", event, fields);
        }
    }

    public static void warn(String event, String fields) {
        line("WARN", event, fields);
    }

    /** Whether INFO lines are dropped (true for a simulation run; never for a controller). */
    public static void warnAndAboveOnly(boolean on) {
        warnAndAbove = on;
    }

    public static void error(String event, String fields) {
        line("ERROR", event, fields);
    }

    public static void debug(String event, String fields) {
        if (debug) {
            line("DEBUG", event, fields);
        }
    }

    private static void line(String level, String event, String fields) {
        String text = Instant.now() + " " + level + " event=" + event + (fields.isEmpty() ? "" : " " + fields);
        synchronized (OUT) {
            OUT.println(text);
        }
    }

    /**
     * The stack trace of an unexpected error (a bug), after the event's one line: expected conditions
     * never print one.
     */
    public static void stackTrace(String event, Throwable t) {
        synchronized (OUT) {
            OUT.println("stack_trace event=" + event);
            t.printStackTrace(OUT);
        }
    }

    /** Quotes a value that may hold spaces, so the line stays parseable as key=value. */
    public static String q(Object value) {
        String s = String.valueOf(value);
        return s.indexOf(' ') < 0 && s.indexOf('"') < 0 && !s.isEmpty() ? s : '"' + s.replace("\"", "'") + '"';
    }
}
