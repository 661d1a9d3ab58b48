package io.hashbrick.node.xdp;

import io.hashbrick.node.Log;
import io.hashbrick.sim.Dae;
import io.hashbrick.sim.Health;
import io.hashbrick.sim.Ssd;
import io.hashbrick.sim.SsdCounters;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Which SSDs are slow, judged as a controller judges a real drive: by how long its commands take, as
 * {@code iostat}'s await does it (the change of the drive's summed service time over the change of its
 * command count between two looks, {@link SsdCounters#serviceNs}), not by asking the simulator. The
 * store goes around a slow SSD: new stripes and checkpoints leave it out ({@link #writeMask}), a refill
 * allocates no cell on it, a read of a cell on it is rebuilt from its row's parity, the scrub passes
 * its stripes by. A destage round then waits for no 100 ms command, and neither does a checkpoint,
 * which holds the data path's lock while it writes.
 *
 * <p><b>Slow</b>: {@link #CONFIRM} looks in a row that saw commands complete, each averaging at least
 * {@link #ENTER_NS} and at least {@link #PEERS} times the median of the slots' latest averages: one
 * drive lagging among fast ones, and not for one command (this host's file system stalls a write now
 * and then for a few hundred ms). When every drive is slow (a busy host) going around one would not
 * help, and none is. <b>Fast again</b>: {@link #RECOVER} such looks in a row under {@link #LEAVE_NS},
 * or under half of {@link #PEERS} times the median. Looks without commands change nothing.
 *
 * <p><b>Probes.</b> A drive written and read around gets no commands left to measure it by, so while a
 * slot is slow {@link #poll} keeps one probe in flight on it: a 4 KiB read of the first cell of its
 * metadata area, run by {@code probes} (a virtual thread each, in a node), so that its wait holds
 * nothing and delays nobody. Nothing else is issued: a slow drive sees at most one probe at a time, a
 * healed one about one per destage round.
 *
 * <p>Threads: {@link #poll} on the destage thread (the health poll); {@link #mask}, {@link #writeMask}
 * and {@link #isSlow} on any thread (one volatile read; {@link #writeMask}'s "slowest first" reads the
 * destage thread's latest averages without a lock: a stale one only changes which of two slow drives
 * is left out first).
 */
final class SlowSsds {
    /** A drive at 20 ms per command is a hundred times a healthy one here (0.07-0.3 ms per 112 KiB). */
    static final long ENTER_NS = 20_000_000L;
    /** Back under 5 ms. */
    static final long LEAVE_NS = 5_000_000L;
    /** How many times the median a slow drive's average must be. */
    static final int PEERS = 8;
    /** Looks in a row, each with commands over {@link #ENTER_NS}, that make a drive slow. */
    static final int CONFIRM = 2;
    /** Looks in a row, each with commands under {@link #LEAVE_NS}, that make it fast again. */
    static final int RECOVER = 3;

    /** Runs each probe on a virtual thread of its own: a probe of a slow drive waits, and holds nothing. */
    static final Executor VIRTUAL_THREADS =
            r -> Thread.ofVirtual().name("ssd-probe").start(r);

    private final Dae dae;
    private final int slots;
    private final Executor probes;
    /** One task per slot, made once: starting a probe allocates no task. */
    private final Runnable[] probeTasks;
    /** One aligned cell per slot, allocated at the slot's first probe; one probe per slot at a time. */
    private final ByteBuffer[] probeBuffers;
    /** Slots with a probe in flight, as a mask. */
    private final AtomicInteger probing = new AtomicInteger();

    private final AtomicLong probesDone = new AtomicLong();

    // Destage thread only (poll), but averageNs (see the class's threads note).
    private final long[] lastCommands;
    private final long[] lastServiceNs;
    /** Each slot's average time per command between the last two looks that saw commands complete. */
    private final long[] averageNs;
    /** Looks in a row for the slot's next change (to slow, or to fast again). */
    private final int[] streak;

    private final long[] sorted;

    private volatile int slowMask;

    SlowSsds(Dae dae, int slots, Executor probes) {
        if (slots > Integer.SIZE) {
            throw new IllegalArgumentException("slow-SSD masks hold 32 slots: slots=" + slots);
        }
        this.dae = dae;
        this.slots = slots;
        this.probes = probes;
        this.probeTasks = new Runnable[slots];
        this.probeBuffers = new ByteBuffer[slots];
        this.lastCommands = new long[slots];
        this.lastServiceNs = new long[slots];
        this.averageNs = new long[slots];
        this.streak = new int[slots];
        this.sorted = new long[slots];
        for (int i = 0; i < slots; i++) {
            int slot = i;
            probeTasks[i] = () -> probe(slot);
        }
    }

    /**
     * Takes each slot's average time per command since the last look, marks slots slow or fast again
     * (one log line per change), and starts a probe on each slow slot that has none in flight. By one
     * destager at a time (the health poll and each stripe opened, both under the data path's destage
     * lock).
     */
    void poll() {
        int sampled = 0;
        for (int i = 0; i < slots; i++) {
            SsdCounters c = dae.slot(i).counters();
            long commands = c.reads() + c.writes();
            long serviceNs = c.serviceNs();
            long n = commands - lastCommands[i];
            long ns = serviceNs - lastServiceNs[i];
            if (n < 0 || ns < 0) { // the counters started over: a replaced drive
                averageNs[i] = 0;
                streak[i] = 0;
            } else if (n > 0) {
                averageNs[i] = ns / n;
                sampled |= 1 << i;
            }
            lastCommands[i] = commands;
            lastServiceNs[i] = serviceNs;
            sorted[i] = averageNs[i];
        }
        Arrays.sort(sorted);
        long median = sorted[slots / 2];
        int now = slowMask;
        for (int i = 0; i < slots; i++) {
            int bit = 1 << i;
            boolean ok = dae.health(i) == Health.OK;
            long t = averageNs[i];
            if ((now & bit) != 0 && !ok) {
                now &= ~bit; // failed or pulled: the health poll takes it from here
                streak[i] = 0;
            } else if ((sampled & bit) == 0) {
                continue;
            } else if ((now & bit) == 0) {
                streak[i] = ok && t >= ENTER_NS && t >= PEERS * median ? streak[i] + 1 : 0;
                if (streak[i] >= CONFIRM) {
                    now |= bit;
                    streak[i] = 0;
                    Log.warn(
                            "ssd_slow",
                            "slot=" + i + " service_time_us=" + t / 1000 + " median_us=" + median / 1000
                                    + " action=written_and_read_around");
                }
            } else {
                streak[i] = t < LEAVE_NS || 2 * t < PEERS * median ? streak[i] + 1 : 0;
                if (streak[i] >= RECOVER) {
                    now &= ~bit;
                    streak[i] = 0;
                    Log.info(
                            "ssd_fast_again",
                            "slot=" + i + " service_time_us=" + t / 1000 + " median_us=" + median / 1000 + " probes="
                                    + probesDone.get());
                }
            }
        }
        slowMask = now;
        for (int m = now; m != 0; m &= m - 1) {
            startProbe(Integer.numberOfTrailingZeros(m));
        }
    }

    /** Slow slots, as a mask. */
    int mask() {
        return slowMask;
    }

    boolean isSlow(int slot) {
        return (slowMask & (1 << slot)) != 0;
    }

    /**
     * The slots new writes go to, out of {@code healthy}: all but the slow ones, slowest first left
     * out, as long as at least {@code slots - 2} (and 4) remain. That keeps every new stripe as wide
     * as two lost SSDs would make it: the hot space and the capacity the pool offers count on no
     * narrower stripes. Past that, a slow drive is written to: slow, but protected.
     */
    int writeMask(int healthy) {
        int slow = slowMask & healthy;
        int floor = Math.max(4, slots - 2);
        int m = healthy;
        while (slow != 0 && Integer.bitCount(m) > floor) {
            int worst = slowest(slow);
            m &= ~(1 << worst);
            slow &= ~(1 << worst);
        }
        return m;
    }

    /** Probes finished so far (tests, stats). */
    long probes() {
        return probesDone.get();
    }

    /** Slow slots, e.g. {@code 3,7} ("" when none). */
    String describe() {
        StringBuilder b = new StringBuilder();
        for (int m = slowMask; m != 0; m &= m - 1) {
            b.append(b.isEmpty() ? "" : ",").append(Integer.numberOfTrailingZeros(m));
        }
        return b.toString();
    }

    private int slowest(int mask) {
        int worst = -1;
        long worstNs = -1;
        for (int m = mask; m != 0; m &= m - 1) {
            int i = Integer.numberOfTrailingZeros(m);
            long t = averageNs[i];
            if (t > worstNs) {
                worst = i;
                worstNs = t;
            }
        }
        return worst;
    }

    private void startProbe(int slot) {
        int bit = 1 << slot;
        for (int m = probing.get(); (m & bit) == 0; m = probing.get()) { // bounded: each turn sees a change
            if (probing.compareAndSet(m, m | bit)) {
                probes.execute(probeTasks[slot]);
                return;
            }
        }
    }

    /** One 4 KiB read of the slot's first metadata cell: the drive counts its service time. */
    private void probe(int slot) {
        try {
            ByteBuffer b = probeBuffers[slot];
            if (b == null) {
                b = Ssd.allocateAligned(StripeLayout.CELL);
                probeBuffers[slot] = b; // published to the slot's next probe by the probing flag's CAS
            }
            dae.slot(slot).read(0, b.clear());
            probesDone.incrementAndGet();
        } catch (RuntimeException e) {
            // the DAE closed under the probe (node stopping): nothing to measure any more
        } finally {
            int bit = 1 << slot;
            for (int m = probing.get(); !probing.compareAndSet(m, m & ~bit); m = probing.get()) {
                // another slot's probe changed the mask meanwhile: try again (each turn sees a change)
            }
        }
    }
}
