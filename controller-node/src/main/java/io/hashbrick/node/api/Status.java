package io.hashbrick.node.api;

/**
 * The outcome of a role call, or of one block of a batched call: the Java side of roles.proto's
 * {@code Status} (same names, same meanings; the remote bindings translate one to the other).
 */
public enum Status {
    OK,
    /** The request's epoch is older than the receiver's map: refresh the map and retry. */
    STALE_EPOCH,
    /** The receiver does not own this bucket or region at this epoch: retry against the owner. */
    NOT_OWNER,
    /** The handle's slot was freed (and maybe reused) since the handle was issued. */
    STALE_HANDLE,
    /** No room for new blocks (SCSI: DATA PROTECT, SPACE ALLOCATION FAILED WRITE PROTECT). */
    POOL_FULL,
    /** A Put entry without data named a fingerprint the owner no longer holds: send the data. */
    NEED_DATA,
    UNKNOWN_VOLUME,
    /** Block numbers outside the volume. */
    OUT_OF_RANGE,
    /** Stored data could not be read or verified, or durability failed. */
    MEDIUM_ERROR,
    /** The receiver's journal is full for now: retry after a back-off. */
    BACK_PRESSURE,
    /** The pool refuses writes after an unrecoverable background failure; reads go on. */
    READ_ONLY,
    /** A conditional Map found another handle than the one expected (a read-modify-write lost a race). */
    MAP_CONFLICT,
    /**
     * A call that asked not to wait ({@link FetchCall#noWait}, {@link ResolveCall#noWait}) would have
     * had to: a block not in D's memory (read cache, journal copy), or a binding that goes over the
     * network. Nothing was done: call again without the flag, on a thread that may wait.
     */
    WOULD_BLOCK
}
