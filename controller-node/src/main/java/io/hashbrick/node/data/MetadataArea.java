package io.hashbrick.node.data;

import io.hashbrick.node.CorruptCheckpointException;
import io.hashbrick.node.Log;
import io.hashbrick.sim.Dae;
import io.hashbrick.sim.Health;
import io.hashbrick.sim.IoStatus;
import io.hashbrick.sim.Ssd;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntUnaryOperator;
import java.util.zip.CRC32C;

/**
 * The DAE's metadata area: checkpoints of H2P and A2H ({@link StripeLayout#metadataBytes()} at the
 * start of every SSD). Two slots, A and B, alternate, so a checkpoint torn by a crash leaves the one
 * before it whole. A checkpoint is one logical byte stream striped in 1 MiB chunks over the n healthy
 * SSDs, every chunk kept in three copies, on the SSD it falls on and the next two (so that any two
 * failed SSDs leave a copy, as XDP does for the data): copy i of chunk k lives on SSD (k + i) mod n, in
 * the i-th third of the slot, at row k / n. A slot thus holds n/3 times what one SSD's slot holds.
 *
 * <pre>
 *  logical stream of a checkpoint:
 *   cell 0      header: magic "HBMETA01", version, sections, generation, journal sequence, end,
 *               SSD mask, CRC32C (written to the first three SSDs of the mask)
 *   cells 1..3  table of contents: 384 x {kind u32, id u32, offset u64, length u64, crc32c u32, pad u32}
 *   16 KiB ...  sections, each starting on a cell boundary, each with its own CRC32C
 *  slot on each SSD: [header area 16 KiB | copy 0 rows | copy 1 rows | copy 2 rows]
 * </pre>
 * The header's CRC covers cells 0..3 (with the CRC field taken as zero). Loading picks the highest
 * generation whose header and every section verify; a chunk whose SSD fails is read from another
 * copy. Version 1 areas (two copies) are refused with a clear error rather than read as empty.
 */
public final class MetadataArea {
    static final long MAGIC = 0x3130_4154_454D_4248L; // "HBMETA01" little-endian
    static final int VERSION = 2;
    /** Copies of every chunk: any two SSDs may fail. */
    static final int COPIES = 3;

    static final int HEADER_AREA = 4 * StripeLayout.CELL;
    static final int TOC_ENTRY = 32;
    /**
     * Sections one checkpoint may have: what the table of contents in the header area holds (384). The
     * controller writes D's 3 (H2P, stripes, deref mark) + at most 1 (journalled blocks) and C's one per volume + 1 (map state), so the catalog's 256 volumes fit.
     */
    public static final int MAX_SECTIONS = (HEADER_AREA - StripeLayout.CELL) / TOC_ENTRY;

    private static final int CRC_OFFSET = 48;
    private static final int BUFFER = 1 << 20;

    /** One section of a checkpoint. */
    public record Section(int kind, int id, long offset, long length, int crc) {}

    /** A verified checkpoint: where it is and what it holds. */
    public record Checkpoint(
            int ssd, int slot, long generation, long journalSequence, int[] ssds, List<Section> sections) {}

    private final Dae dae;
    private final long slotBytes;
    // One checkpoint is written at a time (the data path's lock): its buffers are allocated once, not
    // per checkpoint (direct buffers are only returned when the GC runs: RSS would creep up).
    private final ByteBuffer writeBuffer = Ssd.allocateAligned(BUFFER);
    private final ByteBuffer headerBuffer = Ssd.allocateAligned(HEADER_AREA);
    /** Bytes of one third (one copy's rows) of a slot on one SSD, whole chunks. */
    private final long halfBytes;
    /** The healthy SSDs (a mask) a checkpoint is written to: all, or all but slow ones ({@link SlowSsds}). */
    private final IntUnaryOperator writeMask;

    public MetadataArea(Dae dae, StripeLayout layout) {
        this(dae, layout, IntUnaryOperator.identity());
    }

    /**
     * @param writeMask picks, out of the healthy SSDs (a mask), those a checkpoint goes to: the data
     *     path leaves a slow SSD out ({@link SlowSsds#writeMask}), as the checkpoint holds its lock
     *     while it writes. What is left still holds three copies of every chunk.
     */
    public MetadataArea(Dae dae, StripeLayout layout, IntUnaryOperator writeMask) {
        this.dae = dae;
        this.writeMask = writeMask;
        this.slotBytes = layout.metadataBytes() / 2;
        this.halfBytes = (slotBytes - HEADER_AREA) / COPIES / BUFFER * BUFFER;
        if (halfBytes < BUFFER) {
            throw new IllegalArgumentException("metadata area too small: bytes=" + layout.metadataBytes());
        }
    }

    /** Largest checkpoint (logical bytes) a slot holds over {@code ssds} SSDs. */
    public long capacityBytes(int ssds) {
        return HEADER_AREA + (halfBytes / BUFFER) * ssds * BUFFER;
    }

    /**
     * Starts checkpoint {@code generation} of {@code sections} sections: refused before anything is
     * written when the table of contents cannot hold them (the slot it would overwrite holds the
     * checkpoint before the latest, kept whole).
     */
    public Writer begin(long generation, int sections) throws IOException {
        if (sections > MAX_SECTIONS) {
            throw new IOException("checkpoint has more sections than the metadata area's table of contents holds:"
                    + " sections=" + sections + " max_sections=" + MAX_SECTIONS + " generation=" + generation
                    + " (nothing written)");
        }
        return begin(generation);
    }

    /**
     * Starts checkpoint {@code generation} in slot {@code generation % 2}, over every healthy SSD the
     * write mask keeps.
     */
    public Writer begin(long generation) throws IOException {
        int healthy = 0;
        for (int i = 0; i < dae.slotCount() && i < Integer.SIZE; i++) {
            if (dae.health(i) == Health.OK) {
                healthy |= 1 << i;
            }
        }
        int chosen = writeMask.applyAsInt(healthy) & healthy;
        List<Integer> ok = new ArrayList<>();
        for (int m = chosen; m != 0; m &= m - 1) {
            ok.add(Integer.numberOfTrailingZeros(m));
        }
        if (ok.size() < 2) {
            throw new IOException("fewer than 2 healthy SSDs for the checkpoint: healthy=" + ok.size());
        }
        return new Writer(ok.stream().mapToInt(Integer::intValue).toArray(), (int) (generation & 1), generation);
    }

    /** Where copy {@code copy} of chunk {@code k} lives: {ssd, offset in the SSD's data area}. */
    private long[] place(int[] ssds, int slot, long k, int copy) {
        int n = ssds.length;
        long row = k / n;
        int ssd = ssds[(int) ((k + copy) % n)];
        return new long[] {ssd, slot * slotBytes + HEADER_AREA + copy * halfBytes + row * BUFFER};
    }

    private static int copies(int[] ssds) {
        return Math.min(COPIES, ssds.length);
    }

    /** Writes one checkpoint: sections streamed in order, then the table and header. */
    public final class Writer {
        private final int[] ssds;
        private final long base;
        private final long generation;
        private final ByteBuffer buf = writeBuffer.clear();
        private final List<Section> sections = new ArrayList<>();
        private long bufStart = HEADER_AREA;
        private long sectionStart = -1;
        private int sectionKind;
        private int sectionId;
        private final CRC32C crc = new CRC32C();

        private final int slot;

        Writer(int[] ssds, int slot, long generation) {
            this.ssds = ssds;
            this.slot = slot;
            this.base = slot * slotBytes;
            this.generation = generation;
        }

        /** Opens a section: what is written to the channel until {@link #endSection} belongs to it. */
        public WritableByteChannel section(int kind, int id) {
            if (sectionStart >= 0) {
                throw new IllegalStateException("section still open: sections=" + sections.size());
            }
            if (sections.size() >= MAX_SECTIONS) { // callers say how many at begin(generation, sections)
                throw new IllegalStateException(
                        "too many sections: sections=" + sections.size() + " max_sections=" + MAX_SECTIONS);
            }
            sectionStart = bufStart + buf.position();
            sectionKind = kind;
            sectionId = id;
            crc.reset();
            return new WritableByteChannel() {
                @Override
                public int write(ByteBuffer src) throws IOException {
                    int n = src.remaining();
                    ByteBuffer dup = src.duplicate();
                    crc.update(dup);
                    while (src.hasRemaining()) {
                        if (!buf.hasRemaining()) {
                            drain();
                        }
                        int k = Math.min(buf.remaining(), src.remaining());
                        buf.put(buf.position(), src, src.position(), k);
                        buf.position(buf.position() + k);
                        src.position(src.position() + k);
                    }
                    return n;
                }

                @Override
                public boolean isOpen() {
                    return true;
                }

                @Override
                public void close() {}
            };
        }

        public void endSection() throws IOException {
            long end = bufStart + buf.position();
            sections.add(new Section(sectionKind, sectionId, sectionStart, end - sectionStart, (int) crc.getValue()));
            sectionStart = -1;
            int pad = (int) ((StripeLayout.CELL - end % StripeLayout.CELL) % StripeLayout.CELL);
            for (int i = 0; i < pad; i++) {
                if (!buf.hasRemaining()) {
                    drain();
                }
                buf.put((byte) 0);
            }
        }

        private void drain() throws IOException {
            int len = buf.position();
            if (len == 0) {
                return;
            }
            long k = (bufStart - HEADER_AREA) / BUFFER; // every drain but the last is a whole chunk
            if ((k / ssds.length + 1) * BUFFER > halfBytes) {
                throw new IOException("checkpoint larger than its metadata slot: bytes>" + (bufStart + len)
                        + " capacity_bytes=" + capacityBytes(ssds.length) + " (give the SSDs more capacity)");
            }
            int aligned = (len + StripeLayout.CELL - 1) / StripeLayout.CELL * StripeLayout.CELL;
            for (int i = len; i < aligned; i++) {
                buf.put(i, (byte) 0);
            }
            for (int copy = 0; copy < copies(ssds); copy++) {
                long[] at = place(ssds, slot, k, copy);
                IoStatus s = dae.slot((int) at[0]).write(at[1], buf.slice(0, aligned));
                if (s != IoStatus.OK) {
                    throw new IOException("checkpoint write failed: ssd=" + at[0] + " status=" + s);
                }
            }
            bufStart += len;
            buf.clear();
        }

        /** Writes what is buffered, the table of contents and the header, and flushes the SSDs. */
        /** Sections written so far. */
        public int sectionCount() {
            return sections.size();
        }

        public void commit(long journalSequence) throws IOException {
            if (sectionStart >= 0) {
                throw new IllegalStateException("section still open");
            }
            drain();
            ByteBuffer h = headerBuffer.clear().order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < HEADER_AREA; i += 8) {
                h.putLong(i, 0);
            }
            h.putLong(0, MAGIC)
                    .putInt(8, VERSION)
                    .putInt(12, sections.size())
                    .putLong(16, generation)
                    .putLong(24, journalSequence)
                    .putLong(32, bufStart)
                    .putLong(40, System.currentTimeMillis())
                    .putLong(56, mask(ssds));
            for (int i = 0; i < sections.size(); i++) {
                Section s = sections.get(i);
                int at = StripeLayout.CELL + i * TOC_ENTRY;
                h.putInt(at, s.kind())
                        .putInt(at + 4, s.id())
                        .putLong(at + 8, s.offset())
                        .putLong(at + 16, s.length())
                        .putInt(at + 24, s.crc());
            }
            h.putInt(CRC_OFFSET, headerCrc(h));
            for (int ssd : ssds) { // the sections first, durable, then the header that makes them current
                flush(ssd);
            }
            for (int i = 0; i < copies(ssds); i++) { // the header on three SSDs: loading looks on every SSD
                int ssd = ssds[i];
                IoStatus s = dae.slot(ssd).write(base, h.slice(0, HEADER_AREA));
                if (s != IoStatus.OK) {
                    throw new IOException("checkpoint header write failed: ssd=" + ssd + " status=" + s);
                }
                flush(ssd);
            }
        }

        private void flush(int ssd) throws IOException {
            IoStatus s = dae.slot(ssd).flush();
            if (s != IoStatus.OK) {
                throw new IOException("checkpoint flush failed: ssd=" + ssd + " status=" + s);
            }
        }
    }

    private static long mask(int[] ssds) {
        long m = 0;
        for (int s : ssds) {
            m |= 1L << s;
        }
        return m;
    }

    private static int headerCrc(ByteBuffer h) {
        CRC32C c = new CRC32C();
        int saved = h.getInt(CRC_OFFSET);
        h.putInt(CRC_OFFSET, 0);
        c.update(h.slice(0, HEADER_AREA));
        h.putInt(CRC_OFFSET, saved);
        return (int) c.getValue();
    }

    /** @return the newest checkpoint that verifies completely, or null if the area holds none */
    public Checkpoint latest() throws CorruptCheckpointException {
        Checkpoint best = null;
        for (int ssd = 0; ssd < dae.slotCount(); ssd++) {
            if (dae.health(ssd) != Health.OK) {
                continue;
            }
            for (int slot = 0; slot < 2; slot++) {
                Checkpoint c = readHeader(ssd, slot);
                if (c != null && (best == null || c.generation() > best.generation())) {
                    if (verify(c)) {
                        best = c;
                    } else {
                        Log.warn(
                                "checkpoint_copy_corrupt",
                                "ssd=" + ssd + " slot=" + slot + " generation=" + c.generation());
                    }
                }
            }
        }
        return best;
    }

    private Checkpoint readHeader(int ssd, int slot) throws CorruptCheckpointException {
        ByteBuffer h = Ssd.allocateAligned(HEADER_AREA).order(ByteOrder.LITTLE_ENDIAN);
        if (dae.slot(ssd).read(slot * slotBytes, h) != IoStatus.OK) {
            return null;
        }
        h.clear();
        if (h.getLong(0) != MAGIC) {
            return null;
        }
        if (h.getInt(8) != VERSION && h.getInt(CRC_OFFSET) == headerCrc(h)) {
            throw new CorruptCheckpointException("metadata area format version " + h.getInt(8) + " on ssd=" + ssd
                    + ", this build reads version " + VERSION + " (refusing to start rather than ignore it)");
        }
        if (h.getInt(8) != VERSION || h.getInt(CRC_OFFSET) != headerCrc(h)) {
            Log.warn("checkpoint_header_invalid", "ssd=" + ssd + " slot=" + slot + " version=" + h.getInt(8));
            return null;
        }
        int n = h.getInt(12);
        if (n < 0 || n > MAX_SECTIONS) {
            return null;
        }
        List<Section> list = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int at = StripeLayout.CELL + i * TOC_ENTRY;
            Section s = new Section(
                    h.getInt(at), h.getInt(at + 4), h.getLong(at + 8), h.getLong(at + 16), h.getInt(at + 24));
            if (s.offset() < HEADER_AREA || s.length() < 0 || s.offset() + s.length() > (1L << 46)) {
                return null;
            }
            list.add(s);
        }
        long m = h.getLong(56);
        int[] ssds = new int[Long.bitCount(m)];
        for (int i = 0, j = 0; i < 64; i++) {
            if ((m & (1L << i)) != 0) {
                if (i >= dae.slotCount()) {
                    return null;
                }
                ssds[j++] = i;
            }
        }
        if (ssds.length < 2) {
            return null;
        }
        return new Checkpoint(ssd, slot, h.getLong(16), h.getLong(24), ssds, List.copyOf(list));
    }

    private boolean verify(Checkpoint c) {
        ByteBuffer scratch = ByteBuffer.allocate(64 * 1024);
        for (Section s : c.sections()) {
            CRC32C crc = new CRC32C();
            try (ReadableByteChannel ch = open(c, s)) {
                while (true) {
                    scratch.clear();
                    if (ch.read(scratch) < 0) {
                        break;
                    }
                    scratch.flip();
                    crc.update(scratch);
                }
            } catch (IOException e) {
                return false;
            }
            if ((int) crc.getValue() != s.crc()) {
                return false;
            }
        }
        return true;
    }

    /** A channel over one section's bytes; each chunk from the first copy on a healthy SSD that reads. */
    public ReadableByteChannel open(Checkpoint c, Section s) {
        return new ReadableByteChannel() {
            private final ByteBuffer buf = writeBuffer.clear();
            private long chunk = -1; // chunk held in buf
            private long pos;

            @Override
            public int read(ByteBuffer dst) throws IOException {
                if (pos >= s.length()) {
                    return -1;
                }
                long abs = s.offset() + pos;
                long k = (abs - HEADER_AREA) / BUFFER;
                if (k != chunk) {
                    load(k);
                }
                int from = (int) ((abs - HEADER_AREA) % BUFFER);
                int n = (int) Math.min(Math.min(dst.remaining(), BUFFER - from), s.length() - pos);
                dst.put(dst.position(), buf, from, n);
                dst.position(dst.position() + n);
                pos += n;
                return n;
            }

            private void load(long k) throws IOException {
                for (int copy = 0; copy < copies(c.ssds()); copy++) {
                    long[] at = place(c.ssds(), c.slot(), k, copy);
                    if (dae.health((int) at[0]) != Health.OK) {
                        continue;
                    }
                    buf.clear();
                    if (dae.slot((int) at[0]).read(at[1], buf.slice(0, BUFFER)) == IoStatus.OK) {
                        chunk = k;
                        return;
                    }
                }
                chunk = -1;
                throw new CorruptCheckpointException(
                        "checkpoint chunk unreadable on every copy: chunk=" + k + " generation=" + c.generation());
            }

            @Override
            public boolean isOpen() {
                return true;
            }

            @Override
            public void close() {}
        };
    }
}
