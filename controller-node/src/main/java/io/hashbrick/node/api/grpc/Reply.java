package io.hashbrick.node.api.grpc;

import io.grpc.stub.StreamObserver;
import io.hashbrick.node.Log;
import io.hashbrick.node.api.Completion;
import io.hashbrick.node.api.RoleCall;
import io.hashbrick.node.api.Status;

/**
 * The client side of one RPC: the reply's fields go into the caller's call object, then the caller's
 * {@link Completion} runs, exactly once, on the gRPC thread that received the reply. A call that fails
 * at the transport (deadline missed, server gone, request refused) completes with
 * {@link Status#MEDIUM_ERROR} and one log line.
 */
abstract class Reply<C extends RoleCall, R> implements StreamObserver<R> {
    private final String rpc;
    private final C call;
    private final Completion<? super C> done;
    private final long deadlineMs;
    private boolean filled;

    Reply(String rpc, C call, Completion<? super C> done, long deadlineMs) {
        this.rpc = rpc;
        this.call = call;
        this.done = done;
        this.deadlineMs = deadlineMs;
    }

    /** Copies the reply into the call, status included. */
    abstract void fill(R reply, C call);

    @Override
    public final void onNext(R reply) {
        fill(reply, call);
        filled = true;
    }

    @Override
    public final void onError(Throwable t) {
        io.grpc.Status s = io.grpc.Status.fromThrowable(t);
        Status mine =
                switch (s.getCode()) { // the peer was not reached or did not answer: the call may have been applied
                    case UNAVAILABLE -> Status.NO_REPLY;
                    case DEADLINE_EXCEEDED, CANCELLED -> Status.TIMED_OUT;
                    default -> Status.MEDIUM_ERROR;
                };
        Log.warn(
                "role_call_failed",
                "side=client rpc=" + rpc + " grpc_status=" + s.getCode() + " deadline_ms=" + deadlineMs
                        + " operation_id=" + call.operationId + " status=" + mine + " description="
                        + Log.q(s.getDescription()));
        call.status = mine;
        done.complete(call);
    }

    @Override
    public final void onCompleted() {
        if (!filled) { // a unary call always has one reply; without it the call has no answer
            call.status = Status.MEDIUM_ERROR;
            Log.warn("role_call_failed", "side=client rpc=" + rpc + " reason=no_reply status=MEDIUM_ERROR");
        }
        done.complete(call);
    }

    /** A reply that does not fit its request (a protocol error): the call fails. */
    static Status mismatch(String rpc, String what, int got, int want) {
        Log.warn(
                "role_reply_invalid",
                "rpc=" + rpc + " field=" + what + " got=" + got + " want=" + want + " status=MEDIUM_ERROR");
        return Status.MEDIUM_ERROR;
    }
}
