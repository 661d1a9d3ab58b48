package io.hashbrick.node.api.local;

import io.hashbrick.node.api.Completion;
import io.hashbrick.node.api.MapCall;
import io.hashbrick.node.api.MapService;
import io.hashbrick.node.api.ResolveCall;
import io.hashbrick.node.api.UnmapCall;
import io.hashbrick.node.volume.MapStore;

/** The in-process binding of the C role, {@link MapStore} (see {@link LocalDataService}). */
public final class LocalMapService extends LocalBinding implements MapService {
    private final MapStore data;

    public LocalMapService(MapStore data, long epoch) {
        super(epoch);
        this.data = data;
    }

    @Override
    public void map(MapCall call, Completion<? super MapCall> done) {
        if (admit(call)) {
            data.map(call);
        }
        done.complete(call);
    }

    @Override
    public void resolve(ResolveCall call, Completion<? super ResolveCall> done) {
        if (admit(call)) {
            data.resolve(call);
        }
        done.complete(call);
    }

    @Override
    public void unmap(UnmapCall call, Completion<? super UnmapCall> done) {
        if (admit(call)) {
            data.unmap(call);
        }
        done.complete(call);
    }
}
