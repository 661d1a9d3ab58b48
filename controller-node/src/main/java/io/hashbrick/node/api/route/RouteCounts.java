package io.hashbrick.node.api.route;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * What the routed services sent: calls (or pieces of a split call) to this controller's own roles and
 * to other controllers', per role, and calls split over several owners. A few adders, nothing else on
 * the I/O path.
 */
public final class RouteCounts {
    final LongAdder dataLocal = new LongAdder();
    final LongAdder dataRemote = new LongAdder();
    final LongAdder mapLocal = new LongAdder();
    final LongAdder mapRemote = new LongAdder();
    final LongAdder splits = new LongAdder();
    final LongAdder retries = new LongAdder();
    final LongAdder probesSkipped = new LongAdder();

    void data(Routes r, int owner) {
        (owner == r.self() ? dataLocal : dataRemote).increment();
    }

    void map(Routes r, int owner) {
        (owner == r.self() ? mapLocal : mapRemote).increment();
    }

    /** The counters, named as the statistics show them. */
    public Map<String, Long> snapshot() {
        Map<String, Long> m = new LinkedHashMap<>();
        m.put("role_calls_d_local", dataLocal.sum());
        m.put("role_calls_d_remote", dataRemote.sum());
        m.put("role_calls_c_local", mapLocal.sum());
        m.put("role_calls_c_remote", mapRemote.sum());
        m.put("role_calls_split", splits.sum());
        m.put("role_calls_retried", retries.sum());
        m.put("role_probe_blocks_not_sent", probesSkipped.sum());
        return m;
    }
}
