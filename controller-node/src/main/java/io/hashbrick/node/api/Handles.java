package io.hashbrick.node.api;

/**
 * A handle names a stored block at its D owner (roles.proto's {@code Handle}): generation (6 bits),
 * bucket (12) and slot (36) in the low 54 bits of a long. Opaque to R, which only passes handles from
 * D's answers to C's map; {@link #NONE} is "no block" (unmapped, reads as zeros).
 *
 * <p>The range C and D agree on: D (H2P) hands out no slot C (A2H) cannot store, so a write that would
 * need one is refused as NO_SPACE before it is journalled, instead of failing in A2H after its journal
 * record is durable. An A2H cell is 5 bytes, {@code (generation << 34 | bucket << 22 | slot) + 1} with
 * 0 = unmapped, so 22 slot bits are left, and the all-ones slot would overflow the cell by the +1 when
 * the generation and bucket are all ones too: slots 0 .. 2^22 - 2 in every bucket, 4 M unique blocks
 * per bucket, 17 G in all.
 */
public final class Handles {
    public static final long NONE = -1L;
    /** Slot bits an A2H cell keeps. */
    public static final int SLOT_BITS = 22;
    /** Slots per bucket: every slot below is storable in any bucket, at any generation. */
    public static final long MAX_SLOTS = (1L << SLOT_BITS) - 1;

    private Handles() {}
}
