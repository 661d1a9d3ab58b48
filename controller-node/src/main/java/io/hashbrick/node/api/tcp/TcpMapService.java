package io.hashbrick.node.api.tcp;

import io.hashbrick.node.api.Completion;
import io.hashbrick.node.api.MapCall;
import io.hashbrick.node.api.MapService;
import io.hashbrick.node.api.ResolveCall;
import io.hashbrick.node.api.Status;
import io.hashbrick.node.api.UnmapCall;

/** C over the TCP binding ({@link TcpRoleClient}). */
public final class TcpMapService implements MapService {
    private final TcpRoleClient client;

    TcpMapService(TcpRoleClient client) {
        this.client = client;
    }

    @Override
    public void map(MapCall call, Completion<? super MapCall> done) {
        client.call(ClientCodecs.MAP, call, done);
    }

    @Override
    public void resolve(ResolveCall call, Completion<? super ResolveCall> done) {
        if (call.noWait) { // a round trip is a wait: the caller goes again from a thread that may wait
            call.status = Status.WOULD_BLOCK;
            done.complete(call);
            return;
        }
        client.call(ClientCodecs.RESOLVE, call, done);
    }

    @Override
    public void unmap(UnmapCall call, Completion<? super UnmapCall> done) {
        client.call(ClientCodecs.UNMAP, call, done);
    }
}
