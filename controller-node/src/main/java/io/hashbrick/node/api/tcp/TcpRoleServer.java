package io.hashbrick.node.api.tcp;

import io.hashbrick.node.Log;
import io.hashbrick.node.api.DataService;
import io.hashbrick.node.api.MapService;
import io.hashbrick.node.api.Status;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Serves a {@link DataService} (D) and a {@link MapService} (C), whatever their implementation, over
 * the framed TCP binding ({@link Frame}) on 127.0.0.1: the same contracts as the gRPC binding
 * (GrpcRoleServer), without protobuf or HTTP/2 on the block path.
 *
 * <p>Threads. One reader thread per connection decodes requests into pooled call objects (nothing
 * allocated per call once warm) and runs most calls itself: probe, resolve, unmap's countRun, a fetch
 * served from D's memory ({@code noWait}, tried first). Calls that may wait for a journal or an SSD or
 * run long (put, map, deref, a fetch D could not serve from memory, an unmap of a range) go to {@link
 * #WORKERS} worker threads (a full queue answers BACK_PRESSURE, a closing server NOT_OWNER: nothing
 * done, the sender goes again). With {@code inlineWrites} ({@code -Dhashbrick.tcp.inline-writes=true})
 * put, map and deref run on the reader too, saving a thread wake-up and a sleep per call (profiling
 * found that the largest single cost of a remote write here); off by default, see {@link
 * #INLINE_WRITES}. Replies are written under one
 * lock per connection, batched when several are ready ({@link FrameWriter}).
 */
public final class TcpRoleServer implements AutoCloseable {
    /** Most blocks (or handles) one request may carry: four of the front end's batches of 16. */
    public static final int MAX_BLOCKS = 64;
    /** Handles a deref takes at most: one batch of a C's outbox. */
    public static final int MAX_DEREF_HANDLES = 4096;
    /** Threads that may wait for a journal or an SSD at once: more than the front end's connections. */
    static final int WORKERS = 16;
    /**
     * Whether put, map and deref run on the connection's reader thread rather than on a worker ({@code
     * -Dhashbrick.tcp.inline-writes=true}; off by default): inline, a call stalled by a back-pressured
     * journal holds the reader, so the frames behind it wait unread and their time budget (see {@code
     * RoleCall.applyByNs}) starts only when they are read, possibly after their senders gave up; off, the
     * reader hands every write to a worker as it arrives. On again once senders' deadlines travel in
     * the frames.
     */
    static final boolean INLINE_WRITES = "true".equals(System.getProperty("hashbrick.tcp.inline-writes"));

    private static final int QUEUE = 1024;
    private static final InetAddress LOOPBACK;

    static {
        try {
            LOOPBACK = InetAddress.getByAddress(new byte[] {127, 0, 0, 1});
        } catch (java.net.UnknownHostException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final ServerSocketChannel listener;
    private final int port;
    private final ThreadPoolExecutor workers;

    @SuppressWarnings("unchecked")
    private final Pool<Served<?>>[] pools = new Pool[Frame.TYPES];

    private final Set<ServerLink> links = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;

    /** Starts serving on 127.0.0.1:{@code port} (0: an ephemeral port, see {@link #port()}). */
    public TcpRoleServer(DataService data, MapService maps, int port) throws IOException {
        this(data, maps, port, INLINE_WRITES);
    }

    /** How long {@link #close()} lets the calls under way finish before it closes the connections. */
    static final long CLOSE_WAIT_MS = 5_000;
    /** A close still waiting after this logs what its calls are doing (a failback's pause waits here). */
    static final long CLOSE_SLOW_MS = 1_000;
    /**
     * After the connections close: how long close waits more for calls still running, so that the
     * roles under them (closed next by the caller of close) are not closed while they run.
     */
    static final long CLOSE_DRAIN_MS = 30_000;

    /** As above; {@code inlineWrites}: put, map and deref run on the reader thread, not on a worker. */
    TcpRoleServer(DataService data, MapService maps, int port, boolean inlineWrites) throws IOException {
        AtomicInteger n = new AtomicInteger();
        workers = new ThreadPoolExecutor(WORKERS, WORKERS, 60, TimeUnit.SECONDS, new ArrayBlockingQueue<>(QUEUE), r -> {
            Thread t = new Thread(r, "tcp-role-worker-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        workers.allowCoreThreadTimeOut(true);
        int pooled = WORKERS * 2;
        pools[Frame.PROBE] = new Pool<>(pooled, () -> new ServedCalls.Probe(data, pools[Frame.PROBE]));
        pools[Frame.PUT] = new Pool<>(pooled, () -> new ServedCalls.Put(data, inlineWrites, pools[Frame.PUT]));
        pools[Frame.DEREF] = new Pool<>(pooled, () -> new ServedCalls.Deref(data, inlineWrites, pools[Frame.DEREF]));
        pools[Frame.FETCH] = new Pool<>(pooled, () -> new ServedCalls.Fetch(data, workers, pools[Frame.FETCH]));
        pools[Frame.MAP] = new Pool<>(pooled, () -> new ServedCalls.Map(maps, inlineWrites, pools[Frame.MAP]));
        pools[Frame.RESOLVE] = new Pool<>(pooled, () -> new ServedCalls.Resolve(maps, pools[Frame.RESOLVE]));
        pools[Frame.UNMAP] = new Pool<>(pooled, () -> new ServedCalls.Unmap(maps, pools[Frame.UNMAP]));
        listener = ServerSocketChannel.open();
        try {
            listener.setOption(StandardSocketOptions.SO_REUSEADDR, true);
            listener.bind(new InetSocketAddress(LOOPBACK, port));
        } catch (IOException e) {
            listener.close();
            workers.shutdown();
            throw e;
        }
        this.port = ((InetSocketAddress) listener.getLocalAddress()).getPort();
        Thread.ofPlatform().daemon().name("tcp-role-accept-" + this.port).start(this::acceptLoop);
        Log.info("role_server_started", "transport=tcp port=" + this.port + " inline_writes=" + inlineWrites);
    }

    /** One line per call still running at a slow close: where it waits (the frames nearest the top). */
    private void logRunningCalls() {
        for (java.util.Map.Entry<Thread, StackTraceElement[]> e :
                Thread.getAllStackTraces().entrySet()) {
            if (!e.getKey().getName().startsWith("tcp-role-worker-")) {
                continue;
            }
            StackTraceElement[] st = e.getValue();
            StringBuilder b = new StringBuilder();
            for (int i = 0; i < Math.min(st.length, 12); i++) {
                b.append(i == 0 ? "" : "<")
                        .append(st[i].getClassName().replaceAll(".*\\.", ""))
                        .append('.')
                        .append(st[i].getMethodName())
                        .append(':')
                        .append(st[i].getLineNumber());
            }
            Log.warn(
                    "role_server_close_slow",
                    "transport=tcp port=" + port + " thread=" + e.getKey().getName() + " state="
                            + e.getKey().getState() + " at=" + Log.q(b.toString()));
        }
    }

    /** The port bound. */
    public int port() {
        return port;
    }

    Served<?> take(int type) {
        return pools[type].take();
    }

    void submit(Served<?> x) {
        submit(workers, x);
    }

    static void submit(Executor workers, Served<?> x) {
        try {
            workers.execute(x);
        } catch (RejectedExecutionException e) { // nothing done: closing (the pool moves), or the queue full
            x.busy(workers instanceof ThreadPoolExecutor t && t.isShutdown() ? Status.NOT_OWNER : Status.BACK_PRESSURE);
        }
    }

    void forget(ServerLink l) {
        links.remove(l);
    }

    private void acceptLoop() {
        while (!closed) {
            SocketChannel ch;
            try {
                ch = listener.accept();
            } catch (IOException e) {
                if (!closed) {
                    Log.error(
                            "role_server_accept_failed",
                            "transport=tcp port=" + port + " error=" + Log.q(e.toString()));
                }
                return;
            }
            try {
                ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
                String peer = String.valueOf(ch.getRemoteAddress());
                ServerLink l = new ServerLink(this, ch, peer);
                links.add(l);
                if (closed) {
                    l.close();
                    return;
                }
                Thread.ofPlatform().daemon().name("tcp-role-server-" + port).start(l::readLoop);
            } catch (IOException e) {
                Log.warn("role_server_accept_failed", "transport=tcp port=" + port + " error=" + Log.q(e.toString()));
                try {
                    ch.close();
                } catch (IOException ignored) {
                    // closing anyway
                }
            }
        }
    }

    /** Stops taking calls, lets the workers' calls finish (5 s at most), then closes every connection. */
    @Override
    public void close() {
        closed = true;
        try {
            listener.close();
        } catch (IOException e) {
            // closing anyway
        }
        workers.shutdown();
        long t0 = System.nanoTime();
        boolean done = false;
        try {
            // Calls under way finish and answer before the connections close (a call cut off mid-way
            // would leave its caller redoing it at an owner that is not serving yet).
            done = workers.awaitTermination(CLOSE_SLOW_MS, TimeUnit.MILLISECONDS);
            if (!done) {
                logRunningCalls();
                done = workers.awaitTermination(CLOSE_WAIT_MS - CLOSE_SLOW_MS, TimeUnit.MILLISECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (!done) {
            Log.warn(
                    "role_server_close_cut_calls",
                    "transport=tcp port=" + port + " waited_ms=" + (System.nanoTime() - t0) / 1_000_000L
                            + " calls_running=" + workers.getActiveCount());
        }
        for (ServerLink l : links) {
            l.close();
        }
        links.clear();
        if (!done) { // their callers gave up with the connections; the roles they run on stay open until they end
            try {
                done = workers.awaitTermination(CLOSE_DRAIN_MS, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            Log.warn(
                    "role_server_close_drained",
                    "transport=tcp port=" + port + " waited_ms=" + (System.nanoTime() - t0) / 1_000_000L + " drained="
                            + done);
        }
        Log.info("role_server_stopped", "transport=tcp port=" + port);
    }
}
