package io.hashbrick.node.xdp;

/** The read plans of a column rebuild ({@link StripeRebuild}): which parity rebuilds each lost cell. */
final class RebuildPlan {
    private RebuildPlan() {}

    private static final java.util.Map<Long, boolean[]> PLANS = new java.util.concurrent.ConcurrentHashMap<>();

    /**
     * Which rows of lost data column {@code m} (of {@code k} stored data columns) to rebuild from their
     * diagonal (Q) rather than their row (P), chosen so the cells read overlap most: RDP's hybrid
     * single-failure recovery (Xiang et al., SIGMETRICS 2010), found by local search. Reads about 3/4 of
     * what rebuilding every row from P (RAID 6's way) reads.
     */
    static boolean[] hybridPlan(int k, int m) {
        return PLANS.computeIfAbsent(((long) k << 32) | m, key -> {
            boolean[] diag = new boolean[StripeLayout.ROWS];
            int best = planCost(k, m, diag);
            boolean improved = true;
            while (improved) {
                improved = false;
                int bestRow = -1;
                for (int r = 0; r < StripeLayout.ROWS; r++) {
                    if (!diag[r] && (r + m) % Rdp.P == StripeLayout.ROWS) {
                        continue; // the missing diagonal: only its row can rebuild this cell
                    }
                    diag[r] = !diag[r];
                    int c = planCost(k, m, diag);
                    diag[r] = !diag[r];
                    if (c < best) {
                        best = c;
                        bestRow = r;
                    }
                }
                if (bestRow >= 0) {
                    diag[bestRow] = !diag[bestRow];
                    improved = true;
                }
            }
            return diag;
        });
    }

    /** Cells read by a plan: the union over rows of what each row's chosen parity needs. */
    static int planCost(int k, int m, boolean[] diag) {
        java.util.BitSet read = new java.util.BitSet();
        for (int r = 0; r < StripeLayout.ROWS; r++) {
            forEachSource(k, m, r, diag[r], (j, row) -> read.set(j * StripeLayout.ROWS + row));
        }
        return read.cardinality();
    }

    /** Our column index j (data 0..k-1, P = k, Q = k+1) and row of every cell rebuilding (r, m). */
    interface CellSink {
        void cell(int j, int row);
    }

    static void forEachSource(int k, int m, int r, boolean viaDiagonal, CellSink sink) {
        if (!viaDiagonal) {
            for (int j = 0; j <= k; j++) { // data and P
                if (j != m) {
                    sink.cell(j, r);
                }
            }
            return;
        }
        int d = (r + m) % Rdp.P;
        for (int j = 0; j < k; j++) {
            int row = Math.floorMod(d - j, Rdp.P);
            if (j != m && row != StripeLayout.ROWS) {
                sink.cell(j, row);
            }
        }
        int pRow = Math.floorMod(d - StripeLayout.ROWS, Rdp.P); // P is RDP column 28
        if (pRow != StripeLayout.ROWS) {
            sink.cell(k, pRow);
        }
        sink.cell(k + 1, d); // Q is indexed by diagonal
    }
}
