package io.hashbrick.node.api.grpc;

import io.grpc.stub.StreamObserver;
import io.hashbrick.node.Log;
import io.hashbrick.node.api.Completion;
import io.hashbrick.node.api.RoleCall;

/**
 * One request in progress at the server: a pooled call object handed to the role, and the gRPC
 * observer its reply goes to. The role's {@link Completion} builds the reply message from the call,
 * gives the exchange back to its pool and only then answers, so the RPC ends when the role's call
 * does, on whatever thread completes it.
 */
abstract class Exchange<C extends RoleCall, R> implements Completion<C> {
    final C call;
    private final Pool<Exchange<C, R>> home;
    private StreamObserver<R> out;

    Exchange(C call, Pool<Exchange<C, R>> home) {
        this.call = call;
        this.home = home;
    }

    Exchange<C, R> start(StreamObserver<R> out) {
        this.out = out;
        return this;
    }

    /** The reply message of the completed call. */
    abstract R reply(C call);

    @Override
    public final void complete(C c) {
        StreamObserver<R> o = out;
        R reply = reply(c);
        out = null;
        home.give(this);
        o.onNext(reply);
        o.onCompleted();
    }

    /**
     * The role threw instead of completing (a bug, or a caller's mistake the role rejects): the RPC
     * fails with INTERNAL and the exchange is not reused (its call's state is unknown).
     */
    void failed(String rpc, RuntimeException e) {
        StreamObserver<R> o = out;
        out = null;
        if (o == null) {
            throw e; // completed already: not ours to answer again
        }
        Log.error(
                "role_call_failed",
                "side=server rpc=" + rpc + " operation_id=" + call.operationId + " error=" + Log.q(e.toString()));
        o.onError(io.grpc.Status.INTERNAL
                .withDescription("rpc=" + rpc + " error=" + e)
                .asRuntimeException());
    }
}
