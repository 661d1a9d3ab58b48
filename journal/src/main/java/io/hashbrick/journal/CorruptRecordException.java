package io.hashbrick.journal;

/**
 * The journal region holds something that cannot be the journal: both region-header copies fail
 * their magic, version or CRC32C check, or the header contradicts the region it sits in. Replay of
 * individual records never throws this: a bad record ends replay (see {@link ReplayResult}).
 */
public final class CorruptRecordException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public CorruptRecordException(String message) {
        super(message);
    }
}
