package io.hashbrick.node.mgmt;

import io.hashbrick.node.scsi.IoCounters;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.Map;
import java.util.function.Supplier;

/**
 * A controller's metrics in Prometheus's text format, served at {@code /metrics}: the host's reads and
 * writes and their bytes (counters: Prometheus derives IOPS and throughput with {@code rate()}), the
 * data path's statistics the node already keeps (data reduction, RAM per block, journal fill, destage
 * backlog), and, in a cluster, this controller's Raft role, term and map epoch and its shares.
 *
 * <p>Sampled at scrape time: a scrape reads the node's statistics once and every gauge reads that
 * sample, so nothing is counted on the I/O path beyond {@link IoCounters}.
 */
public final class NodeMetrics {
    /** Gauge name -> the statistic it shows (names in {@code stats}, see README). */
    private static final String[][] STAT_GAUGES = {
        {"hashbrick.logical.bytes", "logical_bytes"},
        {"hashbrick.physical.bytes", "physical_bytes"},
        {"hashbrick.unique.blocks", "unique_blocks"},
        {"hashbrick.mapped.blocks", "mapped_blocks"},
        {"hashbrick.dedup.ratio", "dedup_ratio"},
        {"hashbrick.compression.ratio", "compression_ratio"},
        {"hashbrick.data.reduction.ratio", "data_reduction_ratio"},
        {"hashbrick.h2p.ram.bytes.per.unique.block", "h2p_bytes_per_unique_block"},
        {"hashbrick.a2h.ram.bytes.per.mapped.block", "a2h_bytes_per_mapped_block"},
        {"hashbrick.journal.reserved.bytes", "journal_reserved_bytes"},
        {"hashbrick.journal.capacity.bytes", "journal_capacity_bytes"},
        {"hashbrick.destage.backlog.blocks", "journal_blocks"},
        {"hashbrick.destage.backlog.bytes", "journal_block_bytes"},
        {"hashbrick.pool.live.bytes", "pool_live_bytes"},
        {"hashbrick.pool.usable.bytes", "pool_usable_bytes"},
        {"hashbrick.read.cache.hits", "read_cache_hits"},
        {"hashbrick.read.cache.misses", "read_cache_misses"},
    };

    /** Gauge name -> the field of the cluster status it shows (numbers and booleans). */
    private static final String[][] CLUSTER_GAUGES = {
        {"hashbrick.cluster.raft.term", "raft_term"},
        {"hashbrick.cluster.raft.voter", "voter"},
        {"hashbrick.cluster.raft.leader", "is_leader"},
        {"hashbrick.cluster.epoch", "epoch"},
        {"hashbrick.cluster.buckets", "buckets"},
        {"hashbrick.cluster.regions", "regions"},
        {"hashbrick.cluster.members", "member_count"},
    };

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Supplier<Map<String, Object>> stats;
    private final Supplier<Map<String, Object>> cluster;
    private volatile Map<String, Object> statSample = Map.of();
    private volatile Map<String, Object> clusterSample = Map.of();

    /**
     * @param io the portal's counters, or null for a controller that serves no I/O
     * @param stats the data path's statistics, or null (no data path here)
     * @param cluster the controller's cluster status, or null outside a cluster
     */
    public NodeMetrics(IoCounters io, Supplier<Map<String, Object>> stats, Supplier<Map<String, Object>> cluster) {
        this.stats = stats;
        this.cluster = cluster;
        Gauge.builder("hashbrick.io.serving", () -> io == null ? 0 : 1)
                .description("1 when this controller serves host I/O on its portal")
                .register(registry);
        if (io != null) {
            counter("hashbrick.reads", io, IoCounters::reads, "host read commands completed GOOD");
            counter("hashbrick.writes", io, IoCounters::writes, "host write commands completed GOOD");
            counter("hashbrick.read.bytes", io, IoCounters::readBytes, "bytes read by hosts");
            counter("hashbrick.written.bytes", io, IoCounters::writtenBytes, "bytes written by hosts");
        }
        if (stats != null) {
            for (String[] g : STAT_GAUGES) {
                gauge(g[0], () -> statSample, g[1]);
            }
            Gauge.builder("hashbrick.journal.fill.ratio", this, NodeMetrics::journalFill)
                    .description("journal space in use over the NVRAM's capacity")
                    .register(registry);
        }
        if (cluster != null) {
            for (String[] g : CLUSTER_GAUGES) {
                gauge(g[0], () -> clusterSample, g[1]);
            }
        }
        new JvmMemoryMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
    }

    private void counter(String name, IoCounters io, java.util.function.ToDoubleFunction<IoCounters> f, String what) {
        FunctionCounter.builder(name, io, f).description(what).register(registry);
    }

    private void gauge(String name, Supplier<Map<String, Object>> sample, String key) {
        Gauge.builder(name, () -> number(sample.get().get(key))).register(registry);
    }

    private double journalFill() {
        double capacity = number(statSample.get("journal_capacity_bytes"));
        return capacity > 0 ? number(statSample.get("journal_reserved_bytes")) / capacity : Double.NaN;
    }

    private static double number(Object v) {
        if (v instanceof Number n) {
            return n.doubleValue();
        }
        if (v instanceof Boolean b) {
            return b ? 1 : 0;
        }
        return Double.NaN;
    }

    /** Samples the node and answers every metric in Prometheus's text format (version 0.0.4). */
    public synchronized String scrape() {
        if (stats != null) {
            statSample = stats.get();
        }
        if (cluster != null) {
            Map<String, Object> c = new java.util.HashMap<>(cluster.get());
            c.put("is_leader", String.valueOf(c.get("leader")).equals(c.get("member")));
            Object members = c.get("members");
            c.put("member_count", members instanceof java.util.List<?> l ? l.size() : 0);
            clusterSample = c;
        }
        return registry.scrape();
    }
}
