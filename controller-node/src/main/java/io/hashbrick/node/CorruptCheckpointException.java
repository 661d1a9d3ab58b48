package io.hashbrick.node;

import java.io.IOException;

/**
 * A metadata checkpoint (H2P, A2H, the cluster state's snapshot) failed a check: magic, version, a
 * length, a range, a CRC32C, or it ended early. The message carries the offending values as key=value pairs; no table is returned,
 * not even part of one.
 */
public final class CorruptCheckpointException extends IOException {
    private static final long serialVersionUID = 1L;

    public CorruptCheckpointException(String message) {
        super(message);
    }
}
