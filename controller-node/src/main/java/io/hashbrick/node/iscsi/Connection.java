package io.hashbrick.node.iscsi;

import io.hashbrick.node.Log;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SocketChannel;
import java.util.concurrent.TimeUnit;

/**
 * One TCP connection of the target: its thread runs the login, then the full feature phase
 * (RFC 7143 §4.3) until logout, a protocol error, or the peer going away. In the full feature phase
 * the thread receives (commands, Data-Out, NOP-Out, task management, logout): commands execute and
 * answer on {@link CommandWorkers}, many at once, up to the CmdSN window; a command that is the
 * connection's only one, with nothing more received, runs on this thread instead (CommandPath.progress). The connection owns the
 * sequence numbers of its session (StatSN, and with one connection per session, CmdSN).
 */
final class Connection implements Runnable {
    final IscsiServer server;
    final PduChannel io;
    final String peer;
    private final SocketChannel channel;
    volatile boolean closed;
    volatile Session session;
    int cid;
    /** Next StatSN to send; written under io.sendLock. */
    int statSn;
    /** Next CmdSN expected (RFC 7143 §4.2.2.1); written only by the connection thread. */
    volatile int expCmdSn;
    /** The MaxCmdSN last sent to the initiator; written under io.sendLock. */
    private volatile int advertisedMaxCmdSn;

    private boolean advertised;

    private final long startNs;
    private volatile long lastReceiveNs;
    private volatile long pingSentNs;
    private volatile boolean fullFeature;
    private int nextPingTag = 1;
    private volatile int pingTag;
    private volatile CommandPath commands;
    private TaskManagement taskManagement;
    private final ByteBuffer scratch;

    Connection(IscsiServer server, SocketChannel channel, String peer) {
        this.server = server;
        this.channel = channel;
        this.peer = peer;
        this.io = new PduChannel(channel, server.clockNs);
        this.startNs = server.clockNs.getAsLong();
        this.lastReceiveNs = startNs;
        this.scratch = ByteBuffer.allocateDirect(server.config.maxRecvDataSegmentBytes());
    }

    @Override
    public void run() {
        String reason = "peer_closed";
        try {
            Session s = new LoginPhase(this).run();
            if (s == null) {
                reason = "login_ended";
                return;
            }
            commands = new CommandPath(this, s);
            taskManagement = new TaskManagement(this, s, commands);
            fullFeature = true;
            reason = fullFeatureLoop(s);
        } catch (PduChannel.DigestException e) {
            reason = "header_digest_error";
            Log.warn("connection_dropped", "peer=" + peer + " reason=header_digest_error");
        } catch (EOFException | ClosedChannelException e) {
            reason = closed ? "closed_by_target" : "peer_closed";
        } catch (IOException e) {
            reason = "io_error";
            Log.info("connection_io_error", "peer=" + peer + " error=" + Log.q(e.getMessage()));
        } catch (RuntimeException | Error e) {
            reason = "internal_error";
            server.internalError();
            Log.error("connection_failed", "peer=" + peer + " error=" + Log.q(e));
            e.printStackTrace(); // an unexpected condition: the trace is wanted
        } finally {
            io.close();
            closed = true;
            CommandPath c = commands;
            if (c != null) {
                // Every task ends before the nexus goes: workers may still hold buffers and LU locks.
                c.tasks.abort(-1, true);
            }
            Session s = session;
            server.connectionClosed(this, s);
            Log.info("connection_closed", "peer=" + peer + " reason=" + reason + (s == null ? "" : " " + s));
        }
    }

    private String fullFeatureLoop(Session s) throws IOException {
        while (!closed) {
            if (!io.receiveHeader()) {
                return "peer_closed";
            }
            lastReceiveNs = server.clockNs.getAsLong();
            ByteBuffer h = io.header();
            int op = Bhs.opcode(h);
            if (io.dataLength() > server.config.maxRecvDataSegmentBytes()) {
                // RFC 7143 §13.12: the data segment may not exceed what the target declared.
                Log.warn(
                        "protocol_error",
                        "peer=" + peer + " reason=data_segment_too_long length=" + io.dataLength() + " max="
                                + server.config.maxRecvDataSegmentBytes() + " opcode=0x" + Integer.toHexString(op));
                reject(h, Bhs.REJECT_PROTOCOL_ERROR);
                io.flushIfPending();
                // Read and drop the segment (at most 16 MiB: the length field has 24 bits) before the
                // close: closing with it unread would reset the connection, and a reset may destroy
                // the Reject in the initiator's receive queue before it is read.
                io.receiveData(null, 0);
                return "protocol_error";
            }
            if (s.params.discovery && op != Bhs.OP_TEXT_REQ && op != Bhs.OP_LOGOUT_REQ && op != Bhs.OP_NOP_OUT) {
                io.receiveData(null, 0);
                Log.warn(
                        "protocol_error",
                        "peer=" + peer + " reason=command_in_discovery_session opcode=0x" + Integer.toHexString(op));
                reject(h, Bhs.REJECT_PROTOCOL_ERROR);
                continue;
            }
            String end = dispatch(s, h, op);
            if (end != null) {
                io.flushIfPending();
                return end;
            }
        }
        return "closed_by_target";
    }

    /** Handles one PDU; returns a reason to end the connection, or null to go on. */
    private String dispatch(Session s, ByteBuffer h, int op) throws IOException {
        switch (op) {
            case Bhs.OP_SCSI_CMD -> {
                return commands.command(h);
            }
            case Bhs.OP_DATA_OUT -> {
                return commands.dataOut(h);
            }
            case Bhs.OP_NOP_OUT -> {
                return nopOut(h);
            }
            case Bhs.OP_TMF_REQ -> {
                return taskManagement.handle(h);
            }
            case Bhs.OP_TEXT_REQ -> {
                return new TextExchange(this, s).handle(h);
            }
            case Bhs.OP_LOGOUT_REQ -> {
                return logout(h);
            }
            case Bhs.OP_SNACK -> {
                io.receiveData(null, 0);
                Log.warn("protocol_error", "peer=" + peer + " reason=snack_at_erl0");
                reject(h, Bhs.REJECT_SNACK);
                return null;
            }
            default -> {
                io.receiveData(null, 0);
                Log.warn(
                        "protocol_error",
                        "peer=" + peer + " reason=unexpected_opcode opcode=0x" + Integer.toHexString(op));
                reject(h, op == Bhs.OP_LOGIN_REQ ? Bhs.REJECT_PROTOCOL_ERROR : Bhs.REJECT_CMD_NOT_SUPPORTED);
                return null;
            }
        }
    }

    /**
     * Checks a non-immediate command's CmdSN against the window (RFC 7143 §4.2.2.1) and advances
     * ExpCmdSN. Commands outside the window are silently ignored, as the RFC requires.
     */
    boolean acceptCmdSn(ByteBuffer h) {
        if (Bhs.immediate(h)) {
            return true;
        }
        int cmdSn = h.getInt(24);
        int exp = expCmdSn;
        int max = advertisedMaxCmdSn;
        if (Bhs.snLess(cmdSn, exp) || Bhs.snLess(max, cmdSn)) {
            // Also CmdSN == ExpCmdSN while the window is closed (MaxCmdSN = ExpCmdSN - 1): every task
            // is taken, and the initiator was told so.
            Log.warn(
                    "cmdsn_outside_window",
                    "peer=" + peer + " cmdsn=" + Integer.toUnsignedString(cmdSn)
                            + " exp_cmdsn=" + Integer.toUnsignedString(exp) + " max_cmdsn="
                            + Integer.toUnsignedString(max)
                            + " action=ignored");
            return false;
        }
        if (cmdSn != exp) {
            // Ahead of ExpCmdSN inside the window: with one connection per session nothing can fill
            // the gap, so the command runs now and the window moves past it.
            Log.warn(
                    "cmdsn_gap",
                    "peer=" + peer + " cmdsn=" + Integer.toUnsignedString(cmdSn) + " exp_cmdsn="
                            + Integer.toUnsignedString(exp));
        }
        expCmdSn = cmdSn + 1;
        return true;
    }

    /**
     * MaxCmdSN for a PDU about to be sent (the caller holds io.sendLock): the window shrinks while
     * tasks are in flight, so buffers stay bounded. The value sent last is the window commands are
     * checked against: a CmdSN beyond what the initiator was told is outside the window even if tasks
     * have freed up since. It never goes back: an initiator ignores a smaller MaxCmdSN (RFC 7143
     * §4.2.2.1), so the slots immediate commands hold (they take no CmdSN) can at worst make a later
     * command find the pool empty: TASK SET FULL.
     */
    int maxCmdSn() {
        CommandPath c = commands;
        int free = c == null ? server.config.commandWindow() : c.freeTasks();
        int max = expCmdSn + free - 1;
        if (advertised && Bhs.snLess(max, advertisedMaxCmdSn)) {
            max = advertisedMaxCmdSn;
        }
        advertised = true;
        advertisedMaxCmdSn = max;
        return max;
    }

    /** Aborts this connection's tasks of {@code lun} (-1: all) for a reset from another session. */
    void abortTasksFromElsewhere(int lun) {
        CommandPath c = commands;
        if (c != null) {
            c.tasks.abort(lun, false);
        }
    }

    private String nopOut(ByteBuffer h) throws IOException {
        int itt = Bhs.itt(h);
        int ttt = h.getInt(20);
        scratch.clear();
        if (!io.receiveData(scratch, io.dataLength())) {
            reject(h, Bhs.REJECT_DATA_DIGEST);
            return null;
        }
        if (!acceptCmdSn(h)) {
            return null;
        }
        if (itt == Bhs.ITT_NONE) {
            if (ttt != Bhs.ITT_NONE && ttt == pingTag) {
                pingTag = 0;
                pingSentNs = 0;
            }
            return null; // an answer to our NOP-In, or a ping that wants no reply
        }
        io.sendLock.lock();
        try {
            ByteBuffer r = beginStatus(Bhs.OP_NOP_IN, Bhs.FLAG_FINAL, itt);
            r.putLong(8, Bhs.lunField(h));
            r.putInt(20, Bhs.ITT_NONE);
            io.send(scratch, 0, scratch.position());
        } finally {
            io.sendLock.unlock();
        }
        return null;
    }

    private String logout(ByteBuffer h) throws IOException {
        io.receiveData(null, 0);
        int reason = Bhs.flags(h) & 0x7f;
        if (!acceptCmdSn(h)) {
            return null;
        }
        int logoutCid = h.getShort(20) & 0xffff;
        int response = 0;
        if (reason == 2) {
            response = 2; // connection recovery is not supported at ErrorRecoveryLevel 0
        } else if (reason == 1 && logoutCid != cid) {
            response = 1; // CID not found
        } else if (reason > 2) {
            reject(h, Bhs.REJECT_INVALID_PDU_FIELD);
            return null;
        }
        if (response == 0) {
            // The connection goes: its commands answer first, those still due Data-Out end unanswered.
            io.flushIfPending(); // the answers of commands run inline, before the wait
            commands.tasks.drain();
            Session s = session;
            if (s != null && s.connection == this) { // one connection per session (ErrorRecoveryLevel 0)
                server.releaseNexus(s);
            }
        }
        io.sendLock.lock();
        try {
            ByteBuffer r = beginStatus(Bhs.OP_LOGOUT_RESP, Bhs.FLAG_FINAL, Bhs.itt(h));
            r.put(2, (byte) response);
            r.putShort(40, (short) 0); // Time2Wait
            r.putShort(42, (short) 0); // Time2Retain
            io.send(null, 0, 0);
        } finally {
            io.sendLock.unlock();
        }
        Log.info("logout", "peer=" + peer + " reason_code=" + reason + " response=" + response + " " + session);
        return response == 0 ? "logout" : null;
    }

    /**
     * Starts a target PDU that carries status, so StatSN advances (RFC 7143 §4.2.2.2), with the
     * current ExpCmdSN and MaxCmdSN. The caller holds io.sendLock and finishes with io.send.
     */
    ByteBuffer beginStatus(int opcode, int flags, int itt) {
        ByteBuffer r = io.beginHeader();
        r.put(0, (byte) opcode);
        r.put(1, (byte) flags);
        r.putInt(16, itt);
        r.putInt(24, statSn++);
        r.putInt(28, expCmdSn);
        r.putInt(32, maxCmdSn());
        return r;
    }

    /** Sends a Reject carrying the offending header (RFC 7143 §11.17). */
    void reject(ByteBuffer bad, int reason) throws IOException {
        io.sendLock.lock();
        try {
            scratch.clear();
            ByteBuffer dup = bad.duplicate();
            dup.limit(Bhs.LENGTH).position(0);
            scratch.put(dup);
            ByteBuffer r = beginStatus(Bhs.OP_REJECT, Bhs.FLAG_FINAL, Bhs.ITT_NONE);
            r.put(2, (byte) reason);
            io.send(scratch, 0, Bhs.LENGTH);
        } finally {
            io.sendLock.unlock();
        }
    }

    /** Housekeeping, from the server's timer thread: login timeout, NOP-In pings, stalled peers. */
    void tick(long nowNs) {
        if (closed) {
            return;
        }
        TargetConfig c = server.config;
        if (!fullFeature) {
            if (nowNs - startNs > TimeUnit.MILLISECONDS.toNanos(c.loginTimeoutMs())) {
                Log.warn("login_timeout", "peer=" + peer + " timeout_ms=" + c.loginTimeoutMs());
                close("login_timeout");
            }
            return;
        }
        long blocked = io.writeBlockedSinceNs;
        if (blocked != 0 && nowNs - blocked > TimeUnit.MILLISECONDS.toNanos(c.nopTimeoutMs())) {
            Log.warn("peer_stalled", "peer=" + peer + " reason=not_reading timeout_ms=" + c.nopTimeoutMs());
            close("peer_stalled");
            return;
        }
        if (c.nopIntervalMs() == 0) {
            return;
        }
        if (pingTag != 0) {
            if (nowNs - pingSentNs > TimeUnit.MILLISECONDS.toNanos(c.nopTimeoutMs())) {
                Log.warn("nop_timeout", "peer=" + peer + " timeout_ms=" + c.nopTimeoutMs() + " " + session);
                close("nop_timeout");
            }
            return;
        }
        if (nowNs - lastReceiveNs > TimeUnit.MILLISECONDS.toNanos(c.nopIntervalMs())) {
            ping(nowNs);
        }
    }

    private void ping(long nowNs) {
        if (!io.sendLock.tryLock()) {
            return;
        }
        try {
            int tag = nextPingTag++ & 0x7fffffff;
            if (tag == 0) {
                tag = nextPingTag++;
            }
            ByteBuffer r = io.beginHeader();
            r.put(0, (byte) Bhs.OP_NOP_IN);
            r.put(1, (byte) Bhs.FLAG_FINAL);
            r.putInt(16, Bhs.ITT_NONE);
            r.putInt(20, tag);
            r.putInt(24, statSn); // not advanced: ITT is 0xffffffff (RFC 7143 §11.19.2)
            r.putInt(28, expCmdSn);
            r.putInt(32, maxCmdSn());
            pingTag = tag;
            pingSentNs = nowNs;
            io.send(null, 0, 0);
            io.flushIfPending();
        } catch (IOException e) {
            close("ping_failed");
        } finally {
            io.sendLock.unlock();
        }
    }

    /**
     * The address this connection reached the target on, as SendTargets reports it (RFC 7143
     * Appendix C): right even when the portal listens on a wildcard address.
     */
    String portalAddress() {
        try {
            var a = (java.net.InetSocketAddress) channel.getLocalAddress();
            String host = a.getAddress().getHostAddress();
            return (a.getAddress() instanceof java.net.Inet6Address ? "[" + host + "]" : host) + ":" + a.getPort();
        } catch (IOException | RuntimeException e) {
            return server.config.host() + ":" + server.boundPort;
        }
    }

    void close(String reason) {
        if (!closed) {
            closed = true;
            Log.debug("connection_closing", "peer=" + peer + " reason=" + reason);
            try {
                channel.close();
            } catch (IOException ignored) {
                // closing
            }
        }
    }
}
