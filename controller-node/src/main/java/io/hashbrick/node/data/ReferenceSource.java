package io.hashbrick.node.data;

import java.util.function.LongConsumer;

/**
 * Who holds references to D's blocks (C: its maps and its deref outbox), as the census sees them: the
 * only way D learns about them, so that D never depends on C ({@code audit} wires the two).
 */
@FunctionalInterface
public interface ReferenceSource {
    /**
     * Visits every reference held: one per mapped block, one per outbox handle at position
     * {@code outboxFrom} or later (D dropped those before it already). Called with D's lock held; the
     * source takes only its own lock. @return the mapped blocks
     */
    long forEachReference(long outboxFrom, LongConsumer visitor);
}
