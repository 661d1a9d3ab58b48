package io.hashbrick.node.api.route;

import io.hashbrick.node.api.DataService;
import io.hashbrick.node.api.MapService;

/** The binding to each controller's roles: in-process for this controller, remote for the others. */
public interface RolePeers {
    /** Controller {@code controller}'s D; never null (an unreachable one fails its calls). */
    DataService data(int controller);

    /** Controller {@code controller}'s C. */
    MapService maps(int controller);
}
