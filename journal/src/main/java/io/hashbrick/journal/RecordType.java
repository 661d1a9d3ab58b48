package io.hashbrick.journal;

/**
 * The record type byte. The journal treats every payload as opaque; only {@link #PADDING} means
 * something to it. Types 2..15 are reserved for the journal itself, 16..255 belong to the data path,
 * so a new record kind is a new constant here and a new decoder in the controller, never a new
 * format version.
 */
public final class RecordType {
    /** Never written: an all-zero header is "nothing here". */
    public static final byte INVALID = 0;
    /** Fills the end of the region when the next record does not fit before the wrap. */
    public static final byte PADDING = 1;
    /** D role: fingerprint + compressed block payload. */
    public static final byte BLOCK_PUT = 16;
    /** D role: references dropped, a batch under one operation id. */
    public static final byte REFCOUNT_DELTA = 17;
    /** C role: (volume, LBA block) -> handle. */
    public static final byte A2H_MAP = 18;
    /** A metadata checkpoint reached the DAE: records before it are no longer needed for replay. */
    public static final byte CHECKPOINT_MARK = 19;
    /** C role: consecutive blocks of a volume -> handles (the replaced ones join the deref outbox). */
    public static final byte A2H_SET = 20;
    /** C role: a run of blocks unmapped. */
    public static final byte A2H_UNMAP = 21;
    /** C role: the deref outbox acknowledged by D up to a position. */
    public static final byte OUTBOX_ACK = 22;

    /** Smallest type a caller may append. */
    public static final int FIRST_USER_TYPE = 16;

    private RecordType() {}

    static boolean isUserType(int type) {
        return (type & 0xFF) >= FIRST_USER_TYPE;
    }
}
