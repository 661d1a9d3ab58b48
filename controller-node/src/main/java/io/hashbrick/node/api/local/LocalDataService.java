package io.hashbrick.node.api.local;

import io.hashbrick.node.api.BlockCodec;
import io.hashbrick.node.api.Completion;
import io.hashbrick.node.api.DataService;
import io.hashbrick.node.api.DerefCall;
import io.hashbrick.node.api.FetchCall;
import io.hashbrick.node.api.Handles;
import io.hashbrick.node.api.ProbeCall;
import io.hashbrick.node.api.PutCall;
import io.hashbrick.node.api.RoleCall;
import io.hashbrick.node.api.route.RouteSource;
import io.hashbrick.node.api.route.Routes;
import io.hashbrick.node.data.DataPath;
import io.hashbrick.routing.placement.Placement;
import java.lang.foreign.MemorySegment;

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

    /** A cluster's controller: admits calls at the current map's epoch for the buckets it owns. */
    public LocalDataService(DataPath data, RouteSource routes) {
        super(routes);
        this.data = data;
    }

    private static boolean ownsFingerprints(RoleCall call, MemorySegment fps, int count, Routes r) {
        if (r == null) {
            return true;
        }
        for (int i = 0; i < count; i++) {
            int b = Placement.bucket(fps, (long) i * BlockCodec.FINGERPRINT_BYTES);
            int owner = r.bucketOwner(b);
            if (owner != r.self()) {
                return notOwner(call, "bucket=" + b, owner, r);
            }
        }
        return true;
    }

    private static boolean ownsHandles(RoleCall call, long[] handles, int count, Routes r) {
        if (r == null) {
            return true;
        }
        for (int i = 0; i < count; i++) {
            long h = handles[i];
            if (h != Handles.NONE && r.handleOwner(h) != r.self()) {
                return notOwner(call, "handle=0x" + Long.toHexString(h), r.handleOwner(h), r);
            }
        }
        return true;
    }

    @Override
    public void probe(ProbeCall call, Completion<? super ProbeCall> done) {
        Routes r = admitAt(call);
        if (r != REFUSED && ownsFingerprints(call, call.fingerprints, call.count, r)) {
            data.probe(call);
        }
        done.complete(call);
    }

    @Override
    public void put(PutCall call, Completion<? super PutCall> done) {
        Routes r = admitAt(call);
        if (r != REFUSED && ownsFingerprints(call, call.fingerprints, call.count, r)) {
            data.put(call);
        }
        done.complete(call);
    }

    @Override
    public void deref(DerefCall call, Completion<? super DerefCall> done) {
        Routes r = admitAt(call);
        if (r != REFUSED && ownsHandles(call, call.handles, call.count, r)) {
            data.deref(call);
        }
        done.complete(call);
    }

    @Override
    public void fetch(FetchCall call, Completion<? super FetchCall> done) {
        Routes r = admitAt(call);
        if (r != REFUSED && ownsHandles(call, call.handles, call.count, r)) {
            data.fetch(call);
        }
        done.complete(call);
    }
}
