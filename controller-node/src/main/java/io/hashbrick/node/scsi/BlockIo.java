package io.hashbrick.node.scsi;

import io.hashbrick.node.block.IoStatus;

/** Shared checks and error mapping of the SBC-4 block commands. */
final class BlockIo {
    private BlockIo() {}

    static final int WRITE_PROTECTED_BY_SOFTWARE = 0x2702;

    /** SBC-4 §4.5: LBA + length past the capacity is LOGICAL BLOCK ADDRESS OUT OF RANGE (unsigned LBA). */
    static boolean inRange(ScsiTask t, LogicalUnit lu, long lba, long blocks) {
        long count = lu.device().blockCount();
        if (lba < 0 || blocks < 0 || lba > count || blocks > count - lba) {
            Sense.check(t, lu.descriptorSense(), Sense.ILLEGAL_REQUEST, Sense.LBA_OUT_OF_RANGE);
            return false;
        }
        return true;
    }

    /** SBC-4 §4.4.4 / Block Limits VPD: a transfer longer than MAXIMUM TRANSFER LENGTH is INVALID FIELD IN CDB. */
    static boolean lengthOk(ScsiTask t, LogicalUnit lu, long blocks, int maxBytes, int lengthFieldOffset) {
        if (blocks > maxBytes / lu.device().blockSize()) {
            Sense.invalidField(t, lu.descriptorSense(), true, lengthFieldOffset);
            return false;
        }
        return true;
    }

    /** No protection information is supported (SBC-4 §4.22): any non-zero xxPROTECT field is invalid. */
    static boolean noProtect(ScsiTask t, LogicalUnit lu) {
        if ((t.cdb[1] & 0xE0) != 0) {
            Sense.invalidField(t, lu.descriptorSense(), true, 1);
            return false;
        }
        return true;
    }

    static boolean writable(ScsiTask t, LogicalUnit lu) {
        if (lu.modePages.softwareWriteProtect) { // control mode page SWP, SPC-4 §7.5.8
            Sense.check(t, lu.descriptorSense(), Sense.DATA_PROTECT, WRITE_PROTECTED_BY_SOFTWARE);
            return false;
        }
        return true;
    }

    /** @return true if OK, else sets the sense SBC-4 names for the failure */
    static boolean done(ScsiTask t, LogicalUnit lu, IoStatus s, boolean write) {
        switch (s) {
            case OK -> {
                return true;
            }
            case NO_SPACE ->
                Sense.check(
                        t,
                        lu.descriptorSense(),
                        Sense.DATA_PROTECT,
                        Sense.SPACE_ALLOCATION_FAILED_WRITE_PROTECT); // SBC-4 §4.7.3.7
            // A pool gone read-only is write protection the array imposed: SBC-4's write protection
            // model answers a write to a write-protected logical unit with DATA PROTECT / WRITE
            // PROTECTED (27/00), and SPC-4 defines DATA PROTECT as "a write was attempted on a
            // protected block". Not HARDWARE ERROR (04/xx): that invites the initiator and multipath
            // to retry and fail over against a state no retry changes, and reads still succeed.
            case READ_ONLY -> Sense.check(t, lu.descriptorSense(), Sense.DATA_PROTECT, Sense.WRITE_PROTECTED);
            case UNAVAILABLE ->
                Sense.check(t, lu.descriptorSense(), Sense.NOT_READY, Sense.ASYMMETRIC_ACCESS_STATE_TRANSITION);
            default ->
                Sense.check(
                        t,
                        lu.descriptorSense(),
                        Sense.MEDIUM_ERROR,
                        write ? Sense.WRITE_ERROR : Sense.UNRECOVERED_READ_ERROR);
        }
        return false;
    }
}
