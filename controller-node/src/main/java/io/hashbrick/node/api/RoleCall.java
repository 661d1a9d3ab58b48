package io.hashbrick.node.api;

/**
 * What every role call carries (roles.proto's {@code RequestHeader}) and every reply answers. Calls
 * are mutable and reused: the caller owns one per in-flight request, fills the request fields, and
 * reads the reply fields once its {@link Completion} runs; nothing is allocated per I/O.
 */
public abstract class RoleCall {
    /** Version of the cluster map the caller routed by (0 on a single node). */
    public long epoch;
    /** Unique per sender and increasing; a retry carries the same id. */
    public long operationId;
    /** The sending controller (0 on a single node). */
    public int sender;
    /** The outcome, set by the callee before it completes the call. */
    public Status status = Status.OK;
    /**
     * When a router first sent this call ({@code System.nanoTime()}): its retries share one time budget.
     * Not on the wire.
     */
    public long routedSinceNs;
    /**
     * Set by a remote binding's server when the call arrives ({@code System.nanoTime()}; 0: no limit):
     * a call that could not be applied by then (its journal back-pressured) is refused BACK_PRESSURE,
     * nothing done, instead of being applied after its sender gave up on it: a map or unmap that landed
     * after the sender's deadline could overwrite a newer write the host was told succeeded. Not on the
     * wire: the servers' budget ({@link #SERVER_APPLY_BUDGET_NS}) is well inside the clients' deadline.
     */
    public long applyByNs;

    /** How long a remote call may wait at its owner before it is applied or refused (clients wait 10 s). */
    public static final long SERVER_APPLY_BUDGET_NS = 5_000_000_000L;

    /** Sets the header for a new request and clears the status. */
    public final void header(long epoch, long operationId, int sender) {
        this.epoch = epoch;
        this.operationId = operationId;
        this.sender = sender;
        this.status = Status.OK;
        this.applyByNs = 0;
    }
}
