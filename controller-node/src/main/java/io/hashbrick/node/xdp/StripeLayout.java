package io.hashbrick.node.xdp;

/**
 * Where the D role's data sits on the DAE (DESIGN.md "XDP"): every SSD's data area begins with the
 * metadata area ({@code data.MetadataArea}), then stripes of {@link #ROWS} cells per SSD follow.
 *
 * <pre>
 *  SSD slot:      0        1     ...     22       23      24
 *  stripe s:   [col (0-s)%w] ...                                  column c of stripe s is on SSD (c + s) % w
 *              data columns 0..dataColumns-1 in column-major order, then P and Q (issue 4 fills them)
 *  SSD offset of stripe s, row r = metadataBytes + s * ROWS * 4096 + r * 4096
 * </pre>
 *
 * A stripe's data area is addressed as {@code dataColumns * ROWS * 4096} bytes in column-major order
 * (a column is 112 KiB contiguous on one SSD, so most packed blocks are one read). A pool location is
 * {@code stripe * stripeDataBytes() + offset}, a byte address: compressed blocks are packed at byte
 * granularity, each behind a 2-byte length header; raw (incompressible) blocks take one whole cell.
 *
 * @param width SSDs the stripe spans: data columns + 2 parity columns (25 on a full DAE)
 * @param metadataBytes bytes at the start of every SSD's data area kept for checkpoints
 * @param stripes stripes that fit on the smallest SSD after the metadata area
 */
public record StripeLayout(int width, long metadataBytes, long stripes) {
    public static final int CELL = 4096;
    /** RDP with p = 29: 28 rows. */
    public static final int ROWS = 28;

    public static final int COLUMN_BYTES = ROWS * CELL;

    public StripeLayout {
        if (width < 4 || width > 25) {
            throw new IllegalArgumentException("stripe width must be 4..25 SSDs: width=" + width);
        }
        if (metadataBytes < 0 || metadataBytes % CELL != 0 || stripes < 2) {
            throw new IllegalArgumentException("bad stripe layout: metadata_bytes=" + metadataBytes + " stripes="
                    + stripes + " (an SSD must hold the metadata area and at least 2 stripes)");
        }
    }

    /**
     * The layout for SSDs of {@code ssdBytes} each. The metadata area is 1/16 of each SSD, and at least
     * two slots of (journal size + 4 MiB): a checkpoint may have to carry every block of the journal
     * when the pool has no stripe to destage them into.
     */
    public static StripeLayout forDae(int width, long ssdBytes, long journalBytes) {
        long meta = Math.max(2 * (journalBytes + (4L << 20)), (ssdBytes / 16) / (2L * CELL) * 2L * CELL);
        if (meta + 2L * COLUMN_BYTES + CELL > ssdBytes) {
            throw new IllegalArgumentException("SSDs too small for the metadata area: ssd_bytes=" + ssdBytes
                    + " metadata_bytes=" + meta + " (needs 2 x (nvram + 4 MiB) plus 2 stripes)");
        }
        // The last cell after the stripes holds the refill intent record (SegmentStore).
        long stripes = (ssdBytes - meta - CELL) / COLUMN_BYTES;
        return new StripeLayout(width, meta, stripes);
    }

    public int dataColumns() {
        return width - 2;
    }

    public long stripeDataBytes() {
        return (long) dataColumns() * COLUMN_BYTES;
    }

    /** Bytes of packed block data the pool can hold (before dedup and compression, after parity). */
    public long capacityBytes() {
        return stripes * stripeDataBytes();
    }

    /** Offset in every SSD's data area of the refill intent cell (after the last stripe). */
    public long intentOffset() {
        return metadataBytes + stripes * COLUMN_BYTES;
    }

    public int cellsPerStripe() {
        return dataColumns() * ROWS;
    }

    /** SSD slot of data cell {@code cell} (column-major index) of {@code stripe}. */
    public int ssdOf(long stripe, int cell) {
        return (int) ((cell / ROWS + stripe) % width);
    }

    /** Offset in the SSD's data area of data cell {@code cell} of {@code stripe}. */
    public long ssdOffset(long stripe, int cell) {
        return metadataBytes + stripe * COLUMN_BYTES + (long) (cell % ROWS) * CELL;
    }
}
