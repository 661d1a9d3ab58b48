package io.hashbrick.node.api.tcp;

import io.hashbrick.node.Log;
import io.hashbrick.node.api.Completion;
import io.hashbrick.node.api.RoleCall;
import io.hashbrick.node.api.Status;
import java.io.IOException;

/**
 * One TCP connection (TCP_NODELAY) to a {@link TcpRoleServer}, and the D and C clients over it:
 * requests are pipelined, replies matched by request id, and each caller's {@link Completion} runs on
 * the connection's reader thread. A call ends exactly once: with the reply, or with
 * {@link Status#UNREACHABLE} (not sent) when the peer cannot be reached, {@link Status#NO_REPLY} when
 * its deadline passes or its connection ends, or with {@link Status#MEDIUM_ERROR} when it breaks the server's limits (then it
 * is not sent) or its reply is malformed. Nothing is retried here (a put or deref sent twice
 * would take or drop a reference twice; retries are the caller's, with the same operation id); after a
 * lost connection the next call connects again.
 */
public final class TcpRoleClient implements AutoCloseable {
    /** A call not answered in this time fails with NO_REPLY (a journal stall is far shorter). */
    public static final long DEADLINE_MS = 10_000;

    private final String host;
    private final int port;
    private final long deadlineMs;
    private final TcpDataService data;
    private final TcpMapService maps;
    private final Thread sweeper;
    private volatile Link link;
    private volatile boolean closed;

    public TcpRoleClient(String host, int port, long deadlineMs) {
        if (deadlineMs <= 0 || port <= 0 || port > 65535) {
            throw new IllegalArgumentException("port=" + port + " deadline_ms=" + deadlineMs);
        }
        this.host = host;
        this.port = port;
        this.deadlineMs = deadlineMs;
        this.data = new TcpDataService(this);
        this.maps = new TcpMapService(this);
        long tickMs = Math.max(1, Math.min(50, deadlineMs / 10));
        sweeper =
                Thread.ofPlatform().daemon().name("tcp-role-deadlines-" + port).start(() -> sweep(tickMs));
    }

    public TcpDataService data() {
        return data;
    }

    public TcpMapService maps() {
        return maps;
    }

    /** Sends a call, or fails it at once (refused by the limits, no connection). */
    void call(ClientCodec codec, RoleCall call, Completion<?> done) {
        String refused = codec.check(call);
        if (refused != null) {
            fail(call, done, codec.type, Status.MEDIUM_ERROR, "reason=request_refused " + refused);
            return;
        }
        Link l = link();
        if (l == null) {
            fail(call, done, codec.type, Status.UNREACHABLE, "reason=not_connected peer=" + host + ":" + port);
            return;
        }
        l.call(codec, call, done);
    }

    /** The live connection, connecting if there is none; null if that fails (or the client is closed). */
    private Link link() {
        Link l = link;
        if (l != null && !l.dead()) {
            return l;
        }
        synchronized (this) {
            l = link;
            if (closed) {
                return null;
            }
            if (l == null || l.dead()) {
                try {
                    l = Link.connect(host, port, deadlineMs);
                } catch (IOException e) {
                    Log.warn(
                            "role_connect_failed",
                            "transport=tcp peer=" + host + ":" + port + " error=" + Log.q(e.toString()));
                    return null;
                }
                link = l;
            }
            return l;
        }
    }

    /**
     * Ends a call that did not get a reply: UNREACHABLE when the peer could not be reached (not sent),
     * NO_REPLY when the connection ended or the deadline passed (the call may have been applied; the
     * router decides what may go again), BACK_PRESSURE when too many are in flight, MEDIUM_ERROR when it broke the limits or its reply was malformed; one log line.
     */
    @SuppressWarnings("unchecked")
    static void fail(RoleCall call, Completion<?> done, int type, Status status, String why) {
        Log.warn(
                "role_call_failed",
                "transport=tcp side=client rpc=" + Frame.typeName(type) + " operation_id=" + call.operationId
                        + " status=" + status + " " + why);
        call.status = status;
        Link.complete(call, (Completion<RoleCall>) done);
    }

    private void sweep(long tickMs) {
        while (!closed) {
            try {
                Thread.sleep(tickMs);
            } catch (InterruptedException e) {
                return;
            }
            Link l = link;
            if (l != null) {
                l.expire(System.nanoTime());
            }
        }
    }

    /** Closes the connection: calls in flight end with NO_REPLY. */
    @Override
    public void close() {
        Link l;
        synchronized (this) {
            closed = true;
            l = link;
        }
        sweeper.interrupt();
        if (l != null) {
            l.fail("reason=client_closed", Status.TIMED_OUT);
        }
    }
}
