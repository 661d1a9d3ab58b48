package io.hashbrick.node.xdp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hashbrick.node.xdp.StoreRig.Rec;
import io.hashbrick.sim.Ssd;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A write-back or a parity re-encode whose flush fails is not a success: the SSD may not hold what was
 * written. The drive fails between the write's admission and its flush (the write itself returns OK).
 * Seeded ({@code -Dseed=N}).
 */
class FlushFailureTest {
    @TempDir
    Path dir;

    @Test
    void aWriteBackWhoseFlushFailsIsReportedAsFailed() throws Exception {
        long seed = Long.getLong("seed", System.nanoTime());
        try (StoreRig rig = new StoreRig(dir, seed)) {
            String why = rig.why();
            List<Rec> recs = rig.fill(1);
            Rec r = recs.get(10); // column 0
            int generation = rig.st.stripeGeneration(r.location);
            ByteBuffer copy = Ssd.allocateAligned(SegmentStore.READ_SCRATCH_BYTES);
            assertTrue(rig.st.readRepaired(r.location, StoreRig.RAW_BYTES, copy, 0) >= 0, why);
            int slot = (int) rig.address(r)[0];
            long cellsBefore = rig.st.cellsWritten();
            rig.hookOn(slot, () -> rig.dae.fail(slot));

            boolean written = rig.st.rewrite(r.location, StoreRig.RAW_BYTES, copy, 0, generation);

            assertFalse(written, "flush failed: the repair is not known to be on the SSD " + why);
            assertEquals(cellsBefore, rig.st.cellsWritten(), "not counted as written " + why);
        }
    }

    @Test
    void aReencodeWhoseFlushFailsIsReportedAsFailed() throws Exception {
        long seed = Long.getLong("seed", System.nanoTime());
        try (StoreRig rig = new StoreRig(dir, seed)) {
            String why = rig.why();
            rig.fill(1);
            int[] slots = rig.st.slotsOf(0);
            int p = slots[slots.length - 2];
            long parityBefore = rig.st.parityCellsWritten();
            rig.hookOn(p, () -> rig.dae.fail(p)); // inside the P write: its flush fails

            boolean written = rig.st.reencode(0);

            assertFalse(written, "P's flush failed: the parity is not known to be rewritten " + why);
            assertEquals(parityBefore, rig.st.parityCellsWritten(), "not counted as written " + why);
        }
    }
}
