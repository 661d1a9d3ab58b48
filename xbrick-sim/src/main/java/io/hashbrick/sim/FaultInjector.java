package io.hashbrick.sim;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Seeded fault injection into simulated drives: the same seed and the same sequence of calls inject the
 * same faults into the same drives, cells and bits, so a failing simulation replays from its seed
 * (TigerBeetle's {@code src/testing/storage.zig} does the same for its storage faults). All randomness
 * comes from one {@link SplittableRandom}; nothing reads the wall clock.
 *
 * <p>Every injected fault is counted by kind and logged as one line,
 * {@code t_ns=.. event=fault_injected seed=.. seq=.. kind=.. slot=.. [cell=..] [bit=..] [latency_ns=..|draw=..]};
 * a torn write, which fires later on the drive's next write, is logged again by the drive as
 * {@code event=fault_fired} with the bytes it kept.
 *
 * <p>Not thread-safe: one injector belongs to one simulation thread (STYLE.md single writer), which is
 * also what makes its sequence of draws, and so its faults, reproducible.
 */
public final class FaultInjector {
    public static final long SLOW_LATENCY_NS_MIN = 100_000L; // 100 µs: a busy SSD
    public static final long SLOW_LATENCY_NS_MAX = 50_000_000L; // 50 ms: a drive in trouble, not yet dead

    private static final FaultKind[] KINDS = FaultKind.values();

    private final long seed;
    private final SplittableRandom random;
    private final SimClock clock;
    private final EventSink events;
    private final long[] counts = new long[KINDS.length];
    private long sequence;

    /** Logs to stderr, stamped with virtual time 0: for tests that only need the seeded choices. */
    public FaultInjector(long seed) {
        this(seed, new ManualClock(0), EventSink.STDERR);
    }

    public FaultInjector(long seed, SimClock clock, EventSink events) {
        this.seed = seed;
        this.random = new SplittableRandom(seed);
        this.clock = clock;
        this.events = events;
    }

    // ---------------------------------------------------------------- one drive, explicit target

    public FaultEvent fail(Ssd ssd) {
        ssd.fail();
        return record(FaultKind.FAIL, ssd, -1, -1, -1);
    }

    public FaultEvent pull(Ssd ssd) {
        ssd.pull();
        return record(FaultKind.PULL, ssd, -1, -1, -1);
    }

    public FaultEvent latentError(Ssd ssd, long cell) {
        checkCell(ssd, cell);
        ssd.faults().addLatent(cell);
        return record(FaultKind.LATENT_ERROR, ssd, cell, -1, -1);
    }

    public FaultEvent flipBit(Ssd ssd, long cell, int bit) {
        try {
            ssd.flipBit(cell, bit);
        } catch (IOException e) {
            throw new UncheckedIOException("bit flip failed slot=" + ssd.slot() + " cell=" + cell + " bit=" + bit, e);
        }
        return record(FaultKind.BIT_FLIP, ssd, cell, bit, -1);
    }

    /**
     * Arms a torn write on the drive's next write (see {@link Ssd}'s torn-write model): it keeps
     * {@code (draw mod sectors) * 512} bytes, where {@code draw} is drawn now, from the seed.
     */
    public FaultEvent tornWrite(Ssd ssd, boolean failsDrive) {
        long draw = random.nextLong() & Long.MAX_VALUE;
        ssd.faults().armTorn(draw, failsDrive);
        return record(failsDrive ? FaultKind.TORN_WRITE_FAIL : FaultKind.TORN_WRITE_SILENT, ssd, -1, -1, draw);
    }

    /** Adds {@code latencyNs} (> 0) to every command on the drive until {@link #clearSlow}. */
    public FaultEvent slow(Ssd ssd, long latencyNs) {
        if (latencyNs <= 0) {
            throw new IllegalArgumentException(
                    "slow needs a positive latency slot=" + ssd.slot() + " latency_ns=" + latencyNs);
        }
        ssd.faults().latencyNs(latencyNs);
        return record(FaultKind.SLOW, ssd, -1, -1, latencyNs);
    }

    /** The drive is fast again. A repair, not a fault: logged, not counted. */
    public void clearSlow(Ssd ssd) {
        ssd.faults().latencyNs(0);
        EventSink.emit(events, clock, "fault_cleared", "seed=" + seed + " kind=SLOW slot=" + ssd.slot());
    }

    // ---------------------------------------------------------------- one drive, seeded target

    public FaultEvent latentError(Ssd ssd) {
        return latentError(ssd, random.nextLong(ssd.cells()));
    }

    public FaultEvent flipBit(Ssd ssd) {
        long cell = random.nextLong(ssd.cells());
        return flipBit(ssd, cell, random.nextInt(Ssd.CELL_BYTES * Byte.SIZE));
    }

    public FaultEvent slow(Ssd ssd) {
        return slow(ssd, random.nextLong(SLOW_LATENCY_NS_MIN, SLOW_LATENCY_NS_MAX + 1));
    }

    // ---------------------------------------------------------------- a shelf

    /**
     * Injects {@code kind} into a drive of the shelf chosen from the seed among those that are OK
     * (a fault needs a drive to happen to).
     *
     * @throws IllegalStateException if no drive is OK
     */
    public FaultEvent inject(Dae dae, FaultKind kind) {
        Ssd ssd = dae.slot(pickOkSlot(dae, kind));
        return switch (kind) {
            case FAIL -> fail(ssd);
            case PULL -> pull(ssd);
            case LATENT_ERROR -> latentError(ssd);
            case BIT_FLIP -> flipBit(ssd);
            case TORN_WRITE_FAIL -> tornWrite(ssd, true);
            case TORN_WRITE_SILENT -> tornWrite(ssd, false);
            case SLOW -> slow(ssd);
        };
    }

    /** One simulation step: with probability {@code perMillion}/10^6 injects one of {@code allowed}; else null. */
    public FaultEvent step(Dae dae, int perMillion, Set<FaultKind> allowed) {
        if (perMillion < 0 || perMillion > 1_000_000 || allowed.isEmpty()) {
            throw new IllegalArgumentException(
                    "step needs a rate in [0, 10^6] and some kind per_million=" + perMillion + " allowed=" + allowed);
        }
        if (random.nextInt(1_000_000) >= perMillion) {
            return null;
        }
        int nth = random.nextInt(allowed.size());
        for (FaultKind kind : KINDS) { // enum order, not the set's: the same seed picks the same kind
            if (allowed.contains(kind) && nth-- == 0) {
                return inject(dae, kind);
            }
        }
        throw new AssertionError("unreachable nth=" + nth);
    }

    private int pickOkSlot(Dae dae, FaultKind kind) {
        int ok = dae.count(Health.OK);
        if (ok == 0) {
            throw new IllegalStateException("no drive is OK to inject into kind=" + kind + " " + dae.healthSummary());
        }
        int nth = random.nextInt(ok);
        for (int i = 0; i < dae.slotCount(); i++) {
            if (dae.health(i) == Health.OK && nth-- == 0) {
                return i;
            }
        }
        throw new IllegalStateException("a drive changed health while choosing kind=" + kind);
    }

    // ---------------------------------------------------------------- bookkeeping

    public long seed() {
        return seed;
    }

    public long count(FaultKind kind) {
        return counts[kind.ordinal()];
    }

    public long total() {
        return sequence;
    }

    private FaultEvent record(FaultKind kind, Ssd ssd, long cell, int bit, long value) {
        counts[kind.ordinal()]++;
        FaultEvent event = new FaultEvent(++sequence, kind, ssd.slot(), cell, bit, value);
        EventSink.emit(events, clock, "fault_injected", "seed=" + seed + " " + event);
        return event;
    }

    private static void checkCell(Ssd ssd, long cell) {
        if (cell < 0 || cell >= ssd.cells()) {
            throw new IllegalArgumentException(
                    "cell outside the drive slot=" + ssd.slot() + " cell=" + cell + " cells=" + ssd.cells());
        }
    }
}
