package io.hashbrick.node.api;

/**
 * The D role, owner of a bucket range of the fingerprint space (DESIGN.md "Write path" step 2, "Read
 * path"). Every call completes exactly once through its {@link Completion}; none blocks the caller's
 * thread waiting for another role.
 */
public interface DataService {
    void probe(ProbeCall call, Completion<? super ProbeCall> done);

    void put(PutCall call, Completion<? super PutCall> done);

    void deref(DerefCall call, Completion<? super DerefCall> done);

    void fetch(FetchCall call, Completion<? super FetchCall> done);
}
