package io.hashbrick.node.scsi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/** The LBA range lock that replaced the unit-wide lock held across device I/O. */
class RangeLockTest {
    /** Runs {@code body} on a thread; the latch counts down once it has returned. */
    private static CountDownLatch async(Runnable body) {
        CountDownLatch done = new CountDownLatch(1);
        Thread t = new Thread(() -> {
            body.run();
            done.countDown();
        });
        t.setDaemon(true);
        t.start();
        return done;
    }

    @Test
    void sharedRangesOverlapAndExclusiveOnlyWaitsForOverlappingOnes() throws Exception {
        RangeLock l = new RangeLock();
        l.lockShared(0, 8);
        l.lockShared(4, 8); // reads and plain writes overlap freely
        CountDownLatch elsewhere = async(() -> l.lockExclusive(100, 1));
        assertTrue(elsewhere.await(5, TimeUnit.SECONDS), "an exclusive range apart from them does not wait");
        CountDownLatch over = async(() -> l.lockExclusive(7, 2));
        assertFalse(over.await(200, TimeUnit.MILLISECONDS), "an overlapping exclusive range waits");
        l.unlockShared(0, 8);
        assertFalse(over.await(100, TimeUnit.MILLISECONDS), "for every overlapping holder");
        l.unlockShared(4, 8);
        assertTrue(over.await(5, TimeUnit.SECONDS));
        assertFalse(l.tryLockShared(8, 1), "a held exclusive range refuses a shared try");
        assertTrue(l.tryLockShared(9, 1), "next to it, a shared try succeeds");
        l.unlockShared(9, 1);
        l.unlockExclusive(7, 2);
        l.unlockExclusive(100, 1);
        assertEquals(0, l.size());
    }

    @Test
    void aWaitingExclusiveRangeHoldsBackNewOverlappingSharedOnes() throws Exception {
        RangeLock l = new RangeLock();
        l.lockShared(0, 1);
        CountDownLatch exclusive = async(() -> l.lockExclusive(0, 4));
        while (l.size() < 2) {
            Thread.onSpinWait(); // the exclusive request is in the table, waiting
        }
        assertFalse(l.tryLockShared(2, 1), "a shared try over a waiting exclusive range fails: no starvation");
        AtomicBoolean sharedGot = new AtomicBoolean();
        CountDownLatch shared = async(() -> {
            l.lockShared(3, 1);
            sharedGot.set(true);
        });
        assertFalse(shared.await(200, TimeUnit.MILLISECONDS), "a new shared request waits behind it");
        assertTrue(l.tryLockShared(10, 1), "outside it, no wait");
        l.unlockShared(10, 1);
        l.unlockShared(0, 1);
        assertTrue(exclusive.await(5, TimeUnit.SECONDS), "the exclusive request goes first");
        assertFalse(sharedGot.get());
        l.unlockExclusive(0, 4);
        assertTrue(shared.await(5, TimeUnit.SECONDS));
        l.unlockShared(3, 1);
        assertEquals(0, l.size());
    }

    @Test
    void releasingARangeNotHeldIsABug() {
        RangeLock l = new RangeLock();
        l.lockShared(0, 1);
        assertThrows(IllegalStateException.class, () -> l.unlockShared(0, 2));
        assertThrows(IllegalStateException.class, () -> l.unlockExclusive(0, 1));
    }

    @Test
    void theTableGrowsPastItsFirstSize() {
        RangeLock l = new RangeLock();
        for (int i = 0; i < 100; i++) {
            l.lockShared(i, 1);
        }
        l.lockShared(0, 100);
        assertEquals(101, l.size());
        for (int i = 0; i < 100; i++) {
            l.unlockShared(i, 1);
        }
        l.unlockShared(0, 100);
        assertEquals(0, l.size());
    }
}
