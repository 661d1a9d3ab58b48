package io.hashbrick.node;

import io.hashbrick.node.api.grpc.GrpcRoleClient;
import io.hashbrick.node.api.grpc.GrpcRoleServer;
import io.hashbrick.node.api.local.LocalDataService;
import io.hashbrick.node.api.local.LocalMapService;
import io.hashbrick.node.block.BlockDevice;
import io.hashbrick.node.catalog.VolumeService;
import io.hashbrick.node.front.VolumeDevice;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * How the front end (R) reaches D and C ({@code --role-transport}): {@code local}, the in-process
 * binding ({@link Main#LOCAL_ROLES}), or {@code grpc}, where the node serves its data path's roles on
 * 127.0.0.1 over gRPC and every R-to-D and R-to-C call of every volume goes through one TCP channel to
 * that server. The server and channel start with the first volume and stop at {@link #close}.
 */
public final class RoleTransport implements VolumeService.Devices, AutoCloseable {
    /**
     * Where the role server runs calls: inline on the event loop unless -Dhashbrick.grpc.dispatch=split
     * (see {@link GrpcRoleServer.Dispatch}: inline measured faster here, on 2 cores, even with 4 sessions).
     */
    private static final GrpcRoleServer.Dispatch DISPATCH =
            dispatch(System.getProperty("hashbrick.grpc.dispatch", "inline"));

    private final boolean grpc;
    private Controller served;
    private GrpcRoleServer server;
    private GrpcRoleClient client;

    private RoleTransport(boolean grpc) {
        this.grpc = grpc;
    }

    private static GrpcRoleServer.Dispatch dispatch(String name) {
        return switch (name) {
            case "inline" -> GrpcRoleServer.Dispatch.INLINE;
            case "split" -> GrpcRoleServer.Dispatch.SPLIT;
            default -> throw new IllegalArgumentException("hashbrick.grpc.dispatch must be inline or split: " + name);
        };
    }

    /** {@code local} or {@code grpc}; anything else is refused with the value. */
    public static RoleTransport of(String name) {
        return switch (name) {
            case "local" -> new RoleTransport(false);
            case "grpc" -> new RoleTransport(true);
            default -> throw new IllegalArgumentException("--role-transport must be local or grpc: " + name);
        };
    }

    @Override
    public synchronized BlockDevice open(Controller data, int volumeId, long sizeBytes, int blockSize) {
        if (!grpc) {
            return Main.LOCAL_ROLES.open(data, volumeId, sizeBytes, blockSize);
        }
        if (server == null) {
            try {
                server = new GrpcRoleServer(
                        new LocalDataService(data.data(), 0), new LocalMapService(data.maps(), 0), 0, DISPATCH);
            } catch (IOException e) {
                throw new UncheckedIOException("role server did not start: " + e.getMessage(), e);
            }
            client = new GrpcRoleClient(server.port(), GrpcRoleClient.DEADLINE_MS);
            served = data;
            Log.info("role_transport", "transport=grpc port=" + server.port());
        } else if (data != served) {
            throw new IllegalStateException("one controller per node: volume=" + volumeId);
        }
        return new VolumeDevice(client.data(), client.maps(), 0, volumeId, sizeBytes, blockSize);
    }

    /** Port of the role server, or -1 (local transport, or no volume yet). */
    public synchronized int port() {
        return server == null ? -1 : server.port();
    }

    /** Closes the channel, then the server (calls in progress finish first). */
    @Override
    public synchronized void close() {
        if (client != null) {
            client.close();
            client = null;
        }
        if (server != null) {
            server.close();
            server = null;
        }
    }
}
