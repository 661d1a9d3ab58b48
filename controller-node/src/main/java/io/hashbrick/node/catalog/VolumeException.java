package io.hashbrick.node.catalog;

/** A volume request that cannot be carried out, with what kind of problem it is (for the API's status). */
public final class VolumeException extends Exception {
    private static final long serialVersionUID = 1L;

    /** Why a request failed. */
    public enum Kind {
        INVALID,
        NOT_FOUND,
        CONFLICT,
        /** Cluster mode: the catalog's Raft group gave no answer (no leader, no quorum) in time. */
        UNAVAILABLE
    }

    private final Kind kind;

    public VolumeException(Kind kind, String message) {
        super(message);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }
}
