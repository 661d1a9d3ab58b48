package io.hashbrick.node.api.grpc;

import io.hashbrick.node.api.RoleCall;
import io.hashbrick.node.api.Status;
import io.hashbrick.proto.roles.v1.RequestHeader;
import java.util.EnumMap;

/**
 * What both ends of the gRPC binding share: the {@link Status} enum against roles.proto's (mapped by
 * name, 1:1; the wire's {@code STATUS_UNSPECIFIED} and numbers this build does not know read as
 * {@link Status#MEDIUM_ERROR}: a reply we cannot understand is a failed call, never a success), and
 * the {@link RequestHeader} against a call's epoch, operation id and sender.
 */
final class Wire {
    private static final EnumMap<Status, io.hashbrick.proto.roles.v1.Status> TO_WIRE = new EnumMap<>(Status.class);
    /** Indexed by the wire number; null where the number has no Java counterpart. */
    private static final Status[] FROM_WIRE;

    static {
        int max = 0;
        for (io.hashbrick.proto.roles.v1.Status w : io.hashbrick.proto.roles.v1.Status.values()) {
            if (w != io.hashbrick.proto.roles.v1.Status.UNRECOGNIZED) {
                max = Math.max(max, w.getNumber());
            }
        }
        FROM_WIRE = new Status[max + 1];
        for (Status s : Status.values()) {
            io.hashbrick.proto.roles.v1.Status w = io.hashbrick.proto.roles.v1.Status.valueOf(s.name());
            TO_WIRE.put(s, w); // valueOf throws at class load if roles.proto lacks a Java status
            FROM_WIRE[w.getNumber()] = s;
        }
    }

    private Wire() {}

    static io.hashbrick.proto.roles.v1.Status toWire(Status s) {
        return TO_WIRE.get(s);
    }

    /** The Java status of a wire number: unknown numbers and STATUS_UNSPECIFIED are MEDIUM_ERROR. */
    static Status fromWire(int number) {
        Status s = number >= 0 && number < FROM_WIRE.length ? FROM_WIRE[number] : null;
        return s == null ? Status.MEDIUM_ERROR : s;
    }

    static RequestHeader header(RoleCall call) {
        return RequestHeader.newBuilder()
                .setEpoch(call.epoch)
                .setOperationId(call.operationId)
                .setSender(call.sender)
                .build();
    }

    /** A call's header as it arrives at the server, with the server's budget to apply it (see RoleCall). */
    static void header(RequestHeader h, RoleCall call) {
        call.header(h.getEpoch(), h.getOperationId(), h.getSender());
        call.applyByNs = System.nanoTime() + RoleCall.SERVER_APPLY_BUDGET_NS;
    }
}
