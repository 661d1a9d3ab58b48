package io.hashbrick.sim;

import java.io.IOException;

/**
 * An on-disk or NVRAM header failed its magic, version, CRC32C or size check (DESIGN.md "Metadata":
 * every on-disk structure starts with a magic, a format version and a CRC32C). The message carries
 * {@code key=value} context: the file, what was expected and what was found.
 */
public final class CorruptHeaderException extends IOException {
    private static final long serialVersionUID = 1L;

    public CorruptHeaderException(String message) {
        super(message);
    }
}
