package io.hashbrick.node.iscsi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Crash safety through the front door: a controller process serves a LUN, an initiator writes
 * versioned, self-describing 4 KiB blocks and records every acknowledged write, the controller is
 * SIGKILLed at a seeded random moment, restarted on the same data directory, and every acknowledged
 * write must read back (a write in flight at the kill may read back old or new, nothing else).
 * CI runs {@code crash.seeds} seeds (default 20); -Dcrash.seeds=500 for a longer sweep, -Dseed=N for one.
 */
@Tag("slow")
class CrashSafetyIT {
    static final int BLOCKS = 2048; // 8 MiB of 4 KiB blocks
    static final String TARGET = "iqn.2026-11.io.hashbrick:crash";

    @TempDir
    Path dir;

    static List<Long> seeds() {
        Long one = Long.getLong("seed");
        if (one != null) {
            return List.of(one);
        }
        List<Long> s = new ArrayList<>();
        for (long i = 1; i <= Integer.getInteger("crash.seeds", 20); i++) {
            s.add(0xC0FFEE00L + i);
        }
        return s;
    }

    @ParameterizedTest(name = "seed={0}")
    @MethodSource("seeds")
    void acknowledgedWritesSurviveSigkill(long seed) throws Exception {
        SplittableRandom rnd = new SplittableRandom(seed);
        int port = freePort();
        Path data = dir.resolve("node");
        byte[][] acked = new byte[BLOCKS][]; // content acknowledged per block, null = never written
        int inflightBlock = -1;
        byte[] inflight = null;
        Process node = start(data, port);
        try (TestInitiator i = connect(port)) {
            long killAtNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(rnd.nextInt(100, 1500));
            int version = 0;
            while (true) {
                int block = rnd.nextInt(BLOCKS);
                version++;
                byte[] before = acked[block] == null ? new byte[4096] : acked[block];
                byte[] after = content(rnd, seed, block, version);
                int sector = -1;
                if (rnd.nextInt(10) == 0) { // a 512-byte write: read-modify-write inside the 4 KiB block
                    sector = rnd.nextInt(8);
                    byte[] merged = before.clone();
                    System.arraycopy(after, sector * 512, merged, sector * 512, 512);
                    after = merged;
                }
                byte[] cdb = sector < 0
                        ? IscsiProtocolTest.cdb10(0x2a, block * 8L, 8)
                        : IscsiProtocolTest.cdb10(0x2a, block * 8L + sector, 1);
                byte[] payload = sector < 0 ? after : Arrays.copyOfRange(after, sector * 512, sector * 512 + 512);
                inflightBlock = block;
                inflight = after;
                if (System.nanoTime() >= killAtNs) {
                    // this write is on its way when the process dies
                    i.send(i.scsiHeader(0, cdb, payload.length, false, true), payload);
                    node.destroyForcibly(); // SIGKILL
                    node.waitFor(10, TimeUnit.SECONDS);
                    break;
                }
                byte[] status = i.command(0, cdb, payload.length, false, payload);
                assertEquals(0, status[0], "write status seed=" + seed);
                acked[block] = after;
                inflightBlock = -1;
            }
        } catch (IOException e) {
            // the connection may die with the process: the kill is the point
        } finally {
            node.destroyForcibly();
        }
        node = start(data, port);
        try (TestInitiator i = connect(port)) {
            int checked = 0;
            for (int b = 0; b < BLOCKS; b++) {
                if (acked[b] == null && b != inflightBlock) {
                    continue;
                }
                byte[] r = i.command(0, IscsiProtocolTest.cdb10(0x28, b * 8L, 8), 4096, true, null);
                if (r[0] != 0) {
                    List<String> log = Files.readAllLines(data.resolve("node.log"));
                    fail("read status " + r[0] + " seed=" + seed + " block=" + b + "; node.log tail:\n"
                            + String.join("\n", log.subList(Math.max(0, log.size() - 25), log.size())));
                }
                byte[] got = Arrays.copyOfRange(r, 1, r.length);
                byte[] want = acked[b] == null ? new byte[4096] : acked[b];
                boolean ok = Arrays.equals(got, want) || (b == inflightBlock && Arrays.equals(got, inflight));
                if (!ok) {
                    fail("lost acknowledged write: seed=" + seed + " block=" + b + " (rerun with -Dseed=" + seed + ")");
                }
                checked++;
            }
            assertTrue(checked > 0, "the run wrote something before the kill: seed=" + seed);
            JsonNode audit = audit(data);
            assertEquals(
                    0, audit.path("discrepancies").asLong(-1), "auditor after restart seed=" + seed + ": " + audit);
            System.out.printf(
                    "crash seed=%d blocks_checked=%d inflight_block=%d audit=%s%n",
                    seed, checked, inflightBlock, audit);
        } finally {
            node.destroy();
            node.waitFor(10, TimeUnit.SECONDS);
        }
    }

    /**
     * A block's new content: mostly unique and self-describing, some from a small shared pool
     * (dedup), some compressible, some zeros (unmapped).
     */
    static byte[] content(SplittableRandom rnd, long seed, int block, int version) {
        int kind = rnd.nextInt(10);
        if (kind < 2) {
            return pattern(seed, -1, rnd.nextInt(16)); // shared: dedup
        }
        if (kind == 2) {
            return new byte[4096];
        }
        byte[] b = pattern(seed, block, version);
        if (kind < 5) { // compressible
            for (int k = 16; k < b.length; k++) {
                b[k] = (byte) ('a' + (k % 7));
            }
        }
        return b;
    }

    static JsonNode audit(Path data) throws Exception {
        String base = Files.readString(data.resolve("node.mgmt")).trim();
        HttpRequest req = HttpRequest.newBuilder(URI.create(base + "/api/v1/audit?fingerprints=true"))
                .POST(HttpRequest.BodyPublishers.noBody())
                .build();
        try (HttpClient http = HttpClient.newHttpClient()) {
            HttpResponse<String> r = http.send(req, HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode(), r.body());
            return new ObjectMapper().readTree(r.body());
        }
    }

    /** 4 KiB that say which block and version they are, so a misplaced or stale block is caught. */
    static byte[] pattern(long seed, int block, int version) {
        byte[] b = new byte[4096];
        new SplittableRandom(seed * 1_000_003L + block * 7_919L + version).nextBytes(b);
        ByteBuffer.wrap(b).putInt(0, block).putInt(4, version);
        return b;
    }

    static boolean isZero(byte[] b) {
        for (byte x : b) {
            if (x != 0) {
                return false;
            }
        }
        return true;
    }

    private static TestInitiator connect(int port) throws IOException {
        TestInitiator i = new TestInitiator(port);
        assertEquals(0, i.login(IscsiProtocolTest.INITIATOR, TARGET, Map.of()).loginStatus());
        return i;
    }

    /** Starts a controller as its own process, as the launcher does, and waits for it to serve. */
    private static Process start(Path data, int port) throws Exception {
        Files.createDirectories(data);
        Files.deleteIfExists(data.resolve("node.url"));
        String java = ProcessHandle.current().info().command().orElse("java");
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        Process p = new ProcessBuilder(
                        java,
                        "--enable-native-access=ALL-UNNAMED",
                        "-Xmx256m",
                        "-cp",
                        cp,
                        "io.hashbrick.node.Main",
                        "--dir",
                        data.toString(),
                        "--port",
                        Integer.toString(port),
                        "--mgmt-port",
                        "0",
                        "--target",
                        TARGET,
                        "--lun-size",
                        (BLOCKS * 4) + "K",
                        "--nop-interval-ms",
                        "0",
                        "--ssds",
                        "6",
                        "--ssd-size",
                        "32M",
                        "--nvram-size",
                        "8M",
                        "--checkpoint-interval-ms",
                        "300",
                        "--read-cache-size",
                        "4M",
                        "--audit-fingerprints-at-start")
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(
                        data.resolve("node.log").toFile()))
                .start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!Files.exists(data.resolve("node.url"))) {
            if (!p.isAlive() || System.nanoTime() > deadline) {
                p.destroyForcibly();
                fail("controller did not start: " + Files.readString(data.resolve("node.log")));
            }
            Thread.sleep(20);
        }
        return p;
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
