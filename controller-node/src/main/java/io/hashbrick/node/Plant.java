package io.hashbrick.node;

/**
 * A known bug the deterministic simulation ({@code hashbrick simulate --plant NAME}) can plant in the
 * node, to show its checker catches that class of bug. Off unless a simulation asks for it: a real
 * controller is always opened with {@link Seams#REAL}, which plants nothing. Each names where it sits.
 */
public enum Plant {
    /** D answers a put of new blocks before their journal record is durable (the blocks live in RAM only). */
    ACK_BEFORE_D_DURABLE("D answers a put before its journal record is durable"),
    /** D applies every batch of C's deref outbox twice: refcounts fall below the truth. */
    DEREF_APPLIED_TWICE("D applies each deref batch of C's outbox twice"),
    /** C's checkpoint leaves out the volume block mapped last before it (a dirty entry skipped). */
    CHECKPOINT_SKIPS_DIRTY_ENTRY("C's checkpoint skips the A2H entry changed last"),
    /** D serves a fetch of a handle whose slot was freed and reused, without checking its generation. */
    REUSED_HANDLE_SERVED("D serves a reused slot to an old handle without its generation check");

    private final String description;

    Plant(String description) {
        this.description = description;
    }

    public String description() {
        return description;
    }

    /** The name as the command line takes it: lower case, dashes. */
    public String cliName() {
        return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
    }

    /** Parses a {@link #cliName()} (or the enum name); a clear error lists the ones there are. */
    public static Plant parse(String s) {
        for (Plant p : values()) {
            if (p.cliName().equals(s) || p.name().equals(s)) {
                return p;
            }
        }
        StringBuilder known = new StringBuilder();
        for (Plant p : values()) {
            known.append(known.isEmpty() ? "" : ",").append(p.cliName());
        }
        throw new IllegalArgumentException("unknown plant: plant=" + s + " known=" + known);
    }
}
