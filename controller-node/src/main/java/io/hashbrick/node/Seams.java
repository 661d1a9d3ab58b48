package io.hashbrick.node;

import io.hashbrick.journal.NanoClock;
import io.hashbrick.sim.SsdOptions;
import java.util.EnumSet;
import java.util.Set;

/**
 * What a deterministic simulation replaces in a controller (STYLE.md "Determinism"): the clock the
 * background work's timers read, the entropy new pools draw (the H2P index seed), whether the roles
 * run their own background threads (a simulation calls their steps itself), the bugs it plants, and
 * the SSDs' behaviour.
 *
 * @param clock monotonic time for the destage, checkpoint, scrub and rebuild timers
 * @param entropySeed the seed of a new pool's H2P index; 0 draws one from {@code SecureRandom}
 * @param backgroundThreads false: no destage thread, no outbox drainer (the caller drives the steps)
 * @param plants the bugs planted (empty for every real controller)
 * @param ssdOptions how the DAE's simulated SSDs behave (a simulation turns their volatile write-cache
 *     model on, so that a power cut loses what no flush covered)
 */
public record Seams(
        NanoClock clock, long entropySeed, boolean backgroundThreads, Set<Plant> plants, SsdOptions ssdOptions) {
    /** A real controller: the JVM's clock, secure entropy, its own threads, nothing planted. */
    public static final Seams REAL = new Seams(NanoClock.SYSTEM, 0, true, Set.of(), SsdOptions.defaults());

    public Seams {
        if (clock == null || plants == null || ssdOptions == null) {
            throw new IllegalArgumentException("seams: clock, plants and SSD options are required");
        }
        plants = plants.isEmpty() ? Set.of() : Set.copyOf(EnumSet.copyOf(plants));
    }

    public boolean planted(Plant p) {
        return plants.contains(p);
    }
}
