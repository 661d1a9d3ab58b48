package io.hashbrick.node.xdp;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The rebuild's read plans (moved here from the data package's XdpTest with the store). */
class RebuildPlanTest {
    /** The hybrid plan for every lost column of a 23 + 2 stripe reads at most 0.8 of RAID 6's cells. */
    @Test
    void hybridPlanReadsAboutThreeQuartersOfRaid6() {
        for (int k : new int[] {23, 22, 21}) {
            long total = 0;
            for (int m = 0; m < k; m++) {
                int cost = RebuildPlan.planCost(k, m, RebuildPlan.hybridPlan(k, m));
                assertTrue(cost <= 0.8 * 28 * k, "k=" + k + " m=" + m + " cost=" + cost);
                total += cost;
            }
            System.out.printf("hybrid_plan k=%d reads_vs_raid6=%.3f%n", k, total / (28.0 * k * k));
        }
    }
}
