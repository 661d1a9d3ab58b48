package io.hashbrick.node.iscsi;

import io.hashbrick.node.scsi.ItNexus;

/**
 * One iSCSI session (RFC 7143 §4.4): identified by the initiator name and ISID, numbered by the
 * target's TSIH. Sessions here have one connection (MaxConnections=1), so the CmdSN state lives on
 * that connection's thread; the session outlives a connection only until the connection's cleanup.
 */
final class Session {
    final String initiatorName;
    final long isid;
    final int tsih;
    final SessionParams params;
    final ItNexus nexus;
    volatile Connection connection;
    /** The nexus's state was released (logout, or the connection's end): once. */
    final java.util.concurrent.atomic.AtomicBoolean nexusReleased = new java.util.concurrent.atomic.AtomicBoolean();

    Session(String initiatorName, long isid, int tsih, SessionParams params, ItNexus nexus) {
        this.initiatorName = initiatorName;
        this.isid = isid;
        this.tsih = tsih;
        this.params = params;
        this.nexus = nexus;
    }

    /** The key that finds a session to reinstate: same initiator, same ISID (RFC 7143 §6.3.5). */
    static String key(String initiatorName, long isid) {
        return initiatorName + ",i,0x" + String.format("%012x", isid);
    }

    String key() {
        return key(initiatorName, isid);
    }

    @Override
    public String toString() {
        return "initiator=" + initiatorName + " isid=0x" + String.format("%012x", isid) + " tsih=" + tsih + " type="
                + (params.discovery ? "discovery" : "normal");
    }
}
