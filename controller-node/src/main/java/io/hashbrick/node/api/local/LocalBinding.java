package io.hashbrick.node.api.local;

import io.hashbrick.node.Log;
import io.hashbrick.node.api.RoleCall;
import io.hashbrick.node.api.Status;
import io.hashbrick.node.api.route.RouteSource;
import io.hashbrick.node.api.route.Routes;
import io.hashbrick.routing.placement.Placement;

/**
 * Admission of a call at its owner: on a single node every call at epoch 0; in a cluster, a call at
 * the map's current epoch whose every bucket (D) or region (C) this controller owns at that epoch. A
 * refused call did nothing: STALE_EPOCH or NOT_OWNER tells the sender to route it again.
 */
abstract class LocalBinding {
    private final long epoch;
    private final RouteSource routes;

    LocalBinding(long epoch) {
        this.epoch = epoch;
        this.routes = null;
    }

    /** A cluster's controller: admits what the newest map held here gives it. */
    LocalBinding(RouteSource routes) {
        this.epoch = -1;
        this.routes = routes;
    }

    /**
     * Whether the call may go to the owner; if not, its status says why. @return the map it was admitted
     * at (null on a single node: it owns everything), or {@link #REFUSED}
     */
    final Routes admitAt(RoleCall call) {
        if (routes == null) {
            if (call.epoch != epoch) {
                call.status = Status.STALE_EPOCH;
                return REFUSED;
            }
            return null;
        }
        Routes r = routes.current();
        if (r == null || call.epoch != r.epoch()) {
            if (r != null && call.epoch > r.epoch()) {
                routes.stale(call.epoch); // the sender saw a newer map: fetch it
            }
            call.status = r == null ? Status.NOT_OWNER : Status.STALE_EPOCH;
            return REFUSED;
        }
        return r;
    }

    final boolean admit(RoleCall call) {
        return admitAt(call) != REFUSED;
    }

    /** Refuses the call as NOT_OWNER (logged once per call) and @return false, for {@code if (!owns) return}. */
    static boolean notOwner(RoleCall call, String what, int owner, Routes r) {
        call.status = Status.NOT_OWNER;
        Log.info(
                "role_not_owner",
                what + " owner=" + owner + " self=" + r.self() + " epoch=" + r.epoch() + " sender=" + call.sender
                        + " operation_id=" + call.operationId);
        return false;
    }

    /** A marker: refused. */
    static final Routes REFUSED = new Routes(-1, 0, new int[Placement.BUCKETS], new int[Placement.REGION_PARTITIONS]);
}
