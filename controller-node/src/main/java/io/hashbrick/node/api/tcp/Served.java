package io.hashbrick.node.api.tcp;

import io.hashbrick.node.Log;
import io.hashbrick.node.api.Completion;
import io.hashbrick.node.api.RoleCall;
import io.hashbrick.node.api.Status;
import java.nio.ByteBuffer;

/**
 * One request in progress at the server: a pooled call object (its buffers allocated once) decoded
 * from the request frame, handed to the role, and answered on its connection when the role completes
 * it, on whatever thread that is. Then it goes back to its pool.
 */
abstract class Served<C extends RoleCall> implements Completion<C>, Runnable {
    final C call;
    final int type;
    private final Pool<Served<?>> home;
    private ServerLink link;
    private long requestId;

    Served(C call, int type, Pool<Served<?>> home) {
        this.call = call;
        this.type = type;
        this.home = home;
    }

    /** Reads the request's payload (after the call header) into the call; counts over the limits throw. */
    abstract void decode(ByteBuffer in) throws CorruptFrameException;

    /** Hands the call to the role. */
    abstract void invoke();

    /** Whether the reader thread runs the call (it never waits for a journal or an SSD). */
    abstract boolean inline();

    /** The reply frame's size at most, header included. */
    abstract int replyBytes();

    abstract void encodeReply(ByteBuffer out);

    void start(ServerLink link, long requestId, ByteBuffer in) throws CorruptFrameException {
        this.link = link;
        this.requestId = requestId;
        Frame.getCallHeader(in, call);
        call.applyByNs = System.nanoTime() + RoleCall.SERVER_APPLY_BUDGET_NS;
        decode(in);
    }

    /** Gives back a request that was never handed to the role. */
    void drop() {
        link = null;
        home.give(this);
    }

    @Override
    public final void run() {
        try {
            invoke();
        } catch (RuntimeException e) {
            failed(e);
        }
    }

    @Override
    public void complete(C c) {
        ServerLink l = link;
        if (l == null) {
            return; // completed twice (a role's bug): answered already
        }
        link = null;
        l.reply(this, requestId);
        home.give(this);
    }

    /** The role threw instead of completing: the call fails (MEDIUM_ERROR), its object is not reused. */
    final void failed(RuntimeException e) {
        ServerLink l = link;
        link = null;
        Log.error(
                "role_call_failed",
                "transport=tcp side=server rpc=" + Frame.typeName(type) + " operation_id=" + call.operationId
                        + " error=" + Log.q(e.toString()));
        if (l != null) {
            call.status = Status.MEDIUM_ERROR;
            l.reply(this, requestId);
        }
    }

    /**
     * The worker pool refused the call, which did nothing: NOT_OWNER while the server closes (the pool
     * is moving: the sender routes again at its newest map), BACK_PRESSURE when its queue is full (the
     * sender goes again after a pause); the object goes back.
     */
    final void busy(Status refusal) {
        ServerLink l = link;
        link = null;
        Log.warn(
                "role_server_busy",
                "transport=tcp rpc=" + Frame.typeName(type) + " operation_id=" + call.operationId + " status="
                        + refusal);
        call.status = refusal;
        l.reply(this, requestId);
        home.give(this);
    }
}
