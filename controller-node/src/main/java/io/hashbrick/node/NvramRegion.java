package io.hashbrick.node;

import io.hashbrick.journal.JournalRegion;
import io.hashbrick.sim.BatteryBackedMemory;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

/**
 * A journal's region in battery-backed memory (D's {@code nvram.bbm}, C's {@code map-nvram.bbm}): a
 * persist is a store fence, the battery vaults the region on power loss.
 */
public record NvramRegion(BatteryBackedMemory memory) implements JournalRegion {
    @Override
    public MemorySegment segment() {
        return memory.data();
    }

    @Override
    public void persist(long offset, long length) {
        VarHandle.fullFence();
    }

    @Override
    public void close() {}
}
