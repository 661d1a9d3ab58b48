package io.hashbrick.journal;

/**
 * The seam for mirroring each batch to the brick peer's journal (DESIGN.md: "acknowledged once it sits
 * in two controllers' journals"). The writer calls {@link #replicate} once per batch, after the local
 * persist and before any entry of the batch completes; the cluster issue implements it over routing's
 * transport (gRPC stream, or one-sided RDMA writes of the same byte ranges into the peer's region).
 *
 * <p>Today the call is synchronous, so the local persist and the mirror round trip add up. A later,
 * pipelined version may start the mirror write before the local persist and complete entries from
 * the peer's acknowledgement; the contract (no completion before both) stays.
 */
@FunctionalInterface
public interface JournalMirror {
    /** True once the peer holds the batch durably; false makes the batch's entries {@code MIRROR_FAILED}. */
    boolean replicate(JournalBatch batch);

    /** No peer (a single controller, the tests): every batch counts as mirrored. */
    JournalMirror NONE = batch -> true;
}
