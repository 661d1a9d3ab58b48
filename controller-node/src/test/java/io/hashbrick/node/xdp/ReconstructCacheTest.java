package io.hashbrick.node.xdp;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hashbrick.node.xdp.StoreRig.Rec;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole-stripe reconstruction cache keeps an entry only for the stripe generation it was read
 * under. Seeded ({@code -Dseed=N}).
 */
class ReconstructCacheTest {
    @TempDir
    Path dir;

    /**
     * A degraded read reconstructs a stripe while a refill rewrites it: its data columns and P are read
     * before the refill, Q after. That mixed view must not be kept and served to the next read (the
     * old code stamped the entry with the generation current when it was stored, i.e. the refill's).
     */
    @Test
    void aReconstructionReadAcrossARefillIsNotServedAfterIt() throws Exception {
        long seed = Long.getLong("seed", System.nanoTime());
        try (StoreRig rig = new StoreRig(dir, seed)) {
            String why = rig.why();
            List<Rec> recs = rig.fill(1);
            // Columns 4 and 5 die: room for a refill of stripe 0.
            rig.kill(recs.subList(4 * 28, 6 * 28));
            Rec x = recs.get(3); // column 0, row 3
            Rec y = recs.get(28 + 3); // column 1, row 3
            // x's cell and its row neighbour y's are unreadable: no row rebuild, the whole stripe is read.
            long[] ax = rig.address(x);
            long[] ay = rig.address(y);
            rig.faults.latentError(rig.dae.slot((int) ax[0]), ax[1]);
            rig.faults.latentError(rig.dae.slot((int) ay[0]), ay[1]);
            int[] slots = rig.st.slotsOf(0);
            List<Rec> refilled = new ArrayList<>();
            rig.hookOn(slots[slots.length - 1], () -> {
                // The destage thread's refill, between the reader's P read and its Q read.
                List<Rec> n = rig.append(40, Integer.MAX_VALUE);
                assertTrue(rig.st.refilling(), "the refill goes into stripe 0 " + why);
                rig.flushAndPlace(n);
                refilled.addAll(n);
            });
            rig.readsBack(x); // the reader verifies against the fingerprint: its own result may be torn
            assertTrue(!refilled.isEmpty(), "the refill ran inside the read " + why);
            rig.st.seal();
            assertTrue(rig.readsBack(x), "x after the refill: no stale reconstruction served " + why);
            assertTrue(rig.readsBack(y), "y after the refill " + why);
            for (Rec e : refilled) {
                assertTrue(rig.readsBack(e), "refilled location=" + e.location() + " " + why);
            }
        }
    }
}
