package io.hashbrick.node.api;

/**
 * A handle names a stored block at its D owner (roles.proto's {@code Handle}): generation (6 bits),
 * bucket (12) and slot (36) in the low 54 bits of a long. Opaque to R and C, who only pass handles
 * between D's answers and C's map; {@link #NONE} is "no block" (unmapped, reads as zeros).
 */
public final class Handles {
    public static final long NONE = -1L;

    private Handles() {}
}
