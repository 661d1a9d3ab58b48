package io.hashbrick.sim;

/** The faults a {@link FaultInjector} can put into a shelf. */
public enum FaultKind {
    /** The drive dies: every command returns {@link IoStatus#DEVICE_FAILED}. */
    FAIL,
    /** The drive leaves its slot: {@link IoStatus#NOT_PRESENT} until reinserted. */
    PULL,
    /** A latent sector error: reads touching the cell return {@link IoStatus#MEDIUM_ERROR} until it is rewritten. */
    LATENT_ERROR,
    /** One bit of a cell flips on the medium; reads return OK with wrong bytes. Only fingerprints notice. */
    BIT_FLIP,
    /** The next write persists a prefix of its sectors, then the drive fails (power cut mid-command). */
    TORN_WRITE_FAIL,
    /** The next write persists a prefix of its sectors and reports OK (lying firmware, a lost write). */
    TORN_WRITE_SILENT,
    /** Every command on the drive takes extra latency, spent through the injected {@link Sleeper}. */
    SLOW
}
