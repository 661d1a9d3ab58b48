package io.hashbrick.node.data;

import io.hashbrick.node.Log;
import io.hashbrick.sim.Dae;
import io.hashbrick.sim.Health;
import io.hashbrick.sim.Ssd;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Which SSDs are slow, judged as a controller judges a real drive: by the service time of its commands
 * ({@link Ssd#serviceTimeNs}, what {@code iostat} calls await), not by asking the simulator. The store
 * goes around a slow SSD: new stripes and checkpoints leave it out ({@link #writeMask}), a refill
 * allocates no cell on it, a read of a cell on it is rebuilt from its row's parity, the scrub passes its
 * stripes by. A destage round then waits for no 100 ms command, and neither does a checkpoint, which
 * holds the data path's lock while it writes.
 *
 * <p><b>Slow</b>: a service time of at least {@link #ENTER_NS} that is also {@link #PEERS} times the
 * median of the slots': one drive lagging among fast ones. When every drive is slow (a busy host),
 * going around one would not help, and none is. <b>Fast again</b>: under {@link #LEAVE_NS}, or under
 * half of {@link #PEERS} times the median. In between, a slot stays as it was (hysteresis: a drive near
 * the line does not flap).
 *
 * <p><b>Probes.</b> A drive written and read around gets no commands left to measure it by, so while a
 * slot is slow {@link #poll} keeps one probe in flight on it: a 4 KiB read of the first cell of its
 * metadata area, run by {@code probes} (a virtual thread each, in a node), so that its wait holds
 * nothing and delays nobody. Nothing else is issued: a slow drive sees at most one probe at a time, a
 * healed one about one per destage round, and ten fast answers bring it back.
 *
 * <p>Threads: {@link #poll} on the destage thread (the health poll); {@link #mask}, {@link #writeMask}
 * and {@link #isSlow} on any thread (one volatile read).
 */
final class SlowSsds {
    /** A drive at 20 ms per command is a hundred times a healthy one here (0.1-0.3 ms per 112 KiB). */
    static final long ENTER_NS = 20_000_000L;
    /** Back under 5 ms: with {@link Ssd}'s averaging, about ten fast commands after a 100 ms one. */
    static final long LEAVE_NS = 5_000_000L;
    /** How many times the median a slow drive's service time must be. */
    static final int PEERS = 8;

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
    /** Poll's scratch (destage thread only). */
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
        this.sorted = new long[slots];
        for (int i = 0; i < slots; i++) {
            int slot = i;
            probeTasks[i] = () -> probe(slot);
        }
    }

    /**
     * Looks at every slot's service time, marks slots slow or fast again (one log line per change),
     * and starts a probe on each slow slot that has none in flight. Destage thread.
     */
    void poll() {
        for (int i = 0; i < slots; i++) {
            sorted[i] = dae.slot(i).serviceTimeNs();
        }
        Arrays.sort(sorted);
        long median = sorted[slots / 2];
        int before = slowMask;
        int now = before;
        for (int i = 0; i < slots; i++) {
            int bit = 1 << i;
            long t = dae.slot(i).serviceTimeNs();
            boolean ok = dae.health(i) == Health.OK;
            if ((now & bit) == 0 && ok && t >= ENTER_NS && t >= PEERS * median) {
                now |= bit;
                Log.warn(
                        "ssd_slow",
                        "slot=" + i + " service_time_us=" + t / 1000 + " median_us=" + median / 1000
                                + " action=written_and_read_around");
            } else if ((now & bit) != 0 && (!ok || t < LEAVE_NS || 2 * t < PEERS * median)) {
                now &= ~bit;
                Log.info(
                        "ssd_fast_again",
                        "slot=" + i + " service_time_us=" + t / 1000 + " health=" + dae.health(i) + " probes="
                                + probesDone.get());
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
            long t = dae.slot(i).serviceTimeNs();
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

    /** One 4 KiB read of the slot's first metadata cell: the drive measures its own service time. */
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
