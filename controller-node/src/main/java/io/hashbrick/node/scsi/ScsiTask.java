package io.hashbrick.node.scsi;

import java.nio.ByteBuffer;

/**
 * One SCSI command as a transport (iSCSI today, iSER later) hands it to the device server, and the
 * device server's answer. Instances are pooled and reused by the transport: nothing here is allocated
 * per command.
 *
 * <p>Contract (transport side):
 * <ol>
 *   <li>fills {@link #cdb}, {@link #lun}, {@link #nexus}, {@link #expectedLength}, the direction
 *       flags and {@link #taskAttribute};
 *   <li>asks {@link ScsiTarget#dataOutLength} how many Data-Out bytes the command consumes, and
 *       gathers at most {@code min(expectedLength, that)} bytes into {@link #dataOut} (position 0,
 *       limit = bytes received);
 *   <li>calls {@link ScsiTarget#execute} with {@link #dataIn} cleared (position 0, limit =
 *       capacity);
 *   <li>sends {@code dataIn.flip()}'s bytes (truncated to {@code expectedLength}, with the residual
 *       counts RFC 7143 §11.4.5 names), then {@link #status} and the sense data.
 * </ol>
 */
public final class ScsiTask {
    /** SAM-5 status codes. */
    public static final int GOOD = 0x00,
            CHECK_CONDITION = 0x02,
            CONDITION_MET = 0x04,
            BUSY = 0x08,
            RESERVATION_CONFLICT = 0x18,
            TASK_SET_FULL = 0x28,
            ACA_ACTIVE = 0x30,
            TASK_ABORTED = 0x40;

    /** SAM task attributes (the values of the iSCSI ATTR field, RFC 7143 §11.3.1). */
    public static final int ATTR_UNTAGGED = 0, ATTR_SIMPLE = 1, ATTR_ORDERED = 2, ATTR_HEAD_OF_QUEUE = 3, ATTR_ACA = 4;

    public static final int CDB_MAX = 16;
    public static final int SENSE_MAX = 252;

    // ---- set by the transport
    public final byte[] cdb = new byte[CDB_MAX];
    public int cdbLength;
    /** Logical unit number, decoded from the SAM LUN structure (flat or peripheral addressing). */
    public int lun;

    public ItNexus nexus;
    /** Expected data transfer length of the command, from the transport (iSCSI EDTL). */
    public int expectedLength;

    public boolean readFlag;
    public boolean writeFlag;
    public int taskAttribute;
    /** The task tag the initiator gave (iSCSI ITT), for logs. */
    public int tag;
    /** Data-Out received: position 0, limit = bytes received. May hold fewer bytes than the CDB asks for. */
    public ByteBuffer dataOut;
    /** Data-In to send: the device server writes from position 0; its position afterwards is the length produced. */
    public ByteBuffer dataIn;
    /**
     * The transport runs this execution on a thread that must not wait (its connection's receiving
     * thread): a read whose blocks are all in memory completes as usual; any other command, or a read
     * that would wait for an SSD, a remote role or a lock held across I/O, returns with {@link
     * #wouldBlock} set, having changed nothing, and the transport executes it again without the flag
     * on a thread that may wait (see {@link ScsiTarget#execute}).
     */
    public boolean memoryOnly;

    // ---- set by the device server
    public int status;
    public final byte[] sense = new byte[SENSE_MAX];
    public int senseLength;
    /**
     * The command's SCSI transfer length in bytes, for residuals (RFC 7143 §11.4.5.1, SAM-5 §5.4.3):
     * Data-In bytes produced (after allocation-length truncation), or the Data-Out bytes the CDB asked
     * for ({@link ScsiTarget#dataOutLength}). The transport reports {@code expectedLength - transferLength}
     * as underflow when positive and as overflow when negative.
     */
    public int transferLength;
    /** With {@link #memoryOnly}: the command did not run (it would have waited); status and data unset. */
    public boolean wouldBlock;

    /** Resets the device server's answer before a new execution. */
    public void resetResult() {
        status = GOOD;
        senseLength = 0;
        transferLength = 0;
        wouldBlock = false;
    }

    /** Operation code, for logs. */
    public int opcode() {
        return cdb[0] & 0xff;
    }
}
