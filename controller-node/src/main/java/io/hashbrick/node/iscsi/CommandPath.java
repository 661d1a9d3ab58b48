package io.hashbrick.node.iscsi;

import io.hashbrick.node.Log;
import io.hashbrick.node.scsi.ScsiTarget;
import io.hashbrick.node.scsi.ScsiTask;
import io.hashbrick.node.scsi.Sense;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The SCSI command path of one connection in the full feature phase: SCSI Command PDUs, their
 * immediate, unsolicited and solicited (R2T) data (RFC 7143 §4.2.2.3, §11.7, §11.8), execution on the
 * SCSI target, and the answer as Data-In PDUs (status collapsed into the last one when there is no
 * sense data, §11.7.4) and/or a SCSI Response with sense and residuals (§11.4).
 *
 * <p>Threads. The connection's thread receives: command PDUs, their data, R2Ts. A task whose data is
 * complete goes to {@link TaskSet}, which hands it to a {@link CommandWorkers} thread when its task
 * attribute allows; the worker executes it and sends its answer under the send lock, so answers go
 * out in completion order, each StatSN taken as it is sent. A lone command with nothing more
 * received runs on the connection's thread instead (see {@link #progress}). Tasks are pooled, buffers reused. Task
 * management: {@link TaskManagement}.
 */
final class CommandPath {
    private final Connection conn;
    private final Session session;
    private final ScsiTarget target;
    private final PduChannel io;
    private final SessionParams params;
    final TaskSet tasks;
    /** Guarded by the send lock. */
    private final ByteBuffer senseData = ByteBuffer.allocateDirect(2 + ScsiTask.SENSE_MAX);

    private final int maxTransfer;
    /** Whether a lone command runs on the connection's thread (see {@link #progress}). */
    private final boolean runInline;
    /** Whether a read among others is first tried from memory on the connection's thread (see {@link #progress}). */
    private final boolean readFromMemory;
    /** Connection thread only. */
    private int nextTtt = 1;
    /**
     * Threads between "about to answer" and "answered". The last one out flushes the send stage when
     * no task of the connection is still queued (see {@link #flushIfLast()}): answers completing
     * together leave in one write, and none waits behind the receiving thread, which is blocked in a
     * read.
     */
    private final AtomicInteger responders = new AtomicInteger();

    CommandPath(Connection conn, Session session) {
        this.conn = conn;
        this.session = session;
        this.target = conn.server.target;
        this.io = conn.io;
        this.params = session.params;
        this.tasks = new TaskSet(this, conn.server.config.commandWindow(), conn.server.workers);
        this.maxTransfer = target.maxTransferBytes();
        this.runInline = conn.server.runInline;
        this.readFromMemory = runInline && conn.server.readFromMemory;
    }

    int freeTasks() {
        return tasks.available();
    }

    // ------------------------------------------------------------------ SCSI Command

    String command(ByteBuffer h) throws IOException {
        int itt = Bhs.itt(h);
        int flags = Bhs.flags(h);
        int dsl = io.dataLength();
        if (!conn.acceptCmdSn(h)) {
            io.receiveData(null, 0);
            return null;
        }
        if (Bhs.totalAhsLength(h) > 0) {
            // Extended CDBs and bidirectional commands (AHS types 1 and 2) are not supported.
            io.receiveData(null, 0);
            Log.warn(
                    "command_rejected",
                    "peer=" + conn.peer + " itt=0x" + Integer.toHexString(itt) + " reason=ahs_not_supported");
            conn.reject(h, Bhs.REJECT_CMD_NOT_SUPPORTED);
            return null;
        }
        IscsiTask t = tasks.acquire();
        if (t == null) {
            // Only an immediate command (RFC 7143 §3.2.2.1: outside the CmdSN window) finds every slot
            // taken: SAM-5 §5.3.3 TASK SET FULL.
            io.receiveData(null, 0);
            Log.warn("task_set_full", "peer=" + conn.peer + " itt=0x" + Integer.toHexString(itt));
            sendStatusOnly(itt, ScsiTask.TASK_SET_FULL);
            return null;
        }
        setUp(t, h, itt, flags);
        boolean fin = (flags & Bhs.FLAG_FINAL) != 0;
        String error = validate(t, fin, dsl);
        if (error != null) {
            io.receiveData(null, 0);
            tasks.end(t); // never joined
            Log.warn("protocol_error", "peer=" + conn.peer + " itt=0x" + Integer.toHexString(itt) + " reason=" + error);
            conn.reject(h, Bhs.REJECT_PROTOCOL_ERROR);
            return "protocol_error";
        }
        tasks.join(t);
        t.buffer.clear();
        if (!io.receiveData(t.buffer, Math.min(dsl, t.want))) {
            Log.warn(
                    "data_digest_error",
                    "peer=" + conn.peer + " itt=0x" + Integer.toHexString(itt) + " pdu=scsi_command");
            terminate(t, Sense.PROTOCOL_SERVICE_CRC_ERROR);
            return null;
        }
        t.nextOffset = dsl;
        t.unsolicitedPending = !fin;
        return progress(t);
    }

    private void setUp(IscsiTask t, ByteBuffer h, int itt, int flags) {
        ScsiTask s = t.scsi;
        for (int i = 0; i < ScsiTask.CDB_MAX; i++) {
            s.cdb[i] = h.get(32 + i);
        }
        s.cdbLength = ScsiTask.CDB_MAX;
        t.lunField = Bhs.lunField(h);
        s.lun = Bhs.decodeLun(t.lunField);
        s.nexus = session.nexus;
        s.readFlag = (flags & 0x40) != 0;
        s.writeFlag = (flags & 0x20) != 0;
        s.taskAttribute = flags & 0x07;
        s.tag = itt;
        t.itt = itt;
        t.cmdSn = h.getInt(24);
        t.edtl = h.getInt(20);
        s.expectedLength = t.edtl;
        t.cdbBytes = target.dataOutLength(s);
        assert t.cdbBytes >= 0 && t.cdbBytes <= maxTransfer : "dataOutLength=" + t.cdbBytes;
        t.want = s.writeFlag ? (int) Math.min(Integer.toUnsignedLong(t.edtl), t.cdbBytes) : 0;
        int dataInBytes = t.want > 0 ? 0 : target.dataInLength(s);
        assert dataInBytes >= 0 && dataInBytes <= maxTransfer + 65536 : "dataInLength=" + dataInBytes;
        t.ensureCapacity(Math.max(t.want, dataInBytes));
        t.unsolicitedDataSn = 0;
        t.r2tSn = 0;
    }

    /** Checks the command PDU against the negotiated data rules; returns why it is invalid, or null. */
    private String validate(IscsiTask t, boolean fin, int dsl) {
        long edtl = Integer.toUnsignedLong(t.edtl);
        if (dsl > 0 && !t.scsi.writeFlag) {
            return "immediate_data_without_W_bit dsl=" + dsl;
        }
        if (dsl > 0 && !params.immediateData) {
            return "immediate_data_not_negotiated dsl=" + dsl;
        }
        if (dsl > edtl || dsl > params.firstBurstLength) {
            return "immediate_data_too_long dsl=" + dsl + " edtl=" + edtl + " first_burst=" + params.firstBurstLength;
        }
        if (!fin && (params.initialR2T || !t.scsi.writeFlag)) {
            return "unsolicited_data_not_allowed initial_r2t=" + params.initialR2T;
        }
        if (!fin && dsl >= Math.min(edtl, params.firstBurstLength)) {
            return "unsolicited_data_beyond_first_burst dsl=" + dsl;
        }
        return null;
    }

    /**
     * Moves a task on: waits for data still due, solicits what is missing, or hands it to the task set.
     *
     * <p>Inline execution. A task whose data is complete runs right here, on the connection's thread
     * (as the serial front end ran every command), when handing it to a worker would buy nothing:
     *
     * <ul>
     *   <li>it is the connection's only task (none older waits, queues, runs or answers; so every task
     *       attribute, ORDERED and HEAD OF QUEUE too, lets it run at once), and no byte of a further
     *       PDU has arrived (none staged, none readable from the socket): nothing else could run
     *       meanwhile. That saves the hand-off, a worker's wake-up and a thread switch per command,
     *       most of the latency a lone command adds (QD1);
     *   <li>or it carried Data-Out (a write, UNMAP, COMPARE AND WRITE...) and its task attribute lets it
     *       run now (SAM-5 §8.6: SIMPLE with no older ORDERED or HEAD OF QUEUE task left, HEAD OF
     *       QUEUE, ORDERED when alone), whatever else is in flight. Such commands compute (hashing,
     *       compression, the journal, under the data path's locks) rather than wait: on 2 cores,
     *       overlapping them on workers measured 0.68-0.85x of running them one after another
     *       (README, step d), the hand-offs and the contention costing more than the overlap gains.
     *       Reads, which may wait on the SSDs, still overlap on workers;
     *   <li>or it has no Data-Out, its task attribute lets it run now, and it is a read whose data is
     *       all in memory: tried first from memory only ({@link #runFromMemory}), it is answered here
     *       on a hit; on a miss (or for any other command) it runs here all the same if it is the
     *       connection's only task with nothing more received (the first case), else it goes to a
     *       worker.
     * </ul>
     *
     * Meanwhile the thread receives nothing: a PDU that arrives while the command runs, a further
     * command, Data-Out, NOP-Out, a task management function or a logout, is read only after it has
     * answered, as with the serial front end (a write's execution is short: it holds these back for
     * microseconds). For a lone command that is acceptable because nothing else could run meanwhile,
     * and a function naming it finds it answered (ABORT TASK: "task does not exist", RFC 7143
     * §4.2.3.3 allows that race). An inline answer is staged, not flushed: the thread flushes before
     * it next reads from the socket, so a burst of writes already received answers in one write, as
     * the serial front end did; a worker's flush takes it along too. Only the execution step goes
     * inline: a write still receiving solicited or unsolicited data is not complete and never gets
     * here until its last Data-Out. A reset from another session marks the task and waits for it
     * exactly as for a worker's (see {@link TaskSet}). The task's buffer is its own; while it runs,
     * the thread reads nothing into any buffer. When further PDUs have arrived, or other tasks are
     * in the set, the task goes to {@link CommandWorkers} as before, so commands that wait (reads
     * that miss the cache) still overlap. {@code -Dhashbrick.iscsi.inline=false} turns inline
     * execution off (for measurements and tests of the worker path).
     */
    /**
     * PERSISTENT RESERVE OUT, RESERVE(6) and RELEASE(6) may wait for the cluster's catalog (a commit, then
     * every controller's answer): never on this thread, which must keep reading (NOP-Outs, task management).
     */
    private static boolean waitsOnTheCluster(byte[] cdb) {
        int op = cdb[0] & 0xff;
        return op == 0x5F || op == 0x16 || op == 0x17;
    }

    private String progress(IscsiTask t) throws IOException {
        if (t.unsolicitedPending || t.r2tOutstanding) {
            return null;
        }
        if (t.nextOffset < t.want) {
            sendR2T(t);
            return null;
        }
        ScsiTask s = t.scsi;
        if (t.want > 0) {
            t.buffer.limit(Math.min(t.nextOffset, t.want)).position(0);
            s.dataOut = t.buffer;
            s.dataIn = t.noDataIn;
        } else {
            t.buffer.clear();
            s.dataOut = null;
            s.dataIn = t.buffer;
        }
        s.dataIn.clear();
        s.resetResult();
        int mode;
        boolean fromMemory = false;
        if (!runInline || waitsOnTheCluster(s.cdb)) {
            mode = TaskSet.TO_WORKER;
        } else if (t.want > 0) {
            mode = TaskSet.HERE_IF_ENABLED; // it carried Data-Out: it computes, see above
        } else if (readFromMemory) {
            fromMemory = true; // tried from memory here; if it would wait, here when alone, else a worker
            mode = TaskSet.HERE_IF_ENABLED;
        } else {
            mode = alone(t) ? TaskSet.HERE_IF_ALONE : TaskSet.TO_WORKER;
        }
        switch (tasks.dataComplete(t, mode)) {
            case TaskSet.RUN_HERE -> {
                if (fromMemory) {
                    runFromMemory(t);
                } else {
                    conn.server.inlineRuns.increment();
                    execute(t, true);
                }
            }
            case TaskSet.ABORTED ->
                // Aborted by a reset from another session while it waited for data: no status (TAS=0).
                Log.info(
                        "task_aborted_by_reset",
                        "peer=" + conn.peer + " itt=0x" + Integer.toHexString(t.itt) + " lun=" + s.lun);
            default -> {
                // waits for its turn, or is queued for a worker
            }
        }
        return null;
    }

    // ------------------------------------------------------------------ Data-Out

    String dataOut(ByteBuffer h) throws IOException {
        int itt = Bhs.itt(h);
        int ttt = h.getInt(20);
        int dataSn = h.getInt(36);
        int offset = h.getInt(40);
        int dsl = io.dataLength();
        boolean fin = Bhs.finalBit(h);
        IscsiTask t = tasks.receiving(itt);
        if (t == null) {
            // Data for a task that was aborted or has completed: discarded silently (RFC 7143 §4.2.2.3).
            io.receiveData(null, 0);
            Log.debug("data_out_discarded", "peer=" + conn.peer + " itt=0x" + Integer.toHexString(itt));
            return null;
        }
        String error = checkDataOut(t, ttt, dataSn, offset, dsl);
        if (error != null) {
            // The header is sound, so the stream stays framed: the task ends with the sense RFC 7143
            // §11.4.7.2 names, its later Data-Out PDUs are discarded, and the connection goes on.
            io.receiveData(null, 0);
            Log.warn(
                    "data_out_error",
                    "peer=" + conn.peer + " itt=0x" + Integer.toHexString(itt) + " reason=" + error
                            + " action=check_condition");
            terminate(t, senseFor(error));
            return null;
        }
        int keep = Math.max(0, Math.min(dsl, t.want - offset));
        if (keep > 0) {
            t.buffer.limit(t.buffer.capacity()).position(offset);
        }
        if (!io.receiveData(keep > 0 ? t.buffer : null, keep)) {
            // ErrorRecoveryLevel 0 cannot re-request the data: the task ends, the connection goes on.
            Log.warn("data_digest_error", "peer=" + conn.peer + " itt=0x" + Integer.toHexString(itt) + " pdu=data_out");
            terminate(t, Sense.PROTOCOL_SERVICE_CRC_ERROR);
            return null;
        }
        t.nextOffset = offset + dsl;
        if (fin) {
            if (ttt == Bhs.ITT_NONE) {
                t.unsolicitedPending = false;
            } else {
                t.r2tOutstanding = false;
            }
        }
        return progress(t);
    }

    private static int senseFor(String error) {
        if (error.startsWith("data_sn")) {
            return Sense.DATA_PHASE_ERROR;
        }
        if (error.startsWith("buffer_offset")) {
            return Sense.DATA_OFFSET_ERROR;
        }
        if (error.startsWith("unknown_target_transfer_tag")) {
            return Sense.INVALID_TARGET_TRANSFER_TAG;
        }
        if (error.startsWith("unexpected_unsolicited")) {
            return Sense.UNEXPECTED_UNSOLICITED_DATA;
        }
        return Sense.TOO_MUCH_WRITE_DATA;
    }

    /** Ends a task the transport could not complete: CHECK CONDITION, ABORTED COMMAND with {@code code}. */
    private void terminate(IscsiTask t, int code) throws IOException {
        ScsiTask s = t.scsi;
        s.resetResult();
        Sense.check(s, false, Sense.ABORTED_COMMAND, code);
        t.noDataIn.clear();
        s.dataIn = t.noDataIn;
        if (!tasks.beginResponse(t)) {
            return; // aborted by another session's reset meanwhile: no status (TAS=0)
        }
        try {
            respond(t, true);
        } finally {
            tasks.end(t);
        }
    }

    private String checkDataOut(IscsiTask t, int ttt, int dataSn, int offset, int dsl) {
        if (offset != t.nextOffset) {
            return "buffer_offset_out_of_order offset=" + offset + " expected=" + t.nextOffset;
        }
        if (ttt == Bhs.ITT_NONE) {
            if (!t.unsolicitedPending) {
                return "unexpected_unsolicited_data";
            }
            if (dataSn != t.unsolicitedDataSn++) {
                return "data_sn_mismatch data_sn=" + dataSn + " expected=" + (t.unsolicitedDataSn - 1);
            }
            long limit = Math.min(Integer.toUnsignedLong(t.edtl), params.firstBurstLength);
            return offset + (long) dsl > limit ? "unsolicited_data_beyond_first_burst end=" + (offset + dsl) : null;
        }
        if (!t.r2tOutstanding || ttt != t.ttt) {
            return "unknown_target_transfer_tag ttt=0x" + Integer.toHexString(ttt);
        }
        if (dataSn != t.solicitedDataSn++) {
            return "data_sn_mismatch data_sn=" + dataSn + " expected=" + (t.solicitedDataSn - 1);
        }
        return offset + (long) dsl > t.r2tEnd ? "data_beyond_r2t end=" + (offset + dsl) + " r2t_end=" + t.r2tEnd : null;
    }

    private void sendR2T(IscsiTask t) throws IOException {
        int offset = t.nextOffset;
        int length = Math.min(params.maxBurstLength, t.want - offset);
        int ttt = nextTtt++;
        if (ttt == Bhs.ITT_NONE) {
            ttt = nextTtt++;
        }
        t.ttt = ttt;
        t.r2tOutstanding = true;
        t.r2tEnd = offset + length;
        t.solicitedDataSn = 0;
        io.sendLock.lock();
        try {
            ByteBuffer r = io.beginHeader();
            r.put(0, (byte) Bhs.OP_R2T);
            r.put(1, (byte) Bhs.FLAG_FINAL);
            r.putLong(8, t.lunField);
            r.putInt(16, t.itt);
            r.putInt(20, ttt);
            r.putInt(24, conn.statSn);
            r.putInt(28, conn.expCmdSn);
            r.putInt(32, conn.maxCmdSn());
            r.putInt(36, t.r2tSn++);
            r.putInt(40, offset);
            r.putInt(44, length);
            io.send(null, 0, 0);
        } finally {
            io.sendLock.unlock();
        }
    }

    // ------------------------------------------------------------------ execution and answer

    /**
     * Executes a queued task and answers it: on a worker thread. The task leaves the pool's hands
     * only through {@link TaskSet}, which tells whether it was aborted meanwhile (then: no answer).
     */
    void run(IscsiTask t) {
        boolean started = tasks.start(t);
        // Answers left staged for the queued tasks to flush go now if this was the last of them,
        // whether it runs (it may be slow) or was aborted while queued.
        flushIfLast();
        if (!started) {
            return;
        }
        conn.server.workerRuns.increment();
        execute(t, false);
    }

    /**
     * Executes a RUNNING task and answers it: on a worker, or {@code inline} on the connection's
     * thread (see {@link #progress}; its answer is left staged for that thread's next read to flush).
     */
    private void execute(IscsiTask t, boolean inline) {
        if (executeOrEnd(t)) {
            answer(t, inline);
        }
    }

    /**
     * A command without Data-Out, tried on the connection's thread from memory only ({@link
     * ScsiTask#memoryOnly}): a read whose blocks are all in memory is answered here (staged, like an
     * inline answer), without the hand-off to a worker, its wake-up and the thread switches, which cost
     * more than the hit itself (README, step d: cached 4 KiB reads at QD32 fell to 0.77x with every
     * read on a worker). A read that would wait (a block on the SSDs only, a lock held across I/O, a
     * remote role), and every other command, has changed nothing: it runs here, blocking, when it is
     * the connection's only task with nothing more received (nothing else could run meanwhile), else
     * it goes to a worker, so reads that miss still overlap. Only a task its attribute enables now
     * gets here ({@link TaskSet#dataComplete} with {@link TaskSet#HERE_IF_ENABLED}): an ORDERED task
     * with older ones left, or a SIMPLE one behind an ORDERED or HEAD OF QUEUE task, waits in the set
     * as before. The attempt is cheap next to the hit it saves: the command's checks, the map lookup
     * and D's cache lookup, each under a lock held for a lookup's time.
     */
    private void runFromMemory(IscsiTask t) throws IOException {
        ScsiTask s = t.scsi;
        s.memoryOnly = true;
        boolean executed;
        try {
            executed = executeOrEnd(t);
        } finally {
            s.memoryOnly = false;
        }
        if (!executed) {
            return;
        }
        if (!s.wouldBlock) {
            conn.server.memoryRuns.increment();
            answer(t, true);
            return;
        }
        conn.server.memoryMisses.increment();
        s.resetResult();
        s.dataIn.clear();
        if (alone(t)) {
            conn.server.inlineRuns.increment(); // nothing else could run meanwhile (QD1): no hand-off
            execute(t, true);
            return;
        }
        if (!tasks.toWorker(t)) {
            Log.info(
                    "task_aborted_by_reset",
                    "peer=" + conn.peer + " itt=0x" + Integer.toHexString(t.itt) + " lun=" + s.lun);
        }
    }

    /**
     * Whether {@code t} is the connection's only task and no byte of a further PDU has arrived (staged,
     * or readable from the socket: one system call, asked last).
     */
    private boolean alone(IscsiTask t) throws IOException {
        return !io.moreStaged() && tasks.alone(t) && !io.moreReceived();
    }

    /** Executes a RUNNING task; false after an unexpected failure (logged, the connection closed, the task ended). */
    private boolean executeOrEnd(IscsiTask t) {
        try {
            target.execute(t.scsi);
            return true;
        } catch (RuntimeException | Error e) {
            conn.server.internalError();
            Log.error(
                    "command_failed",
                    "peer=" + conn.peer + " itt=0x" + Integer.toHexString(t.itt) + " opcode=0x"
                            + Integer.toHexString(t.scsi.opcode()) + " error=" + Log.q(e));
            e.printStackTrace(); // an unexpected condition: the trace is wanted
            conn.close("internal_error");
            if (tasks.beginResponse(t)) {
                tasks.end(t);
            }
            return false;
        }
    }

    /** Answers an executed RUNNING task unless it was aborted meanwhile (see {@link #execute}). */
    private void answer(IscsiTask t, boolean inline) {
        if (!tasks.beginResponse(t)) {
            if (!inline) {
                flushIfLast(); // aborted while it ran: the device I/O is done, the status is not sent (TAS=0)
            }
            return;
        }
        try {
            respond(t, !inline);
        } catch (IOException e) {
            conn.close("send_failed"); // the receiving thread sees the closed channel and cleans up
        } finally {
            tasks.end(t);
        }
    }

    /**
     * Sends the task's Data-In and status. The task is RESPONDING: its slot counts in MaxCmdSN. With
     * {@code flush}, the last answer under way flushes the send stage when no task is queued.
     */
    private void respond(IscsiTask t, boolean flush) throws IOException {
        ScsiTask s = t.scsi;
        int produced = s.dataIn.position();
        long edtl = Integer.toUnsignedLong(t.edtl);
        // The command's own transfer length (SCSI layer) against the initiator's EDTL, RFC 7143 §11.4.5.
        long actual = Integer.toUnsignedLong(s.transferLength);
        int residualFlags = actual > edtl ? 0x04 : actual < edtl ? 0x02 : 0;
        int residual = (int) Math.abs(actual - edtl);
        int send = s.readFlag ? (int) Math.min(produced, edtl) : 0;
        boolean collapse = s.senseLength == 0 && send > 0;
        int dataSn = 0;
        responders.incrementAndGet();
        io.sendLock.lock();
        try {
            int burst = 0;
            for (int off = 0; off < send; ) {
                int len = Math.min(Math.min(params.sendSegmentMax, send - off), params.maxBurstLength - burst);
                boolean last = off + len == send;
                burst += len;
                boolean endOfBurst = last || burst == params.maxBurstLength;
                ByteBuffer r = io.beginHeader();
                r.put(0, (byte) Bhs.OP_DATA_IN);
                r.put(1, (byte) ((endOfBurst ? 0x80 : 0) | (last && collapse ? 0x01 | residualFlags : 0)));
                r.putInt(16, t.itt);
                r.putInt(20, Bhs.ITT_NONE);
                if (last && collapse) {
                    r.put(3, (byte) s.status);
                    r.putInt(24, conn.statSn++);
                    r.putInt(44, residualFlags == 0 ? 0 : residual);
                }
                r.putInt(28, conn.expCmdSn);
                r.putInt(32, conn.maxCmdSn());
                r.putInt(36, dataSn++);
                r.putInt(40, off);
                io.send(s.dataIn, off, len);
                off += len;
                if (endOfBurst) {
                    burst = 0;
                }
            }
            if (!collapse) {
                sendResponse(t.itt, s, residualFlags, residual, dataSn);
            }
        } finally {
            try {
                if (responders.decrementAndGet() == 0 && flush && tasks.noneQueued()) {
                    io.flushIfPending();
                }
            } finally {
                io.sendLock.unlock();
            }
        }
    }

    /** Flushes what is staged when no other answer of this connection is under way or queued. */
    private void flushIfLast() {
        if (responders.get() == 0 && tasks.noneQueued()) {
            try {
                io.flushIfPending();
            } catch (IOException e) {
                conn.close("send_failed");
            }
        }
    }

    private void sendResponse(int itt, ScsiTask s, int residualFlags, int residual, int dataSnCount)
            throws IOException {
        ByteBuffer r = conn.beginStatus(Bhs.OP_SCSI_RESP, 0x80 | residualFlags, itt);
        r.put(2, (byte) 0); // Command Completed at Target
        r.put(3, (byte) s.status);
        r.putInt(36, dataSnCount);
        r.putInt(44, residualFlags == 0 ? 0 : residual);
        int len = 0;
        if (s.senseLength > 0) {
            senseData.clear();
            senseData.putShort((short) s.senseLength);
            senseData.put(s.sense, 0, s.senseLength);
            len = senseData.position();
        }
        io.send(senseData, 0, len);
    }

    private void sendStatusOnly(int itt, int status) throws IOException {
        io.sendLock.lock();
        try {
            ByteBuffer r = conn.beginStatus(Bhs.OP_SCSI_RESP, 0x80, itt);
            r.put(3, (byte) status);
            io.send(null, 0, 0);
        } finally {
            io.sendLock.unlock();
        }
    }
}
