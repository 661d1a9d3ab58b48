package io.hashbrick.node.xdp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hashbrick.sim.Dae;
import io.hashbrick.sim.EventSink;
import io.hashbrick.sim.FaultInjector;
import io.hashbrick.sim.IoStatus;
import io.hashbrick.sim.ManualClock;
import io.hashbrick.sim.Ssd;
import io.hashbrick.sim.SsdOptions;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link SlowSsds} on virtual time: drives answer in 0 ns unless slowed, a slowed one in exactly its
 * injected latency, and probes run inline (a direct executor), so every step is deterministic.
 */
class SlowSsdsTest {
    static final int SLOTS = 6;
    static final long MS = 1_000_000L;

    @TempDir
    Path dir;

    private final ManualClock clock = new ManualClock(0);
    private final FaultInjector faults = new FaultInjector(1, clock, EventSink.NONE);
    private final ByteBuffer cell = Ssd.allocateAligned(StripeLayout.CELL);

    private void touch(Dae dae, int slot) {
        assertEquals(IoStatus.OK, dae.slot(slot).read(0, cell.clear()));
    }

    /** Slow after two looks with 50 ms commands; left out of writes; probed until it is fast again. */
    @Test
    void aDriveFoundSlowIsWrittenAroundAndProbedUntilItIsFastAgain() throws Exception {
        try (Dae dae = Dae.open(dir, SLOTS, 16L << 20, 1, SsdOptions.simulated(clock, EventSink.NONE))) {
            SlowSsds slow = new SlowSsds(dae, SLOTS, Runnable::run);
            for (int i = 0; i < SLOTS; i++) {
                touch(dae, i);
            }
            slow.poll();
            int all = (1 << SLOTS) - 1;
            faults.slow(dae.slot(1), 50 * MS);
            touch(dae, 1);
            slow.poll();
            assertEquals(0, slow.mask(), "one slow look is not enough (a host stall looks like that)");
            slow.poll();
            assertEquals(0, slow.mask(), "a look without commands changes nothing");
            touch(dae, 1);
            slow.poll();
            assertEquals(1 << 1, slow.mask());
            assertEquals("1", slow.describe());
            assertEquals(all & ~(1 << 1), slow.writeMask(all), "new writes leave it out");
            assertEquals(1, slow.probes(), "a probe went out at once (inline here)");
            for (int i = 0; i < 10; i++) {
                slow.poll(); // each keeps one probe going: 50 ms each, the drive stays slow
            }
            assertTrue(slow.isSlow(1));
            faults.clearSlow(dae.slot(1));
            int polls = 0;
            while (slow.isSlow(1) && polls < 10) {
                slow.poll();
                polls++;
            }
            assertFalse(slow.isSlow(1), "fast probes bring it back polls=" + polls);
            assertTrue(polls > SlowSsds.RECOVER, "not at the first fast answer polls=" + polls);
            assertEquals(all, slow.writeMask(all));
        }
    }

    /** At most slots - 2 stay out of new stripes' width: past that, a slow drive is written to. */
    @Test
    void writesGoAroundAtMostTwoDrivesAndNoneWhenAllAreSlow() throws Exception {
        int slots = 8;
        try (Dae dae = Dae.open(dir, slots, 16L << 20, 1, SsdOptions.simulated(clock, EventSink.NONE))) {
            SlowSsds slow = new SlowSsds(dae, slots, r -> {}); // no probes: only the commands below count
            int all = (1 << slots) - 1;
            long[] latency = {0, 40 * MS, 60 * MS, 50 * MS, 0, 0, 0, 0};
            for (int i = 0; i < slots; i++) {
                if (latency[i] > 0) {
                    faults.slow(dae.slot(i), latency[i]);
                }
            }
            for (int look = 0; look < SlowSsds.CONFIRM; look++) {
                for (int i = 0; i < slots; i++) {
                    touch(dae, i);
                }
                slow.poll();
            }
            assertEquals(0b1110, slow.mask(), "three slow drives among five fast ones");
            assertEquals(all & ~0b1100, slow.writeMask(all), "the two slowest are left out, not the third");
            int oneFailed = all & ~(1 << 6);
            assertEquals(oneFailed & ~0b0100, slow.writeMask(oneFailed), "one failed: only the slowest left out");
            for (int i = 0; i < slots; i++) {
                faults.slow(dae.slot(i), 60 * MS);
            }
            for (int look = 0; look < SlowSsds.RECOVER; look++) {
                for (int i = 0; i < slots; i++) {
                    touch(dae, i);
                }
                slow.poll();
            }
            assertEquals(0, slow.mask(), "every drive equally slow: going around one would not help");
            assertEquals(all, slow.writeMask(all));
        }
    }
}
