package io.hashbrick.node.data;

import java.io.IOException;

/**
 * An H2P checkpoint failed a check (magic, version, a length, a range, a CRC32C, or it ended early).
 * The message carries the offending values as key=value pairs; no table is returned, not even part of one.
 */
public final class CorruptCheckpointException extends IOException {
    private static final long serialVersionUID = 1L;

    public CorruptCheckpointException(String message) {
        super(message);
    }
}
