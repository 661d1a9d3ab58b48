package io.hashbrick.journal;

import java.lang.foreign.MemorySegment;

/**
 * The battery-backed memory the journal writes into, as the journal sees it. The controller adapts
 * the simulator's NVRAM (a memory-mapped file per controller) to this interface; the journal module
 * must not depend on {@code io.hashbrick.sim} (DESIGN.md: {@code journal -> routing, proto}).
 * {@link MappedFileRegion} is the reference implementation, {@link MemoryJournalRegion} the one for
 * simulations.
 */
public interface JournalRegion extends AutoCloseable {
    /** The whole region. Its size must not change while the journal is open. */
    MemorySegment segment();

    /**
     * Makes {@code [offset, offset + length)} durable before returning: {@code msync} for a mapped
     * file, nothing where the memory is battery-backed. The journal calls it once per batch (at most
     * twice when the batch wraps) and once per region-header update.
     */
    void persist(long offset, long length);

    @Override
    void close();
}
