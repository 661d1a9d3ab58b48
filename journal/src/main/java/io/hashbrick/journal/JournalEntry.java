package io.hashbrick.journal;

import java.lang.foreign.MemorySegment;

/**
 * One append, owned and reused by its caller (pooled with the I/O it belongs to), so appending
 * allocates nothing. Life cycle: {@link #set} -> {@link Journal#append} -> the writer copies the
 * payload, persists, mirrors -> {@link JournalCompletion#onComplete} -> reusable. The payload must stay
 * unchanged until completion; the caller may instead poll {@link #status()} or compare
 * {@link Journal#durableSequence()} with {@link #sequence()}.
 */
public final class JournalEntry {
    /** Not in the journal: free to {@link #set}. */
    public static final int IDLE = 0;
    /** Appended, not yet durable. */
    public static final int QUEUED = 1;
    /** Persisted in the region and accepted by the mirror: the caller may acknowledge. */
    public static final int DURABLE = 2;
    /** Persisted locally, but the mirror refused it: must not be acknowledged as mirrored. */
    public static final int MIRROR_FAILED = 3;
    /** The journal closed before the entry's batch was written. */
    public static final int CLOSED = 4;

    byte type;
    long epoch;
    MemorySegment payload;
    JournalCompletion completion = JournalCompletion.NONE;
    long enqueuedNs;
    long sequence;
    long position;
    private volatile int status = IDLE;

    /** Fills the entry for the next append. Returns this, for chaining. */
    public JournalEntry set(byte type, long epoch, MemorySegment payload, JournalCompletion completion) {
        Checks.argument(status != QUEUED, "entry reused before completion", "sequence", sequence);
        Checks.argument(
                RecordType.isUserType(type),
                "record type reserved for the journal",
                "type",
                type & 0xFF,
                "firstUserType",
                RecordType.FIRST_USER_TYPE);
        this.type = type;
        this.epoch = epoch;
        this.payload = payload;
        this.completion = completion;
        this.status = IDLE;
        return this;
    }

    public int status() {
        return status;
    }

    /** Sequence number assigned by {@link Journal#append}. */
    public long sequence() {
        return sequence;
    }

    /** Logical region position of the record, valid once durable (to serve reads from the journal). */
    public long position() {
        return position;
    }

    public byte type() {
        return type;
    }

    public long epoch() {
        return epoch;
    }

    void status(int s) {
        status = s;
    }
}
