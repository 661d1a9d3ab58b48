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
    WOULD_BLOCK,
    /**
     * Set by a remote binding's client only: the owner could not be reached (no connection), so the call
     * was not sent and nothing was done: it may go again, at the newest map (a failover moves the share).
     */
    UNREACHABLE,
    /**
     * Set by a remote binding's client only: the call was sent, but its connection ended or its deadline
     * passed before the reply. It may or may not have been applied: the router sends again only what is
     * safe to repeat (reads, probes, puts: a second put can only leak a reference, positioned derefs);
     * R redoes a write whose map went unanswered (see {@code front.WritePipeline}). The connection was
     * ended by the owner's side (its process died, or it closed it).
     */
    NO_REPLY,
    /**
     * As {@link #NO_REPLY}, but this side gave up: the call's deadline passed, or the connection was
     * closed here (another call's deadline, a stalled send, a new address). The owner may be alive with
     * the call still queued: repeatable calls go again, a write is not redone (its map could still land).
     */
    TIMED_OUT
}
