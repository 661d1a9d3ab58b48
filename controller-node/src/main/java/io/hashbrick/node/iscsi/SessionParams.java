package io.hashbrick.node.iscsi;

/**
 * The operational parameters of one session and connection as negotiated at login (RFC 7143 §13),
 * starting from the standard's defaults. Written only by the login (or a text negotiation) on the
 * connection's own thread; read by the same thread afterwards.
 */
final class SessionParams {
    boolean discovery;
    String initiatorName;
    String initiatorAlias = "";
    String targetName;
    boolean headerDigest;
    boolean dataDigest;
    int maxConnections = 1;
    boolean initialR2T = true;
    boolean immediateData = true;
    /** The initiator's MaxRecvDataSegmentLength: the largest data segment we may send it. */
    int sendSegmentMax = 8192;

    int maxBurstLength = 262_144;
    int firstBurstLength = 65_536;
    int defaultTime2Wait = 2;
    int defaultTime2Retain = 20;
    int maxOutstandingR2T = 1;
    boolean dataPduInOrder = true;
    boolean dataSequenceInOrder = true;
    int errorRecoveryLevel;

    @Override
    public String toString() {
        return "header_digest=" + (headerDigest ? "CRC32C" : "None") + " data_digest="
                + (dataDigest ? "CRC32C" : "None")
                + " initial_r2t=" + initialR2T + " immediate_data=" + immediateData + " max_send_segment="
                + sendSegmentMax
                + " max_burst=" + maxBurstLength + " first_burst=" + firstBurstLength
                + " max_outstanding_r2t=" + maxOutstandingR2T;
    }
}
