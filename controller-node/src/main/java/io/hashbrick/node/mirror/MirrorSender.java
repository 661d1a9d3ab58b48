package io.hashbrick.node.mirror;

import io.hashbrick.journal.Journal;
import io.hashbrick.journal.JournalBatch;
import io.hashbrick.journal.JournalMirror;
import io.hashbrick.node.Log;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import java.util.zip.CRC32C;

/**
 * Mirrors a controller's two journals (D's and C's, of its own pool) into its brick peer's memory
 * (DESIGN.md: a write is acknowledged once it sits in two controllers' journals), over one TCP stream
 * of {@link MirrorWire} frames.
 *
 * <p>The journal writers (under D's and C's locks) only copy each batch into a buffer ({@link
 * #view}'s {@code replicate}); this sender's thread writes the buffer to the socket, another reads the
 * peer's cumulative acknowledgements, and a role call's thread, its lock released, waits in {@code
 * awaitMirrored} until the peer holds its record. No lock is held across the network.
 *
 * <p>States. <b>Alone</b>: the peer's process is not running (its pool lock is free, or this
 * controller serves its pool), or not yet mirrored to: records count as safe in this controller's
 * journal alone (XtremIO's single-controller mode), the pool's directory says so ({@link #ALONE_FILE}),
 * and the sender keeps trying to connect. Connected, it sends an <b>image</b> (each journal's header and
 * live records, read while the writers go on; every batch written meanwhile follows it as a frame of
 * its own and overwrites what was read torn); once the peer has acknowledged the image and serves its
 * own pool, a record counts only once the peer acknowledges it: <b>mirrored</b>. Once the peer holds
 * every record acknowledged alone, it is told TRUSTED (and the file goes): its copy then stands for
 * this controller's journals at a failover. A lost connection, or a buffer overrun, while the peer runs
 * keeps the waiting: a new image is sent. Only the peer's end (or {@link #ACK_BUDGET_NS} without an
 * answer, logged) makes the records safe alone again: the file first, then DEGRADED (best effort).
 */
public final class MirrorSender implements AutoCloseable {
    /** Each of the two buffers the writers fill while the sender thread writes the other. */
    static final int BUFFER_BYTES = 32 << 20;
    /**
     * A planted bug, for the drills to show they catch it: a record counts at once, before the peer holds
     * it (DESIGN.md's "ack before the mirror write"). Never set outside such a check.
     */
    static final boolean PLANT_ACK_BEFORE_MIRROR = Boolean.getBoolean("hashbrick.plant.ack-before-mirror");

    /** How long a record may wait for the peer's acknowledgement before the mirror gives up on it. */
    static final long ACK_BUDGET_NS = 5_000_000_000L;

    private static final long RETRY_NS = 100_000_000L;

    /**
     * In the pool's directory (the brick's shared DAE) while its controller acknowledges records alone,
     * written before the first such record and removed once the peer's copy is trusted again: a
     * failover never installs a copy its owner stopped waiting for (the peer may not have heard).
     */
    public static final String ALONE_FILE = "mirror-alone";

    private final int pool;
    private final Path aloneFile;
    private final java.util.concurrent.atomic.AtomicBoolean degrading = new java.util.concurrent.atomic.AtomicBoolean();
    private final String member;
    private final Supplier<InetSocketAddress> peerAddress;
    private final BooleanSupplier peerDown;
    /** Whether the peer serves its own pool (not coming back, not failed over): then records wait for it. */
    private final BooleanSupplier peerReady;

    private final Journal[] journals = new Journal[2];
    private final JournalMirror[] views = new JournalMirror[2];

    private final ReentrantLock fill = new ReentrantLock();
    private ByteBuffer filling = ByteBuffer.allocateDirect(BUFFER_BYTES);
    private ByteBuffer draining = ByteBuffer.allocateDirect(BUFFER_BYTES);
    /** {@link #filling} as a segment from its first byte (absolute offsets), swapped with it. */
    private MemorySegment fillingBytes = MemorySegment.ofBuffer(filling);

    private MemorySegment drainingBytes = MemorySegment.ofBuffer(draining);
    /** Frames put in the buffers (guarded by {@link #fill}). */
    private long framesQueued;
    /** A frame did not fit: what the buffers hold is incomplete, the peer needs a new image. */
    private boolean overrun;

    /** Records count once the peer acknowledges them (false: safe alone). */
    private volatile boolean waitForPeer;

    private final long[] lastQueuedSeq = new long[2];
    /** The last sequence of D's (0) and C's (1) journal the peer acknowledged. */
    private final AtomicLongArray ackedSeq = new AtomicLongArray(2);

    /**
     * Role-call threads waiting for an acknowledgement, one slot each (claimed by {@link #slotState}),
     * woken one by one by the acknowledgement that covers their sequence: no herd wakes on every
     * acknowledgement, nothing allocated per wait.
     */
    static final int WAIT_SLOTS = 1024;

    private final AtomicIntegerArray slotState = new AtomicIntegerArray(WAIT_SLOTS);
    private final AtomicLongArray slotSeq = new AtomicLongArray(WAIT_SLOTS);
    private final AtomicIntegerArray slotJournal = new AtomicIntegerArray(WAIT_SLOTS);
    private final AtomicReferenceArray<Thread> slotThread = new AtomicReferenceArray<>(WAIT_SLOTS);
    /** Slots below it have been claimed at least once: the wake-up scans those. */
    private final AtomicInteger slotsUsed = new AtomicInteger();

    private volatile boolean closed;
    private volatile String state = "alone";
    private volatile SocketChannel channel;
    private volatile Thread sender;
    private final CRC32C crc = new CRC32C();

    private volatile long imagesSent;
    private volatile long imageBytesLast;
    private volatile long framesSent;
    private volatile long bytesSent;
    private volatile long degradedCount;
    private volatile long overruns;
    private volatile long waitsMaxUs;

    /**
     * @param pool this controller's pool (member id)
     * @param peerAddress where the brick peer's mirror listens (null: not known yet)
     * @param peerDown whether the brick peer's process is gone (its pool lock free, or its pool served here)
     * @param peerReady whether the brick peer serves its own pool (records wait for it only then)
     */
    public MirrorSender(
            int pool,
            String member,
            Path poolDir,
            Supplier<InetSocketAddress> peerAddress,
            BooleanSupplier peerDown,
            BooleanSupplier peerReady) {
        this.pool = pool;
        this.peerReady = peerReady;
        this.aloneFile = poolDir.resolve(ALONE_FILE);
        this.member = member;
        this.peerAddress = peerAddress;
        this.peerDown = peerDown;
        for (int j = 0; j < 2; j++) {
            int journal = j;
            views[j] = new JournalMirror() {
                @Override
                public boolean replicate(JournalBatch batch) {
                    return queueBatch(journal, batch);
                }

                @Override
                public void headerWritten(MemorySegment region) {
                    queueHeader(journal, region);
                }

                @Override
                public boolean awaitMirrored(long sequence) {
                    return await(journal, sequence);
                }
            };
        }
    }

    /**
     * Marks the pool as acknowledging alone before any record is written (a copy the peer holds from this
     * controller's earlier life must not stand for the journals of this one).
     */
    public void startAlone() throws IOException {
        if (PLANT_ACK_BEFORE_MIRROR) {
            Log.error("planted_bug", "member=" + member + " bug=ack_before_mirror (hashbrick.plant.ack-before-mirror)");
        }
        writeAloneFile("starting");
    }

    /** {@link #ALONE_FILE} with {@code why} in it, durable (the file and its directory entry). */
    private void writeAloneFile(String why) throws IOException {
        Files.writeString(aloneFile, why + "\n");
        try (var ch = java.nio.channels.FileChannel.open(aloneFile, java.nio.file.StandardOpenOption.WRITE)) {
            ch.force(true);
        }
        syncDirectory(aloneFile.getParent());
    }

    /** The mirror of journal {@code j} (0: D's, 1: C's), to open that journal with. */
    public JournalMirror view(int j) {
        return views[j];
    }

    /** Journal {@code j} is open: the image reads it from now on. Both attached, the sender starts. */
    public synchronized void attach(int j, Journal journal) {
        journals[j] = journal;
        if (journals[0] != null && journals[1] != null && sender == null && !closed) {
            sender = Thread.ofPlatform().daemon().name("journal-mirror").start(this::run);
        }
    }

    // ---------------------------------------------------------------- writers (under their role's lock)

    private boolean queueBatch(int j, JournalBatch batch) {
        fill.lock();
        try {
            int ranges = batch.rangeCount();
            for (int i = 0; i < ranges; i++) {
                long offset = batch.rangeOffset(i);
                long left = batch.rangeLength(i);
                while (left > 0) {
                    int n = (int) Math.min(left, MirrorWire.MAX_PAYLOAD);
                    // The batch's sequence on its last frame only: the peer acknowledges it once it has all
                    boolean last = i == ranges - 1 && left == n;
                    queue(j, last ? batch.lastSequence() : 0, offset, batch.region(), offset, n);
                    offset += n;
                    left -= n;
                }
            }
            lastQueuedSeq[j] = batch.lastSequence();
        } finally {
            fill.unlock();
        }
        LockSupport.unpark(sender);
        return true;
    }

    private void queueHeader(int j, MemorySegment region) {
        fill.lock();
        try {
            queue(j, 0, 0, region, 0, JournalBatch.HEADER_BYTES);
        } finally {
            fill.unlock();
        }
        LockSupport.unpark(sender);
    }

    /** One DATA frame into the filling buffer; {@link #fill} is held. */
    private void queue(int j, long seq, long at, MemorySegment from, long offset, int n) {
        if (overrun || filling.remaining() < MirrorWire.HEADER_BYTES + n) {
            if (!overrun) {
                overrun = true;
                overruns++;
            }
            return;
        }
        int p = filling.position();
        MirrorWire.header(filling, p, MirrorWire.DATA, j, n, seq, at, 0);
        MemorySegment.copy(from, offset, fillingBytes, p + MirrorWire.HEADER_BYTES, n);
        filling.position(p + MirrorWire.HEADER_BYTES + n);
        framesQueued++;
    }

    // ---------------------------------------------------------------- a role call's thread, its lock released

    private boolean await(int j, long seq) {
        if (!waitForPeer || ackedSeq.get(j) >= seq || PLANT_ACK_BEFORE_MIRROR) {
            return true;
        }
        long t0 = System.nanoTime();
        int slot = claim(j, seq);
        try {
            while (true) {
                if (!waitForPeer || ackedSeq.get(j) >= seq) {
                    break;
                }
                if (closed) {
                    return false; // shutting down: the peer never said
                }
                long waited = System.nanoTime() - t0;
                if (waited > ACK_BUDGET_NS) {
                    if (!degrade("ack_timeout journal=" + (j == 0 ? "D" : "C") + " sequence=" + seq)) {
                        return false; // neither the peer's word nor the right to go on without it
                    }
                    continue;
                }
                // Woken by the acknowledgement that covers it; a table full (never at the front end's
                // depths) polls instead.
                LockSupport.parkNanos(this, slot >= 0 ? Math.min(50_000_000L, ACK_BUDGET_NS - waited + 1) : 100_000L);
                if (Thread.interrupted()) {
                    Thread.currentThread().interrupt();
                    return false;
                }
            }
        } finally {
            if (slot >= 0) {
                slotThread.set(slot, null);
                slotState.set(slot, 0);
            }
        }
        long us = (System.nanoTime() - t0) / 1_000;
        if (us > waitsMaxUs) {
            waitsMaxUs = us;
        }
        return true;
    }

    /** A free slot for the calling thread waiting for {@code seq} of journal {@code j}, or -1. */
    private int claim(int j, long seq) {
        for (int i = 0; i < WAIT_SLOTS; i++) {
            if (slotState.get(i) == 0 && slotState.compareAndSet(i, 0, 1)) {
                slotSeq.set(i, seq);
                slotJournal.set(i, j);
                slotThread.set(i, Thread.currentThread()); // last: a waker that sees it sees the rest
                int used;
                while ((used = slotsUsed.get()) <= i && !slotsUsed.compareAndSet(used, i + 1)) {
                    Thread.onSpinWait();
                }
                return i;
            }
        }
        return -1;
    }

    /** Unparks the waiters an acknowledgement covers ({@code all}: every waiter, the peer given up). */
    private void wake(boolean all) {
        int used = slotsUsed.get();
        long d = ackedSeq.get(0);
        long c = ackedSeq.get(1);
        for (int i = 0; i < used; i++) {
            Thread t = slotThread.get(i);
            if (t != null && (all || slotSeq.get(i) <= (slotJournal.get(i) == 0 ? d : c))) {
                LockSupport.unpark(t);
            }
        }
    }

    // ---------------------------------------------------------------- the sender's thread

    private void run() {
        long loggedDownNs = 0;
        while (!closed) {
            boolean down = peerDown.getAsBoolean();
            if (down && waitForPeer) {
                degrade("peer_gone");
            }
            InetSocketAddress to = peerAddress.get();
            // Not while the peer opens its pool (coming back): the image's bytes and checksums would
            // take the CPU its open needs, and nothing waits for the peer before it serves its pool.
            if (to == null || down || (!waitForPeer && !peerSettled())) {
                dropQueued();
                pause(RETRY_NS);
                continue;
            }
            SocketChannel ch;
            try {
                ch = SocketChannel.open();
                ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
                ch.socket().connect(to, 1_000);
            } catch (IOException e) {
                dropQueued();
                long now = System.nanoTime();
                if (now - loggedDownNs > 30_000_000_000L) {
                    loggedDownNs = now;
                    Log.info(
                            "journal_mirror_unreachable",
                            "member=" + member + " peer=" + to + " waiting=" + waitForPeer + " error="
                                    + Log.q(e.getMessage()));
                }
                pause(RETRY_NS);
                continue;
            }
            channel = ch;
            try {
                stream(ch);
            } catch (IOException | RuntimeException e) {
                if (!closed) {
                    Log.warn(
                            "journal_mirror_lost",
                            "member=" + member + " peer=" + to + " waiting=" + waitForPeer + " error="
                                    + Log.q(e.toString()));
                }
            } finally {
                channel = null;
                try {
                    ch.close();
                } catch (IOException ignored) {
                    // closing
                }
            }
            if (!closed) {
                pause(RETRY_NS / 10);
            }
        }
    }

    /**
     * Whether the peer has served its own pool for {@link #settleNs} (the sender's thread only): a
     * controller coming back is opening its pool, then warming up; mirroring to it before would put
     * its first answers, and the image's CPU, in what the host waits for at the failback.
     */
    private boolean peerSettled() {
        if (!peerReady.getAsBoolean()) {
            readySinceNs = 0;
            return false;
        }
        long now = System.nanoTime();
        if (readySinceNs == 0) {
            readySinceNs = now;
        }
        return now - readySinceNs >= settleNs;
    }

    private long readySinceNs;
    /** See {@link #peerSettled}; tests shorten it. */
    long settleNs = SETTLE_NS;

    /** How long the peer serves its own pool before this controller mirrors to it (anti-bounce). */
    static final long SETTLE_NS = 2_000_000_000L;

    /** Nobody to send to: what is queued goes (the next connection starts with an image). */
    private void dropQueued() {
        fill.lock();
        try {
            filling.clear();
            draining.clear(); // a write that failed half way left it dirty: never resent
            overrun = false;
        } finally {
            fill.unlock();
        }
    }

    /** One connection: HELLO, the image, then the batches as they come, until it fails or overruns. */
    private void stream(SocketChannel ch) throws IOException {
        ByteBuffer small = ByteBuffer.allocateDirect(MirrorWire.HEADER_BYTES);
        long regionD = journals[0].region().segment().byteSize();
        long regionC = journals[1].region().segment().byteSize();
        frame(ch, small, MirrorWire.HELLO, 0, pool, regionD, regionC); // not counted by the peer
        AckReader reader = new AckReader(ch);
        Thread readerThread =
                Thread.ofPlatform().daemon().name("journal-mirror-ack").start(reader);
        try {
            long t0 = System.nanoTime();
            // At the mark: every batch queued until then is in the region below what the image reads.
            long[] covered = new long[2];
            long framesAtMark;
            fill.lock();
            try {
                covered[0] = lastQueuedSeq[0];
                covered[1] = lastQueuedSeq[1];
                filling.clear(); // the mark: what is queued is in the image, what follows comes after it
                draining.clear(); // what a failed write left in it is in the image too
                overrun = false;
                framesAtMark = framesQueued;
            } finally {
                fill.unlock();
            }
            long sent = 0; // frames on this connection, as the peer counts them
            long bytes = 0;
            for (int j = 0; j < 2; j++) {
                Journal journal = journals[j];
                MemorySegment region = journal.region().segment();
                sent += frame(ch, small, MirrorWire.IMAGE_BEGIN, j, 0, 0, 0);
                long[] offsets = new long[2];
                long[] lengths = new long[2];
                int ranges = journal.liveRanges(offsets, lengths);
                sent += chunk(ch, j, region, 0, JournalBatch.HEADER_BYTES);
                bytes += JournalBatch.HEADER_BYTES;
                for (int i = 0; i < ranges; i++) {
                    sent += chunk(ch, j, region, offsets[i], lengths[i]);
                    bytes += lengths[i];
                }
                sent += frame(ch, small, MirrorWire.IMAGE_END, j, covered[j], 0, 0);
            }
            imagesSent++;
            imageBytesLast = bytes;
            long imageFrames = sent;
            boolean wasAlone = !waitForPeer;
            boolean switched = !wasAlone;
            // The peer's copy is whole once it acknowledges the frames queued until now (they repair
            // what the image read torn) and, coming from alone, those queued until the switch.
            long trustAt;
            fill.lock();
            try {
                trustAt = imageFrames + (framesQueued - framesAtMark);
            } finally {
                fill.unlock();
            }
            boolean trusted = false;
            Log.info(
                    "journal_mirror_image",
                    "member=" + member + " peer=" + ch.getRemoteAddress() + " bytes=" + bytes + " d_sequence="
                            + covered[0] + " c_sequence=" + covered[1] + " ms=" + (System.nanoTime() - t0) / 1_000_000
                            + " was_alone=" + wasAlone);
            state = "imaged";
            while (!closed) {
                // Alone until the peer has taken the image and serves its own pool (a controller coming
                // back is busy opening it, and its answers would be what the host waits for meanwhile).
                if (!switched && reader.acked() >= imageFrames && peerSettled()) {
                    fill.lock();
                    try {
                        trustAt = imageFrames + (framesQueued - framesAtMark); // every frame queued until now
                        waitForPeer = true; // records queued from now on wait for the peer
                        degradedAtSwitch = degradedCount;
                    } finally {
                        fill.unlock();
                    }
                    switched = true;
                }
                if (switched && !trusted && reader.acked() >= trustAt) {
                    sent += frame(ch, small, MirrorWire.TRUSTED, 0, 0, 0, 0);
                    trusted = true;
                    clearAlone(); // the peer's copy stands for the journals again
                    state = "mirrored";
                    Log.info(
                            "journal_mirror_trusted",
                            "member=" + member + " peer=" + ch.getRemoteAddress() + " frames=" + sent + " ms="
                                    + (System.nanoTime() - t0) / 1_000_000);
                }
                if (waitForPeer && peerDown.getAsBoolean()) {
                    degrade("peer_gone");
                }
                if (switched && !waitForPeer) { // gave up (ack budget, the peer gone): the copy no longer counts
                    frame(ch, small, MirrorWire.DEGRADED, 0, 0, 0, 0);
                    return;
                }
                if (reader.failed != null) {
                    throw reader.failed;
                }
                ByteBuffer out = swap();
                if (out == null) {
                    throw new IOException("buffer overrun: a new image follows");
                }
                if (out.position() == 0) {
                    LockSupport.parkNanos(this, trusted ? 1_000_000 : 200_000);
                    continue;
                }
                out.flip();
                int frames = sealAll(out);
                int n = out.remaining();
                while (out.hasRemaining()) {
                    ch.write(out);
                }
                out.clear();
                sent += frames;
                framesSent += frames;
                bytesSent += n;
            }
        } finally {
            try {
                ch.close();
            } catch (IOException ignored) {
                // closing
            }
            readerThread.interrupt();
            state = waitForPeer ? "reconnecting" : "alone";
        }
    }

    private volatile long degradedAtSwitch;

    /**
     * Removes {@link #ALONE_FILE} once the peer was told TRUSTED, unless a role call gave up on the
     * peer meanwhile (the TRUSTED write may have waited on a paused peer): {@link #degrading} keeps
     * the two apart, and a give-up since the switch keeps the file.
     */
    private void clearAlone() throws IOException {
        while (!degrading.compareAndSet(false, true)) {
            LockSupport.parkNanos(1_000_000);
        }
        try {
            if (waitForPeer && degradedCount == degradedAtSwitch) {
                Files.deleteIfExists(aloneFile);
                syncDirectory(aloneFile.getParent());
            }
        } finally {
            degrading.set(false);
        }
    }

    static void syncDirectory(Path dir) throws IOException {
        try (var ch = java.nio.channels.FileChannel.open(dir, java.nio.file.StandardOpenOption.READ)) {
            ch.force(true);
        }
    }

    /** The filling buffer, swapped for the drained one; null on an overrun. */
    private ByteBuffer swap() {
        fill.lock();
        try {
            if (overrun) {
                overrun = false;
                filling.clear();
                return null;
            }
            ByteBuffer full = filling;
            filling = draining;
            draining = full;
            MemorySegment bytes = fillingBytes;
            fillingBytes = drainingBytes;
            drainingBytes = bytes;
            return full;
        } finally {
            fill.unlock();
        }
    }

    /** Checksums every frame of {@code b} (position 0, limit the end); the writers left them at zero. */
    private int sealAll(ByteBuffer b) {
        int at = 0;
        int frames = 0;
        while (at < b.limit()) {
            MirrorWire.seal(b, at, crc);
            at += MirrorWire.HEADER_BYTES + b.getInt(at + 8);
            frames++;
        }
        return frames;
    }

    private ByteBuffer chunkBuffer;
    private MemorySegment chunkBytes;

    /** @return frames sent */
    private long chunk(SocketChannel ch, int j, MemorySegment region, long offset, long length) throws IOException {
        if (chunkBuffer == null) {
            chunkBuffer = ByteBuffer.allocateDirect(MirrorWire.HEADER_BYTES + MirrorWire.MAX_PAYLOAD);
            chunkBytes = MemorySegment.ofBuffer(chunkBuffer);
        }
        long left = length;
        long at = offset;
        long frames = 0;
        while (left > 0) {
            int n = (int) Math.min(left, MirrorWire.MAX_PAYLOAD);
            ByteBuffer b = chunkBuffer.clear();
            MirrorWire.header(b, 0, MirrorWire.DATA, j, n, 0, at, 0);
            MemorySegment.copy(region, at, chunkBytes, MirrorWire.HEADER_BYTES, n);
            MirrorWire.seal(b, 0, crc);
            b.limit(MirrorWire.HEADER_BYTES + n);
            while (b.hasRemaining()) {
                ch.write(b);
            }
            at += n;
            left -= n;
            frames++;
        }
        return frames;
    }

    /** @return 1, the frames sent */
    private int frame(SocketChannel ch, ByteBuffer small, byte type, int j, long a, long b, long c) throws IOException {
        small.clear();
        MirrorWire.header(small, 0, type, j, 0, a, b, c);
        MirrorWire.seal(small, 0, crc);
        while (small.hasRemaining()) {
            ch.write(small);
        }
        return 1;
    }

    // ---------------------------------------------------------------- acknowledgements

    private final class AckReader implements Runnable {
        private final SocketChannel ch;
        private volatile long acked;
        volatile IOException failed;

        AckReader(SocketChannel ch) {
            this.ch = ch;
        }

        long acked() {
            return acked;
        }

        @Override
        public void run() {
            ByteBuffer b = ByteBuffer.allocateDirect(MirrorWire.HEADER_BYTES);
            CRC32C c = new CRC32C();
            try {
                while (true) {
                    b.clear();
                    while (b.hasRemaining()) {
                        if (ch.read(b) < 0) {
                            throw new IOException("the peer closed the mirror connection");
                        }
                    }
                    String why = MirrorWire.refusal(b, 0, c);
                    if (why != null || b.get(5) != MirrorWire.ACK || !MirrorWire.checksumOk(b, 0, c)) {
                        throw new IOException("bad acknowledgement: " + (why == null ? "type_or_checksum" : why));
                    }
                    acked = b.getLong(16);
                    raise(0, b.getLong(24));
                    raise(1, b.getLong(32));
                    wake(false);
                }
            } catch (IOException e) {
                if (!closed) {
                    failed = e;
                }
            }
        }
    }

    /** The peer's acknowledged sequence of journal {@code j} never goes back (a new stream starts lower). */
    private void raise(int j, long seq) {
        long now;
        while ((now = ackedSeq.get(j)) < seq && !ackedSeq.compareAndSet(j, now, seq)) {
            Thread.onSpinWait();
        }
    }

    // ---------------------------------------------------------------- giving up on the peer

    /**
     * Stops waiting for the peer: {@link #ALONE_FILE} first (on the shared DAE, outside any lock), then
     * the records count alone. @return false if the file could not be written (nothing changes)
     */
    private boolean degrade(String why) {
        if (!degrading.compareAndSet(false, true)) {
            LockSupport.parkNanos(1_000_000); // another thread is at it
            return true;
        }
        try {
            if (!waitForPeer) {
                return true;
            }
            try {
                writeAloneFile(why);
            } catch (IOException e) {
                Log.error(
                        "journal_mirror_degrade_failed",
                        "member=" + member + " reason=" + why + " file=" + aloneFile + " error=" + Log.q(e.toString())
                                + " effect=writes_wait_for_the_peer");
                return false;
            }
            waitForPeer = false;
            degradedCount++;
            wake(true);
            state = "alone";
            Log.warn(
                    "journal_mirror_degraded",
                    "member=" + member + " reason=" + why
                            + " effect=writes_acknowledged_from_this_controllers_journal_alone_until_the_peer_is_back");
            return true;
        } finally {
            degrading.set(false);
        }
    }

    private static void pause(long ns) {
        LockSupport.parkNanos(ns);
    }

    /** For status: state, images, frames, bytes, the longest wait. */
    public java.util.Map<String, Object> status() {
        java.util.Map<String, Object> s = new java.util.LinkedHashMap<>();
        s.put("state", state);
        s.put("waits_for_peer", waitForPeer);
        s.put("images", imagesSent);
        s.put("image_bytes_last", imageBytesLast);
        s.put("frames", framesSent);
        s.put("bytes", bytesSent);
        s.put("degraded", degradedCount);
        s.put("overruns", overruns);
        s.put("wait_max_us", waitsMaxUs);
        return s;
    }

    @Override
    public void close() {
        closed = true;
        wake(true);
        SocketChannel ch = channel;
        if (ch != null) {
            try {
                ch.close();
            } catch (IOException ignored) {
                // closing
            }
        }
        Thread t = sender;
        if (t != null) {
            t.interrupt();
        }
    }
}
