package io.hashbrick.node.iscsi;

import io.hashbrick.node.Log;
import io.hashbrick.node.scsi.ScsiTarget;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Task Management Function Requests (RFC 7143 §11.5, §11.6): the task set aborts the tasks the
 * function names and waits until those on workers have ended (see {@link TaskSet}), the SCSI target
 * applies the function's device-server effects (unit attentions, reservations), and the answer
 * follows every response of the tasks that were already answering, as §4.2.3.3 asks. The connection's
 * thread waits meanwhile: functions are rare, and waiting keeps the order of PDUs simple.
 */
final class TaskManagement {
    private final Connection conn;
    private final Session session;
    private final CommandPath commands;
    private final ScsiTarget target;
    private final PduChannel io;

    TaskManagement(Connection conn, Session session, CommandPath commands) {
        this.conn = conn;
        this.session = session;
        this.commands = commands;
        this.target = conn.server.target;
        this.io = conn.io;
    }

    String handle(ByteBuffer h) throws IOException {
        io.receiveData(null, 0);
        if (!conn.acceptCmdSn(h)) {
            return null;
        }
        int function = Bhs.flags(h) & 0x7f;
        long lunField = Bhs.lunField(h);
        int lun = Bhs.decodeLun(lunField);
        int rtt = h.getInt(20);
        io.flushIfPending(); // answers of commands run inline go before the function's waits
        int response;
        switch (function) {
            case 1 -> response = commands.tasks.abortTask(rtt, lunField);
            case ScsiTarget.TMF_ABORT_TASK_SET, ScsiTarget.TMF_CLEAR_TASK_SET -> {
                commands.tasks.abort(lun, true);
                response = target.taskManagement(session.nexus, function, lun);
            }
            case ScsiTarget.TMF_LUN_RESET -> {
                commands.tasks.abort(lun, true);
                conn.server.abortEverywhere(lun, conn); // and the other sessions' tasks of this LUN
                response = target.taskManagement(session.nexus, function, lun);
            }
            case ScsiTarget.TMF_CLEAR_ACA -> response = target.taskManagement(session.nexus, function, lun);
            case ScsiTarget.TMF_TARGET_WARM_RESET, ScsiTarget.TMF_TARGET_COLD_RESET -> {
                commands.tasks.abort(-1, true);
                conn.server.abortEverywhere(-1, conn);
                response = target.taskManagement(session.nexus, function, lun);
            }
            case 8 -> response = 4; // TASK REASSIGN: allegiance reassignment needs ErrorRecoveryLevel 2
            default -> response = ScsiTarget.TMF_NOT_SUPPORTED;
        }
        Log.info(
                "task_management",
                "peer=" + conn.peer + " function=" + function + " lun=" + lun + " ref_itt=0x" + Integer.toHexString(rtt)
                        + " response=" + response);
        io.sendLock.lock();
        try {
            ByteBuffer r = conn.beginStatus(Bhs.OP_TMF_RESP, 0x80, Bhs.itt(h));
            r.put(2, (byte) response);
            io.send(null, 0, 0);
        } finally {
            io.sendLock.unlock();
        }
        if (function == ScsiTarget.TMF_TARGET_COLD_RESET && response == ScsiTarget.TMF_COMPLETE) {
            io.flushIfPending();
            conn.server.closeAll("target_cold_reset");
            return "target_cold_reset";
        }
        return null;
    }
}
