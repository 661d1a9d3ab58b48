package io.hashbrick.node.front;

import io.hashbrick.node.api.Status;
import io.hashbrick.node.block.IoStatus;

/** What the pipelines share: the role calls' statuses as the SCSI layer's outcomes. */
final class Pipelines {
    /** Blocks per role call: one journal record's worth at D and at C. */
    static final int BATCH = 16;

    private Pipelines() {}

    /**
     * POOL_FULL is the thin pool's DATA PROTECT (27/07), READ_ONLY a write-protected pool's (27/00),
     * UNREACHABLE, NO_REPLY and the routing refusals that outlived the router's retries (an owner down and
     * not failed over in time, a map that kept moving, a busy owner) NOT READY 04/0A, which hosts retry; every other failure a
     * MEDIUM ERROR (SBC-4 §4.18).
     */
    static IoStatus io(Status s) {
        return switch (s) {
            case OK -> IoStatus.OK;
            case POOL_FULL -> IoStatus.NO_SPACE;
            case READ_ONLY -> IoStatus.READ_ONLY;
            case WOULD_BLOCK -> IoStatus.WOULD_BLOCK;
            case UNREACHABLE, NO_REPLY, TIMED_OUT, NOT_OWNER, STALE_EPOCH, BACK_PRESSURE -> IoStatus.UNAVAILABLE;
            default -> IoStatus.MEDIUM_ERROR;
        };
    }
}
