package io.hashbrick.node.block;

/**
 * Outcome of a block-device operation. Expected failures are values, not exceptions (STYLE.md): the
 * SCSI layer maps each to the sense data SBC-4 names.
 */
public enum IoStatus {
    OK,
    /** Thin pool exhausted: DATA PROTECT / SPACE ALLOCATION FAILED WRITE PROTECT (27/07), SBC-4 §4.7.3.7. */
    NO_SPACE,
    /**
     * The pool went read-only after a failure it could not recover from (destage): writes answer DATA
     * PROTECT / WRITE PROTECTED (27/00), reads are served. See {@code scsi.BlockIo#done}.
     */
    READ_ONLY,
    /** The medium could not be read or written: MEDIUM ERROR (11/00 read, 0C/00 write). */
    MEDIUM_ERROR,
    /**
     * A cluster's data this command needs is on a controller that cannot be reached and whose share was
     * not failed over in time: NOT READY / LOGICAL UNIT NOT ACCESSIBLE, ASYMMETRIC ACCESS STATE
     * TRANSITION (02/04/0A, SPC-4 §5.15.2.3), which initiators and multipath retry. Nothing is lost: a
     * write so answered was not acknowledged.
     */
    UNAVAILABLE,
    /**
     * {@link BlockDevice#readIfInMemory} only: the read would have waited (an SSD, a remote role, a
     * lock held across I/O); nothing was read. Never reaches the initiator.
     */
    WOULD_BLOCK
}
