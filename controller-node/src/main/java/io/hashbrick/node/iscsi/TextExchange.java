package io.hashbrick.node.iscsi;

import io.hashbrick.node.Log;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Text Request / Response in the full feature phase (RFC 7143 §11.10, §11.11): SendTargets
 * discovery (Appendix C) and renegotiation of the keys that may change after login.
 */
final class TextExchange {
    private final Connection conn;
    private final Session session;

    TextExchange(Connection conn, Session session) {
        this.conn = conn;
        this.session = session;
    }

    String handle(ByteBuffer h) throws IOException {
        PduChannel io = conn.io;
        byte[] text = new byte[Math.min(io.dataLength(), TextKeys.MAX_TEXT_BYTES)];
        ByteBuffer buf = ByteBuffer.wrap(text);
        if (!io.receiveData(buf, text.length)) {
            conn.reject(h, Bhs.REJECT_DATA_DIGEST);
            return null;
        }
        if (!conn.acceptCmdSn(h)) {
            return null;
        }
        boolean cont = (Bhs.flags(h) & 0x40) != 0;
        Map<String, String> offered = TextKeys.parse(text, text.length);
        if (offered == null || cont) {
            // Multi-PDU text requests are not needed by any key this target answers.
            Log.warn(
                    "protocol_error",
                    "peer=" + conn.peer + " reason=" + (cont ? "text_continuation" : "malformed_text"));
            conn.reject(h, Bhs.REJECT_PROTOCOL_ERROR);
            return null;
        }
        Map<String, String> answer = new LinkedHashMap<>();
        new Negotiation(conn.server.config, session.params).answer(offered, answer, false);
        byte[] keys = TextKeys.encode(answer);
        StringBuilder targets = new StringBuilder();
        String sendTargets = offered.get("SendTargets");
        if (sendTargets != null) {
            TargetConfig c = conn.server.config;
            boolean match = sendTargets.equals("All")
                    ? session.params.discovery
                    : sendTargets.isEmpty() ? !session.params.discovery : sendTargets.equals(c.targetName());
            if (sendTargets.equals("All") && !session.params.discovery) {
                match = true; // a normal session sees its own target (RFC 7143 Appendix C)
            }
            if (match) {
                targets.append("TargetName=").append(c.targetName()).append('\0');
                address(targets, conn.portalAddress(), c.portalGroupTag());
                // the others, as many as one PDU carries (no continuation): bytes are ASCII here
                int room = session.params.sendSegmentMax - keys.length;
                List<NetworkPortal> others = conn.server.portals();
                for (int i = 0; others != null && i < others.size(); i++) {
                    NetworkPortal p = others.get(i);
                    int entryBytes =
                            "TargetAddress=,65535".length() + p.address().length() + 1;
                    if (p.portalGroupTag() != c.portalGroupTag() // this portal: as the connection reached it
                            && targets.length() + entryBytes <= room) {
                        address(targets, p.address(), p.portalGroupTag());
                    }
                }
            }
        }
        byte[] tb = targets.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
        ByteBuffer data = ByteBuffer.allocateDirect(Math.max(1, keys.length + tb.length))
                .put(tb)
                .put(keys)
                .flip();
        int length = Math.min(data.limit(), session.params.sendSegmentMax);
        io.sendLock.lock();
        try {
            ByteBuffer r = conn.beginStatus(Bhs.OP_TEXT_RESP, Bhs.FLAG_FINAL, Bhs.itt(h));
            r.putLong(8, Bhs.lunField(h));
            r.putInt(20, Bhs.ITT_NONE);
            io.send(data, 0, length);
        } finally {
            io.sendLock.unlock();
        }
        return null;
    }

    /** One portal of the target (RFC 7143 Appendix C: a target may be reached at several). */
    private static void address(StringBuilder targets, String address, int portalGroupTag) {
        targets.append("TargetAddress=")
                .append(address)
                .append(',')
                .append(portalGroupTag)
                .append('\0');
    }
}
