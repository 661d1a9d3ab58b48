package io.hashbrick.node.api.grpc;

import io.grpc.stub.StreamObserver;
import io.hashbrick.node.Log;

/** Requests the server refuses before they reach a role: gRPC INVALID_ARGUMENT, with the values. */
final class Refuse {
    private Refuse() {}

    static void invalid(StreamObserver<?> out, String rpc, String why) {
        Log.warn("role_request_refused", "rpc=" + rpc + " " + why);
        out.onError(io.grpc.Status.INVALID_ARGUMENT
                .withDescription("rpc=" + rpc + " " + why)
                .asRuntimeException());
    }
}
