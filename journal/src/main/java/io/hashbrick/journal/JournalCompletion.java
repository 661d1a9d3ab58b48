package io.hashbrick.journal;

/**
 * Told on the writer thread when an entry's batch is durable (persisted and mirrored) or has failed.
 * Usually one long-lived instance per caller (a stateless dispatcher, or the entry's owner), so
 * completing allocates nothing. Must be quick: it delays the next batch.
 */
@FunctionalInterface
public interface JournalCompletion {
    /** {@code entry.status()} says how it ended; {@code entry.sequence()} is its sequence number. */
    void onComplete(JournalEntry entry);

    JournalCompletion NONE = entry -> {};
}
