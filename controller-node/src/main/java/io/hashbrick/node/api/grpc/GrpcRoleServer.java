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
import java.net.InetAddress;
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
 * become call objects (pooled), and each RPC is answered when the role's call completes, on whatever
 * thread completes it; no gRPC thread waits longer than the call itself.
 *
 * <p>Threads ({@link Dispatch}). The local binding completes every call inline, in microseconds for
 * probe, resolve and fetch; put, map, deref and unmap also park until their journal record is durable.
 * {@link Dispatch#INLINE} runs every call on the transport's event loop ({@code directExecutor}):
 * no thread hand-off, but a journal wait (or journal back-pressure) holds up the other calls of the
 * channel meanwhile. {@link Dispatch#SPLIT} runs the journal-waiting calls on a bounded pool of
 * {@link #JOURNAL_THREADS} instead (a full queue refuses the call, RESOURCE_EXHAUSTED, read as
 * MEDIUM_ERROR by the client), so concurrent writes wait for the journal together. Measured on this
 * 2-core machine (fio, 4 KiB random writes through iSCSI, one node, grpc transport): INLINE 2218 IOPS
 * at QD1 and 2411-2653 with 4 sessions x QD8, SPLIT 1795 and 1464-1596, with 20-40 % more CPU per
 * I/O: the hand-offs cost more than the serialized journal waits. INLINE is the node's default;
 * SPLIT is kept for machines with cores to spare.
 */
public final class GrpcRoleServer implements AutoCloseable {
    /** Most blocks (or handles) one request may carry: four of the front end's batches of 16. */
    public static final int MAX_BLOCKS = 64;
    /** Handles a deref takes at most: one batch of a C's outbox. */
    public static final int MAX_DEREF_HANDLES = 4096;
    /** Threads that may wait for the journal at once: more than the front end's connections at a time. */
    static final int JOURNAL_THREADS = 16;

    private static final int QUEUE = 1024;
    /** 127.0.0.1 itself, no name lookup: the roles are served on loopback only. */
    private static final InetAddress LOOPBACK;

    static {
        try {
            LOOPBACK = InetAddress.getByAddress(new byte[] {127, 0, 0, 1});
        } catch (java.net.UnknownHostException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private static final Set<String> JOURNAL_WAITS = Set.of(
            DataServiceGrpc.getPutMethod().getFullMethodName(),
            DataServiceGrpc.getDerefMethod().getFullMethodName(),
            MapServiceGrpc.getMapMethod().getFullMethodName(),
            MapServiceGrpc.getUnmapMethod().getFullMethodName());

    /** Where calls run (see the class comment). */
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
        server = NettyServerBuilder.forAddress(new InetSocketAddress(LOOPBACK, port))
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
