package io.hashbrick.node.audit;

import io.hashbrick.node.data.DataPath;
import io.hashbrick.node.volume.MapStore;

/**
 * The reference census across C and D (DESIGN.md "Inside controller-node": the only place that reads
 * both): every reference C holds (a mapped block, an outbox handle D has not dropped yet) counted
 * against D's refcounts. D walks its table under its lock and asks C for its references, which C
 * gives under its own lock (the lock order D, then C, the order checkpoints take them in).
 */
public final class Census {
    private Census() {}

    /**
     * Refcounts against references (and with {@code fingerprints}, every stored block against its
     * fingerprint); logs one line.
     */
    public static DataPath.AuditReport audit(MapStore maps, DataPath data, boolean fingerprints) {
        return data.audit(maps::forEachReference, maps.volumeCount(), fingerprints);
    }

    /**
     * At start-up, before host I/O: drops the references D counts beyond what C holds (puts whose map
     * never became durable). @return references dropped
     */
    public static long reclaimLeaked(MapStore maps, DataPath data) {
        return data.reclaimLeaked(maps::forEachReference);
    }
}
