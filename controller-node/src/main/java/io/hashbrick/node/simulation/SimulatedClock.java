package io.hashbrick.node.simulation;

import io.hashbrick.journal.NanoClock;

/** The simulation's time: it moves only when the simulation says so. One thread (the simulation's). */
final class SimulatedClock implements NanoClock {
    private long nowNs = 1_000_000_000L;

    @Override
    public long nanoTime() {
        return nowNs;
    }

    void advance(long ns) {
        if (ns < 0) {
            throw new IllegalArgumentException("time runs forward: ns=" + ns);
        }
        nowNs += ns;
    }
}
