package io.hashbrick.node.api.local;

import io.hashbrick.node.Log;
import io.hashbrick.node.api.Completion;
import io.hashbrick.node.api.MapCall;
import io.hashbrick.node.api.MapService;
import io.hashbrick.node.api.ResolveCall;
import io.hashbrick.node.api.RoleCall;
import io.hashbrick.node.api.Status;
import io.hashbrick.node.api.UnmapCall;
import io.hashbrick.node.api.route.RouteSource;
import io.hashbrick.node.api.route.Routes;
import io.hashbrick.node.volume.MapStore;

/** The in-process binding of the C role, {@link MapStore} (see {@link LocalDataService}). */
public final class LocalMapService extends LocalBinding implements MapService {
    private final MapStore data;

    public LocalMapService(MapStore data, long epoch) {
        super(epoch);
        this.data = data;
    }

    /** A cluster's controller: admits calls at the current map's epoch for the regions it owns. */
    public LocalMapService(MapStore data, RouteSource routes) {
        super(routes);
        this.data = data;
    }

    private static boolean ownsRange(RoleCall call, int volume, long firstBlock, long count, Routes r) {
        if (r == null) {
            return true;
        }
        if (firstBlock < 0) {
            return true; // C answers OUT_OF_RANGE
        }
        int owner = r.regionOwner(volume, firstBlock);
        if (owner != r.self()) {
            return notOwner(call, "volume=" + volume + " block=" + firstBlock, owner, r);
        }
        if (count > Routes.toRegionEnd(firstBlock)) { // a sender's bug, not a map change: never retried
            call.status = Status.MEDIUM_ERROR;
            Log.error(
                    "role_call_spans_regions",
                    "volume=" + volume + " block=" + firstBlock + " count=" + count + " sender=" + call.sender);
            return false;
        }
        return true;
    }

    @Override
    public void map(MapCall call, Completion<? super MapCall> done) {
        Routes r = admitAt(call);
        if (r != REFUSED && ownsRange(call, call.volume, call.firstBlock, call.count, r)) {
            data.map(call);
        }
        done.complete(call);
    }

    @Override
    public void resolve(ResolveCall call, Completion<? super ResolveCall> done) {
        Routes r = admitAt(call);
        if (r != REFUSED && ownsRange(call, call.volume, call.firstBlock, call.count, r)) {
            data.resolve(call);
        }
        done.complete(call);
    }

    @Override
    public void unmap(UnmapCall call, Completion<? super UnmapCall> done) {
        Routes r = admitAt(call);
        if (r != REFUSED && ownsRange(call, call.volume, call.firstBlock, call.countRun ? 1 : call.count, r)) {
            data.unmap(call);
        }
        done.complete(call);
    }
}
