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
import java.util.zip.CRC32C;

/**
 * The DAE's metadata area: checkpoints of H2P and A2H ({@link StripeLayout#metadataBytes()} at the
 * start of every SSD). Two slots, A and B, alternate, so a checkpoint torn by a crash leaves the one
 * before it whole; each checkpoint is written to two SSDs (a mirror until XDP protects this area too).
 *
 * <pre>
 *  slot (metadataBytes / 2):
 *   cell 0      header: magic "HBMETA01", version, sections, generation, journal sequence, end, CRC32C
 *   cells 1..3  table of contents: 384 x {kind u32, id u32, offset u64, length u64, crc32c u32, pad u32}
 *   16 KiB ...  sections, each starting on a cell boundary, each with its own CRC32C
 * </pre>
 * The header's CRC covers cells 0..3 (with the CRC field taken as zero). Loading picks the highest
 * generation whose header and every section verify, on any SSD.
 */
public final class MetadataArea {
    static final long MAGIC = 0x3130_4154_454D_4248L; // "HBMETA01" little-endian
    static final int VERSION = 1;
    static final int HEADER_AREA = 4 * StripeLayout.CELL;
    static final int TOC_ENTRY = 32;
    static final int MAX_SECTIONS = (HEADER_AREA - StripeLayout.CELL) / TOC_ENTRY;
    private static final int CRC_OFFSET = 48;
    private static final int BUFFER = 1 << 20;

    /** One section of a checkpoint. */
    public record Section(int kind, int id, long offset, long length, int crc) {}

    /** A verified checkpoint: where it is and what it holds. */
    public record Checkpoint(int ssd, int slot, long generation, long journalSequence, List<Section> sections) {}

    private final Dae dae;
    private final long slotBytes;

    public MetadataArea(Dae dae, StripeLayout layout) {
        this.dae = dae;
        this.slotBytes = layout.metadataBytes() / 2;
        if (slotBytes < HEADER_AREA + StripeLayout.CELL) {
            throw new IllegalArgumentException("metadata area too small: bytes=" + layout.metadataBytes());
        }
    }

    public long slotBytes() {
        return slotBytes;
    }

    /** Starts checkpoint {@code generation} in slot {@code generation % 2} of two healthy SSDs. */
    public Writer begin(long generation) throws IOException {
        int[] copies = new int[2];
        int n = 0;
        for (int i = 0; i < dae.slotCount() && n < 2; i++) {
            if (dae.health(i) == Health.OK) {
                copies[n++] = i;
            }
        }
        if (n == 0) {
            throw new IOException("no healthy SSD for the checkpoint");
        }
        int[] targets = n == 2 ? copies : new int[] {copies[0]};
        return new Writer(targets, (int) (generation & 1), generation);
    }

    /** Writes one checkpoint: sections streamed in order, then the table and header. */
    public final class Writer {
        private final int[] ssds;
        private final long base;
        private final long generation;
        private final ByteBuffer buf = Ssd.allocateAligned(BUFFER);
        private final List<Section> sections = new ArrayList<>();
        private long bufStart = HEADER_AREA;
        private long sectionStart = -1;
        private int sectionKind;
        private int sectionId;
        private final CRC32C crc = new CRC32C();

        Writer(int[] ssds, int slot, long generation) {
            this.ssds = ssds;
            this.base = slot * slotBytes;
            this.generation = generation;
        }

        /** Opens a section: what is written to the channel until {@link #endSection} belongs to it. */
        public WritableByteChannel section(int kind, int id) {
            if (sectionStart >= 0 || sections.size() >= MAX_SECTIONS) {
                throw new IllegalStateException("section still open or too many: sections=" + sections.size());
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
            if (bufStart + len > slotBytes) {
                throw new IOException("checkpoint larger than its metadata slot: bytes>" + (bufStart + len)
                        + " slot_bytes=" + slotBytes + " (give the SSDs more capacity)");
            }
            int aligned = (len + StripeLayout.CELL - 1) / StripeLayout.CELL * StripeLayout.CELL;
            for (int i = len; i < aligned; i++) {
                buf.put(i, (byte) 0);
            }
            for (int ssd : ssds) {
                IoStatus s = dae.slot(ssd).write(base + bufStart, buf.slice(0, aligned));
                if (s != IoStatus.OK) {
                    throw new IOException("checkpoint write failed: ssd=" + ssd + " status=" + s);
                }
            }
            bufStart += len;
            buf.clear();
        }

        /** Writes what is buffered, the table of contents and the header, and flushes the SSDs. */
        public void commit(long journalSequence) throws IOException {
            if (sectionStart >= 0) {
                throw new IllegalStateException("section still open");
            }
            drain();
            ByteBuffer h = Ssd.allocateAligned(HEADER_AREA).order(ByteOrder.LITTLE_ENDIAN);
            h.putLong(0, MAGIC)
                    .putInt(8, VERSION)
                    .putInt(12, sections.size())
                    .putLong(16, generation)
                    .putLong(24, journalSequence)
                    .putLong(32, bufStart)
                    .putLong(40, System.currentTimeMillis());
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
            for (int ssd : ssds) {
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

    private static int headerCrc(ByteBuffer h) {
        CRC32C c = new CRC32C();
        int saved = h.getInt(CRC_OFFSET);
        h.putInt(CRC_OFFSET, 0);
        c.update(h.slice(0, HEADER_AREA));
        h.putInt(CRC_OFFSET, saved);
        return (int) c.getValue();
    }

    /** @return the newest checkpoint that verifies completely, or null if the area holds none */
    public Checkpoint latest() {
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

    private Checkpoint readHeader(int ssd, int slot) {
        ByteBuffer h = Ssd.allocateAligned(HEADER_AREA).order(ByteOrder.LITTLE_ENDIAN);
        if (dae.slot(ssd).read(slot * slotBytes, h) != IoStatus.OK) {
            return null;
        }
        h.clear();
        if (h.getLong(0) != MAGIC) {
            return null;
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
            if (s.offset() < HEADER_AREA || s.length() < 0 || s.offset() + s.length() > slotBytes) {
                return null;
            }
            list.add(s);
        }
        return new Checkpoint(ssd, slot, h.getLong(16), h.getLong(24), List.copyOf(list));
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

    /** A channel over one section's bytes. */
    public ReadableByteChannel open(Checkpoint c, Section s) {
        Ssd ssd = dae.slot(c.ssd());
        long base = c.slot() * slotBytes;
        return new ReadableByteChannel() {
            private final ByteBuffer buf = Ssd.allocateAligned(BUFFER);
            private long bufAt = -1; // section offset of buf[0]
            private int bufLen;
            private long pos;

            @Override
            public int read(ByteBuffer dst) throws IOException {
                if (pos >= s.length()) {
                    return -1;
                }
                if (bufAt < 0 || pos >= bufAt + bufLen) {
                    long abs = s.offset() + pos;
                    long cellStart = abs / StripeLayout.CELL * StripeLayout.CELL;
                    int len = (int) Math.min(
                            BUFFER,
                            (s.offset() + s.length() - cellStart + StripeLayout.CELL - 1)
                                    / StripeLayout.CELL
                                    * StripeLayout.CELL);
                    buf.clear();
                    IoStatus st = ssd.read(base + cellStart, buf.slice(0, len));
                    if (st != IoStatus.OK) {
                        throw new CorruptCheckpointException(
                                "checkpoint read failed: ssd=" + c.ssd() + " status=" + st);
                    }
                    bufAt = cellStart - s.offset();
                    bufLen = len;
                }
                int from = (int) (pos - bufAt);
                int n = (int) Math.min(Math.min(dst.remaining(), bufLen - from), s.length() - pos);
                dst.put(dst.position(), buf, from, n);
                dst.position(dst.position() + n);
                pos += n;
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
}
