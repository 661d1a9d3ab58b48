package io.hashbrick.node.api.route;

/**
 * Where the I/O path reads the cluster map: the newest version this controller holds, never waiting
 * for the control plane (DESIGN.md: nothing on the I/O path waits for Raft).
 */
public interface RouteSource {
    /** The newest map held here, or null before the placement is committed. */
    Routes current();

    /**
     * A role refused a call as STALE_EPOCH or NOT_OWNER at {@code epoch}: fetch a newer map soon (does
     * not wait for it).
     */
    void stale(long epoch);
}
