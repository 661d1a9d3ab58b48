package io.hashbrick.sim;

/**
 * Faults armed on one drive by a {@link FaultInjector}, consulted on every I/O. Per process: a
 * controller's simulator injects into its own view of a shared drive (bit flips, which change the file,
 * and fail/pull, which change the shared slot state, are the exceptions: both controllers see them).
 *
 * <p>Bounded: at most {@link #LATENT_CELLS_MAX} latent cells per drive (a drive with more bad sectors
 * than that would be failed by any real controller). The hot path reads two volatile fields and takes
 * no lock unless a fault is armed.
 */
final class SsdFaults {
    static final int LATENT_CELLS_MAX = 64;

    private final long[] latentCells = new long[LATENT_CELLS_MAX];
    /** Written under {@code this}, read without a lock as the "any latent errors?" fast check. */
    private volatile int latentCount;

    private volatile long latencyNs;

    private volatile boolean tornArmed;
    private long tornDraw; // guarded by this
    private boolean tornFailsDrive; // guarded by this

    /** Returns false if the cell was already latent. */
    synchronized boolean addLatent(long cell) {
        int n = latentCount;
        for (int i = 0; i < n; i++) {
            if (latentCells[i] == cell) {
                return false;
            }
        }
        if (n == LATENT_CELLS_MAX) {
            throw new IllegalStateException("latent cells full max=" + LATENT_CELLS_MAX + " cell=" + cell);
        }
        latentCells[n] = cell;
        latentCount = n + 1;
        return true;
    }

    /** True if any cell of {@code [firstCell, firstCell + cells)} is latent. */
    boolean anyLatent(long firstCell, int cells) {
        if (latentCount == 0) {
            return false;
        }
        synchronized (this) {
            for (int i = 0; i < latentCount; i++) {
                long c = latentCells[i];
                if (c >= firstCell && c < firstCell + cells) {
                    return true;
                }
            }
            return false;
        }
    }

    /** A write remaps the sectors it covers, as a real drive does on a write to a pending sector. */
    void clearLatent(long firstCell, int cells) {
        if (latentCount == 0) {
            return;
        }
        synchronized (this) {
            int n = latentCount;
            for (int i = n - 1; i >= 0; i--) {
                long c = latentCells[i];
                if (c >= firstCell && c < firstCell + cells) {
                    latentCells[i] = latentCells[--n]; // order does not matter: swap-remove
                }
            }
            latentCount = n;
        }
    }

    synchronized int latentCount() {
        return latentCount;
    }

    long latencyNs() {
        return latencyNs;
    }

    void latencyNs(long ns) {
        if (ns < 0) {
            throw new IllegalArgumentException("latency must not be negative latencyNs=" + ns);
        }
        latencyNs = ns;
    }

    synchronized void armTorn(long draw, boolean failsDrive) {
        tornDraw = draw;
        tornFailsDrive = failsDrive;
        tornArmed = true;
    }

    boolean tornArmed() {
        return tornArmed;
    }

    /**
     * Disarms the torn write and returns its draw, or -1 if another thread took it first. The caller
     * then reads {@link #tornFailsDrive()}, which stays set until the next arm.
     */
    synchronized long takeTorn() {
        if (!tornArmed) {
            return -1;
        }
        tornArmed = false;
        return tornDraw & Long.MAX_VALUE;
    }

    synchronized boolean tornFailsDrive() {
        return tornFailsDrive;
    }

    /** A new drive has none of the old one's faults. */
    synchronized void clear() {
        latentCount = 0;
        latencyNs = 0;
        tornArmed = false;
    }
}
