package io.hashbrick.node.mgmt;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.hashbrick.node.Controller;
import io.hashbrick.node.Log;
import io.hashbrick.node.catalog.Sizes;
import io.hashbrick.node.catalog.Volume;
import io.hashbrick.node.catalog.VolumeException;
import io.hashbrick.node.catalog.VolumeService;
import io.hashbrick.node.data.DataPath;
import io.hashbrick.sim.EventSink;
import io.hashbrick.sim.FaultInjector;
import io.hashbrick.sim.Health;
import io.hashbrick.sim.SimClock;
import io.hashbrick.sim.Ssd;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.function.Supplier;

/**
 * The node's management API: JSON over HTTP on a loopback port (the JDK's HTTP server). The launcher's
 * {@code hashbrick volume ...} commands use it.
 * <pre>
 *  GET    /api/v1/volumes              list
 *  POST   /api/v1/volumes              {"name": "db1", "size": "10G", "block_size": 512}   create
 *  PUT    /api/v1/volumes/{name}       {"size": "20G"}                                     grow
 *  DELETE /api/v1/volumes/{name}                                                           delete
 *  GET    /api/v1/status               node summary
 *  GET    /api/v1/stats                data-path statistics (logical/physical bytes, ratios, RAM)
 *  POST   /api/v1/audit[?fingerprints=true]   run the metadata auditor now; answers its report
 *  POST   /api/v1/dae/ssds/{slot}/{fail|pull|reinsert|replace}   SSD drill; answers the slot's health
 *                                      (fail, pull, and replace of a drive that has not failed: only
 *                                      with fault injection on)
 *  POST   /api/v1/dae/ssds/{slot}/slow?latency_ms=L   (or {"latency_ms": L}) every command to the drive
 *                                      takes L ms more, 1..60000; heal: no more (both only with fault
 *                                      injection on; 409 for a drive not OK, or heal of one not slow)
 *  POST   /api/v1/dae/rates?rebuild=256M&amp;scrub=16M                rebuild and scrub limits (bytes/s)
 *  POST   /api/v1/dae/corrupt?cells=N&amp;seed=S   flip a bit in N stored cells (only with fault injection on)
 *  GET    /metrics                     Prometheus text format ({@link NodeMetrics})
 * </pre>
 * A server made without volumes (a process that runs only a control plane) answers 409 with the
 * reason on the volume, statistics, audit and DAE resources; status and metrics answer. In a cluster
 * the audit answers 409 (no cluster-wide census yet) and volume commands go to the cluster's catalog.
 * Errors answer {"error": "..."} with 400 (invalid), 404 (unknown volume), 409 (conflict), 405, 413,
 * and in cluster mode 503 (the catalog's Raft group gave no answer in time: no leader or no quorum).
 */
public final class ManagementServer implements AutoCloseable {
    static final int MAX_BODY_BYTES = 16 * 1024;
    /** Most latency a slow drill adds to each command: a minute, a drive that hangs rather than one that lags. */
    static final long SLOW_LATENCY_MS_MAX = 60_000;

    private static final ObjectMapper JSON = new ObjectMapper();
    /** The answer of a controller that runs only the control plane (no volumes, no data path). */
    static final String NO_IO = "this process serves no I/O (control plane only): no volumes here";

    private final HttpServer http;
    private final VolumeService volumes;
    private final String targetName;
    private final Supplier<ObjectNode> status;
    private volatile boolean faultInjection;
    private volatile NodeMetrics metrics;
    /** Cluster mode: volume changes go to the cluster's catalog; null: to {@link #volumes} directly. */
    private volatile VolumeCommands commands;
    /**
     * Injects the slow-drive faults. Not thread-safe, and needs not be: only the server's one thread
     * uses it. Its own event line is dropped: the drill logs one {@code ssd_drill} line instead.
     */
    private final FaultInjector faults = new FaultInjector(0, SimClock.SYSTEM, EventSink.NONE);

    /** @param volumes the node's volumes, or null for a controller that serves no I/O */
    public ManagementServer(
            String host, int port, VolumeService volumes, String targetName, Supplier<ObjectNode> status)
            throws IOException {
        this.volumes = volumes;
        this.targetName = targetName;
        this.status = status;
        this.http = HttpServer.create(new InetSocketAddress(host, port), 16);
        http.createContext("/api/v1/volumes", this::volumes);
        http.createContext("/api/v1/status", ex -> respond(ex, 200, status.get()));
        http.createContext("/api/v1/stats", this::stats);
        http.createContext("/api/v1/audit", this::audit);
        http.createContext("/api/v1/dae", this::dae);
        http.createContext("/metrics", this::metrics);
        http.setExecutor(Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "mgmt-http");
            t.setDaemon(true);
            return t;
        }));
    }

    /**
     * Allows the destructive drills: corrupt, SSD fail and pull, and replace of a drive that has not
     * failed (test builds and drills only: they damage or discard stored data on purpose).
     */
    public void allowFaultInjection(boolean allow) {
        this.faultInjection = allow;
    }

    /**
     * Sends volume create, resize and delete to {@code c} (cluster mode: the Raft catalog) instead of
     * this controller's VolumeService; listing still reads the VolumeService (the applied copy).
     */
    public void volumeCommands(VolumeCommands c) {
        this.commands = c;
    }

    /** What {@code GET /metrics} answers (Prometheus's text format); 404 until set. */
    public void metrics(NodeMetrics m) {
        this.metrics = m;
    }

    public int start() {
        http.start();
        int port = http.getAddress().getPort();
        Log.info("mgmt_listening", "address=" + http.getAddress().getHostString() + ":" + port);
        return port;
    }

    private void volumes(HttpExchange ex) throws IOException {
        if (volumes == null) {
            error(ex, 409, NO_IO);
            return;
        }
        String path = ex.getRequestURI().getPath();
        String name = path.length() > "/api/v1/volumes/".length() ? path.substring("/api/v1/volumes/".length()) : null;
        String method = ex.getRequestMethod();
        try {
            if (name == null && method.equals("GET")) {
                ArrayNode list = JSON.createArrayNode();
                for (Volume v : volumes.list()) {
                    list.add(json(v));
                }
                respond(ex, 200, list);
            } else if (name == null && method.equals("POST")) {
                JsonNode body = body(ex);
                String newName = body.path("name").asText(null);
                long size = size(body);
                int blockSize = body.path("block_size").asInt(512);
                VolumeCommands c = commands;
                Volume v = c != null
                        ? c.create(newName, size, blockSize)
                        : volumes.create(newName, size, blockSize, targetName);
                respond(ex, 201, json(v));
            } else if (name != null && method.equals("PUT")) {
                long size = size(body(ex));
                VolumeCommands c = commands;
                respond(ex, 200, json(c != null ? c.resize(name, size) : volumes.resize(name, size)));
            } else if (name != null && method.equals("DELETE")) {
                VolumeCommands c = commands;
                if (c != null) {
                    c.delete(name);
                } else {
                    volumes.delete(name);
                }
                respond(ex, 200, JSON.createObjectNode().put("deleted", name));
            } else {
                error(ex, 405, "method not allowed: " + method + " " + path);
            }
        } catch (VolumeException e) {
            int code =
                    switch (e.kind()) {
                        case INVALID -> 400;
                        case NOT_FOUND -> 404;
                        case CONFLICT -> 409;
                        case UNAVAILABLE -> 503;
                    };
            error(ex, code, e.getMessage());
        } catch (IllegalArgumentException e) {
            error(ex, 400, e.getMessage());
        } catch (BodyTooLarge e) {
            error(ex, 413, "request body over " + MAX_BODY_BYTES + " bytes");
        }
    }

    private void stats(HttpExchange ex) throws IOException {
        if (volumes == null) {
            error(ex, 409, NO_IO);
            return;
        }
        Controller data = volumes.roles();
        if (!ex.getRequestMethod().equals("GET")) {
            error(ex, 405, "method not allowed: " + ex.getRequestMethod());
        } else if (data == null) {
            error(ex, 409, "the data path is off (file-backed volumes): no statistics");
        } else {
            respond(ex, 200, JSON.valueToTree(data.stats()));
        }
    }

    private void audit(HttpExchange ex) throws IOException {
        if (volumes == null) {
            error(ex, 409, NO_IO);
            return;
        }
        Controller data = volumes.roles();
        if (!ex.getRequestMethod().equals("POST")) {
            error(ex, 405, "method not allowed: " + ex.getRequestMethod());
        } else if (data == null) {
            error(ex, 409, "the data path is off (file-backed volumes): nothing to audit");
        } else if (data.clustered()) {
            error(
                    ex,
                    409,
                    "a cluster's controller holds only its share of the references: the cluster-wide"
                            + " census is not built yet (issue 19)");
        } else {
            String q = ex.getRequestURI().getQuery();
            boolean fingerprints = q != null && q.contains("fingerprints=true");
            DataPath.AuditReport r = data.audit(fingerprints);
            respond(ex, 200, JSON.valueToTree(r.toMap()));
        }
    }

    private void dae(HttpExchange ex) throws IOException {
        if (volumes == null) {
            error(ex, 409, NO_IO);
            return;
        }
        DataPath data = volumes.roles() == null ? null : volumes.roles().data();
        String path = ex.getRequestURI().getPath();
        String[] parts = path.substring("/api/v1/dae".length()).split("/", -1);
        Map<String, String> q = query(ex.getRequestURI().getQuery());
        try {
            if (!ex.getRequestMethod().equals("POST")) {
                error(ex, 405, "method not allowed: " + ex.getRequestMethod());
            } else if (data == null) {
                error(ex, 409, "the data path is off (file-backed volumes): no DAE");
            } else if (parts.length == 4 && parts[1].equals("ssds")) {
                int slot;
                try {
                    slot = Integer.parseInt(parts[2]);
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("SSD slot must be a number: " + parts[2]);
                }
                if (!faultInjection && destructive(parts[3], data, slot)) {
                    refuseFaultInjection(ex, "ssd " + parts[3]);
                    return;
                }
                if (parts[3].equals("slow") || parts[3].equals("heal")) {
                    respond(ex, 200, latencyDrill(data, parts[3], slot, latencyMs(ex, parts[3], q)));
                    return;
                }
                String health = data.drill(parts[3], slot);
                respond(
                        ex,
                        200,
                        JSON.createObjectNode()
                                .put("slot", slot)
                                .put("action", parts[3])
                                .put("health", health)
                                .put("dae_health", data.dae().healthSummary()));
            } else if (parts.length == 2 && parts[1].equals("rates")) {
                ObjectNode out = JSON.createObjectNode();
                if (q.containsKey("rebuild")) {
                    data.setRebuildRate(Sizes.parse(q.get("rebuild")));
                    out.put("rebuild_bytes_per_s", Sizes.parse(q.get("rebuild")));
                }
                if (q.containsKey("scrub")) {
                    data.setScrubRate(Sizes.parse(q.get("scrub")));
                    out.put("scrub_bytes_per_s", Sizes.parse(q.get("scrub")));
                }
                Log.info("dae_rates_set", "rates=" + Log.q(out.toString()));
                respond(ex, 200, out);
            } else if (parts.length == 2 && parts[1].equals("corrupt")) {
                if (!faultInjection) {
                    refuseFaultInjection(ex, "ssd corrupt");
                    return;
                }
                int cells = Integer.parseInt(q.getOrDefault("cells", "1"));
                if (cells < 1 || cells > 100_000) {
                    throw new IllegalArgumentException("cells must be 1..100000: cells=" + cells);
                }
                long seed = Long.parseLong(q.getOrDefault("seed", String.valueOf(System.nanoTime())));
                ArrayNode list = JSON.createArrayNode();
                data.corruptCells(cells, seed).forEach(list::add);
                ObjectNode out = JSON.createObjectNode().put("seed", seed).put("cells", list.size());
                out.set("corrupted", list);
                respond(ex, 200, out);
            } else {
                error(ex, 404, "no such DAE resource: " + path);
            }
        } catch (NumberFormatException e) {
            error(ex, 400, "not a number: " + e.getMessage());
        } catch (IllegalArgumentException e) {
            error(ex, 400, e.getMessage());
        } catch (IllegalStateException e) {
            error(ex, 409, e.getMessage()); // e.g. reinsert of a drive that was not pulled
        } catch (BodyTooLarge e) {
            error(ex, 413, "request body over " + MAX_BODY_BYTES + " bytes");
        } catch (IOException | RuntimeException e) {
            error(ex, 500, "drill failed: " + e);
        }
    }

    /**
     * The slow-drive drill: action "slow" adds {@code latencyMs} to every command of the slot's drive
     * (the simulator's {@link FaultInjector#slow}), "heal" takes it away. One {@code ssd_drill}
     * log line. The data path is not told: it finds the drive slow by its service times, as it would a
     * real one (see {@code xdp.SlowSsds}).
     */
    private ObjectNode latencyDrill(DataPath data, String action, int slot, long latencyMs) {
        if (slot < 0 || slot >= data.dae().slotCount()) {
            throw new IllegalArgumentException(
                    "no such SSD slot: slot=" + slot + " slots=" + data.dae().slotCount());
        }
        Ssd ssd = data.dae().slot(slot);
        Health health = data.dae().health(slot);
        long beforeNs = ssd.injectedLatencyNs();
        if (action.equals("slow")) {
            if (health != Health.OK) {
                throw new IllegalStateException("ssd slow needs a working drive: slot=" + slot + " health=" + health);
            }
            faults.slow(ssd, latencyMs * 1_000_000L);
        } else {
            if (beforeNs == 0) {
                throw new IllegalStateException("ssd heal: the drive is not slow: slot=" + slot);
            }
            faults.clearSlow(ssd);
        }
        long afterMs = ssd.injectedLatencyNs() / 1_000_000L;
        Log.warn(
                "ssd_drill",
                "action=" + action + " slot=" + slot + " latency_ms_before=" + beforeNs / 1_000_000L + " latency_ms="
                        + afterMs + " health=" + health);
        return JSON.createObjectNode()
                .put("slot", slot)
                .put("action", action)
                .put("health", health.name())
                .put("latency_ms", afterMs)
                .put("dae_health", data.dae().healthSummary());
    }

    /**
     * The latency of a slow drill, from the query ({@code ?latency_ms=100}) or the JSON body
     * ({@code {"latency_ms": 100}}): whole milliseconds, 1..{@link #SLOW_LATENCY_MS_MAX}. A heal takes
     * none (0).
     */
    private static long latencyMs(HttpExchange ex, String action, Map<String, String> q)
            throws IOException, BodyTooLarge {
        String given = q.get("latency_ms");
        if (given == null) {
            JsonNode body = optionalBody(ex);
            JsonNode n = body == null ? null : body.get("latency_ms");
            given = n == null || n.isNull() ? null : n.asText();
        }
        if (action.equals("heal")) {
            if (given != null) {
                throw new IllegalArgumentException("ssd heal takes no latency: latency_ms=" + given);
            }
            return 0;
        }
        if (given == null) {
            throw new IllegalArgumentException("ssd slow needs latency_ms (milliseconds per I/O, 1.."
                    + SLOW_LATENCY_MS_MAX + "), in the query or the JSON body");
        }
        long ms;
        try {
            ms = Long.parseLong(given.trim());
        } catch (NumberFormatException e) {
            ms = -1;
        }
        if (ms < 1 || ms > SLOW_LATENCY_MS_MAX) {
            throw new IllegalArgumentException("latency_ms must be a whole number of milliseconds per I/O, 1.."
                    + SLOW_LATENCY_MS_MAX + ": latency_ms=" + given);
        }
        return ms;
    }

    /**
     * Whether an SSD drill needs fault injection: fail and pull take a working drive away; replace
     * discards the slot's drive, unless that drive has failed (then it is the operator's repair after a
     * real failure, and nothing is left on it to lose); slow injects a fault and heal takes back one
     * only fault injection can have made. Reinsert brings a pulled drive back and discards nothing. An
     * unknown action or slot is not judged here: the drill refuses it (400).
     */
    static boolean destructive(String action, DataPath data, int slot) {
        return switch (action) {
            case "fail", "pull", "slow", "heal" -> true;
            case "replace" ->
                slot < 0 || slot >= data.dae().slotCount() || data.dae().health(slot) != Health.FAILED;
            default -> false;
        };
    }

    /** 403 with the one message every destructive drill refuses with (one log line: {@link #error}). */
    private static void refuseFaultInjection(HttpExchange ex, String drill) throws IOException {
        error(
                ex,
                403,
                "fault injection is off: " + drill
                        + " needs the node started with --allow-fault-injection (test builds and drills)");
    }

    private static Map<String, String> query(String q) {
        Map<String, String> m = new java.util.HashMap<>();
        if (q == null) {
            return m;
        }
        for (String kv : q.split("&", -1)) {
            int eq = kv.indexOf('=');
            if (eq > 0) {
                m.put(kv.substring(0, eq), kv.substring(eq + 1));
            }
        }
        return m;
    }

    private static long size(JsonNode body) {
        JsonNode s = body.path("size");
        if (s.isMissingNode() || s.isNull()) {
            throw new IllegalArgumentException("missing \"size\"");
        }
        return s.isNumber() ? s.asLong() : Sizes.parse(s.asText());
    }

    /** The JSON object in the request body, or null when the body is empty. */
    private static JsonNode optionalBody(HttpExchange ex) throws IOException, BodyTooLarge {
        try (InputStream in = ex.getRequestBody()) {
            byte[] b = in.readNBytes(MAX_BODY_BYTES + 1);
            if (b.length > MAX_BODY_BYTES) {
                throw new BodyTooLarge();
            }
            if (new String(b, java.nio.charset.StandardCharsets.UTF_8).isBlank()) {
                return null;
            }
            return parseObject(b);
        }
    }

    private static JsonNode parseObject(byte[] b) throws IOException {
        try {
            JsonNode n = JSON.readTree(b);
            if (n == null || !n.isObject()) {
                throw new IllegalArgumentException("request body must be a JSON object");
            }
            return n;
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException("malformed JSON: " + e.getOriginalMessage());
        }
    }

    private static JsonNode body(HttpExchange ex) throws IOException, BodyTooLarge {
        try (InputStream in = ex.getRequestBody()) {
            byte[] b = in.readNBytes(MAX_BODY_BYTES + 1);
            if (b.length > MAX_BODY_BYTES) {
                throw new BodyTooLarge();
            }
            return parseObject(b);
        }
    }

    private ObjectNode json(Volume v) {
        return JSON.createObjectNode()
                .put("name", v.name())
                .put("lun", v.lun())
                .put("size_bytes", v.sizeBytes())
                .put("block_size", v.blockSize())
                .put("target", targetName);
    }

    private static void error(HttpExchange ex, int code, String message) throws IOException {
        Log.warn(
                "mgmt_request_failed",
                "method=" + ex.getRequestMethod() + " path="
                        + ex.getRequestURI().getPath() + " status=" + code + " reason=" + Log.q(message));
        respond(ex, code, JSON.createObjectNode().put("error", message));
    }

    private void metrics(HttpExchange ex) throws IOException {
        NodeMetrics m = metrics;
        if (!ex.getRequestMethod().equals("GET")) {
            error(ex, 405, "method not allowed: " + ex.getRequestMethod());
            return;
        }
        if (m == null) {
            error(ex, 404, "no metrics on this server");
            return;
        }
        byte[] b = m.scrape().getBytes(java.nio.charset.StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
        ex.sendResponseHeaders(200, b.length);
        try (var out = ex.getResponseBody()) {
            out.write(b);
        }
    }

    private static void respond(HttpExchange ex, int code, JsonNode body) throws IOException {
        byte[] b = JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(body);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(code, b.length);
        try (var out = ex.getResponseBody()) {
            out.write(b);
        }
    }

    /** A request body over the limit. */
    private static final class BodyTooLarge extends Exception {
        private static final long serialVersionUID = 1L;
    }

    @Override
    public void close() {
        http.stop(0);
    }
}
