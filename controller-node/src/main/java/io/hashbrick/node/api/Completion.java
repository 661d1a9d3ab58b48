package io.hashbrick.node.api;

/**
 * Called once when a role call ends, with the call object that now carries the reply. It may run on
 * the caller's thread before the call returns (the in-process binding) or later on another thread (a
 * remote binding): a caller never blocks a thread on a role, and never assumes either.
 */
@FunctionalInterface
public interface Completion<C extends RoleCall> {
    void complete(C call);
}
