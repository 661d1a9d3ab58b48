package io.hashbrick.node.xdp;

import io.hashbrick.sim.Dae;
import io.hashbrick.sim.Ssd;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.concurrent.Executor;

/**
 * Part of {@link SegmentStore} (see {@link StripeTable} for why it is a layer): the whole-stripe scratch
 * areas ({@link StripeScratch}, a small bounded pool) and the reconstruction cache, a few stripes rebuilt
 * from parity, each valid only at the generation it was read under. Guarded by the store's monitor.
 */
abstract class ReconstructCache extends StripeTable {
    ReconstructCache(Dae dae, StripeLayout layout, Executor probes) {
        super(dae, layout, probes);
        Arrays.fill(cachedStripe, -1);
    }

    /**
     * Whole stripes rebuilt from parity (sealed stripes only), each kept with the generation it was
     * read under: an entry is served only while the stripe is still at that generation.
     */
    private static final int RECONSTRUCTED_MAX = 4;

    private final int[] cachedStripe = new int[RECONSTRUCTED_MAX];
    private final int[] cachedEpoch = new int[RECONSTRUCTED_MAX];
    private final long[] cachedUse = new long[RECONSTRUCTED_MAX];
    private final StripeScratch[] cachedScratch = new StripeScratch[RECONSTRUCTED_MAX];
    private long cacheClock;
    /** Free whole-stripe scratch areas (see {@link StripeScratch}): a small bounded pool. */
    private static final int SCRATCH_POOL_MAX = 2;

    private final StripeScratch[] scratchPool = new StripeScratch[SCRATCH_POOL_MAX];
    private int scratchPooled;
    long scratchAllocations;

    /**
     * Whole-stripe working memory for reconstructs, scrubs and re-encodes: every column's cells, one
     * column's aligned I/O buffer, two cells for row rebuilds and the column-to-slot maps. About 2.9 MB
     * of heap and 1 MiB direct: taken from a small pool ({@link #borrowScratch}) or kept by the
     * reconstruction cache, never allocated per read once warm. Used by one thread at a time.
     */
    static final class StripeScratch {
        final byte[][][] cells = new byte[MAX_WIDTH][ROWS][CELL];
        final ByteBuffer column = Ssd.allocateAligned(StripeLayout.COLUMN_BYTES);
        final byte[] acc = new byte[CELL];
        final byte[] tmp = new byte[CELL];
        /** views[w]: the first w columns, the shape {@link Rdp} takes for a stripe of width w. */
        private final byte[][][][] views = new byte[MAX_WIDTH + 1][][][];

        private final int[][] slots = new int[MAX_WIDTH + 1][];

        StripeScratch() {
            for (int w = 4; w <= MAX_WIDTH; w++) {
                views[w] = Arrays.copyOf(cells, w);
                slots[w] = new int[w];
            }
        }

        byte[][][] view(int w) {
            return views[w];
        }

        int[] slots(int w) {
            return slots[w];
        }
    }

    private static final int MAX_WIDTH = 25;

    /** A scratch area from the pool, or a new one (counted) when the pool is empty. */
    StripeScratch borrowScratch() {
        synchronized (this) {
            if (scratchPooled > 0) {
                StripeScratch x = scratchPool[--scratchPooled];
                scratchPool[scratchPooled] = null;
                return x;
            }
            scratchAllocations++;
        }
        return new StripeScratch(); // outside the monitor: megabytes
    }

    /** Back to the pool (dropped when the pool is full: the pool is bounded, readers are not). */
    synchronized void releaseScratch(StripeScratch x) {
        if (scratchPooled < SCRATCH_POOL_MAX) {
            scratchPool[scratchPooled++] = x;
        }
    }

    /** Whole-stripe scratch areas allocated so far (tests: none more once warm). */
    synchronized long scratchAllocations() {
        return scratchAllocations;
    }

    /**
     * Keeps reconstruction {@code x} of stripe {@code s}, read under generation {@code ep}, if the stripe
     * is still sealed and at that generation (a refill, or a reuse, since means it may mix old and new
     * cells). The entry it replaces goes back to the pool. @return whether {@code x} was kept
     */
    synchronized boolean cache(int s, int ep, StripeScratch x) {
        if (state[s] != SEALED || epoch[s] != ep) {
            return false;
        }
        int slot = 0;
        for (int i = 0; i < RECONSTRUCTED_MAX; i++) {
            if (cachedStripe[i] == s) {
                slot = i;
                break;
            }
            if (cachedUse[i] < cachedUse[slot]) {
                slot = i; // least recently used (never used: 0)
            }
        }
        if (cachedScratch[slot] != null) {
            releaseScratch(cachedScratch[slot]);
        }
        cachedStripe[slot] = s;
        cachedEpoch[slot] = ep;
        cachedScratch[slot] = x;
        cachedUse[slot] = ++cacheClock;
        return true;
    }

    /**
     * Copies the {@code columns} cells among [first, last] from the cached reconstruction of stripe
     * {@code s} at generation {@code ep}, under the monitor (an entry may be replaced, and its memory
     * reused, as soon as the monitor is free). @return false when there is none
     */
    synchronized boolean copyCached(int s, int ep, int columns, int first, int last, ByteBuffer scratch) {
        if (state[s] != SEALED || epoch[s] != ep) {
            return false;
        }
        for (int i = 0; i < RECONSTRUCTED_MAX; i++) {
            if (cachedStripe[i] == s && cachedEpoch[i] == ep) {
                cachedUse[i] = ++cacheClock;
                copyOut(cachedScratch[i].cells, columns, first, last, scratch);
                return true;
            }
        }
        return false;
    }

    /** Whether stripe {@code s} has a reconstruction valid at its current generation. */
    synchronized boolean isCached(int s) {
        for (int i = 0; i < RECONSTRUCTED_MAX; i++) {
            if (cachedStripe[i] == s && cachedEpoch[i] == epoch[s]) {
                return true;
            }
        }
        return false;
    }

    /** Drops stripe {@code s}'s cached reconstruction (its parity or data changed). */
    synchronized void dropCached(int s) {
        for (int i = 0; i < RECONSTRUCTED_MAX; i++) {
            if (cachedStripe[i] == s) {
                releaseScratch(cachedScratch[i]);
                cachedScratch[i] = null;
                cachedStripe[i] = -1;
                cachedUse[i] = 0;
            }
        }
    }

    void copyOut(byte[][][] v, int columns, int first, int last, ByteBuffer scratch) {
        for (int cell = first; cell <= last; cell++) {
            int column = cell / ROWS;
            if (((columns >>> column) & 1) != 0) {
                scratch.put((cell - first) * CELL, v[column][cell % ROWS], 0, CELL);
                synchronized (this) {
                    cellsReconstructed++;
                }
            }
        }
    }
}
