package io.hashbrick.node.api.local;

import io.hashbrick.node.api.Completion;
import io.hashbrick.node.api.MapCall;
import io.hashbrick.node.api.MapService;
import io.hashbrick.node.api.ResolveCall;
import io.hashbrick.node.api.UnmapCall;
import io.hashbrick.node.data.DataPath;

/**
 * The in-process binding of the C role (see {@link LocalDataService}). Today the C role's state still
 * lives beside D's in {@link DataPath} (issue 16 step b moves it to {@code volume}); callers see only
 * this contract.
 */
public final class LocalMapService extends LocalBinding implements MapService {
    public LocalMapService(DataPath data, long epoch) {
        super(data, epoch);
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
