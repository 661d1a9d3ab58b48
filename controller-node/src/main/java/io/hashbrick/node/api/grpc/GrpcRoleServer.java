package io.hashbrick.node.api.grpc;

import io.grpc.Server;
import io.grpc.ServerCallExecutorSupplier;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.hashbrick.node.Log;
import io.hashbrick.node.api.DataService;
import io.hashbrick.node.api.MapService;
import io.hashbrick.proto.roles.v1.DataServiceGrpc;
import io.hashbrick.proto.roles.v1.MapServiceGrpc;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Serves a {@link DataService} (D) and a {@link MapService} (C), whatever their implementation, over
 * gRPC on 127.0.0.1 (roles.proto's {@code DataService} and {@code MapService}): request messages
 * become call objects (pooled), and each RPC is answered when the role's call completes.
 *
 * <p>Threads. Calls that only read under the role's lock (probe, resolve, fetch) run on the
 * transport's event loop ({@code directExecutor}): the local binding completes them inline in
 * microseconds, and a hand-off to another thread would cost more than the call (toolchain notes: 83-113
 * us a loopback round trip direct against 165-176 us with an executor). Calls that wait for the journal
 * to be durable (put, map, deref, unmap park until their record is flushed) run on a bounded pool of
 * {@link #JOURNAL_THREADS}: on the event loop they would serialize every connection's writes behind
 * one flush wait and defeat the journal's group commit. A full pool queue refuses the call
 * (RESOURCE_EXHAUSTED; the client reads it as MEDIUM_ERROR) instead of growing without bound.
 */
public final class GrpcRoleServer implements AutoCloseable {
    /** Most blocks (or handles) one request may carry: four of the front end's batches of 16. */
    public static final int MAX_BLOCKS = 64;
    /** Threads that may wait for the journal at once: more than the front end's connections at a time. */
    static final int JOURNAL_THREADS = 16;

    private static final int QUEUE = 1024;
    private static final Set<String> JOURNAL_WAITS = Set.of(
            DataServiceGrpc.getPutMethod().getFullMethodName(),
            DataServiceGrpc.getDerefMethod().getFullMethodName(),
            MapServiceGrpc.getMapMethod().getFullMethodName(),
            MapServiceGrpc.getUnmapMethod().getFullMethodName());

    /** Where calls run: see the class comment; {@link #INLINE} runs every call on the event loop. */
    public enum Dispatch {
        SPLIT,
        INLINE
    }

    private final Server server;
    private final int port;
    private final ThreadPoolExecutor journalWaits;

    /** Starts serving on 127.0.0.1:{@code port} (0: an ephemeral port, see {@link #port()}). */
    public GrpcRoleServer(DataService data, MapService maps, int port, Dispatch dispatch) throws IOException {
        AtomicInteger n = new AtomicInteger();
        journalWaits = new ThreadPoolExecutor(
                JOURNAL_THREADS, JOURNAL_THREADS, 60, TimeUnit.SECONDS, new ArrayBlockingQueue<>(QUEUE), r -> {
                    Thread t = new Thread(r, "role-server-" + n.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                });
        journalWaits.allowCoreThreadTimeOut(true);
        ServerCallExecutorSupplier byMethod = new ServerCallExecutorSupplier() {
            @Override
            public <Q, A> Executor getExecutor(io.grpc.ServerCall<Q, A> call, io.grpc.Metadata headers) {
                return dispatch == Dispatch.SPLIT
                                && JOURNAL_WAITS.contains(
                                        call.getMethodDescriptor().getFullMethodName())
                        ? journalWaits
                        : null; // null: the server's executor, direct
            }
        };
        server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", port))
                .directExecutor()
                .callExecutor(byMethod)
                .addService(new DataEndpoint(data, JOURNAL_THREADS * 2))
                .addService(new MapEndpoint(maps, JOURNAL_THREADS * 2))
                .build()
                .start();
        this.port = server.getPort();
        Log.info(
                "role_server_started",
                "port=" + this.port + " dispatch=" + dispatch.name().toLowerCase(java.util.Locale.ROOT));
    }

    /** The port bound. */
    public int port() {
        return port;
    }

    /** Stops taking calls, lets those in progress finish (5 s at most), then stops. */
    @Override
    public void close() {
        server.shutdown();
        try {
            if (!server.awaitTermination(5, TimeUnit.SECONDS)) {
                server.shutdownNow();
                server.awaitTermination(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            server.shutdownNow();
            Thread.currentThread().interrupt();
        }
        journalWaits.shutdown();
        Log.info("role_server_stopped", "port=" + port);
    }
}
