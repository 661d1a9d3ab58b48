package io.hashbrick.routing.placement;

/**
 * A serialized {@link Assignment} that cannot be one: wrong magic, unknown version, wrong length,
 * checksum mismatch, or contents no map can have. An {@link IllegalArgumentException}, because the
 * bytes are the caller's input; named, so a reader of the cluster map's log can tell corruption apart.
 */
public final class CorruptAssignmentException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    public CorruptAssignmentException(String message) {
        super(message);
    }

    public CorruptAssignmentException(String message, Throwable cause) {
        super(message, cause);
    }
}
