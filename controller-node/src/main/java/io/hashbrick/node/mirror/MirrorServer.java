package io.hashbrick.node.mirror;

import io.hashbrick.journal.Journal;
import io.hashbrick.journal.JournalBatch;
import io.hashbrick.journal.ReplayResult;
import io.hashbrick.node.Log;
import io.hashbrick.sim.BatteryBackedMemory;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntPredicate;
import java.util.zip.CRC32C;

/**
 * The brick peer's side of journal mirroring: holds, in this controller's memory, a copy of each
 * journal region of its peer's pool as the peer's {@link MirrorSender} streams it, acknowledges what it
 * applied, and at a failover puts the copy in place of the pool's journals ({@link #install}) before
 * the pool opens here: the records the dead controller acknowledged come from this memory, not from its
 * own.
 */
public final class MirrorServer implements AutoCloseable {
    private static final long INSTALL_WAIT_NS = 2_000_000_000L;

    private final String member;
    private final IntPredicate acceptsPool;
    /**
     * Whether an install also reads the dead controller's own journal, to log how far it reached
     * ({@code d_file_last}) beside the copy's: evidence for a drill, a scan more at a failover.
     */
    private final boolean compareWithFile = Boolean.getBoolean("hashbrick.mirror.compare-with-file");

    private final ServerSocketChannel server;
    private final Map<Integer, Copy> copies = new ConcurrentHashMap<>();
    private volatile boolean closed;
    private final Thread acceptor;

    /** One pool's copy: its two regions and whether they stand for the pool's journals. */
    private static final class Copy {
        final Arena arena;
        final MemorySegment[] regions;
        /** The session writing it (null: none). Guarded by the copy. */
        SocketChannel session;
        /** Every record the owner acknowledged is in the copy (TRUSTED seen, no DEGRADED or image since). */
        volatile boolean trusted;

        volatile boolean ended = true;
        final long[] lastSeq = new long[2];
        volatile long frames;
        volatile long sessions;

        Copy(long d, long c) {
            arena = Arena.ofShared();
            regions = new MemorySegment[] {arena.allocate(d, 4096), arena.allocate(c, 4096)};
        }

        boolean sized(long d, long c) {
            return regions[0].byteSize() == d && regions[1].byteSize() == c;
        }
    }

    /**
     * Listens on {@code address}. @param acceptsPool which pools it mirrors (its brick peer's, by member
     * id); a HELLO for another is refused
     */
    public MirrorServer(String member, InetSocketAddress address, IntPredicate acceptsPool) throws IOException {
        this.member = member;
        this.acceptsPool = acceptsPool;
        this.server = ServerSocketChannel.open();
        server.bind(address);
        this.acceptor =
                Thread.ofPlatform().daemon().name("journal-mirror-server").start(this::accept);
        Log.info("journal_mirror_listening", "member=" + member + " address=" + address);
    }

    /** The port it listens on. */
    public int port() {
        try {
            return ((InetSocketAddress) server.getLocalAddress()).getPort();
        } catch (IOException e) {
            return -1;
        }
    }

    private void accept() {
        while (!closed) {
            try {
                SocketChannel ch = server.accept();
                Thread.ofPlatform().daemon().name("journal-mirror-in").start(() -> session(ch));
            } catch (IOException e) {
                if (!closed) {
                    Log.warn("journal_mirror_accept_failed", "member=" + member + " error=" + Log.q(e.toString()));
                    LockSupport.parkNanos(100_000_000L);
                }
            }
        }
    }

    /** One owner's stream: HELLO, then frames applied in order, acknowledged after each read. */
    private void session(SocketChannel ch) {
        String from = "unknown";
        Copy copy = null;
        CRC32C crc = new CRC32C();
        ByteBuffer in = ByteBuffer.allocateDirect(4 * (MirrorWire.HEADER_BYTES + MirrorWire.MAX_PAYLOAD));
        MemorySegment inBytes = MemorySegment.ofBuffer(in); // absolute offsets, whatever the position
        ByteBuffer ack = ByteBuffer.allocateDirect(MirrorWire.HEADER_BYTES);
        long frames = 0;
        try {
            ch.setOption(java.net.StandardSocketOptions.TCP_NODELAY, true); // acknowledgements go at once
            from = String.valueOf(ch.getRemoteAddress());
            readFully(ch, in, MirrorWire.HEADER_BYTES);
            String why = MirrorWire.refusal(in, 0, crc);
            if (why == null && (in.get(5) != MirrorWire.HELLO || !MirrorWire.checksumOk(in, 0, crc))) {
                why = "not_hello";
            }
            int pool = (int) in.getLong(16);
            long d = in.getLong(24);
            long c = in.getLong(32);
            if (why == null && !acceptsPool.test(pool)) {
                why = "not_the_brick_peer pool=c" + pool;
            }
            if (why == null && (d <= 0 || c <= 0 || d > (1L << 30) || c > (1L << 30))) {
                why = "region_size d=" + d + " c=" + c;
            }
            if (why != null) {
                Log.warn("journal_mirror_refused", "member=" + member + " from=" + from + " reason=" + why);
                return;
            }
            copy = copies.compute(pool, (k, old) -> old != null && old.sized(d, c) ? old : new Copy(d, c));
            synchronized (copy) {
                if (copy.session != null) {
                    copy.session.close(); // a newer stream from the owner replaces it
                }
                copy.session = ch;
                copy.trusted = false;
                copy.ended = false;
                copy.sessions++;
            }
            Log.info(
                    "journal_mirror_session",
                    "member=" + member + " pool=c" + pool + " from=" + from + " d_bytes=" + d + " c_bytes=" + c);
            in.clear();
            while (!closed) {
                int n = ch.read(in);
                if (n < 0) {
                    break;
                }
                in.flip();
                int applied = 0;
                while (in.remaining() >= MirrorWire.HEADER_BYTES) {
                    int at = in.position();
                    why = MirrorWire.refusal(in, at, crc);
                    if (why != null) {
                        throw new IOException("bad frame: " + why);
                    }
                    int length = in.getInt(at + 8);
                    if (in.remaining() < MirrorWire.HEADER_BYTES + length) {
                        break;
                    }
                    if (!MirrorWire.checksumOk(in, at, crc)) {
                        throw new IOException("bad frame: checksum");
                    }
                    synchronized (copy) { // a newer stream of the owner's replaced this one: it writes no more
                        if (copy.session != ch) {
                            throw new IOException("replaced by a newer stream");
                        }
                        apply(copy, in, inBytes, at, length);
                    }
                    in.position(at + MirrorWire.HEADER_BYTES + length);
                    frames++;
                    applied++;
                }
                in.compact();
                if (applied > 0) {
                    copy.frames += applied;
                    ack.clear();
                    MirrorWire.header(ack, 0, MirrorWire.ACK, 0, 0, frames, copy.lastSeq[0], copy.lastSeq[1]);
                    MirrorWire.seal(ack, 0, crc);
                    while (ack.hasRemaining()) {
                        ch.write(ack);
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            if (!closed && copy != null) {
                Log.info(
                        "journal_mirror_session_ended",
                        "member=" + member + " from=" + from + " frames=" + frames + " trusted=" + copy.trusted
                                + " reason=" + Log.q(e.getMessage()));
            }
        } finally {
            try {
                ch.close();
            } catch (IOException ignored) {
                // closing
            }
            if (copy != null) {
                synchronized (copy) {
                    if (copy.session == ch) {
                        copy.session = null;
                        copy.ended = true;
                        copy.notifyAll();
                    }
                }
            }
        }
    }

    private static void apply(Copy copy, ByteBuffer in, MemorySegment inBytes, int at, int length) throws IOException {
        byte type = in.get(at + 5);
        int j = in.get(at + 6);
        MemorySegment region = copy.regions[j];
        switch (type) {
            case MirrorWire.IMAGE_BEGIN -> {
                copy.trusted = false;
                region.fill((byte) 0);
                copy.lastSeq[j] = 0;
            }
            case MirrorWire.DATA -> {
                long offset = in.getLong(at + 24);
                if (offset < 0 || offset + length > region.byteSize()) {
                    throw new IOException("frame outside the region: offset=" + offset + " length=" + length);
                }
                MemorySegment.copy(inBytes, at + MirrorWire.HEADER_BYTES, region, offset, length);
                copy.lastSeq[j] = Math.max(copy.lastSeq[j], in.getLong(at + 16));
            }
            case MirrorWire.IMAGE_END -> copy.lastSeq[j] = Math.max(copy.lastSeq[j], in.getLong(at + 16));
            case MirrorWire.TRUSTED -> copy.trusted = true;
            case MirrorWire.DEGRADED -> copy.trusted = false;
            default -> throw new IOException("unexpected frame type=" + type);
        }
    }

    private static void readFully(SocketChannel ch, ByteBuffer b, int n) throws IOException {
        b.clear().limit(n);
        while (b.hasRemaining()) {
            if (ch.read(b) < 0) {
                throw new IOException("closed before HELLO");
            }
        }
        b.flip();
    }

    /**
     * A failover of {@code pool} (its process is gone) opens it here next: puts this controller's copy of
     * its journals in place of the ones in {@code poolDir} (the dead controller's memory), once its
     * stream has ended and if the copy stands for them. Logs what it did and how the two compare.
     *
     * @return whether the copy was installed (false: the pool opens with the journals it has)
     */
    public boolean install(int pool, Path poolDir, String dataFile, String mapFile) {
        long t0 = System.nanoTime();
        Copy copy = copies.get(pool);
        String why = null;
        if (copy == null) {
            why = "no_copy";
        } else {
            synchronized (copy) {
                long end = System.nanoTime() + INSTALL_WAIT_NS;
                while (!copy.ended && System.nanoTime() - end < 0) {
                    try {
                        copy.wait(10);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        break;
                    }
                }
                if (!copy.ended) {
                    why = "stream_still_open";
                } else if (!copy.trusted) {
                    why = "copy_not_trusted";
                }
            }
        }
        if (why == null && Files.exists(poolDir.resolve(MirrorSender.ALONE_FILE))) {
            why = "owner_acknowledged_alone";
        }
        if (why != null) {
            Log.warn(
                    "journal_mirror_not_used",
                    "member=" + member + " pool=c" + pool + " reason=" + why
                            + " effect=the_pool_opens_with_its_own_nvram_files (read as dual-ported)");
            return false;
        }
        StringBuilder fields = new StringBuilder("member=" + member + " pool=c" + pool);
        String[] files = {dataFile, mapFile};
        String[] names = {"d", "c"};
        try {
            for (int j = 0; j < 2; j++) {
                MemorySegment mirror = copy.regions[j];
                long a = System.nanoTime();
                ReplayResult m = Journal.scan(mirror);
                long b = System.nanoTime();
                Path file = poolDir.resolve(files[j]);
                String fileLast = "none";
                boolean exists = Files.exists(file);
                boolean inPlace = exists && Files.size(file) == BatteryBackedMemory.HEADER_BYTES + mirror.byteSize();
                if (exists) {
                    fileLast = "not_read";
                    if (compareWithFile) {
                        try (BatteryBackedMemory mem = BatteryBackedMemory.open(file, 0, mirror.byteSize())) {
                            fileLast = String.valueOf(Journal.scan(mem.data()).nextSequence() - 1);
                        } catch (RuntimeException e) {
                            fileLast = "unreadable";
                        }
                    }
                }
                long c = System.nanoTime();
                long d = c;
                if (inPlace) { // written through the file (no mapping to fault in): the records, the end, the header
                    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
                        d = System.nanoTime();
                        long base = BatteryBackedMemory.HEADER_BYTES;
                        liveRanges(mirror.byteSize(), m, (offset, length, zero) -> {
                            ByteBuffer bytes = zero
                                    ? ByteBuffer.allocate((int) length)
                                    : mirror.asSlice(offset, length).asByteBuffer();
                            long at = base + offset;
                            while (bytes.hasRemaining()) {
                                at += ch.write(bytes, at);
                            }
                        });
                    }
                } else { // none yet: made as a controller's memory is, then filled (another size: refused)
                    try (BatteryBackedMemory mem = BatteryBackedMemory.open(file, 0, mirror.byteSize())) {
                        d = System.nanoTime();
                        copyLive(mirror, mem.data(), m);
                    }
                }
                long e = System.nanoTime();
                fields.append(' ')
                        .append(names[j])
                        .append("_us=scan:")
                        .append((b - a) / 1000)
                        .append(",file:")
                        .append((c - b) / 1000)
                        .append(",open:")
                        .append((d - c) / 1000)
                        .append(",copy:")
                        .append((e - d) / 1000);
                fields.append(' ')
                        .append(names[j])
                        .append("_mirror_last=")
                        .append(m.nextSequence() - 1)
                        .append(' ')
                        .append(names[j])
                        .append("_file_last=")
                        .append(fileLast)
                        .append(' ')
                        .append(names[j])
                        .append("_live_bytes=")
                        .append(m.stopPosition() - m.startPosition());
            }
        } catch (IOException | RuntimeException e) {
            Log.error(
                    "journal_mirror_install_failed",
                    fields + " error=" + Log.q(e.toString())
                            + " effect=the_pool_opens_with_what_its_nvram_files_hold_now");
            return false;
        }
        copy.trusted = false; // the pool is served here now; its owner's next stream starts over
        Log.warn("journal_mirror_installed", fields + " ms=" + (System.nanoTime() - t0) / 1_000_000);
        return true;
    }

    /**
     * Puts the copy's journal in {@code to}: its header, its live records (what its replay reads), and a
     * zeroed record header right after the last of them, so that a replay of {@code to} reads exactly
     * those records (whatever else the dead controller's memory held is never replayed).
     */
    static void copyLive(MemorySegment from, MemorySegment to, ReplayResult r) {
        try {
            liveRanges(from.byteSize(), r, (offset, length, zero) -> {
                if (zero) {
                    to.asSlice(offset, length).fill((byte) 0);
                } else {
                    MemorySegment.copy(from, offset, to, offset, length);
                }
            });
        } catch (IOException e) {
            throw new IllegalStateException(e); // memory to memory: never
        }
    }

    /** Where {@link #liveRanges} puts a range: copied from the copy, or zeroed. */
    @FunctionalInterface
    interface RangeSink {
        void put(long offset, long length, boolean zero) throws IOException;
    }

    /**
     * The ranges of a region of {@code size} bytes that a replay of it reads, as {@code r} found them:
     * its live records (two ranges when they wrap), the record header after the last, then its header.
     */
    static void liveRanges(long size, ReplayResult r, RangeSink sink) throws IOException {
        long[] offsets = new long[2];
        long[] lengths = new long[2];
        int ranges = Journal.physicalRanges(size, r.startPosition(), r.stopPosition(), offsets, lengths);
        for (int i = 0; i < ranges; i++) {
            sink.put(offsets[i], lengths[i], false);
        }
        long end = Journal.physicalOffset(size, r.stopPosition());
        long n = Math.min(Journal.RECORD_HEADER_BYTES, size - end);
        if (n < Journal.RECORD_HEADER_BYTES) { // too short for a header: replay goes on at the region's start
            if (n > 0) {
                sink.put(end, n, true);
            }
            end = JournalBatch.HEADER_BYTES;
            n = Journal.RECORD_HEADER_BYTES;
        }
        sink.put(end, n, true);
        // The header last: a write that fails before it leaves the file's own header over records that
        // are the same bytes at the same places (the copy mirrors them), cut at the copy's end.
        sink.put(0, JournalBatch.HEADER_BYTES, false);
    }

    /** For status: per pool, whether its copy stands for its journals, and the sequences it holds. */
    public Map<String, Object> status() {
        Map<String, Object> s = new java.util.LinkedHashMap<>();
        copies.forEach((pool, c) -> s.put(
                "c" + pool,
                Map.of(
                        "trusted",
                        c.trusted,
                        "streaming",
                        !c.ended,
                        "d_sequence",
                        c.lastSeq[0],
                        "c_sequence",
                        c.lastSeq[1],
                        "frames",
                        c.frames,
                        "sessions",
                        c.sessions)));
        return s;
    }

    @Override
    public void close() {
        closed = true;
        try {
            server.close();
        } catch (IOException ignored) {
            // closing
        }
        copies.values().forEach(c -> {
            synchronized (c) {
                if (c.session != null) {
                    try {
                        c.session.close();
                    } catch (IOException ignored) {
                        // closing
                    }
                }
            }
        });
        acceptor.interrupt();
    }
}
