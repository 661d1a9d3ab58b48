package io.hashbrick.node.xdp;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * Row-Diagonal Parity with prime p = 29 (P. Corbett et al., "Row-Diagonal Parity for Double Disk
 * Failure Correction", USENIX FAST 2004): encode, verify and repair any one or two failed columns of
 * a stripe of {@link StripeLayout#ROWS} = p - 1 = 28 rows. Pure computation, no I/O.
 *
 * <p>RDP has p - 1 = 28 data columns, a row parity column P and a diagonal parity column Q. We store
 * only {@code dataColumns} (23 on a full DAE, 22 or 21 on degraded stripes) of the data columns; RDP
 * data columns {@code dataColumns..27} are virtual all-zero columns, never stored and never failed.
 * The diagonals run over the p columns formed by the 28 data columns and P (RDP column 28). Numbers
 * below are the diagonal {@code (row + column) mod 29} each cell lies on, for {@code dataColumns} = 23:
 *
 * <pre>
 *  RDP column:  0   1   2  ...  22 | 23 ... 27 |  28 = P  |
 *  our index:   0   1   2  ...  22 | (virtual) |  23 = P  |  24 = Q
 *  row  0:      0   1   2  ...  22 | 23 ... 27 |  28*     |  Q[0]
 *  row  1:      1   2   3  ...  23 | 24 ... 28*|   0      |  Q[1]
 *  row  2:      2   3   4  ...  24 | 25 ...  0 |   1      |  Q[2]
 *  ...
 *  row 27:     27  28*  0  ...  20 | 21 ... 25 |  26      |  Q[27]
 * </pre>
 *
 * {@code P[r]} = XOR of the data cells of row r. {@code Q[d]} (d = 0..27) = XOR of every data and P cell
 * on diagonal d: Q is indexed by diagonal, not by row. Diagonal 28 (marked *) is the missing diagonal,
 * stored nowhere. Each column j of the p columns misses exactly one diagonal, {@code (j - 1) mod 29}.
 *
 * <p>A stripe is passed as {@code byte[][][] columns}, {@code columns[c][r]} being the cell of column c,
 * row r (for Q: diagonal r); c = 0..dataColumns-1 are data, c = dataColumns is P, c = dataColumns + 1
 * is Q. Every column has 28 cells, all of the same length, a multiple of 8 bytes; XOR runs a long at a
 * time. Nothing is allocated per call.
 */
public final class Rdp {
    /** The prime. */
    public static final int P = 29;
    /** Rows per stripe, and stored diagonals (Q cells): p - 1. */
    public static final int ROWS = P - 1;

    private static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.nativeOrder());

    private final int dataColumns;

    /** @param dataColumns stored data columns, 1..28 (the rest of RDP's 28 are virtual zero columns) */
    public Rdp(int dataColumns) {
        if (dataColumns < 1 || dataColumns > ROWS) {
            throw new IllegalArgumentException("RDP p=29 takes 1..28 data columns: data_columns=" + dataColumns);
        }
        this.dataColumns = dataColumns;
    }

    public int dataColumns() {
        return dataColumns;
    }

    /** Index of the P column in {@code columns}. */
    public int pIndex() {
        return dataColumns;
    }

    /** Index of the Q column in {@code columns}. */
    public int qIndex() {
        return dataColumns + 1;
    }

    /** Computes P and Q ({@code columns[pIndex()]}, {@code columns[qIndex()]}) from the data columns. */
    public void encode(byte[][][] columns) {
        check(columns);
        encodeP(columns);
        encodeQ(columns);
    }

    /**
     * Overwrites failed column {@code failedA} (and {@code failedB}, or -1 for a single failure) with its
     * contents rebuilt from the others, which must be intact.
     */
    public void reconstruct(byte[][][] columns, int failedA, int failedB) {
        check(columns);
        int q = qIndex();
        if (failedA < 0 || failedA > q || failedB < -1 || failedB > q || failedA == failedB) {
            throw new IllegalArgumentException("failed columns must be distinct in 0.." + q + " (or -1 for the second):"
                    + " failed_a=" + failedA + " failed_b=" + failedB);
        }
        int x = failedB < 0 ? failedA : Math.min(failedA, failedB);
        int y = failedB < 0 ? -1 : Math.max(failedA, failedB);
        if (y < 0) {
            if (x == q) {
                encodeQ(columns);
            } else if (x == pIndex()) {
                encodeP(columns);
            } else {
                for (int r = 0; r < ROWS; r++) {
                    recoverFromRow(columns, x, r);
                }
            }
        } else if (y == q) {
            // One of data/P, and Q: rows (or re-encode P), then re-encode Q.
            reconstruct(columns, x, -1);
            encodeQ(columns);
        } else {
            // Two of the p row-and-diagonal columns (data or P): the two RDP chains.
            int rx = rdpColumn(x);
            int ry = rdpColumn(y);
            chain(columns, rx, ry);
            chain(columns, ry, rx);
        }
    }

    /** Whether P and Q match the data (scrub): every row and every stored diagonal XORs to zero. */
    public boolean verify(byte[][][] columns) {
        int words = check(columns);
        for (int r = 0; r < ROWS; r++) {
            for (int w = 0; w < words; w++) {
                long acc = 0;
                for (int j = 0; j < P; j++) {
                    byte[] cell = cell(columns, j, r);
                    if (cell != null) {
                        acc ^= (long) LONGS.get(cell, w * 8);
                    }
                }
                if (acc != 0) {
                    return false;
                }
            }
        }
        for (int d = 0; d < ROWS; d++) {
            for (int w = 0; w < words; w++) {
                long acc = (long) LONGS.get(columns[qIndex()][d], w * 8);
                for (int j = 0; j < P; j++) {
                    int r = Math.floorMod(d - j, P);
                    byte[] cell = r == ROWS ? null : cell(columns, j, r);
                    if (cell != null) {
                        acc ^= (long) LONGS.get(cell, w * 8);
                    }
                }
                if (acc != 0) {
                    return false;
                }
            }
        }
        return true;
    }

    /**
     * One RDP recovery chain for failed RDP columns {@code s} and {@code o} (0..28): start at the diagonal
     * that misses {@code s}, recover {@code o}'s cell on it, then {@code s}'s cell in that row from row
     * parity, then {@code o}'s cell on the diagonal of that cell, and so on until the missing diagonal.
     * The diagonals visited step by {@code s - o} (mod p); as p is prime the two chains together
     * recover all 2 (p - 1) cells.
     */
    private void chain(byte[][][] columns, int s, int o) {
        int d = Math.floorMod(s - 1, P);
        while (d != ROWS) {
            int r = Math.floorMod(d - o, P); // o's cell on d: never row p-1 before the missing diagonal
            recoverFromDiagonal(columns, o, d);
            recoverFromRow(columns, ourColumn(s), r);
            d = (r + s) % P;
        }
    }

    private void encodeP(byte[][][] columns) {
        byte[][] p = columns[pIndex()];
        for (int r = 0; r < ROWS; r++) {
            System.arraycopy(columns[0][r], 0, p[r], 0, p[r].length);
            for (int c = 1; c < dataColumns; c++) {
                xorInto(p[r], columns[c][r]);
            }
        }
    }

    private void encodeQ(byte[][][] columns) {
        for (int d = 0; d < ROWS; d++) {
            xorDiagonal(columns, d, -1, columns[qIndex()][d], false);
        }
    }

    /** Rebuilds the cell of our column {@code c} (data or P) in row {@code r} from the rest of the row. */
    private void recoverFromRow(byte[][][] columns, int c, int r) {
        byte[] dst = columns[c][r];
        boolean first = true;
        for (int k = 0; k <= dataColumns; k++) { // data and P
            if (k != c) {
                if (first) {
                    System.arraycopy(columns[k][r], 0, dst, 0, dst.length);
                    first = false;
                } else {
                    xorInto(dst, columns[k][r]);
                }
            }
        }
        if (first) {
            Arrays.fill(dst, (byte) 0);
        }
    }

    /** Rebuilds the cell of RDP column {@code j} on diagonal {@code d} from Q[d] and the diagonal's others. */
    private void recoverFromDiagonal(byte[][][] columns, int j, int d) {
        byte[] dst = cell(columns, j, Math.floorMod(d - j, P));
        xorDiagonal(columns, d, j, dst, true);
    }

    /**
     * Writes to {@code dst} the XOR of the cells on diagonal {@code d} of every RDP column but
     * {@code skip}, plus Q[d] if {@code withQ}.
     */
    private void xorDiagonal(byte[][][] columns, int d, int skip, byte[] dst, boolean withQ) {
        boolean first = true;
        if (withQ) {
            System.arraycopy(columns[qIndex()][d], 0, dst, 0, dst.length);
            first = false;
        }
        for (int j = 0; j < P; j++) {
            int r = Math.floorMod(d - j, P);
            byte[] src = j == skip || r == ROWS ? null : cell(columns, j, r);
            if (src == null) {
                continue;
            }
            if (first) {
                System.arraycopy(src, 0, dst, 0, dst.length);
                first = false;
            } else {
                xorInto(dst, src);
            }
        }
        if (first) {
            Arrays.fill(dst, (byte) 0);
        }
    }

    /** Cell of RDP column {@code j} (0..27 data, 28 = P) in row {@code r}, or null for a virtual column. */
    private byte[] cell(byte[][][] columns, int j, int r) {
        if (j == ROWS) {
            return columns[pIndex()][r];
        }
        return j < dataColumns ? columns[j][r] : null;
    }

    /** RDP column (0..28) of our data or P column. */
    private int rdpColumn(int c) {
        return c == pIndex() ? ROWS : c;
    }

    /** Our column of RDP column {@code j}, which must be stored (data or P). */
    private int ourColumn(int j) {
        return j == ROWS ? pIndex() : j;
    }

    private static void xorInto(byte[] dst, byte[] src) {
        for (int i = 0; i < dst.length; i += 8) {
            LONGS.set(dst, i, (long) LONGS.get(dst, i) ^ (long) LONGS.get(src, i));
        }
    }

    /** Checks the stripe's shape; returns the longs per cell. */
    private int check(byte[][][] columns) {
        if (columns.length != dataColumns + 2) {
            throw new IllegalArgumentException(
                    "stripe needs " + (dataColumns + 2) + " columns (data, P, Q): got " + columns.length);
        }
        int bytes = columns[0][0].length;
        if (bytes == 0 || bytes % 8 != 0) {
            throw new IllegalArgumentException("cell bytes must be a positive multiple of 8: " + bytes);
        }
        for (int c = 0; c < columns.length; c++) {
            if (columns[c].length != ROWS) {
                throw new IllegalArgumentException("column " + c + " has " + columns[c].length + " cells, not 28");
            }
            for (byte[] cell : columns[c]) {
                if (cell.length != bytes) {
                    throw new IllegalArgumentException(
                            "column " + c + " has a cell of " + cell.length + " bytes, not " + bytes);
                }
            }
        }
        return bytes / 8;
    }
}
