package io.hashbrick.node.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hashbrick.proto.cluster.v1.Lease;
import org.junit.jupiter.api.Test;

class LeaseTableTest {
    private static final long MS = 1_000_000L;

    @Test
    void aVoterThatDoesNotLeadNeitherTakesRenewalsNorJudges() {
        LeaseTable t = new LeaseTable(600);
        assertEquals(-1, t.renew(2, 1_000 * MS));
        assertNull(t.judge(2, "c1", 5_000 * MS));
        t.leaderChanged(true, 1_000 * MS);
        t.leaderChanged(false, 1_100 * MS); // deposed
        assertEquals(-1, t.renew(2, 1_200 * MS));
        assertNull(t.judge(2, "c1", 9_000 * MS));
    }

    @Test
    void aControllerHeardFromWithinALeaseHoldsIt() {
        LeaseTable t = new LeaseTable(600);
        t.leaderChanged(true, 1_000 * MS);
        assertEquals(100, t.renew(2, 1_100 * MS)); // silent since the election
        Lease l = t.judge(2, "c1", 1_699 * MS);
        assertFalse(l.getExpired());
        assertEquals(599, l.getSilentMs());
        assertEquals(699, l.getLeaderForMs());
        assertEquals(600, l.getLeaseMs());
        assertEquals("c1", l.getLeader());
        assertTrue(t.judge(2, "c1", 1_700 * MS).getExpired());
    }

    @Test
    void aNewLeaderCountsEveryLeaseFromItsElection() {
        LeaseTable t = new LeaseTable(600);
        t.leaderChanged(true, 10_000 * MS);
        // never heard from (it renewed at the old leader, or is paused): silent since the election only
        assertFalse(t.judge(3, "c2", 10_599 * MS).getExpired());
        assertTrue(t.judge(3, "c2", 10_600 * MS).getExpired());
        // renewals taken under an earlier leadership are forgotten at a change
        t.renew(3, 10_700 * MS);
        t.leaderChanged(false, 10_800 * MS);
        t.leaderChanged(true, 20_000 * MS);
        assertEquals(100, t.judge(3, "c2", 20_100 * MS).getSilentMs());
    }

    @Test
    void aLateRenewalNeverMovesTheLeaseBack() {
        LeaseTable t = new LeaseTable(600);
        t.leaderChanged(true, 1_000 * MS);
        t.renew(4, 2_000 * MS);
        t.renew(4, 1_500 * MS); // an older renewal answered after a newer one
        assertEquals(0, t.judge(4, "c1", 2_000 * MS).getSilentMs());
        assertEquals(300, t.renew(4, 2_300 * MS)); // how late it came, for the leader's log
    }

    @Test
    void theJudgesOwnStallCountsForNobody() {
        LeaseTable t = new LeaseTable(600);
        t.leaderChanged(true, 1_000 * MS);
        t.renew(5, 1_000 * MS);
        for (long now = 1_000; now <= 1_200; now += 20) {
            t.tick(now * MS);
        }
        // the judge stops at 1,200 ms for 900 ms: renewals wait unread in its sockets
        assertFalse(t.judge(5, "w", 2_100 * MS).getExpired(), "judged in the first moment after its own stall");
        for (long now = 2_100; now <= 2_700; now += 20) {
            t.tick(now * MS);
        }
        assertFalse(t.judge(5, "w", 2_650 * MS).getExpired());
        assertTrue(t.judge(5, "w", 2_700 * MS).getExpired(), "silent a whole lease of the judge's own running");
        // a controller heard from right after the stall holds its lease
        t.renew(5, 2_120 * MS);
        assertFalse(t.judge(5, "w", 2_700 * MS).getExpired());
    }
}
