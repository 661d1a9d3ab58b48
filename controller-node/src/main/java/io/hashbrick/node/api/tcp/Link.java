package io.hashbrick.node.api.tcp;

import io.hashbrick.node.Log;
import io.hashbrick.node.api.Completion;
import io.hashbrick.node.api.RoleCall;
import io.hashbrick.node.api.Status;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * One client connection: requests pipelined on it (up to {@link #SLOTS} in flight, matched by request
 * id), replies read and completed (decoding a reply into a call object and running the caller's
 * completion is short and never blocks) by one thread at a time, the connection's reader:
 *
 * <ul>
 *   <li>a caller that waits for its call ({@link Completion#callerWaits}: the front end's synchronous
 *       bridge) and finds nobody reading reads itself until its own reply is in, completing any other
 *       reply it meets on the way. A lone call then costs its thread one sleep, in {@code read}, and
 *       no other thread wakes: profiling found each thread wake-up of a remote hop (reader thread,
 *       then the caller) costing more CPU than the call's work on this machine;
 *   <li>otherwise the connection's reader thread, woken when a call is sent with nobody reading; it
 *       reads while calls are in flight, then goes back to sleep (so under load it keeps reading, and
 *       waiting callers sleep until it completes them, as before).
 * </ul>
 *
 * A frame that breaks the format, or the connection's end, fails every call still in flight on it
 * with MEDIUM_ERROR.
 */
final class Link {
    /** Calls in flight at most: far more than the front end keeps outstanding. Power of two. */
    static final int SLOTS = 4096;

    private static final int SLOT_BITS = Integer.numberOfTrailingZeros(SLOTS);
    /** Who reads the socket ({@link #reading}): nobody, the reader thread, or a waiting caller. */
    private static final int NOBODY = 0;

    private static final int THREAD = 1;
    private static final int CALLER = 2;

    private final SocketChannel channel;
    private final FrameWriter out;
    private final FrameReader in;
    private final String peer;
    private final long deadlineMs;
    private final Pending[] slots = new Pending[SLOTS];
    private final int[] free = new int[SLOTS];
    private int freeTop;
    /**
     * Slots below this have been used at least once; the rest have never held a call. The free list is
     * a stack, so a connection with 32 calls in flight touches its lowest slots only, and the sweeper
     * (every few ms) scans those instead of all {@link #SLOTS}.
     */
    private volatile int used;

    private final AtomicInteger inFlight = new AtomicInteger();
    private final AtomicInteger reading = new AtomicInteger(NOBODY);
    /** The deadline of the call whose caller is reading (0: none): past it, only a close ends its read. */
    private volatile long callerReadDeadlineNs;

    private Thread reader;
    private volatile boolean dead;

    private Link(SocketChannel channel, String peer, long deadlineMs) {
        this.channel = channel;
        this.peer = peer;
        this.deadlineMs = deadlineMs;
        this.out = new FrameWriter(channel);
        this.in = new FrameReader(channel, true);
        for (int i = 0; i < SLOTS; i++) {
            slots[i] = new Pending(i);
            free[i] = SLOTS - 1 - i;
        }
        freeTop = SLOTS;
    }

    static Link connect(String host, int port, long deadlineMs) throws IOException {
        SocketChannel ch = SocketChannel.open();
        try {
            ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
            ch.connect(new InetSocketAddress(host, port));
            if (((InetSocketAddress) ch.getLocalAddress()).getPort() == port) {
                // TCP's simultaneous open: a loopback connect to a port nobody listens on can pick that same
                // port as its source and connect to itself (an adopted pool's closed ephemeral port, say)
                throw new java.net.ConnectException("connected to itself: nothing listens on port " + port);
            }
        } catch (IOException e) {
            ch.close();
            throw e;
        }
        Link l = new Link(ch, host + ":" + port, deadlineMs);
        l.reader = Thread.ofPlatform().daemon().name("tcp-role-client-" + port).start(l::readLoop);
        return l;
    }

    /**
     * How the calls of this connection fail once it has ended: NO_REPLY when the owner's side ended it
     * (or it failed under us), TIMED_OUT when this side gave up on it; calls not yet sent, NO_REPLY.
     */
    private volatile Status endedWith = Status.NO_REPLY;

    boolean dead() {
        return dead;
    }

    /**
     * Sends {@code call}; its completion runs once, on whichever thread reads its reply (this one when
     * the caller waits for it and nobody else was reading: then it has run when this returns) or, failing,
     * on this one.
     */
    @SuppressWarnings("unchecked")
    void call(ClientCodec codec, RoleCall call, Completion<?> done) {
        Pending p = register(codec, call, (Completion<RoleCall>) done);
        if (p == null) {
            TcpRoleClient.fail(
                    call,
                    (Completion<RoleCall>) done,
                    codec.type,
                    Status.BACK_PRESSURE,
                    "reason=in_flight_full slots=" + SLOTS);
            return;
        }
        long id = p.id; // p.sending is set: this thread owns the slot until the frame is encoded
        try {
            ByteBuffer b = out.open(codec.type, id, codec.requestBytes(call), p.deadlineNs);
            try {
                Frame.putCallHeader(b, call);
                codec.encode(call, b);
            } catch (RuntimeException e) {
                out.abort();
                throw e;
            }
            p.sending = false; // encoded: the frame no longer reads the call object
            out.send();
            if (done.callerWaits() && reading.compareAndSet(NOBODY, CALLER)) {
                readOwn(p, id);
            } else if (reading.get() == NOBODY) {
                wakeReader();
            }
        } catch (IOException e) {
            p.sending = false;
            fail("reason=send_failed error=" + Log.q(e.toString()));
            if (p.claim(id)) { // left to this thread while it was sending
                failClaimed(p, "reason=send_failed");
            }
        } catch (RuntimeException e) { // a bug in an encoder: this call fails, the connection goes on
            p.sending = false;
            if (p.claim(id)) {
                release(p);
                TcpRoleClient.fail(
                        call,
                        (Completion<RoleCall>) done,
                        codec.type,
                        Status.MEDIUM_ERROR,
                        "reason=encode_failed error=" + Log.q(e.toString()));
            }
        }
    }

    private Pending register(ClientCodec codec, RoleCall call, Completion<RoleCall> done) {
        Pending p;
        synchronized (free) {
            if (freeTop == 0) {
                return null;
            }
            p = slots[free[--freeTop]];
            if (p.slot >= used) {
                used = p.slot + 1;
            }
        }
        p.call = call;
        p.done = done;
        p.codec = codec;
        p.deadlineNs = System.nanoTime() + deadlineMs * 1_000_000L;
        p.round++;
        p.sending = true; // before the id: the sweeper and a lost connection leave it to its sender
        inFlight.incrementAndGet(); // before the id: whoever sees the call sees it counted
        p.id = p.round << SLOT_BITS | p.slot; // the volatile write publishes the fields above
        return p;
    }

    private void release(Pending p) {
        p.call = null;
        p.done = null;
        synchronized (free) {
            free[freeTop++] = p.slot;
        }
        inFlight.decrementAndGet();
    }

    /** Gives the socket to the reader thread if nobody reads it. */
    private void wakeReader() {
        if (reading.compareAndSet(NOBODY, THREAD)) {
            LockSupport.unpark(reader);
        }
    }

    /**
     * A waiting caller reads until its own call is answered (or failed), then leaves the socket to the
     * reader thread if other calls are still in flight. Its read ends only with a frame or a close: the
     * sweeper closes the connection when this call's deadline passes first.
     */
    private void readOwn(Pending p, long id) {
        callerReadDeadlineNs = p.deadlineNs;
        try {
            while (p.id == id && !dead) {
                readOne();
            }
        } catch (CorruptFrameException | IOException | RuntimeException e) {
            readFailed(e);
        } finally {
            callerReadDeadlineNs = 0;
            reading.set(NOBODY);
            if (inFlight.get() > 0) { // after giving up the socket: a call sent meanwhile is seen here
                wakeReader();
            }
        }
    }

    /** Completes a claimed call as failed (MEDIUM_ERROR, one log line). */
    private void failClaimed(Pending p, String why) {
        failClaimed(p, endedWith, why);
    }

    private void failClaimed(Pending p, Status status, String why) {
        RoleCall c = p.call;
        Completion<RoleCall> done = p.done;
        int type = p.codec.type;
        release(p);
        TcpRoleClient.fail(c, done, type, status, why + " peer=" + peer);
    }

    /** Fails the calls past their deadline (the client's sweeper, every few ms). */
    void expire(long nowNs) {
        if (out.stalled(nowNs, deadlineMs * 1_000_000L)) { // its sender is stuck in the kernel: free it
            fail("reason=send_stalled stalled_ms_over=" + deadlineMs, Status.TIMED_OUT);
        }
        long reading = callerReadDeadlineNs;
        if (reading != 0 && nowNs - reading > 0) { // a waiting caller reads for a reply that never came
            fail("reason=deadline_while_reading deadline_ms=" + deadlineMs, Status.TIMED_OUT);
        }
        for (int i = 0, n = used; i < n; i++) {
            Pending p = slots[i];
            long id = p.id;
            if (id != 0 && !p.sending && nowNs - p.deadlineNs > 0 && p.claim(id)) {
                failClaimed(p, Status.TIMED_OUT, "reason=deadline deadline_ms=" + deadlineMs);
            }
        }
    }

    /** Ends the connection (once) and fails every call in flight on it. */
    void fail(String why) {
        fail(why, Status.NO_REPLY);
    }

    /**
     * As {@link #fail(String)}; {@code status}: NO_REPLY when the owner's side ended the connection,
     * TIMED_OUT when this side gives up on it (the owner may still be working through its calls).
     */
    void fail(String why, Status status) {
        boolean first;
        synchronized (this) {
            first = !dead;
            if (first) {
                endedWith = status; // before dead: whoever sees it dead fails its call alike
            }
            dead = true;
        }
        if (first) {
            Log.warn("role_connection_closed", "transport=tcp side=client peer=" + peer + " " + why);
            out.kill();
            try {
                channel.close();
            } catch (IOException e) {
                // closing anyway
            }
            LockSupport.unpark(reader); // a sleeping reader thread ends
        }
        for (int i = 0, n = used; i < n; i++) {
            Pending p = slots[i];
            long id = p.id;
            if (id != 0 && !p.sending && p.claim(id)) { // a sending one is failed by its own thread
                failClaimed(p, endedWith, "reason=connection_lost");
            }
        }
    }

    /** The reader thread: sleeps until given the socket, reads while calls are in flight. */
    private void readLoop() {
        try {
            while (!dead) {
                if (reading.get() != THREAD) {
                    LockSupport.park(this);
                } else if (inFlight.get() > 0) {
                    readOne();
                } else {
                    reading.set(NOBODY);
                    if (inFlight.get() > 0) { // a call sent meanwhile found the socket taken: keep reading
                        reading.compareAndSet(NOBODY, THREAD);
                    }
                }
            }
        } catch (CorruptFrameException | IOException | RuntimeException e) {
            readFailed(e);
        } catch (Error e) { // the reader is gone: so is the connection (the next call reconnects)
            fail("reason=reader_died error=" + Log.q(e.toString()));
            throw e;
        }
    }

    /** Reads the next reply and completes its call (dropped if the call has failed already). */
    private void readOne() throws IOException, CorruptFrameException {
        ByteBuffer b = in.next();
        Pending p = slots[(int) (in.requestId & (SLOTS - 1))];
        if (!p.claim(in.requestId)) {
            return; // answered after its deadline: the call has failed already
        }
        if (p.codec.type != in.type) {
            failClaimed(p, Status.MEDIUM_ERROR, "reason=reply_type_mismatch");
            throw new CorruptFrameException("reason=reply_type_mismatch type=" + in.type + " want=" + p.codec.type);
        }
        RoleCall c = p.call;
        Completion<RoleCall> done = p.done;
        try {
            p.codec.decode(b, c);
            in.end();
        } catch (CorruptFrameException | RuntimeException e) {
            failClaimed(p, Status.MEDIUM_ERROR, "reason=bad_reply");
            throw e;
        }
        release(p);
        complete(c, done);
    }

    /** The connection's end, seen by its reader: one log line for a broken frame, every call fails. */
    private void readFailed(Exception e) {
        if (e instanceof CorruptFrameException) {
            Log.error("role_frame_invalid", "transport=tcp side=client peer=" + peer + " " + e.getMessage());
            fail("reason=bad_frame");
        } else if (e instanceof IOException) {
            fail("reason=read_failed error=" + Log.q(e.toString()));
        } else { // a payload shorter than its counts (underflow)
            Log.error(
                    "role_frame_invalid",
                    "transport=tcp side=client peer=" + peer + " reason=bad_payload error=" + Log.q(e.toString()));
            fail("reason=bad_frame");
        }
    }

    static void complete(RoleCall c, Completion<RoleCall> done) {
        try {
            done.complete(c);
        } catch (RuntimeException e) { // the caller's bug: not the connection's
            Log.error("role_completion_failed", "transport=tcp error=" + Log.q(e.toString()));
            Log.stackTrace("role_completion_failed", e);
        }
    }
}
