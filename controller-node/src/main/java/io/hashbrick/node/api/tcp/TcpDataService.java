package io.hashbrick.node.api.tcp;

import io.hashbrick.node.api.Completion;
import io.hashbrick.node.api.DataService;
import io.hashbrick.node.api.DerefCall;
import io.hashbrick.node.api.FetchCall;
import io.hashbrick.node.api.ProbeCall;
import io.hashbrick.node.api.PutCall;
import io.hashbrick.node.api.Status;

/** D over the TCP binding ({@link TcpRoleClient}): the caller's call object goes out and its reply comes back into it. */
public final class TcpDataService implements DataService {
    private final TcpRoleClient client;

    TcpDataService(TcpRoleClient client) {
        this.client = client;
    }

    @Override
    public void probe(ProbeCall call, Completion<? super ProbeCall> done) {
        client.call(ClientCodecs.PROBE, call, done);
    }

    @Override
    public void put(PutCall call, Completion<? super PutCall> done) {
        client.call(ClientCodecs.PUT, call, done);
    }

    @Override
    public void deref(DerefCall call, Completion<? super DerefCall> done) {
        call.duplicate = false;
        client.call(ClientCodecs.DEREF, call, done);
    }

    @Override
    public void fetch(FetchCall call, Completion<? super FetchCall> done) {
        if (call.noWait) { // a round trip is a wait: the caller goes again from a thread that may wait
            call.status = Status.WOULD_BLOCK;
            done.complete(call);
            return;
        }
        client.call(ClientCodecs.FETCH, call, done);
    }
}
