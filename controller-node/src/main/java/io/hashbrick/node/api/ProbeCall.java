package io.hashbrick.node.api;

import java.lang.foreign.MemorySegment;

/** D: which of these fingerprints do you hold? A hint for what to compress and send with the Put. */
public final class ProbeCall extends RoleCall {
    /** {@code count} fingerprints of 32 bytes, back to back (a view the caller owns). */
    public MemorySegment fingerprints;

    public int count;
    /** Reply: whether fingerprint i is held now. */
    public final boolean[] known;

    public ProbeCall(int maxBlocks) {
        known = new boolean[maxBlocks];
    }
}
