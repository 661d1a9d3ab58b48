package io.hashbrick.node.scsi;

/**
 * Sense keys and additional sense codes (SPC-4 §4.5.6, tables 28 and 29) and the writer of sense data
 * into a {@link ScsiTask}: fixed format (0x70, §4.5.3) unless the control mode page's D_SENSE asks for
 * descriptor format (0x72, §4.5.2). Codes are packed as {@code asc << 8 | ascq}.
 */
public final class Sense {
    private Sense() {}

    public static final int NO_SENSE = 0x0,
            NOT_READY = 0x2,
            MEDIUM_ERROR = 0x3,
            HARDWARE_ERROR = 0x4,
            ILLEGAL_REQUEST = 0x5,
            UNIT_ATTENTION = 0x6,
            DATA_PROTECT = 0x7,
            ABORTED_COMMAND = 0xB,
            MISCOMPARE = 0xE;
    static final int WRITE_ERROR = 0x0C00,
            UNRECOVERED_READ_ERROR = 0x1100,
            PARAMETER_LIST_LENGTH_ERROR = 0x1A00,
            MISCOMPARE_DURING_VERIFY = 0x1D00,
            INVALID_COMMAND_OPCODE = 0x2000,
            LBA_OUT_OF_RANGE = 0x2100,
            ASYMMETRIC_ACCESS_STATE_TRANSITION = 0x040A,
            INVALID_FIELD_IN_CDB = 0x2400,
            LU_NOT_SUPPORTED = 0x2500,
            INVALID_FIELD_IN_PARAMETER_LIST = 0x2600,
            WRITE_PROTECTED = 0x2700,
            SPACE_ALLOCATION_FAILED_WRITE_PROTECT = 0x2707,
            POWER_ON_RESET = 0x2900,
            POWER_ON_OCCURRED = 0x2901,
            SCSI_BUS_RESET_OCCURRED = 0x2902,
            BUS_DEVICE_RESET_OCCURRED = 0x2903,
            I_T_NEXUS_LOSS_OCCURRED = 0x2907,
            MODE_PARAMETERS_CHANGED = 0x2A01,
            RESERVATIONS_PREEMPTED = 0x2A03,
            RESERVATIONS_RELEASED = 0x2A04,
            REGISTRATIONS_PREEMPTED = 0x2A05,
            CAPACITY_DATA_CHANGED = 0x2A09,
            COMMANDS_CLEARED_BY_ANOTHER = 0x2F00,
            SAVING_PARAMETERS_NOT_SUPPORTED = 0x3900,
            MEDIUM_NOT_PRESENT = 0x3A00,
            REPORTED_LUNS_CHANGED = 0x3F0E,
            INVALID_FIELD_IN_COMMAND_IU = 0x0E03,
            MEDIUM_REMOVAL_PREVENTED = 0x5302,
            INSUFFICIENT_REGISTRATION_RESOURCES = 0x5504;

    /** iSCSI's own codes for a command its transport had to end (RFC 7143 §11.4.7.2), sense key ABORTED COMMAND. */
    public static final int UNEXPECTED_UNSOLICITED_DATA = 0x0C0C,
            DATA_PHASE_ERROR = 0x4B00,
            INVALID_TARGET_TRANSFER_TAG = 0x4B01,
            TOO_MUCH_WRITE_DATA = 0x4B02,
            DATA_OFFSET_ERROR = 0x4B05,
            PROTOCOL_SERVICE_CRC_ERROR = 0x4705;

    static final int FIXED_LENGTH = 18;

    /** CHECK CONDITION with key/code; no information or sense-key-specific field. */
    public static void check(ScsiTask t, boolean descriptor, int key, int code) {
        write(t, descriptor, key, code, false, 0, 0);
    }

    /** CHECK CONDITION with the INFORMATION field (e.g. the first LBA that miscompared, SBC-4 §5.20). */
    static void checkInfo(ScsiTask t, boolean descriptor, int key, int code, long information) {
        write(t, descriptor, key, code, true, information, 0);
    }

    /**
     * ILLEGAL REQUEST / INVALID FIELD IN CDB (or PARAMETER LIST) with the field pointer (SPC-4 §4.5.2.4.2):
     * {@code inCdb} sets C/D.
     */
    static void invalidField(ScsiTask t, boolean descriptor, boolean inCdb, int byteOffset) {
        int sks = 0x80_0000 | (inCdb ? 0x40_0000 : 0) | (byteOffset & 0xffff);
        write(
                t,
                descriptor,
                ILLEGAL_REQUEST,
                inCdb ? INVALID_FIELD_IN_CDB : INVALID_FIELD_IN_PARAMETER_LIST,
                false,
                0,
                sks);
    }

    private static void write(
            ScsiTask t, boolean descriptor, int key, int code, boolean infoValid, long info, int sks) {
        byte[] s = t.sense;
        t.status = ScsiTask.CHECK_CONDITION;
        if (descriptor) {
            java.util.Arrays.fill(s, 0, 8 + 12 + 8, (byte) 0);
            s[0] = 0x72;
            s[1] = (byte) key;
            s[2] = (byte) (code >>> 8);
            s[3] = (byte) code;
            int n = 8;
            if (infoValid) { // information descriptor, SPC-4 §4.5.2.2
                s[n] = 0x00;
                s[n + 1] = 0x0A;
                s[n + 2] = (byte) 0x80;
                Cdb.put64(s, n + 4, info);
                n += 12;
            }
            if (sks != 0) { // sense key specific descriptor, §4.5.2.4
                s[n] = 0x02;
                s[n + 1] = 0x06;
                s[n + 4] = (byte) (sks >>> 16);
                Cdb.put16(s, n + 5, sks);
                n += 8;
            }
            s[7] = (byte) (n - 8);
            t.senseLength = n;
        } else {
            java.util.Arrays.fill(s, 0, FIXED_LENGTH, (byte) 0);
            s[0] = (byte) (infoValid ? 0xF0 : 0x70);
            s[2] = (byte) key;
            if (infoValid) {
                Cdb.put32(s, 3, info); // fixed format holds 4 bytes; SBC-4 allows descriptor format for more
            }
            s[7] = 10;
            s[12] = (byte) (code >>> 8);
            s[13] = (byte) code;
            s[15] = (byte) (sks >>> 16);
            Cdb.put16(s, 16, sks);
            t.senseLength = FIXED_LENGTH;
        }
    }
}
