package io.hashbrick.journal;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A region in plain off-heap memory: persist is a no-op (it is "battery-backed" for as long as the
 * process lives). For tests and the single-threaded cluster simulation.
 */
public final class MemoryJournalRegion implements JournalRegion {
    private final Arena arena;
    private final MemorySegment segment;

    public MemoryJournalRegion(long sizeBytes) {
        Checks.argument(sizeBytes > 0, "region size must be positive", "sizeBytes", sizeBytes);
        this.arena = Arena.ofShared();
        this.segment = arena.allocate(sizeBytes, 4096);
    }

    @Override
    public MemorySegment segment() {
        return segment;
    }

    @Override
    public void persist(long offset, long length) {
        assert offset >= 0 && length >= 0 && offset + length <= segment.byteSize();
    }

    @Override
    public void close() {
        arena.close();
    }
}
