package io.hashbrick.node.scsi;

/**
 * The SCSI target device as seen by a transport: its logical units and the device server that runs
 * commands on them (SAM-5 §4.6). Commands of one I_T nexus enter in command order, and several of
 * them (as the transport's task attribute rules allow) may execute at once on different threads, as
 * may those of different nexuses. Per-unit state guards itself.
 */
public interface ScsiTarget {

    /**
     * How many Data-Out bytes the command in {@code task.cdb} will consume, so the transport can
     * solicit exactly that (R2T) and size its buffer. 0 for commands without data-out, and for
     * commands that {@link #execute} will reject before transferring data (bad LUN, bad CDB).
     * Never more than {@link #maxTransferBytes()}.
     */
    int dataOutLength(ScsiTask task);

    /**
     * The most Data-In bytes {@link #execute} may produce for the command in {@code task.cdb} (the
     * CDB's transfer length for a read, whatever the EDTL), so the transport can size the task's
     * buffer. Never more than {@link #maxTransferBytes()} + 64 KiB.
     */
    int dataInLength(ScsiTask task);

    /**
     * Runs the command; on return {@code task.status}, the sense data and {@code task.dataIn} are set.
     * With {@link ScsiTask#memoryOnly}, only a read whose data is all in memory runs (unit attentions,
     * reservations and CDB checks included); for anything else {@link ScsiTask#wouldBlock} is set on
     * return and nothing has happened that a later execution would not do again.
     */
    void execute(ScsiTask task);

    /**
     * Task management functions that touch device-server state (SAM-5 §7): the transport aborts its
     * own queued tasks, then calls this so unit attentions and reservations follow the standard.
     *
     * @return a TMF response code: {@link #TMF_COMPLETE}, {@link #TMF_NO_LUN}, {@link #TMF_NOT_SUPPORTED}
     */
    int taskManagement(ItNexus nexus, int function, int lun);

    /** A nexus has gone (session closed or reinstated): drop its per-nexus state where SPC-4 says so. */
    void nexusLost(ItNexus nexus);

    /** The largest Data-In or Data-Out a single command may carry, in bytes (Block Limits VPD). */
    int maxTransferBytes();

    int TMF_ABORT_TASK_SET = 2,
            TMF_CLEAR_ACA = 3,
            TMF_CLEAR_TASK_SET = 4,
            TMF_LUN_RESET = 5,
            TMF_TARGET_WARM_RESET = 6,
            TMF_TARGET_COLD_RESET = 7;

    /** RFC 7143 §11.6.1 response codes. */
    int TMF_COMPLETE = 0, TMF_NO_TASK = 1, TMF_NO_LUN = 2, TMF_NOT_SUPPORTED = 5, TMF_REJECTED = 255;
}
