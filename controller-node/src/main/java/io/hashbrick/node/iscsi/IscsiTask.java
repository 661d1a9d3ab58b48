package io.hashbrick.node.iscsi;

import io.hashbrick.node.scsi.ScsiTask;
import java.nio.ByteBuffer;

/**
 * A SCSI command while it is on the connection: the SCSI task, its buffer, the iSCSI state of its
 * Data-Out transfer (RFC 7143 §4.2.2.3 unsolicited data, §11.8 R2T) and its place in the task set.
 * Pooled per connection by {@link TaskSet}; nothing here is allocated per command after warm-up.
 *
 * <p>Who may touch a task, by {@link #state} (transitions happen under the {@link TaskSet} monitor):
 * <pre>
 *   FREE ──acquire──> RECEIVING ──data complete──> BLOCKED ──enabled (SAM-5 §8.6)──> QUEUED
 *   (pool)            connection thread            nobody: waits for older tasks    worker queue
 *
 *   QUEUED ──worker takes it──> RUNNING ──status ready──> RESPONDING ──sent──> FREE
 *                               worker only               worker only (send lock)
 * </pre>
 * A lone task with nothing more received goes from RECEIVING straight to RUNNING on the connection
 * thread, which then executes and answers it itself (CommandPath.progress). Any state but RESPONDING
 * may end early when the task is aborted; a RUNNING task that is aborted finishes its device I/O (it
 * cannot be recalled) and ends without a response (TAS=0).
 */
final class IscsiTask {
    static final int FREE = 0, RECEIVING = 1, BLOCKED = 2, QUEUED = 3, RUNNING = 4, RESPONDING = 5;

    /** The command path that runs this task (a worker calls back into it). */
    final CommandPath path;

    final ScsiTask scsi = new ScsiTask();
    /**
     * Data-Out for commands that carry it, Data-In for the others (no command here has both): grows to
     * the largest transfer seen by this task, at most the target's max transfer.
     */
    ByteBuffer buffer = ByteBuffer.allocateDirect(0);
    /** The Data-In of commands whose buffer holds Data-Out: they produce none. */
    final ByteBuffer noDataIn = ByteBuffer.allocateDirect(0);

    int itt;
    long lunField;
    int cmdSn;
    /** Expected data transfer length (EDTL) from the command PDU. */
    int edtl;
    /** Data-Out bytes the CDB consumes, before capping to EDTL. */
    int cdbBytes;
    /** Bytes to gather: min(edtl, cdbBytes). */
    int want;
    /** Next Data-Out buffer offset expected (DataPDUInOrder=Yes). */
    int nextOffset;
    /** Unsolicited Data-Out still to come (the command PDU had F=0). */
    boolean unsolicitedPending;

    int unsolicitedDataSn;
    /** The outstanding R2T, if any. */
    boolean r2tOutstanding;

    int ttt;
    int r2tSn;
    int r2tEnd;
    int solicitedDataSn;

    // ---- task set state, guarded by the TaskSet monitor
    int state = FREE;
    /** Set by a task management function: the task ends at its next step and never answers. */
    boolean aborted;
    /** The older and newer neighbours in the task set (arrival order, which is CmdSN order). */
    IscsiTask older, newer;

    // ---- guarded by the CommandWorkers monitor
    /** The next task in the worker queue. */
    IscsiTask nextQueued;

    IscsiTask(CommandPath path) {
        this.path = path;
    }

    void ensureCapacity(int bytes) {
        if (buffer.capacity() < bytes) {
            buffer = ByteBuffer.allocateDirect(Math.max(4096, Integer.highestOneBit(bytes - 1) << 1));
        }
    }

    void reset() {
        state = FREE;
        aborted = false;
        r2tOutstanding = false;
        unsolicitedPending = false;
        nextOffset = 0;
        scsi.nexus = null;
        scsi.dataIn = null;
        scsi.dataOut = null;
    }
}
