package io.hashbrick.node.api.grpc;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.util.concurrent.TimeUnit;

/**
 * One channel (one TCP connection) to a {@link GrpcRoleServer} on 127.0.0.1, and the D and C clients
 * over it. Replies are handled on the transport's event loop ({@code directExecutor}): decoding a reply
 * into a call object and waking the caller is short and never blocks, so a hand-off to another thread
 * would only add latency.
 */
public final class GrpcRoleClient implements AutoCloseable {
    /** A call not answered in this time fails with MEDIUM_ERROR (a journal stall is far shorter). */
    public static final long DEADLINE_MS = 10_000;

    private final ManagedChannel channel;
    private final GrpcDataService data;
    private final GrpcMapService maps;

    public GrpcRoleClient(int port, long deadlineMs) {
        channel = NettyChannelBuilder.forAddress("127.0.0.1", port)
                .usePlaintext()
                .directExecutor()
                // No hidden retries: a put or deref resent by the transport would take or drop a
                // reference twice; retries are the caller's, with the same operation id. (Also spares
                // the retry buffer's copy of every request.)
                .disableRetry()
                .build();
        data = new GrpcDataService(channel, deadlineMs);
        maps = new GrpcMapService(channel, deadlineMs);
    }

    public GrpcDataService data() {
        return data;
    }

    public GrpcMapService maps() {
        return maps;
    }

    /** Stops the channel: calls in flight end with an error (MEDIUM_ERROR) within 5 s. */
    @Override
    public void close() {
        channel.shutdown();
        try {
            if (!channel.awaitTermination(5, TimeUnit.SECONDS)) {
                channel.shutdownNow();
                channel.awaitTermination(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            channel.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }
}
