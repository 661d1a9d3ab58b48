package io.hashbrick.node.cluster;

import io.hashbrick.proto.cluster.v1.CommandResult;
import io.hashbrick.proto.cluster.v1.Status;

/** The results commands answer with: OK at an epoch, or a refusal with its key=value detail. */
final class Results {
    private Results() {}

    static CommandResult ok(long epoch) {
        return CommandResult.newBuilder().setStatus(Status.OK).setEpoch(epoch).build();
    }

    static CommandResult refused(Status status, long epoch, String detail) {
        return CommandResult.newBuilder()
                .setStatus(status)
                .setEpoch(epoch)
                .setDetail(detail)
                .build();
    }

    /** A map command computed against another epoch than the map's. */
    static CommandResult staleEpoch(long expected, long epoch) {
        return refused(Status.STALE_EPOCH, epoch, "expected_epoch=" + expected + " epoch=" + epoch);
    }
}
