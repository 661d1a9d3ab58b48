package io.hashbrick.node.xdp;

/**
 * A data column rebuilt in place: its 28 cells, and every cell read on the way (so that moving the
 * column's live blocks, and taking the column out of the parity, reads nothing twice).
 */
public final class ColumnRebuild {
    final int stripe;
    final int epoch;
    final int column;
    final int slot;
    final int[] col;
    final byte[][] rebuilt = new byte[StripeLayout.ROWS][];
    final byte[][][] cells;
    long cellsRead;
    int cellsRebuilt;

    ColumnRebuild(int stripe, int epoch, int column, int slot, int[] col) {
        this.stripe = stripe;
        this.epoch = epoch;
        this.column = column;
        this.slot = slot;
        this.col = col;
        this.cells = new byte[col.length][StripeLayout.ROWS][];
    }

    public long stripe() {
        return stripe;
    }

    /** Pool locations of the column: [from, to). */
    public long[] range(long stripeBytes) {
        long base = stripe * stripeBytes + (long) column * StripeLayout.COLUMN_BYTES;
        return new long[] {base, base + StripeLayout.COLUMN_BYTES};
    }

    public long cellsRead() {
        return cellsRead;
    }

    public int cellsRebuilt() {
        return cellsRebuilt;
    }

    /** Data columns of the stripe: what RAID 6 reads per cell rebuilt (the others and P). */
    public int dataColumns() {
        return col.length - 2;
    }
}
