package io.hashbrick.node.data;

import io.hashbrick.node.CorruptCheckpointException;
import io.hashbrick.node.Log;
import io.hashbrick.node.xdp.SegmentStore;
import io.hashbrick.node.xdp.StripeLayout;
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
 * start of every SSD). Two slots, A and B, each hold a <em>chain</em>: a base (a full checkpoint)
 * followed by deltas (what changed since the checkpoint before), written back to back. Deltas are
 * appended to the current chain; a new base goes to the other slot, so a checkpoint torn by a crash
 * leaves the chain before it whole (issue 16 step e: incremental checkpoints). A checkpoint (base or
 * delta) is one logical byte stream striped in 1 MiB chunks over the n healthy SSDs of its chain,
 * every chunk kept in three copies, on the SSD it falls on and the next two (so that any two failed
 * SSDs leave a copy, as XDP does for the data): copy i of chunk k lives on SSD (k + i) mod n, in the
 * i-th third of the slot, at row k / n. A slot thus holds n/3 times what one SSD's slot holds.
 *
 * <pre>
 *  a slot's logical stream:
 *   header area        the base's header and table of contents (on the first three SSDs of the mask)
 *   chunk 0 ...        the base's sections, each starting on a cell boundary, each with its CRC32C
 *   chunk c1 ...       delta 1: its header and table of contents (first 16 KiB of its first chunk,
 *                      in each of the chunk's three copies), then its sections
 *   chunk c2 ...       delta 2, ...     (each checkpoint starts on a chunk boundary)
 *
 *  header (16 KiB): cell 0: magic "HBMETA01", version, sections, generation, journal sequence, end
 *                   (logical offset after its last section), time, CRC32C, SSD mask, kind (base or
 *                   delta), the chain's base generation, the first chunk; cells 1..3: table of
 *                   contents, 384 x {kind u32, id u32, offset u64, length u64, crc32c u32, pad u32}
 *  slot on each SSD: [header area 16 KiB | copy 0 rows | copy 1 rows | copy 2 rows]
 * </pre>
 * The header's CRC covers its 16 KiB (with the CRC field taken as zero). Loading takes, in each slot,
 * the newest base that verifies, then its deltas as long as each verifies, names that base, has the
 * next generation and starts where the one before ended (what an older chain left behind never
 * does); the slot whose chain ends at the higher generation wins. A chunk whose SSD fails is read from
 * another copy. A chain keeps its SSD mask: when a drive of it fails, the next checkpoint is a base.
 * Version 2 areas (one full checkpoint a slot) are read as a base without deltas; version 1 areas
 * (two copies) are refused with a clear error rather than read as empty.
 */
public final class MetadataArea {
    static final long MAGIC = 0x3130_4154_454D_4248L; // "HBMETA01" little-endian
    static final int VERSION = 3;
    /** One full checkpoint per slot, no chains: read as a base. */
    static final int VERSION_WITHOUT_CHAINS = 2;
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
    private static final int KIND_OFFSET = 64;
    private static final int CHAIN_BASE_OFFSET = 72;
    private static final int FIRST_CHUNK_OFFSET = 80;
    private static final int KIND_BASE = 1;
    private static final int KIND_DELTA = 2;
    private static final int BUFFER = 1 << 20;

    /** One section of a checkpoint. */
    public record Section(int kind, int id, long offset, long length, int crc) {}

    /**
     * A verified checkpoint: where it is and what it holds. {@code firstChunk} is where it starts in its
     * slot (0 for a base), {@code end} the logical offset after it.
     */
    public record Checkpoint(
            int ssd,
            int slot,
            long generation,
            long journalSequence,
            int[] ssds,
            List<Section> sections,
            boolean delta,
            long chainBase,
            long firstChunk,
            long end,
            int[] prefer) {
        /** The same checkpoint, each section read preferring copy {@code prefer[i]} (the one that verified). */
        Checkpoint withPrefer(int[] p) {
            return new Checkpoint(
                    ssd, slot, generation, journalSequence, ssds, sections, delta, chainBase, firstChunk, end, p);
        }
    }

    private final Dae dae;
    private final long slotBytes;
    // One checkpoint is written at a time (the data path's destage lock): its buffers are allocated once,
    // not per checkpoint (direct buffers are only returned when the GC runs: RSS would creep up).
    private final ByteBuffer writeBuffer = Ssd.allocateAligned(BUFFER);
    private final ByteBuffer headerBuffer = Ssd.allocateAligned(HEADER_AREA);
    /** Bytes of one third (one copy's rows) of a slot on one SSD, whole chunks. */
    private final long halfBytes;
    /** The healthy SSDs (a mask) a checkpoint is written to: all, or all but slow ones ({@code xdp.SlowSsds}). */
    private final IntUnaryOperator writeMask;

    /** The chain deltas are appended to (null: none, the next checkpoint is a base). */
    private Checkpoint chainTail;

    private int chainSlot = 1; // the first base goes to slot 0

    public MetadataArea(Dae dae, StripeLayout layout) {
        this(dae, layout, IntUnaryOperator.identity());
    }

    /**
     * @param writeMask picks, out of the healthy SSDs (a mask), those a checkpoint goes to: the data
     *     path leaves a slow SSD out ({@link SegmentStore#writeMaskAroundSlow}). What is left still holds three copies
     *     of every chunk.
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
     * Whether a delta of about {@code bytes} (sections, before cell padding) can be appended to the
     * current chain now: there is a chain, every SSD of it is healthy and kept by the write mask, and
     * the slot has room after its end. Otherwise the next checkpoint must be a base.
     */
    public boolean canAppend(long bytes, int sections) {
        Checkpoint tail = chainTail;
        if (tail == null
                || chosenSsds() != mask(tail.ssds())
                || !java.util.Arrays.equals(chainDrives, drivesOf(tail.ssds()))) {
            return false; // a drive of the chain failed, slowed, or was replaced (an empty copy): a base
        }
        long need = HEADER_AREA + bytes + (long) sections * StripeLayout.CELL;
        long first = chunkAfter(tail);
        long chunks = (need + BUFFER - 1) / BUFFER;
        return (first + chunks + tail.ssds().length - 1) / tail.ssds().length * BUFFER <= halfBytes;
    }

    /** Bytes of the current chain's base (0 without a chain). */
    public long chainBaseBytes() {
        return chainTail == null ? 0 : chainBaseEnd - HEADER_AREA;
    }

    private long chainBaseEnd;

    /** Bytes of the slot the current chain uses (0 without a chain). */
    public long chainBytes() {
        Checkpoint tail = chainTail;
        return tail == null ? 0 : tail.end() - HEADER_AREA;
    }

    /**
     * After loading {@code chain} ({@link #latestChain}): the next checkpoint is a base, in the other
     * slot. A chain is not continued across a restart: a delta written just before the stop may sit on
     * a drive missing now (a later one of the same generation would tie with it), and a drive may have
     * been replaced while the node was down (its copies empty).
     */
    public void continueChain(List<Checkpoint> chain) {
        chainTail = null;
        if (chain != null && !chain.isEmpty()) {
            chainSlot = chain.get(chain.size() - 1).slot();
        }
    }

    /**
     * The highest generation of any header that passed its CRC while loading (a chain's or not): the
     * next checkpoint's generation must be above it, so no two checkpoints ever share one.
     */
    public long generationFloor() {
        return maxGenerationSeen;
    }

    private long maxGenerationSeen;

    /** The drives (by identity) the current chain was written to. */
    private java.util.UUID[] chainDrives;

    private java.util.UUID[] drivesOf(int[] ssds) {
        java.util.UUID[] u = new java.util.UUID[ssds.length];
        for (int i = 0; i < ssds.length; i++) {
            u[i] = dae.slot(ssds[i]).uuid();
        }
        return u;
    }

    /** Forgets the current chain: the next checkpoint is a base in the other slot. */
    public void endChain() {
        chainTail = null;
    }

    private int chosenSsds() {
        int healthy = 0;
        for (int i = 0; i < dae.slotCount() && i < Integer.SIZE; i++) {
            if (dae.health(i) == Health.OK) {
                healthy |= 1 << i;
            }
        }
        return writeMask.applyAsInt(healthy) & healthy;
    }

    private static long chunkAfter(Checkpoint c) {
        return (c.end() - HEADER_AREA + BUFFER - 1) / BUFFER;
    }

    /**
     * Starts base checkpoint {@code generation} of {@code sections} sections in the slot the current
     * chain does not use: refused before anything is written when the table of contents cannot hold
     * them.
     */
    public Writer begin(long generation, int sections) throws IOException {
        return begin(generation, sections, false);
    }

    /**
     * Starts checkpoint {@code generation}: a delta appended to the current chain ({@link #canAppend}
     * must have said yes), or a base in the other slot over every healthy SSD the write mask keeps.
     */
    public Writer begin(long generation, int sections, boolean delta) throws IOException {
        if (sections > MAX_SECTIONS) {
            throw new IOException("checkpoint has more sections than the metadata area's table of contents holds:"
                    + " sections=" + sections + " max_sections=" + MAX_SECTIONS + " generation=" + generation
                    + " (nothing written)");
        }
        if (delta) {
            Checkpoint tail = chainTail;
            if (tail == null) {
                throw new IllegalStateException("no chain to append a delta to: generation=" + generation);
            }
            return new Writer(tail.ssds(), tail.slot(), generation, true, tail.chainBase(), chunkAfter(tail));
        }
        int chosen = chosenSsds();
        List<Integer> ok = new ArrayList<>();
        for (int m = chosen; m != 0; m &= m - 1) {
            ok.add(Integer.numberOfTrailingZeros(m));
        }
        if (ok.size() < 2) {
            throw new IOException("fewer than 2 healthy SSDs for the checkpoint: healthy=" + ok.size());
        }
        int slot = 1 - chainSlot;
        return new Writer(ok.stream().mapToInt(Integer::intValue).toArray(), slot, generation, false, generation, 0);
    }

    /** Tests: a base checkpoint of any number of sections. */
    Writer begin(long generation) throws IOException {
        return begin(generation, 0, false);
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
        private final boolean delta;
        private final long chainBase;
        private final long firstChunk;

        Writer(int[] ssds, int slot, long generation, boolean delta, long chainBase, long firstChunk) {
            this.ssds = ssds;
            this.slot = slot;
            this.base = slot * slotBytes;
            this.generation = generation;
            this.delta = delta;
            this.chainBase = chainBase;
            this.firstChunk = firstChunk;
            this.bufStart = HEADER_AREA + firstChunk * BUFFER;
            if (delta) { // the header's place in the first chunk, written at commit
                for (int i = 0; i < HEADER_AREA; i += 8) {
                    buf.putLong(0L);
                }
            }
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
                    .putLong(56, mask(ssds))
                    .putInt(KIND_OFFSET, delta ? KIND_DELTA : KIND_BASE)
                    .putLong(CHAIN_BASE_OFFSET, chainBase)
                    .putLong(FIRST_CHUNK_OFFSET, firstChunk);
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
            // A base's header in the slot's header area of the first three SSDs (loading looks on every
            // SSD); a delta's in the first 16 KiB of its first chunk, in each of the chunk's copies.
            for (int i = 0; i < copies(ssds); i++) {
                long[] where = delta ? place(ssds, slot, firstChunk, i) : new long[] {ssds[i], base};
                int ssd = (int) where[0];
                long at = where[1];
                IoStatus s = dae.slot(ssd).write(at, h.slice(0, HEADER_AREA));
                if (s != IoStatus.OK) {
                    throw new IOException("checkpoint header write failed: ssd=" + ssd + " status=" + s);
                }
                flush(ssd);
            }
            chainTail = new Checkpoint(
                    ssds[0],
                    slot,
                    generation,
                    journalSequence,
                    ssds,
                    List.copyOf(sections),
                    delta,
                    chainBase,
                    firstChunk,
                    bufStart,
                    new int[sections.size()]);
            chainSlot = slot;
            if (!delta) {
                chainDrives = drivesOf(ssds);
            }
            if (!delta) {
                chainBaseEnd = bufStart;
            }
        }

        /** Logical bytes of this checkpoint so far (header and padding included). */
        public long bytes() {
            return bufStart + buf.position() - HEADER_AREA - firstChunk * BUFFER;
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

    /** @return the newest checkpoint that verifies completely (a chain's last), or null if the area holds none */
    public Checkpoint latest() throws CorruptCheckpointException {
        List<Checkpoint> chain = latestChain();
        return chain.isEmpty() ? null : chain.get(chain.size() - 1);
    }

    /**
     * @return the newest chain that verifies: its base, then its deltas in order (to be loaded in that
     *     order); empty if the area holds no checkpoint
     */
    public List<Checkpoint> latestChain() throws CorruptCheckpointException {
        List<Checkpoint> best = List.of();
        for (int slot = 0; slot < 2; slot++) {
            Checkpoint base = null;
            for (int ssd = 0; ssd < dae.slotCount(); ssd++) {
                if (dae.health(ssd) != Health.OK) {
                    continue;
                }
                Checkpoint c = parseHeader(ssd, slot, slot * slotBytes, -1);
                if (c != null && !c.delta() && (base == null || c.generation() > base.generation())) {
                    Checkpoint verified = verify(c);
                    if (verified != null) {
                        base = verified;
                    } else {
                        Log.warn(
                                "checkpoint_copy_corrupt",
                                "ssd=" + ssd + " slot=" + slot + " generation=" + c.generation());
                    }
                }
            }
            if (base == null) {
                continue;
            }
            List<Checkpoint> chain = new ArrayList<>();
            chain.add(base);
            if (base.chainBase() >= 0) {
                for (Checkpoint next = nextDelta(base); next != null; next = nextDelta(next)) {
                    chain.add(next);
                }
            }
            Checkpoint last = chain.get(chain.size() - 1);
            Checkpoint bestLast = best.isEmpty() ? null : best.get(best.size() - 1);
            // A tie (never written by this build: generations are not reused, even across restarts)
            // goes to the one that covers more of the journal.
            if (bestLast == null
                    || last.generation() > bestLast.generation()
                    || (last.generation() == bestLast.generation()
                            && last.journalSequence() > bestLast.journalSequence())) {
                best = List.copyOf(chain);
            }
        }
        return best;
    }

    /** The delta after {@code prev} in its chain, if one verifies there (null ends the chain). */
    private Checkpoint nextDelta(Checkpoint prev) throws CorruptCheckpointException {
        long k = chunkAfter(prev);
        if ((k / prev.ssds().length + 1) * BUFFER > halfBytes) {
            return null;
        }
        for (int copy = 0; copy < copies(prev.ssds()); copy++) {
            long[] at = place(prev.ssds(), prev.slot(), k, copy);
            if (dae.health((int) at[0]) != Health.OK) {
                continue;
            }
            Checkpoint c = parseHeader((int) at[0], prev.slot(), at[1], k);
            if (c != null
                    && c.delta()
                    && c.chainBase() == prev.chainBase()
                    && c.generation() == prev.generation() + 1
                    && c.firstChunk() == k
                    && mask(c.ssds()) == mask(prev.ssds())) {
                Checkpoint verified = verify(c);
                if (verified != null) {
                    return verified;
                }
                // Its header is written only after its sections are durable: a header that names this
                // place in this chain over sections no copy of which verifies is damage, not a torn
                // write. Loading the chain without it would lose what the journal released after it.
                throw new CorruptCheckpointException("checkpoint delta damaged on every copy: generation="
                        + c.generation() + " slot=" + prev.slot() + " chain_base=" + c.chainBase()
                        + " (refusing to start on an older state)");
            }
        }
        return null;
    }

    /**
     * Reads and checks a header at {@code offset} of {@code ssd}: a base's (in a slot's header area,
     * {@code chunk} = -1) or a delta's (at the start of chunk {@code chunk}). @return null if none
     */
    private Checkpoint parseHeader(int ssd, int slot, long offset, long chunk) throws CorruptCheckpointException {
        ByteBuffer h = Ssd.allocateAligned(HEADER_AREA).order(ByteOrder.LITTLE_ENDIAN);
        if (dae.slot(ssd).read(offset, h) != IoStatus.OK) {
            return null;
        }
        h.clear();
        if (h.getLong(0) != MAGIC) {
            return null;
        }
        int version = h.getInt(8);
        boolean known = version == VERSION || version == VERSION_WITHOUT_CHAINS;
        if (!known && h.getInt(CRC_OFFSET) == headerCrc(h)) {
            throw new CorruptCheckpointException("metadata area format version " + version + " on ssd=" + ssd
                    + ", this build reads versions " + VERSION_WITHOUT_CHAINS + " and " + VERSION
                    + " (refusing to start rather than ignore it)");
        }
        if (!known || h.getInt(CRC_OFFSET) != headerCrc(h)) {
            if (chunk < 0) { // a delta's place holding anything else is the normal end of a chain
                Log.warn("checkpoint_header_invalid", "ssd=" + ssd + " slot=" + slot + " version=" + version);
            }
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
        long generation = h.getLong(16);
        maxGenerationSeen = Math.max(maxGenerationSeen, generation);
        boolean delta = version == VERSION && h.getInt(KIND_OFFSET) == KIND_DELTA;
        if (version == VERSION && !delta && h.getInt(KIND_OFFSET) != KIND_BASE) {
            return null;
        }
        long chainBase = version == VERSION ? h.getLong(CHAIN_BASE_OFFSET) : -1;
        long firstChunk = version == VERSION ? h.getLong(FIRST_CHUNK_OFFSET) : 0;
        if (delta != (chunk >= 0)) {
            return null;
        }
        long end = h.getLong(32);
        long start = HEADER_AREA + firstChunk * BUFFER;
        if (firstChunk < 0 || end < start || end - start > capacityBytes(ssds.length)) {
            return null;
        }
        for (Section sec : list) {
            if (sec.offset() < start || sec.offset() + sec.length() > end) {
                return null;
            }
        }
        return new Checkpoint(
                ssd,
                slot,
                generation,
                h.getLong(24),
                ssds,
                List.copyOf(list),
                delta,
                chainBase,
                firstChunk,
                end,
                new int[list.size()]);
    }

    /**
     * Checks every section's CRC, each read preferring one copy of its chunks (the others where that one
     * cannot be read): copy 0 first, then 1, then 2. @return the checkpoint with, per section, the copy
     * that verified; null if some section verifies with none
     */
    private Checkpoint verify(Checkpoint c) {
        ByteBuffer scratch = ByteBuffer.allocate(64 * 1024);
        int[] prefer = new int[c.sections().size()];
        for (int i = 0; i < prefer.length; i++) {
            Section s = c.sections().get(i);
            boolean ok = false;
            for (int p = 0; p < copies(c.ssds()) && !ok; p++) {
                CRC32C crc = new CRC32C();
                try (ReadableByteChannel ch = open(c, s, p)) {
                    while (true) {
                        scratch.clear();
                        if (ch.read(scratch) < 0) {
                            break;
                        }
                        scratch.flip();
                        crc.update(scratch);
                    }
                } catch (IOException e) {
                    continue;
                }
                if ((int) crc.getValue() == s.crc()) {
                    prefer[i] = p;
                    ok = true;
                } else if (p == 0) {
                    Log.warn(
                            "checkpoint_section_copy_bad",
                            "generation=" + c.generation() + " kind=" + s.kind() + " id=" + s.id()
                                    + " action=read_other_copies");
                }
            }
            if (!ok) {
                return null;
            }
        }
        return c.withPrefer(prefer);
    }

    /** A channel over one section's bytes; each chunk from the first copy on a healthy SSD that reads. */
    public ReadableByteChannel open(Checkpoint c, Section s) {
        int i = c.sections().indexOf(s);
        return open(c, s, i < 0 ? 0 : c.prefer()[i]);
    }

    private ReadableByteChannel open(Checkpoint c, Section s, int prefer) {
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
                for (int n = 0; n < copies(c.ssds()); n++) {
                    int copy = (n + prefer) % copies(c.ssds());
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
