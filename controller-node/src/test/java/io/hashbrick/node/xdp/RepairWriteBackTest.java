package io.hashbrick.node.xdp;

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
 * A self-healing read's write-back ({@link SegmentStore#rewrite}) never puts the copy it read over
 * what a concurrent writer put there since. The interleavings are the ones a repair on a host thread
 * can meet: it checked H2P, took the stripe generation and read the record; then the record died, a
 * checkpoint freed its cell and destage refilled the stripe, before or during the write-back.
 * Seeded ({@code -Dseed=N}).
 */
class RepairWriteBackTest {
    @TempDir
    Path dir;

    /** Record 112: column 4, row 0, the first cell a refill of stripe 0 takes once columns 4 and 5 died. */
    static final int R = 4 * StripeLayout.ROWS;

    @Test
    void aWriteBackAfterARefillReusedTheCellIsRefused() throws Exception {
        long seed = Long.getLong("seed", System.nanoTime());
        try (StoreRig rig = new StoreRig(dir, seed)) {
            String why = rig.why();
            List<Rec> recs = rig.fill(1);
            Rec r = recs.get(R);
            int generation = rig.st.stripeGeneration(r.location);
            ByteBuffer copy = Ssd.allocateAligned(SegmentStore.READ_SCRATCH_BYTES);
            int off = rig.st.readRepaired(r.location, StoreRig.RAW_BYTES, copy, 4);
            assertTrue(off >= 0 && StoreRig.sameCell(copy, off + SegmentStore.HEADER_BYTES, r.data), why);
            rig.kill(recs.subList(R, R + 2 * StripeLayout.ROWS));
            List<Rec> n = rig.append(40, Integer.MAX_VALUE);
            assertTrue(n.get(0).location == r.location, "the refill reuses r's cell " + why);
            rig.flushAndPlace(n);
            rig.st.seal();

            boolean written = rig.st.rewrite(r.location, StoreRig.RAW_BYTES, copy, 4, generation);

            assertTrue(rig.onSsd(n.get(0)), "the refilled block is still on the SSD " + why);
            assertTrue(rig.readsBack(n.get(0)), why);
            assertFalse(written, "a write-back across a refill of its stripe is refused " + why);
        }
    }

    @Test
    void aWriteBackDuringTheRefillOfItsStripeIsRefused() throws Exception {
        long seed = Long.getLong("seed", System.nanoTime());
        try (StoreRig rig = new StoreRig(dir, seed)) {
            String why = rig.why();
            List<Rec> recs = rig.fill(1);
            Rec r = recs.get(R);
            rig.kill(recs.subList(R, R + 2 * StripeLayout.ROWS));
            List<Rec> n = rig.append(40, Integer.MAX_VALUE); // the refill target is open, nothing written yet
            assertTrue(rig.st.refilling() && n.get(0).location == r.location, why);
            // The repair read r's cell (still r's bytes on the SSD) under the target's generation.
            int generation = rig.st.stripeGeneration(r.location);
            ByteBuffer copy = Ssd.allocateAligned(SegmentStore.READ_SCRATCH_BYTES);
            int off = rig.st.readRepaired(r.location, StoreRig.RAW_BYTES, copy, 4);
            assertTrue(off >= 0 && StoreRig.sameCell(copy, off + SegmentStore.HEADER_BYTES, r.data), why);
            // Its write-back runs once the refill wrote the data cells, before P: inside the P write.
            int[] slots = rig.st.slotsOf(0);
            boolean[] written = {true};
            boolean[] ran = {false};
            rig.hookUntil(slots[slots.length - 2], () -> {
                if (!rig.onSsd(n.get(0))) {
                    return false;
                }
                written[0] = rig.st.rewrite(r.location, StoreRig.RAW_BYTES, copy, 4, generation);
                ran[0] = true;
                return true;
            });
            rig.flushAndPlace(n);
            rig.st.seal();

            assertTrue(ran[0], "the write-back ran inside the refill " + why);
            assertTrue(rig.onSsd(n.get(0)), "the refilled block is still on the SSD " + why);
            assertTrue(rig.readsBack(n.get(0)), why);
            assertFalse(written[0], "a write-back into the open refill target is refused " + why);
            assertTrue(rig.st.scrub(0) == SegmentStore.ScrubResult.CLEAN, why);
        }
    }
}
