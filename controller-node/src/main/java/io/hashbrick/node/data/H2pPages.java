package io.hashbrick.node.data;

import io.hashbrick.node.CheckpointInput;
import io.hashbrick.node.CheckpointOutput;
import io.hashbrick.node.CorruptCheckpointException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.util.zip.CRC32C;

/**
 * H2P in a checkpoint as its entry pages, byte for byte (issue 16 step e, incremental checkpoints): a
 * base holds every page of every bucket, a delta only the pages changed since the checkpoint before
 * ({@link H2pEntries} marks a page at each change). Loading applies the chain's sections in order,
 * page over page, then rebuilds each touched bucket's index, free list and count from its pages
 * ({@link H2pTable#finishRestore}). Little-endian:
 *
 * <pre>
 * header (32):
 *  0   magic "HBH2PPG1"           8 bytes
 *  8   format version             u32 (1)
 *  12  flags                      u32 (bit 0: base, every page; else a delta)
 *  16  index hash seed            u64  (a delta's must be its base's)
 *  24  buckets in this section    u32
 *  28  zero                       u32
 * bucket (16), buckets ascending:
 *  0   bucket number              u32
 *  4   slot high-water mark       u32  (never below the chain's earlier one)
 *  8   pages that follow          u32
 *  12  CRC32C of bytes 0..11      u32  (checked before the mark sizes anything)
 * page, pages ascending, each below the high-water mark's page count:
 *  0   page number                u32
 *  4   spilled refcounts (s)      u32  (at most 32)
 *  8   the page                   1184 bytes: 32 entries of 37 bytes (H2pEntries draws them)
 *  ..  s x {slot u32, zero u32, refcount u64}   refcounts over the entry's 18 bits
 * trailer:
 *  0   end magic "H2PG"           u32
 *  4   CRC32C of every byte before this field   u32
 * </pre>
 *
 * The section's own CRC in the metadata area is checked before any byte is used; the checks here catch
 * a writer's bug or a section of another kind. Any failure throws {@link CorruptCheckpointException}.
 */
final class H2pPages {
    static final long MAGIC = 0x3147_5050_3248_4248L; // "HBH2PPG1" read as little-endian
    static final int END_MAGIC = 0x4750_3248; // "H2PG" read as little-endian
    static final int VERSION = 1;
    static final int FLAG_BASE = 1;
    static final int HEADER_BYTES = 32;
    static final int BUCKET_BYTES = 16;
    static final int PAGE_HEADER_BYTES = 8;
    static final int SPILL_BYTES = 16;

    private H2pPages() {}

    /**
     * Writes every page ({@code base}) or the dirty ones of {@code table}, and clears the dirty marks.
     * Run it where no writer changes the table (the data path's lock).
     * @return pages written
     */
    static long write(H2pTable table, WritableByteChannel channel, boolean base) throws IOException {
        CheckpointOutput out = new CheckpointOutput(channel);
        int buckets = 0;
        for (int b = 0; b < H2pHandle.BUCKETS; b++) {
            H2pBucket bucket = table.bucket(b);
            if (base ? bucket.entries().pageCount() > 0 : bucket.entries().nextDirtyPage(0) >= 0) {
                buckets++;
            }
        }
        out.reserve(HEADER_BYTES)
                .putLong(MAGIC)
                .putInt(VERSION)
                .putInt(base ? FLAG_BASE : 0)
                .putLong(table.hashSeed())
                .putInt(buckets)
                .putInt(0);
        CRC32C crc = new CRC32C();
        long pages = 0;
        for (int b = 0; b < H2pHandle.BUCKETS; b++) {
            H2pBucket bucket = table.bucket(b);
            H2pEntries e = bucket.entries();
            int n = base ? e.pageCount() : e.dirtyPages();
            if (n == 0) {
                continue;
            }
            ByteBuffer buf = out.reserve(BUCKET_BYTES);
            int at = buf.position();
            buf.putInt(b).putInt((int) e.highWater()).putInt(n);
            crc.reset();
            crc.update(buf.array(), at, 12);
            buf.putInt((int) crc.getValue());
            for (int p = base ? 0 : e.nextDirtyPage(0); p >= 0 && p < e.pageCount(); ) {
                writePage(bucket, p, out);
                pages++;
                p = base ? p + 1 : e.nextDirtyPage(p + 1);
            }
            e.clearDirty();
        }
        ByteBuffer buf = out.reserve(8).putInt(END_MAGIC);
        buf.putInt(out.crcSoFar());
        out.flush();
        return pages;
    }

    private static void writePage(H2pBucket bucket, int page, CheckpointOutput out) throws IOException {
        H2pEntries e = bucket.entries();
        long first = (long) page << H2pEntries.PAGE_SHIFT;
        int spilled = 0;
        for (long slot = first; slot < first + H2pEntries.ENTRIES_PER_PAGE; slot++) {
            if (slot < e.highWater() && e.refcountField(slot) != 0 && e.spilled(slot)) {
                spilled++;
            }
        }
        ByteBuffer buf = out.reserve(PAGE_HEADER_BYTES + (int) H2pEntries.PAGE_BYTES);
        buf.putInt(page).putInt(spilled);
        e.copyPageOut(page, out.segment(), buf.position());
        buf.position(buf.position() + (int) H2pEntries.PAGE_BYTES);
        for (long slot = first; spilled > 0 && slot < first + H2pEntries.ENTRIES_PER_PAGE; slot++) {
            if (slot < e.highWater() && e.refcountField(slot) != 0 && e.spilled(slot)) {
                out.reserve(SPILL_BYTES).putInt((int) slot).putInt(0).putLong(bucket.spilledRefcount(slot));
            }
        }
    }

    /**
     * Applies one section: a base into a new table (returned), a delta onto {@code table} (returned).
     * The buckets it touches are left for {@link H2pTable#finishRestore}.
     */
    static H2pTable read(ReadableByteChannel channel, H2pTable table) throws IOException {
        CheckpointInput in = new CheckpointInput(channel);
        ByteBuffer buf = in.need(HEADER_BYTES);
        long magic = buf.getLong();
        int version = buf.getInt();
        int flags = buf.getInt();
        long seed = buf.getLong();
        int buckets = buf.getInt();
        buf.getInt();
        boolean base = (flags & FLAG_BASE) != 0;
        if (magic != MAGIC || version != VERSION || buckets < 0 || buckets > H2pHandle.BUCKETS) {
            throw fail(
                    in,
                    "not an H2P page section of this format: magic=0x%x version=%d buckets=%d",
                    magic,
                    version,
                    buckets);
        }
        if (base == (table != null)) {
            throw fail(in, "H2P page section out of place: base=%b table_loaded=%b", base, table != null);
        }
        if (!base && seed != table.hashSeed()) {
            throw fail(in, "H2P delta of another table: seed differs from its base's");
        }
        H2pTable t = base ? new H2pTable(seed) : table;
        boolean ok = false;
        try {
            CRC32C crc = new CRC32C();
            int last = -1;
            for (int i = 0; i < buckets; i++) {
                buf = in.need(BUCKET_BYTES);
                int at = buf.position();
                int b = buf.getInt();
                long highWater = Integer.toUnsignedLong(buf.getInt());
                int pages = buf.getInt();
                int stored = buf.getInt();
                crc.reset();
                crc.update(buf.array(), at, 12);
                if (stored != (int) crc.getValue()) {
                    throw fail(in, "H2P page section: bucket header CRC mismatch at bucket index %d", i);
                }
                H2pBucket bucket = t.bucket(checkRange(in, b, last + 1, H2pHandle.BUCKETS - 1, "bucket"));
                last = b;
                H2pEntries e = bucket.entries();
                if (highWater < e.highWater() || highWater > e.maxSlots()) {
                    throw fail(
                            in,
                            "H2P bucket %d: high-water mark %d out of range (was %d, max %d)",
                            b,
                            highWater,
                            e.highWater(),
                            e.maxSlots());
                }
                e.restoreHighWaterRaw(highWater);
                int pageLimit = (int) ((highWater + H2pEntries.ENTRIES_PER_PAGE - 1) >>> H2pEntries.PAGE_SHIFT);
                checkRange(in, pages, 0, pageLimit, "pages");
                int lastPage = -1;
                for (int k = 0; k < pages; k++) {
                    buf = in.need(PAGE_HEADER_BYTES + (int) H2pEntries.PAGE_BYTES);
                    int page = checkRange(in, buf.getInt(), lastPage + 1, pageLimit - 1, "page");
                    lastPage = page;
                    int spilled = checkRange(in, buf.getInt(), 0, H2pEntries.ENTRIES_PER_PAGE, "spilled");
                    e.copyPageIn(page, in.segment(), buf.position());
                    buf.position(buf.position() + (int) H2pEntries.PAGE_BYTES);
                    bucket.restorePageSpills(page);
                    long first = (long) page << H2pEntries.PAGE_SHIFT;
                    for (int j = 0; j < spilled; j++) {
                        buf = in.need(SPILL_BYTES);
                        long slot = Integer.toUnsignedLong(buf.getInt());
                        buf.getInt();
                        long refcount = buf.getLong();
                        if (slot < first
                                || slot >= first + H2pEntries.ENTRIES_PER_PAGE
                                || refcount <= H2pEntries.MAX_INLINE_REFCOUNT) {
                            throw fail(
                                    in, "H2P bucket %d: bad spilled refcount slot=%d refcount=%d", b, slot, refcount);
                        }
                        bucket.restoreSpill(slot, refcount);
                    }
                }
                bucket.restoredRaw();
            }
            buf = in.need(8);
            int end = buf.getInt();
            int expect = in.crcSoFar(); // every byte before the CRC field, the end magic included
            int stored = buf.getInt();
            if (end != END_MAGIC || stored != expect || !in.atEnd()) {
                throw fail(in, "H2P page section: bad trailer or CRC (end=0x%x)", end);
            }
            ok = true;
            return t;
        } finally {
            if (!ok && base) {
                t.close();
            }
        }
    }

    private static int checkRange(CheckpointInput in, int v, int min, int max, String what)
            throws CorruptCheckpointException {
        if (v < min || v > max) {
            throw fail(in, "H2P page section: %s=%d out of range %d..%d", what, v, min, max);
        }
        return v;
    }

    private static CorruptCheckpointException fail(CheckpointInput in, String format, Object... args) {
        return new CorruptCheckpointException(String.format(format, args) + " offset=" + in.offset());
    }
}
