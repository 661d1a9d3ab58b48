package io.hashbrick.node;

import io.hashbrick.journal.NanoClock;
import java.util.EnumSet;
import java.util.Set;

/**
 * What a deterministic simulation replaces in a controller (STYLE.md "Determinism"): the clock the
 * background work's timers read, the entropy new pools draw (the H2P index seed), whether the roles
 * run their own background threads (a simulation calls their steps itself), and the bugs it plants.
 *
 * @param clock monotonic time for the destage, checkpoint, scrub and rebuild timers
 * @param entropySeed the seed of a new pool's H2P index; 0 draws one from {@code SecureRandom}
 * @param backgroundThreads false: no destage thread, no outbox drainer (the caller drives the steps)
 * @param plants the bugs planted (empty for every real controller)
 */
public record Seams(NanoClock clock, long entropySeed, boolean backgroundThreads, Set<Plant> plants) {
    /** A real controller: the JVM's clock, secure entropy, its own threads, nothing planted. */
    public static final Seams REAL = new Seams(NanoClock.SYSTEM, 0, true, Set.of());

    public Seams {
        if (clock == null || plants == null) {
            throw new IllegalArgumentException("seams: clock and plants are required");
        }
        plants = plants.isEmpty() ? Set.of() : Set.copyOf(EnumSet.copyOf(plants));
    }

    public boolean planted(Plant p) {
        return plants.contains(p);
    }
}
