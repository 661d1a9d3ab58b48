package io.hashbrick.node.mgmt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.hashbrick.node.Controller;
import io.hashbrick.node.catalog.VolumeService;
import io.hashbrick.node.data.DataPath;
import io.hashbrick.node.scsi.IoCounters;
import io.hashbrick.node.scsi.ScsiDeviceServer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ManagementServerTest {
    static final String TARGET = "iqn.2026-11.io.hashbrick:test";

    @TempDir
    Path dir;

    @Test
    void volumesThroughTheApi() throws Exception {
        try (VolumeService volumes =
                        VolumeService.open(dir, new ScsiDeviceServer("HASHBRCK", "TEST", List.of()), TARGET);
                ManagementServer api = new ManagementServer("127.0.0.1", 0, volumes, TARGET, () -> new ObjectMapper()
                        .createObjectNode()
                        .put("state", "running"))) {
            int port = api.start();
            HttpClient http = HttpClient.newHttpClient();
            String base = "http://127.0.0.1:" + port + "/api/v1/";
            HttpResponse<String> r =
                    send(http, "POST", base + "volumes", "{\"name\":\"db1\",\"size\":\"16M\",\"block_size\":4096}");
            assertEquals(201, r.statusCode(), r.body());
            assertTrue(r.body().contains("\"lun\" : 0"), r.body());
            assertEquals(
                    409,
                    send(http, "POST", base + "volumes", "{\"name\":\"db1\",\"size\":\"16M\"}")
                            .statusCode());
            assertEquals(
                    400,
                    send(http, "POST", base + "volumes", "{\"name\":\"db2\"}").statusCode(),
                    "size missing");
            assertEquals(400, send(http, "POST", base + "volumes", "not json").statusCode());
            assertEquals(
                    400,
                    send(http, "POST", base + "volumes", "{\"name\":\"db2\",\"size\":\"many\"}")
                            .statusCode());
            assertEquals(
                    413,
                    send(http, "POST", base + "volumes", "{\"x\":\"" + "y".repeat(20_000) + "\"}")
                            .statusCode());
            r = send(http, "PUT", base + "volumes/db1", "{\"size\":33554432}");
            assertEquals(200, r.statusCode(), r.body());
            assertTrue(r.body().contains("33554432"), r.body());
            assertTrue(send(http, "GET", base + "volumes", null).body().contains("db1"));
            assertEquals(405, send(http, "PATCH", base + "volumes", "{}").statusCode());
            assertEquals(404, send(http, "DELETE", base + "volumes/nope", null).statusCode());
            assertEquals(200, send(http, "DELETE", base + "volumes/db1", null).statusCode());
            assertEquals("[ ]", send(http, "GET", base + "volumes", null).body());
            assertEquals(200, send(http, "GET", base + "status", null).statusCode());
        }
    }

    /**
     * fail, pull and replace of a working drive are refused (403) unless fault injection is on;
     * reinsert, and replace of a failed drive (the repair after a real failure), are not.
     */
    @Test
    void destructiveSsdDrillsNeedFaultInjection() throws Exception {
        DataPath.Config small = new DataPath.Config(6, 32L << 20, 4L << 20, 60_000, 0);
        try (VolumeService volumes = VolumeService.open(
                        dir,
                        new ScsiDeviceServer("HASHBRCK", "TEST", List.of()),
                        TARGET,
                        small,
                        io.hashbrick.node.Main.LOCAL_ROLES);
                ManagementServer api = new ManagementServer("127.0.0.1", 0, volumes, TARGET, () -> new ObjectMapper()
                        .createObjectNode()
                        .put("state", "running"))) {
            int port = api.start();
            HttpClient http = HttpClient.newHttpClient();
            String ssds = "http://127.0.0.1:" + port + "/api/v1/dae/ssds/";
            for (String action : List.of("1/fail", "2/pull", "3/replace")) {
                HttpResponse<String> r = send(http, "POST", ssds + action, null);
                assertEquals(403, r.statusCode(), action + ": " + r.body());
                assertTrue(r.body().contains("fault injection is off"), r.body());
                assertTrue(r.body().contains("--allow-fault-injection"), r.body());
            }
            assertEquals(
                    403,
                    send(http, "POST", "http://127.0.0.1:" + port + "/api/v1/dae/corrupt?cells=1", null)
                            .statusCode());
            assertEquals("OK,OK,OK,OK,OK,OK", healths(volumes.roles()), "a refused drill changed nothing");
            // reinsert discards nothing: judged by the slot's state (409: slot 2 was not pulled), not refused
            assertEquals(409, send(http, "POST", ssds + "2/reinsert", null).statusCode());
            volumes.roles().data().drill("fail", 4); // a drive that really failed
            HttpResponse<String> r = send(http, "POST", ssds + "4/replace", null);
            assertEquals(200, r.statusCode(), r.body());
            api.allowFaultInjection(true);
            assertEquals(200, send(http, "POST", ssds + "1/fail", null).statusCode());
            assertEquals(200, send(http, "POST", ssds + "2/pull", null).statusCode());
            assertEquals(200, send(http, "POST", ssds + "2/reinsert", null).statusCode());
            assertEquals(200, send(http, "POST", ssds + "3/replace", null).statusCode());
            assertEquals(400, send(http, "POST", ssds + "99/fail", null).statusCode(), "no such slot");
        }
    }

    /**
     * slow and heal are refused (403) without fault injection; with it, a latency that is missing, not
     * a number or out of 1..60000 ms is refused (400), slow takes it from the query or the body, heal
     * takes it away, and a heal of a drive that is not slow, or a slow of one that failed, conflicts (409).
     */
    @Test
    void slowAndHealDrills() throws Exception {
        DataPath.Config small = new DataPath.Config(6, 32L << 20, 4L << 20, 60_000, 0);
        try (VolumeService volumes = VolumeService.open(
                        dir,
                        new ScsiDeviceServer("HASHBRCK", "TEST", List.of()),
                        TARGET,
                        small,
                        io.hashbrick.node.Main.LOCAL_ROLES);
                ManagementServer api = new ManagementServer("127.0.0.1", 0, volumes, TARGET, () -> new ObjectMapper()
                        .createObjectNode()
                        .put("state", "running"))) {
            int port = api.start();
            HttpClient http = HttpClient.newHttpClient();
            String ssds = "http://127.0.0.1:" + port + "/api/v1/dae/ssds/";
            DataPath data = volumes.roles().data();
            for (String drill : List.of("1/slow?latency_ms=100", "1/heal")) {
                HttpResponse<String> r = send(http, "POST", ssds + drill, null);
                assertEquals(403, r.statusCode(), drill + ": " + r.body());
                assertTrue(r.body().contains("--allow-fault-injection"), r.body());
            }
            assertEquals(0, data.dae().slot(1).injectedLatencyNs(), "a refused drill changed nothing");
            api.allowFaultInjection(true);
            for (String bad : List.of(
                    "1/slow",
                    "1/slow?latency_ms=0",
                    "1/slow?latency_ms=-5",
                    "1/slow?latency_ms=abc",
                    "1/slow?latency_ms=60001",
                    "1/slow?latency_ms=1.5",
                    "9/slow?latency_ms=10",
                    "1/heal?latency_ms=5")) {
                HttpResponse<String> r = send(http, "POST", ssds + bad, null);
                assertEquals(400, r.statusCode(), bad + ": " + r.body());
            }
            assertEquals(
                    400,
                    send(http, "POST", ssds + "1/slow", "{\"latency_ms\": \"soon\"}")
                            .statusCode());
            assertEquals(409, send(http, "POST", ssds + "1/heal", null).statusCode(), "not slow");
            assertEquals(0, data.dae().slot(1).injectedLatencyNs());

            HttpResponse<String> r = send(http, "POST", ssds + "1/slow?latency_ms=40", null);
            assertEquals(200, r.statusCode(), r.body());
            assertTrue(r.body().contains("\"latency_ms\" : 40"), r.body());
            assertEquals(40_000_000L, data.dae().slot(1).injectedLatencyNs());
            r = send(http, "POST", ssds + "2/slow", "{\"latency_ms\": 7}");
            assertEquals(200, r.statusCode(), r.body());
            assertEquals(7_000_000L, data.dae().slot(2).injectedLatencyNs());
            assertEquals("1=40,2=7", data.stats().get("ssd_injected_latency_ms"));

            assertEquals(200, send(http, "POST", ssds + "1/heal", null).statusCode());
            assertEquals(200, send(http, "POST", ssds + "2/heal", null).statusCode());
            assertEquals(0, data.dae().slot(1).injectedLatencyNs(), "healed");
            assertEquals(0, data.dae().slot(2).injectedLatencyNs(), "healed");
            assertEquals("", data.stats().get("ssd_injected_latency_ms"));

            data.drill("fail", 3);
            assertEquals(
                    409, send(http, "POST", ssds + "3/slow?latency_ms=10", null).statusCode(), "failed drive");
        }
    }

    private static String healths(Controller data) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < data.data().dae().slotCount(); i++) {
            b.append(i == 0 ? "" : ",").append(data.data().dae().health(i));
        }
        return b.toString();
    }

    /**
     * {@code GET /metrics} answers Prometheus's text format with the node's counters, the data path's
     * statistics and, in a cluster, the Raft role, term and epoch; a control-plane-only controller (no
     * volumes) answers its metrics and refuses the volume API with a clear reason.
     */
    @Test
    void metricsInPrometheusTextFormat() throws Exception {
        Map<String, Object> stats = new HashMap<>();
        stats.put("data_reduction_ratio", 2.5);
        stats.put("journal_reserved_bytes", 32L << 20);
        stats.put("journal_capacity_bytes", 128L << 20);
        stats.put("journal_blocks", 77L);
        stats.put("h2p_bytes_per_unique_block", 61.0);
        Map<String, Object> cluster = new HashMap<>();
        cluster.put("member", "c1");
        cluster.put("leader", "c1");
        cluster.put("voter", true);
        cluster.put("raft_term", 3L);
        cluster.put("epoch", 4L);
        cluster.put("buckets", 2048);
        cluster.put("members", List.of("c1", "c2"));
        try (VolumeService volumes =
                        VolumeService.open(dir, new ScsiDeviceServer("HASHBRCK", "TEST", List.of()), TARGET);
                ManagementServer api = new ManagementServer("127.0.0.1", 0, volumes, TARGET, () -> new ObjectMapper()
                        .createObjectNode()
                        .put("state", "running"));
                ManagementServer controlOnly =
                        new ManagementServer("127.0.0.1", 0, null, TARGET, () -> new ObjectMapper()
                                .createObjectNode()
                                .put("io", "none"))) {
            api.metrics(new NodeMetrics(new IoCounters(), () -> stats, () -> cluster));
            controlOnly.metrics(new NodeMetrics(null, null, () -> cluster));
            HttpClient http = HttpClient.newHttpClient();
            HttpResponse<String> r = send(http, "GET", "http://127.0.0.1:" + api.start() + "/metrics", null);
            assertEquals(200, r.statusCode());
            assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("text/plain"));
            String text = r.body();
            for (String line : new String[] {
                "hashbrick_reads_total 0.0",
                "hashbrick_writes_total 0.0",
                "hashbrick_read_bytes_total 0.0",
                "hashbrick_written_bytes_total 0.0",
                "hashbrick_data_reduction_ratio 2.5",
                "hashbrick_h2p_ram_bytes_per_unique_block 61.0",
                "hashbrick_journal_fill_ratio 0.25",
                "hashbrick_destage_backlog_blocks 77.0",
                "hashbrick_cluster_raft_leader 1.0",
                "hashbrick_cluster_raft_term 3.0",
                "hashbrick_cluster_epoch 4.0",
                "hashbrick_cluster_buckets 2048.0",
                "hashbrick_cluster_members 2.0",
                "hashbrick_io_serving 1.0"
            }) {
                assertTrue(text.contains("\n" + line + "\n"), "missing " + line + " in:\n" + text);
            }
            assertTrue(text.contains("# TYPE hashbrick_reads_total counter"), text);
            int port = controlOnly.start();
            String cp = send(http, "GET", "http://127.0.0.1:" + port + "/metrics", null)
                    .body();
            assertTrue(
                    cp.contains("\nhashbrick_io_serving 0.0\n") && cp.contains("\nhashbrick_cluster_epoch 4.0\n"), cp);
            assertTrue(!cp.contains("hashbrick_reads_total"), cp);
            HttpResponse<String> refused = send(http, "GET", "http://127.0.0.1:" + port + "/api/v1/volumes", null);
            assertEquals(409, refused.statusCode());
            assertTrue(refused.body().contains("serves no I/O"), refused.body());
            assertEquals(
                    200,
                    send(http, "GET", "http://127.0.0.1:" + port + "/api/v1/status", null)
                            .statusCode());
        }
    }

    static HttpResponse<String> send(HttpClient http, String method, String url, String body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url))
                .header("Content-Type", "application/json")
                .method(
                        method,
                        body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }
}
