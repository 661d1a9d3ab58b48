package io.hashbrick.node.iscsi;

import io.hashbrick.node.scsi.ScsiTask;
import java.nio.ByteBuffer;

/**
 * A SCSI command while it is on the connection: the SCSI task plus the iSCSI state of its Data-Out
 * transfer (RFC 7143 §4.2.2.3 unsolicited data, §11.8 R2T). Pooled per connection.
 */
final class IscsiTask {
    final ScsiTask scsi = new ScsiTask();
    /** Grows to the largest transfer seen on this connection, at most the target's max transfer. */
    ByteBuffer buffer = ByteBuffer.allocateDirect(0);

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
    boolean active;
    /** Reset generations when the command arrived (see IscsiServer). */
    int lunResetGeneration;

    int targetResetGeneration;

    void ensureCapacity(int bytes) {
        if (buffer.capacity() < bytes) {
            buffer = ByteBuffer.allocateDirect(Math.max(4096, Integer.highestOneBit(bytes - 1) << 1));
        }
    }

    void reset() {
        active = false;
        r2tOutstanding = false;
        unsolicitedPending = false;
        nextOffset = 0;
        scsi.nexus = null;
    }
}
