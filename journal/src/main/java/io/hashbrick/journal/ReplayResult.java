package io.hashbrick.journal;

/**
 * What replay found: how many records, from which sequence, and where and why it stopped. The stop
 * position is where the journal appends next.
 *
 * @param records user records replayed (padding excluded)
 * @param firstSequence sequence expected at the start (from the region header)
 * @param nextSequence sequence the next append gets: one past the last replayed record
 * @param startPosition logical position replay started from (the oldest unreleased record)
 * @param stopPosition logical position of the first record that failed validation
 * @param stopOffset physical region offset of {@code stopPosition}
 * @param liveRecordBytes region bytes held by the replayed records (padding excluded)
 * @param reason why replay stopped
 */
public record ReplayResult(
        long records,
        long firstSequence,
        long nextSequence,
        long startPosition,
        long stopPosition,
        long stopOffset,
        long liveRecordBytes,
        Stop reason) {

    /** Why replay stopped. Every reason ends replay: nothing after the stop is trusted or skipped to. */
    public enum Stop {
        /** An all-zero magic: the normal end of a log written into a formatted region. */
        END_OF_LOG,
        /** Not a record header: stale bytes, or a torn header. */
        BAD_MAGIC,
        /** A format version this code does not read. */
        BAD_VERSION,
        /** Type 0, or a type the journal reserves and does not know. */
        BAD_TYPE,
        /** Length beyond the format's limit or past the end of the region, or a padding record that does not end at it. */
        BAD_LENGTH,
        /** CRC32C mismatch: a torn write, or corruption of the memory. */
        BAD_CRC,
        /** Not the next sequence: an older lap's record, or a gap. */
        BAD_SEQUENCE,
        /** An older incarnation than the record before it: left over from before a crash. */
        STALE_INCARNATION,
        /** A whole lap of the data area was read: cannot happen in a well-formed log. */
        FULL_LAP
    }

    @Override
    public String toString() {
        return "records=" + records + " firstSequence=" + firstSequence + " nextSequence=" + nextSequence
                + " startPosition=" + startPosition + " stopPosition=" + stopPosition + " stopOffset=" + stopOffset
                + " liveRecordBytes=" + liveRecordBytes + " reason=" + reason;
    }
}
