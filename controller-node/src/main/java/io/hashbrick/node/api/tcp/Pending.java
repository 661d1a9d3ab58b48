package io.hashbrick.node.api.tcp;

import io.hashbrick.node.api.Completion;
import io.hashbrick.node.api.RoleCall;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * One slot of a connection's in-flight table: the call sent under request id {@link #id} (0: free).
 * Whoever clears the id first (the reply, the deadline, the connection's end) completes the call, so
 * it completes exactly once; a reply that comes after its deadline finds another id and is dropped.
 */
final class Pending {
    private static final VarHandle ID;

    static {
        try {
            ID = MethodHandles.lookup().findVarHandle(Pending.class, "id", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    final int slot;
    /** Times this slot was used: the request id's high bits, so a late reply never matches a reuse. */
    long round;

    volatile long id;
    /**
     * The caller is putting this call into the connection's buffer (from before it waits for room until
     * its payload is encoded): the deadline and a lost connection leave the slot to it, so the call
     * object is never completed (and reused by its owner) while it is still being read into a frame.
     */
    volatile boolean sending;

    RoleCall call;
    Completion<RoleCall> done;
    ClientCodec codec;
    long deadlineNs;

    Pending(int slot) {
        this.slot = slot;
    }

    /** True for the one caller that takes the call sent as {@code requestId}. */
    boolean claim(long requestId) {
        return requestId != 0 && ID.compareAndSet(this, requestId, 0L);
    }
}
