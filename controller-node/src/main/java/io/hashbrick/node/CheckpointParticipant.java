package io.hashbrick.node;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;

/**
 * A role whose state rides in the data role's metadata-area checkpoints: today C's A2H maps and deref
 * outbox beside D's H2P (DESIGN.md "Concurrency and determinism": C and D journal apart). C keeps its
 * own journal and names its own journal position in its own sections; D only carries the sections
 * and commits them with its own in one metadata-area generation, then tells C its journal may be
 * released. It also replays C's records that D's journal holds from before C had a journal of its own
 * (a pool upgraded in place).
 *
 * <p>Lock order: D calls these holding its lock; the participant takes its own lock inside and never
 * calls D while holding it.
 */
public interface CheckpointParticipant {
    /** Where the participant writes one section of a checkpoint. */
    interface Sections {
        WritableByteChannel section(int kind, int id) throws IOException;

        void endSection() throws IOException;

        /** Whether this checkpoint is a base (whole sections) or a delta (what changed since the one before). */
        default boolean base() {
            return true;
        }
    }

    /** Whether section {@code kind} belongs to the participant (it is handed to {@link #load}). */
    boolean owns(int kind);

    /** Loads one of its sections of the newest checkpoint (before any journal replay). */
    void load(int kind, int id, ReadableByteChannel ch) throws IOException;

    /** Loading: the sections of the chain's next checkpoint follow (its base first, then each delta). */
    default void loadingCheckpoint() {}

    /** Loading: the chain's last checkpoint has been handed over (what it has no section for is gone). */
    default void loadedChain() {}

    /** The sections the next {@link #write} writes (at most; for the table of contents). */
    int sections();

    /** Writes its sections as of now, with the journal position they cover. */
    void write(Sections out) throws IOException;

    /**
     * After {@link #write}, outside D's lock: returns once the records the sections cover are mirrored
     * to the brick peer (or need not be); false if that could not be told (no checkpoint then).
     */
    default boolean awaitCaptureMirrored() {
        return true;
    }

    /** The checkpoint holding what {@link #write} wrote is durable: its journal may be released up to it. */
    void committed();

    /** Whether it asks for a checkpoint now (its journal filling up). */
    boolean wantsCheckpoint();

    /** Whether anything changed since its last checkpoint. */
    boolean changedSinceCheckpoint();

    /**
     * Replays one record of the participant's types found in D's journal (written before C had its own
     * journal), in D's journal order. @return false for a type it does not know
     */
    boolean replayForeign(byte type, MemorySegment record, long offset);

    /**
     * Replays the mapping half of a legacy combined map record: block {@code block} of {@code volume}
     * now maps {@code handle} (NONE: unmapped). The replaced handle is returned, not queued: the
     * legacy record's D half drops its reference directly, as the record's writer did.
     * @return the handle replaced, or NONE
     */
    long replayLegacyMapping(int volume, long block, long handle);

    /** Replays a legacy record's unmap of a run: each handle unmapped goes to {@code released}. */
    void replayLegacyUnmap(int volume, long first, long count, java.util.function.LongConsumer released);
}
