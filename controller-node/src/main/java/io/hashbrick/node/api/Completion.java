package io.hashbrick.node.api;

/**
 * Called once when a role call ends, with the call object that now carries the reply. It may run on
 * the caller's thread before the call returns (the in-process binding) or later on another thread (a
 * remote binding): a caller never blocks a thread on a role, and never assumes either.
 */
@FunctionalInterface
public interface Completion<C extends RoleCall> {
    void complete(C call);

    /**
     * Whether the calling thread will do nothing but wait for this completion once the call returns
     * (the front end's synchronous bridge, asked on the calling thread). A remote binding may then use
     * that thread to read the reply itself rather than wake it from another thread; the completion
     * may then have run when the call returns. Default: false.
     */
    default boolean callerWaits() {
        return false;
    }
}
