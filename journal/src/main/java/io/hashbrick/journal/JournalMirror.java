package io.hashbrick.journal;

import java.lang.foreign.MemorySegment;

/**
 * The seam for mirroring each batch to the brick peer's journal (DESIGN.md: "acknowledged once it sits
 * in two controllers' journals"). The writer calls {@link #replicate} once per batch, after the local
 * persist and before any entry of the batch completes, and {@link #headerWritten} after each update of
 * the region header; neither may block on the network (the writer may run under its owner's lock).
 * The owner of an entry that completed DURABLE waits for the peer with {@link #awaitMirrored} before it
 * tells anyone the record is safe (the role call's answer, a checkpoint that covers it).
 */
public interface JournalMirror {
    /**
     * Takes the batch for the peer (copies its bytes; the view is reused after the call). False makes the
     * batch's entries {@code MIRROR_FAILED}.
     */
    boolean replicate(JournalBatch batch);

    /** The region header (bytes {@code [0, JournalBatch.HEADER_BYTES)}) was rewritten and persisted. */
    default void headerWritten(MemorySegment region) {}

    /**
     * Returns once the peer holds every record up to {@code sequence}, or once the mirror no longer
     * counts (no peer running: the record is safe in this journal alone); false if it could not be told
     * within the mirror's own budget (the record is durable here; the caller reports an error).
     */
    default boolean awaitMirrored(long sequence) {
        return true;
    }

    /** No peer (a single controller, the tests): every batch counts as mirrored. */
    JournalMirror NONE = batch -> true;
}
