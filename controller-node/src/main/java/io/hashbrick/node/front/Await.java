package io.hashbrick.node.front;

import io.hashbrick.node.api.Completion;
import io.hashbrick.node.api.RoleCall;
import java.util.concurrent.locks.LockSupport;

/**
 * Bridges a role call to the synchronous {@link io.hashbrick.node.block.BlockDevice} the SCSI layer
 * calls today: arm, call, await. With the in-process binding the call has completed before {@code
 * await} (no park); a remote binding completes it from its own thread. One per pipeline, reused: no
 * allocation per I/O. (Issue 16 step d makes the front end event-driven and this goes.)
 */
final class Await implements Completion<RoleCall> {
    private final Thread owner = Thread.currentThread();
    private volatile boolean done;

    Await arm() {
        done = false;
        return this;
    }

    @Override
    public void complete(RoleCall call) {
        done = true;
        if (Thread.currentThread() != owner) {
            LockSupport.unpark(owner);
        }
    }

    /** The thread that arms this waits for it (a remote binding may read the reply on it). */
    @Override
    public boolean callerWaits() {
        return Thread.currentThread() == owner;
    }

    /** Waits for the completion (a remote binding bounds every call by its deadline). */
    void await() {
        while (!done) {
            LockSupport.park(this);
        }
    }
}
