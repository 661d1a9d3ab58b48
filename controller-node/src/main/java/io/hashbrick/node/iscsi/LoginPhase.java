package io.hashbrick.node.iscsi;

import io.hashbrick.node.Log;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The login phase of one connection (RFC 7143 §6.3, §11.12, §11.13): security negotiation (CHAP or
 * None, as configured), operational negotiation, session creation or reinstatement. Ends with the
 * connection in the full feature phase, or with a Login Response carrying the failure status and a
 * closed connection.
 */
final class LoginPhase {
    // Login status class and detail (RFC 7143 §11.13.5), as (class << 8) | detail.
    static final int SUCCESS = 0x0000,
            INITIATOR_ERROR = 0x0200,
            AUTH_FAILED = 0x0201,
            FORBIDDEN = 0x0202,
            NOT_FOUND = 0x0203,
            UNSUPPORTED_VERSION = 0x0205,
            TOO_MANY_CONNECTIONS = 0x0206,
            MISSING_PARAMETER = 0x0207,
            SESSION_TYPE_UNSUPPORTED = 0x0209,
            NO_SESSION = 0x020a,
            INVALID_DURING_LOGIN = 0x020b,
            TARGET_ERROR = 0x0300,
            OUT_OF_RESOURCES = 0x0302;
    static final int STAGE_SECURITY = 0, STAGE_OPERATIONAL = 1, STAGE_FULL_FEATURE = 3;

    private final Connection conn;
    private final IscsiServer server;
    private final TargetConfig config;
    private final PduChannel io;
    private final SessionParams params = new SessionParams();
    private final Negotiation negotiation;
    private Chap chap;
    private boolean authenticated;
    private boolean declared;
    private boolean first = true;
    private long isid;
    private int tsih;
    private int cid;
    private String failure = "";
    private final byte[] text = new byte[TextKeys.MAX_TEXT_BYTES];
    private int textLength;
    private final ByteBuffer textBuffer = ByteBuffer.wrap(text);

    LoginPhase(Connection conn) {
        this.conn = conn;
        this.server = conn.server;
        this.config = server.config;
        this.io = conn.io;
        this.negotiation = new Negotiation(config, params);
    }

    /** Runs the login. Returns the session on success, null after a failed login (already answered). */
    Session run() throws IOException {
        while (true) {
            if (!io.receiveHeader()) {
                return null;
            }
            ByteBuffer h = io.header();
            if (Bhs.opcode(h) != Bhs.OP_LOGIN_REQ) {
                io.receiveData(null, 0);
                return fail(
                        h,
                        INVALID_DURING_LOGIN,
                        "non-login PDU in login phase opcode=0x" + Integer.toHexString(Bhs.opcode(h)));
            }
            if (io.dataLength() > TextKeys.MAX_TEXT_BYTES - textLength) {
                return fail(h, INITIATOR_ERROR, "login text too long bytes=" + (textLength + io.dataLength()));
            }
            textBuffer.clear().position(textLength);
            if (!io.receiveData(textBuffer, io.dataLength())) {
                return fail(h, INITIATOR_ERROR, "login data digest mismatch");
            }
            textLength = textBuffer.position();
            Session s = step(h);
            if (s != null || conn.closed) {
                return s;
            }
        }
    }

    /** One Login Request: returns the session when the login completes, null to go on (or after failure). */
    private Session step(ByteBuffer h) throws IOException {
        int flags = Bhs.flags(h);
        boolean transit = (flags & 0x80) != 0;
        boolean cont = (flags & 0x40) != 0;
        int csg = (flags >> 2) & 3;
        int nsg = flags & 3;
        if (first) {
            int versionMax = h.get(2) & 0xff;
            int versionMin = h.get(3) & 0xff;
            if (versionMin > 0 || versionMax < 0) {
                return fail(h, UNSUPPORTED_VERSION, "version_min=" + versionMin + " version_max=" + versionMax);
            }
            isid = h.getLong(8) >>> 16;
            tsih = h.getShort(14) & 0xffff;
            cid = h.getShort(20) & 0xffff;
            conn.expCmdSn = h.getInt(24);
            conn.statSn = h.getInt(28);
        } else if ((h.getLong(8) >>> 16) != isid) {
            return fail(h, INITIATOR_ERROR, "ISID changed during login");
        }
        if (cont) {
            if (transit) {
                return fail(h, INITIATOR_ERROR, "both T and C bits set");
            }
            sendResponse(h, false, csg, nsg, SUCCESS, new byte[0]);
            return null;
        }
        Map<String, String> offered = TextKeys.parse(text, textLength);
        textLength = 0;
        if (offered == null) {
            return fail(h, INITIATOR_ERROR, "malformed login text");
        }
        Map<String, String> answer = new LinkedHashMap<>();
        if (first) {
            int status = declaratives(offered, answer);
            if (status != SUCCESS) {
                return fail(h, status, failure);
            }
            first = false;
        }
        return stage(h, offered, answer, transit, csg, nsg);
    }

    private Session stage(
            ByteBuffer h, Map<String, String> offered, Map<String, String> answer, boolean transit, int csg, int nsg)
            throws IOException {
        if (csg == STAGE_SECURITY) {
            int status = security(offered, answer);
            if (status != SUCCESS) {
                return fail(h, status, failure);
            }
            negotiation.answer(offered, answer, tsih == 0);
        } else if (csg == STAGE_OPERATIONAL) {
            if (!authenticated && config.chap() != null) {
                return fail(h, AUTH_FAILED, "operational stage before authentication");
            }
            authenticated = true;
            negotiation.answer(offered, answer, tsih == 0);
            if (!declared) {
                negotiation.declare(answer);
                declared = true;
            }
        } else {
            return fail(h, INITIATOR_ERROR, "invalid current stage csg=" + csg);
        }
        boolean canTransit =
                transit && authenticated && (nsg == STAGE_OPERATIONAL || nsg == STAGE_FULL_FEATURE) && nsg > csg;
        if (transit && !canTransit && authenticated) {
            return fail(h, INITIATOR_ERROR, "invalid stage transition csg=" + csg + " nsg=" + nsg);
        }
        if (canTransit && nsg == STAGE_FULL_FEATURE && !declared) {
            negotiation.declare(answer);
            declared = true;
        }
        if (canTransit && nsg == STAGE_FULL_FEATURE) {
            return complete(h, answer, csg);
        }
        sendResponse(h, canTransit, csg, canTransit ? nsg : csg, SUCCESS, TextKeys.encode(answer));
        return null;
    }

    /** Checks the first request's declarative keys (RFC 7143 §13.4-13.10). */
    private int declaratives(Map<String, String> offered, Map<String, String> answer) {
        params.initiatorName = offered.get("InitiatorName");
        if (params.initiatorName == null || params.initiatorName.isEmpty()) {
            failure = "missing InitiatorName";
            return MISSING_PARAMETER;
        }
        params.initiatorAlias = offered.getOrDefault("InitiatorAlias", "");
        String type = offered.getOrDefault("SessionType", "Normal");
        if (type.equals("Discovery")) {
            params.discovery = true;
        } else if (!type.equals("Normal")) {
            failure = "unsupported SessionType=" + type;
            return SESSION_TYPE_UNSUPPORTED;
        }
        if (!params.discovery) {
            String name = offered.get("TargetName");
            if (name == null) {
                failure = "missing TargetName";
                return MISSING_PARAMETER;
            }
            if (!name.equals(config.targetName())) {
                failure = "unknown TargetName=" + name;
                return NOT_FOUND;
            }
            params.targetName = name;
            answer.put("TargetPortalGroupTag", Integer.toString(config.portalGroupTag()));
            if (!config.alias().isEmpty()) {
                answer.put("TargetAlias", config.alias());
            }
        }
        return SUCCESS;
    }

    private int security(Map<String, String> offered, Map<String, String> answer) {
        String methods = offered.get("AuthMethod");
        if (methods != null) {
            boolean none = false;
            boolean chapOffered = false;
            for (String m : methods.split(",")) {
                none |= m.equals("None");
                chapOffered |= m.equals("CHAP");
            }
            if (config.chap() != null && chapOffered) {
                answer.put("AuthMethod", "CHAP");
                chap = new Chap(config.chap(), config.mutualChap(), server.random);
            } else if (config.chap() == null && none) {
                answer.put("AuthMethod", "None");
                authenticated = true;
            } else {
                failure = "no acceptable AuthMethod offered=" + methods + " chap_required=" + (config.chap() != null);
                return AUTH_FAILED;
            }
        }
        if (chap != null && !authenticated) {
            Chap.Step step = chap.step(offered, answer);
            if (step == Chap.Step.FAILED) {
                failure = chap.failure;
                return AUTH_FAILED;
            }
            authenticated = step == Chap.Step.DONE;
        } else if (chap == null && !authenticated && config.chap() == null && methods == null) {
            authenticated = true; // AuthMethod defaults to None when the initiator offers nothing
        }
        return SUCCESS;
    }

    /** The final Login Response: creates or reinstates the session. */
    private Session complete(ByteBuffer h, Map<String, String> answer, int csg) throws IOException {
        if (tsih != 0) {
            Session existing = server.findByTsih(params.initiatorName, isid, tsih);
            if (existing == null) {
                return fail(h, NO_SESSION, "no session tsih=" + tsih);
            }
            Connection old = existing.connection;
            if (old != null && old.cid != cid) {
                return fail(h, TOO_MANY_CONNECTIONS, "MaxConnections=1 tsih=" + tsih);
            }
        }
        int newTsih = server.allocateTsih();
        Session s =
                new Session(params.initiatorName, isid, newTsih, params, server.newNexus(params.initiatorName, isid));
        conn.cid = cid;
        s.connection = conn;
        server.register(s);
        conn.session = s;
        tsih = newTsih;
        sendResponse(h, true, csg, STAGE_FULL_FEATURE, SUCCESS, TextKeys.encode(answer));
        io.flushIfPending();
        io.headerDigest = params.headerDigest;
        io.dataDigest = params.dataDigest;
        Log.info(
                "login_ok",
                s + " peer=" + conn.peer + " cid=" + cid + " " + params + " auth=" + (chap != null ? "CHAP" : "None"));
        return s;
    }

    private void sendResponse(ByteBuffer req, boolean transit, int csg, int nsg, int status, byte[] data)
            throws IOException {
        io.sendLock.lock();
        try {
            ByteBuffer r = io.beginHeader();
            r.put(0, (byte) Bhs.OP_LOGIN_RESP);
            r.put(1, (byte) ((transit ? 0x80 : 0) | (csg << 2) | nsg));
            r.put(2, (byte) 0); // Version-max
            r.put(3, (byte) 0); // Version-active
            r.putLong(8, (isid << 16) | (status == SUCCESS ? tsih : 0));
            r.putInt(16, Bhs.itt(req));
            r.putInt(24, conn.statSn++);
            r.putInt(28, conn.expCmdSn);
            r.putInt(32, conn.maxCmdSn());
            r.put(36, (byte) (status >> 8));
            r.put(37, (byte) status);
            ByteBuffer d = ByteBuffer.allocateDirect(Math.max(1, data.length))
                    .put(data)
                    .flip();
            io.send(d, 0, data.length);
        } finally {
            io.sendLock.unlock();
        }
    }

    private Session fail(ByteBuffer req, int status, String why) throws IOException {
        Log.warn(
                "login_failed",
                "peer=" + conn.peer + " initiator=" + Log.q(params.initiatorName) + " status=0x"
                        + String.format("%04x", status) + " reason=" + Log.q(why));
        int flags = Bhs.flags(req);
        sendResponse(req, false, (flags >> 2) & 3, (flags >> 2) & 3, status, new byte[0]);
        io.flushIfPending();
        conn.close("login_failed");
        return null;
    }
}
