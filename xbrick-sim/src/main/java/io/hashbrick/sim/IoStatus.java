package io.hashbrick.sim;

/**
 * The outcome of one SSD command. Expected device conditions are values, not exceptions (STYLE.md
 * "Errors"): the layer above (parity, rebuild) decides what a failure means. The names follow the SCSI
 * sense keys a real SAS drive would report (SPC-4 §4.5.6): MEDIUM ERROR for an unreadable sector,
 * NOT READY / a missing device for a pulled drive, HARDWARE ERROR for a dead one.
 */
public enum IoStatus {
    /** Done. For a read: {@code dst} holds the data (which may still be silently wrong: bit flips). */
    OK,
    /** A latent sector error: a cell in the range cannot be read. Rewriting the cell clears it. */
    MEDIUM_ERROR,
    /** The drive has failed (or the host file returned an I/O error); only {@code replace} revives the slot. */
    DEVICE_FAILED,
    /** The slot is empty: the drive was pulled. {@code reinsert} brings the same drive back. */
    NOT_PRESENT
}
