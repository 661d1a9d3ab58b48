package io.hashbrick.node.api.local;

import io.hashbrick.node.api.RoleCall;
import io.hashbrick.node.api.Status;
import io.hashbrick.node.data.DataPath;

/**
 * What both in-process bindings share: the owner they hand calls to, and the epoch check a remote
 * owner would make (one node owns every bucket and region at its epoch; a call routed by another map
 * is refused as STALE_EPOCH).
 */
abstract class LocalBinding {
    final DataPath data;
    private final long epoch;

    LocalBinding(DataPath data, long epoch) {
        this.data = data;
        this.epoch = epoch;
    }

    /** Whether the call may go to the owner; if not, its status says why. */
    final boolean admit(RoleCall call) {
        if (call.epoch != epoch) {
            call.status = Status.STALE_EPOCH;
            return false;
        }
        return true;
    }
}
