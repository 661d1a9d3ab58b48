package io.hashbrick.node.iscsi;

import java.nio.ByteBuffer;

/**
 * The iSCSI Basic Header Segment (RFC 7143 §11.2.1): offsets, opcodes and accessors over a
 * big-endian {@link ByteBuffer} holding one 48-byte header at index 0. Static accessors, so the
 * same buffer serves every PDU without allocation.
 *
 * <pre>
 *  byte  0       1       2       3
 *   0 |.|I| Opcode |F|  Opcode-specific fields  |
 *   4 |TotalAHSLength| DataSegmentLength        |
 *   8 | LUN or Opcode-specific fields           |
 *  16 | Initiator Task Tag                      |
 *  20 | Opcode-specific fields (28 bytes)       |
 *  48 </pre>
 */
final class Bhs {
    static final int LENGTH = 48;
    static final int DIGEST_LENGTH = 4;
    static final int ITT_NONE = 0xffffffff;

    // Initiator opcodes (RFC 7143 §11.1.1)
    static final int OP_NOP_OUT = 0x00,
            OP_SCSI_CMD = 0x01,
            OP_TMF_REQ = 0x02,
            OP_LOGIN_REQ = 0x03,
            OP_TEXT_REQ = 0x04,
            OP_DATA_OUT = 0x05,
            OP_LOGOUT_REQ = 0x06,
            OP_SNACK = 0x10;
    // Target opcodes (RFC 7143 §11.1.2)
    static final int OP_NOP_IN = 0x20,
            OP_SCSI_RESP = 0x21,
            OP_TMF_RESP = 0x22,
            OP_LOGIN_RESP = 0x23,
            OP_TEXT_RESP = 0x24,
            OP_DATA_IN = 0x25,
            OP_LOGOUT_RESP = 0x26,
            OP_R2T = 0x31,
            OP_ASYNC = 0x32,
            OP_REJECT = 0x3f;

    static final int FLAG_FINAL = 0x80;
    static final int FLAG_IMMEDIATE = 0x40;

    // Reject reasons (RFC 7143 §11.17.1)
    static final int REJECT_DATA_DIGEST = 0x02,
            REJECT_SNACK = 0x03,
            REJECT_PROTOCOL_ERROR = 0x04,
            REJECT_CMD_NOT_SUPPORTED = 0x05,
            REJECT_IMMEDIATE_CMD = 0x06,
            REJECT_TASK_IN_PROGRESS = 0x07,
            REJECT_INVALID_DATA_ACK = 0x08,
            REJECT_INVALID_PDU_FIELD = 0x09,
            REJECT_LONG_OP = 0x0a,
            REJECT_WAITING_FOR_LOGOUT = 0x0c;

    private Bhs() {}

    static int opcode(ByteBuffer b) {
        return b.get(0) & 0x3f;
    }

    static boolean immediate(ByteBuffer b) {
        return (b.get(0) & FLAG_IMMEDIATE) != 0;
    }

    static int flags(ByteBuffer b) {
        return b.get(1) & 0xff;
    }

    static boolean finalBit(ByteBuffer b) {
        return (b.get(1) & FLAG_FINAL) != 0;
    }

    static int totalAhsLength(ByteBuffer b) {
        return (b.get(4) & 0xff) * 4;
    }

    static int dataSegmentLength(ByteBuffer b) {
        return ((b.get(5) & 0xff) << 16) | ((b.get(6) & 0xff) << 8) | (b.get(7) & 0xff);
    }

    static void dataSegmentLength(ByteBuffer b, int length) {
        b.put(5, (byte) (length >>> 16));
        b.put(6, (byte) (length >>> 8));
        b.put(7, (byte) length);
    }

    static long lunField(ByteBuffer b) {
        return b.getLong(8);
    }

    static int itt(ByteBuffer b) {
        return b.getInt(16);
    }

    /** Clears a header to be built (all 48 bytes zero). */
    static void clear(ByteBuffer b) {
        for (int i = 0; i < LENGTH; i += 8) {
            b.putLong(i, 0L);
        }
    }

    /** Pads a length to the 4-byte boundary every iSCSI segment ends on (RFC 7143 §11.2.3). */
    static int padded(int length) {
        return (length + 3) & ~3;
    }

    /**
     * Decodes the SAM-5 LUN structure (§4.7.3) for the two addressing methods initiators use:
     * peripheral (00b, 8-bit LUN) and flat space (01b, 14-bit LUN). Returns -1 for anything else.
     */
    static int decodeLun(long lunField) {
        int first = (int) (lunField >>> 48) & 0xffff;
        if ((lunField & 0x0000_ffff_ffff_ffffL) != 0) {
            return -1;
        }
        int method = first >>> 14;
        if (method == 0) {
            return (first >>> 8) == 0 ? first & 0xff : -1;
        }
        return method == 1 ? first & 0x3fff : -1;
    }

    /** Encodes a LUN the way it was decoded: peripheral below 256, flat space above. */
    static long encodeLun(int lun) {
        long first = lun < 256 ? lun : (0x4000 | lun);
        return first << 48;
    }

    /** Serial number arithmetic (RFC 1982, RFC 7143 §4.2.2.1): is a &lt; b for 32-bit sequence numbers? */
    static boolean snLess(int a, int b) {
        return a != b && (b - a) > 0;
    }
}
