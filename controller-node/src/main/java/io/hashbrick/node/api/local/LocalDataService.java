package io.hashbrick.node.api.local;

import io.hashbrick.node.api.Completion;
import io.hashbrick.node.api.DataService;
import io.hashbrick.node.api.DerefCall;
import io.hashbrick.node.api.FetchCall;
import io.hashbrick.node.api.ProbeCall;
import io.hashbrick.node.api.PutCall;
import io.hashbrick.node.data.DataPath;

/**
 * The in-process binding of the D role: the call object goes to the owner as it is (no encoding, the
 * caller's buffers read and written in place) and completes on the caller's thread. One node owns
 * every bucket at epoch 0; a call at another epoch is refused, as a remote owner would.
 */
public final class LocalDataService extends LocalBinding implements DataService {
    private final DataPath data;

    public LocalDataService(DataPath data, long epoch) {
        super(epoch);
        this.data = data;
    }

    @Override
    public void probe(ProbeCall call, Completion<? super ProbeCall> done) {
        if (admit(call)) {
            data.probe(call);
        }
        done.complete(call);
    }

    @Override
    public void put(PutCall call, Completion<? super PutCall> done) {
        if (admit(call)) {
            data.put(call);
        }
        done.complete(call);
    }

    @Override
    public void deref(DerefCall call, Completion<? super DerefCall> done) {
        if (admit(call)) {
            data.deref(call);
        }
        done.complete(call);
    }

    @Override
    public void fetch(FetchCall call, Completion<? super FetchCall> done) {
        if (admit(call)) {
            data.fetch(call);
        }
        done.complete(call);
    }
}
