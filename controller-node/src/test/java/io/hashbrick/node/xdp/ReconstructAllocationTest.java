package io.hashbrick.node.xdp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hashbrick.node.xdp.StoreRig.Rec;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Degraded reads allocate nothing per read once warm (STYLE.md, hot path): neither the whole-stripe
 * reconstruction (2.9 MB of cells and a 1 MiB direct buffer each, before) nor the row rebuild (an
 * aligned buffer and two cells). Measured as bytes the reading thread allocates, and as the store's
 * count of scratch areas it had to create. Seeded ({@code -Dseed=N}).
 */
class ReconstructAllocationTest {
    /** Per read, after warm-up: a few small objects (buffer slices) at most. */
    static final long BYTES_PER_READ_MAX = 2048;

    @TempDir
    Path dir;

    @Test
    void wholeStripeReconstructionsAllocateNothingOnceWarm() throws Exception {
        readsAllocateNothing(2);
    }

    @Test
    void rowRebuildsAllocateNothingOnceWarm() throws Exception {
        readsAllocateNothing(1);
    }

    /** Fails {@code lost} SSDs, then reads, round robin, one record on a lost column of each of 8 stripes. */
    private void readsAllocateNothing(int lost) throws Exception {
        long seed = Long.getLong("seed", System.nanoTime());
        try (StoreRig rig = new StoreRig(dir, seed)) {
            String why = rig.why() + " lost=" + lost;
            List<Rec> recs = rig.fill(8);
            int failedMask = 0;
            for (int i = 0; i < lost; i++) {
                rig.dae.fail(i);
                failedMask |= 1 << i;
            }
            rig.st.pollHealth();
            // More stripes than the reconstruction cache holds: every whole-stripe read misses it.
            List<Rec> targets = new ArrayList<>();
            for (int s = 0; s < 8; s++) {
                int[] slots = rig.st.slotsOf(s);
                for (int c = 0; c < slots.length - 2; c++) {
                    if ((failedMask & (1 << slots[c])) != 0) {
                        targets.add(recs.get(s * StoreRig.CELLS + c * StripeLayout.ROWS + 5));
                        break;
                    }
                }
            }
            assertTrue(targets.size() >= 6, "stripes with a lost data column: " + targets.size() + " " + why);
            for (int round = 0; round < 3; round++) { // warm-up
                for (Rec e : targets) {
                    assertTrue(rig.readsBack(e), "location=" + e.location() + " " + why);
                }
            }
            com.sun.management.ThreadMXBean threads =
                    (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
            long scratchBefore = rig.st.scratchAllocations();
            long bytesBefore = threads.getCurrentThreadAllocatedBytes();
            int reads = 0;
            boolean intact = true;
            for (int round = 0; round < 5; round++) {
                for (Rec e : targets) {
                    intact &= rig.readsBack(e);
                    reads++;
                }
            }
            long perRead = (threads.getCurrentThreadAllocatedBytes() - bytesBefore) / reads;
            assertTrue(intact, why);
            long[] counters = {rig.st.degradedReads(), rig.st.cellsReconstructed()};
            assertTrue(counters[0] >= 8L * targets.size(), "degraded reads " + counters[0] + " " + why);
            assertTrue(
                    perRead <= BYTES_PER_READ_MAX,
                    "heap bytes allocated per degraded read: " + perRead + " (max " + BYTES_PER_READ_MAX + ") " + why);
            assertEquals(0, rig.st.scratchAllocations() - scratchBefore, "scratch areas allocated once warm " + why);
        }
    }
}
