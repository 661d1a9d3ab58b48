package io.hashbrick.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hashbrick.journal.Journal;
import io.hashbrick.node.api.MapCall;
import io.hashbrick.node.api.Status;
import org.junit.jupiter.api.Test;

/**
 * A call that arrived over the network and could not be appended (its journal back-pressured) by its
 * server's budget is refused, nothing done, before its sender gives up on it: never applied late, after
 * a newer write of the same blocks was acknowledged.
 */
class JournalSettleTest {
    @Test
    void aBackPressuredCallIsRefusedOnceItsSendersBudgetIsSpent() {
        MapCall x = new MapCall(1);
        x.header(5, 9, 1025);
        long far = System.nanoTime() + 60_000_000_000L;
        assertEquals(0, x.applyByNs, "a local call has no budget");
        assertFalse(JournalSettle.settle(null, x, Journal.BACK_PRESSURED, far, () -> false, "t"), "tries again");

        x.applyByNs = System.nanoTime() + 60_000_000_000L;
        assertFalse(JournalSettle.settle(null, x, Journal.BACK_PRESSURED, far, () -> false, "t"), "within its budget");

        x.applyByNs = System.nanoTime() - 1;
        assertTrue(JournalSettle.settle(null, x, Journal.BACK_PRESSURED, far, () -> false, "t"));
        assertEquals(Status.BACK_PRESSURE, x.status, "refused, nothing appended: the sender may send it again");

        x.header(5, 10, 1025);
        assertEquals(0, x.applyByNs, "a new request starts without the last one's budget");
    }
}
