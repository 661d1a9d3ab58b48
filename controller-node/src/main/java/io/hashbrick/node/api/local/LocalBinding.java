package io.hashbrick.node.api.local;

import io.hashbrick.node.api.RoleCall;
import io.hashbrick.node.api.Status;

/**
 * What both in-process bindings share: the epoch check a remote
 * owner would make (one node owns every bucket and region at its epoch; a call routed by another map
 * is refused as STALE_EPOCH).
 */
abstract class LocalBinding {
    private final long epoch;

    LocalBinding(long epoch) {
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
