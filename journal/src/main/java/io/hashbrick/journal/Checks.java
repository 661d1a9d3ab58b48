package io.hashbrick.journal;

/**
 * Always-on invariant checks for the I/O boundaries (STYLE: "a small always-on check"). Overloads
 * with primitive arguments so that a passing check builds no string and boxes nothing.
 */
final class Checks {
    private Checks() {}

    static void state(boolean ok, String what, String k1, long v1, String k2, long v2) {
        if (!ok) {
            throw new IllegalStateException(what + " " + k1 + "=" + v1 + " " + k2 + "=" + v2);
        }
    }

    static void argument(boolean ok, String what, String k1, long v1) {
        if (!ok) {
            throw new IllegalArgumentException(what + " " + k1 + "=" + v1);
        }
    }

    static void argument(boolean ok, String what, String k1, long v1, String k2, long v2) {
        if (!ok) {
            throw new IllegalArgumentException(what + " " + k1 + "=" + v1 + " " + k2 + "=" + v2);
        }
    }
}
