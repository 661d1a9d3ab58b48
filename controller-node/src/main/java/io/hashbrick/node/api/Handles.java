package io.hashbrick.node.api;

/**
 * The range of handles C and D agree on (DESIGN.md "Vocabulary": a handle is (bucket, slot)). D (H2P)
 * hands out no slot C (A2H) cannot store, so a write that would need one is refused as NO_SPACE before
 * it is journalled, instead of failing in A2H after its journal record is durable.
 *
 * <p>What bounds it: an A2H cell is 5 bytes, {@code (bucket << 28 | slot) + 1} with 0 = unmapped, so
 * 12 bucket bits leave 28 slot bits, and the all-ones slot of bucket 4095 would overflow the cell by
 * the +1. Slots 0 .. 2^28 - 2 in every bucket: 268 M unique blocks per bucket, 1.1 T in all.
 */
public final class Handles {
    /** Slot bits an A2H cell keeps. */
    public static final int SLOT_BITS = 28;
    /** Slots per bucket: every slot below is storable in any bucket. */
    public static final long MAX_SLOTS = (1L << SLOT_BITS) - 1;

    private Handles() {}
}
