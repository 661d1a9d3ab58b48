package io.hashbrick.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.hashbrick.node.catalog.Volume;
import io.hashbrick.node.catalog.VolumeException;
import io.hashbrick.node.catalog.VolumeService;
import io.hashbrick.node.cluster.ClusterAgent;
import io.hashbrick.node.cluster.ClusterClient;
import io.hashbrick.node.cluster.ClusterMember;
import io.hashbrick.node.cluster.ClusterPeers;
import io.hashbrick.node.cluster.ClusterTuning;
import io.hashbrick.node.cluster.ControllerIdentity;
import io.hashbrick.node.mgmt.ManagementServer;
import io.hashbrick.node.scsi.ScsiDeviceServer;
import io.hashbrick.proto.cluster.v1.Catalog;
import io.hashbrick.proto.cluster.v1.Command;
import io.hashbrick.proto.cluster.v1.CommandResult;
import io.hashbrick.proto.cluster.v1.CreateVolume;
import io.hashbrick.proto.cluster.v1.QueryResult;
import io.hashbrick.proto.cluster.v1.Status;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two controllers' VolumeServices (file-backed) bridged to the catalog of a real Raft group in this
 * JVM (voters c1..c3, agents c1..c4 so the placement commits): A is c1 (a voter, applying its replica's
 * catalog; it creates the default volumes), B is c4 (no voter, polling the leader). Volume commands on
 * either appear on both with the same id, LUN, size and block size; a restarted B catches up, deleting
 * only what the log deleted; refusals come back with the single controller's kinds; without a quorum a
 * command answers UNAVAILABLE (503).
 */
class ClusterCatalogTest {
    private static final Duration WAIT = Duration.ofSeconds(30);
    /** Short, so the no-quorum case answers quickly. */
    private static final Duration COMMAND_DEADLINE = Duration.ofSeconds(4);

    private static final String TARGET = "iqn.2026-11.io.hashbrick:test";
    private static final long MIB = 1L << 20;

    @TempDir
    Path dir;

    private final List<AutoCloseable> open = new ArrayList<>();
    private final ClusterMember[] voters = new ClusterMember[4];
    private ClusterPeers peers;

    @AfterEach
    void stopAll() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
    }

    @Test
    @Timeout(180)
    void volumeCommandsGoThroughRaftAndEveryControllerAppliesThem() throws Exception {
        startGroup();
        ClusterCatalog.Defaults defaults = new ClusterCatalog.Defaults(2, 4 * MIB, 512);
        VolumeService volA = volumes("a");
        ClusterCatalog a = bridge("c1", 1, volA, defaults);
        VolumeService volB = volumes("b");
        ClusterCatalog b = bridge("c4", 2, volB, defaults);
        assertTrue(a.awaitReady(WAIT), "A applied the catalog and made the defaults");
        assertTrue(b.awaitReady(WAIT), "B applied the catalog");

        // the defaults: ids 1 and 2, LUNs 0 and 1, once, on both
        assertEquals(List.of("lun0:1:0", "lun1:2:1"), names(volA));
        await("B holds the defaults", () -> names(volB).equals(names(volA)));

        // create on A: answered once applied on A; B follows with the same id and LUN
        Volume db1 = a.create("db1", 8 * MIB, 4096);
        assertEquals(3, db1.id());
        assertEquals(2, db1.lun());
        assertSame(db1, find(volA, "db1"));
        await("db1 on B", () -> same(db1, find(volB, "db1")));

        // create on B (no voter): answered once applied on B
        Volume db2 = b.create("db2", 4 * MIB, 512);
        assertEquals(4, db2.id());
        assertSame(db2, find(volB, "db2"));
        await("db2 on A", () -> same(db2, find(volA, "db2")));

        // resize on B, A follows
        Volume grown = b.resize("db1", 16 * MIB);
        assertEquals(16 * MIB, grown.sizeBytes());
        assertEquals(16 * MIB, find(volB, "db1").sizeBytes());
        await("db1 grown on A", () -> find(volA, "db1").sizeBytes() == 16 * MIB);

        // refusals, the same kinds as a single controller's, on both
        for (ClusterCatalog c : List.of(a, b)) {
            assertKind(VolumeException.Kind.CONFLICT, () -> c.create("db1", 4 * MIB, 512));
            assertKind(VolumeException.Kind.INVALID, () -> c.create("db9", 1000, 512));
            assertKind(VolumeException.Kind.INVALID, () -> c.create("bad name", 4 * MIB, 512));
            assertKind(VolumeException.Kind.INVALID, () -> c.create("db9", 4 * MIB, 1024));
            assertKind(VolumeException.Kind.CONFLICT, () -> c.resize("db1", 8 * MIB));
            assertKind(VolumeException.Kind.INVALID, () -> c.resize("db1", 16 * MIB + 1));
            assertKind(VolumeException.Kind.NOT_FOUND, () -> c.resize("nope", 16 * MIB));
            assertKind(VolumeException.Kind.NOT_FOUND, () -> c.delete("nope"));
        }
        assertNull(find(volA, "db9"));

        // a retried command (same operation id) is applied once
        try (ClusterClient client = ClusterClient.connect(peers, ClusterTuning.DEFAULT, WAIT)) {
            Command create = client.prepare(Command.newBuilder()
                    .setCreateVolume(CreateVolume.newBuilder()
                            .setName("retried")
                            .setSizeBytes(4 * MIB)
                            .setBlockSize(512)));
            CommandResult first = client.submit(create);
            CommandResult again = client.submit(create);
            assertEquals(Status.OK, first.getStatus(), first.getDetail());
            assertEquals(first, again, "the retry is answered with the first result");
            QueryResult q = client.catalog();
            assertEquals(1, count(q.getCatalog(), "retried"));
            assertEquals(first.getVolumeId() + 1, q.getCatalog().getNextVolumeId(), "one id taken");
        }
        await("retried on A and B once", () -> count(volA, "retried") == 1 && count(volB, "retried") == 1);

        // B stops; meanwhile a volume is created and one deleted; B restarts and catches up
        b.close();
        open.remove(b);
        volB.close();
        open.remove(volB);
        Volume away = a.create("while-away", 4 * MIB, 512);
        a.delete("db2");
        assertNull(find(volA, "db2"), "deleted on A before the answer");
        VolumeService volB2 = volumes("b");
        assertNotNull(find(volB2, "db2"), "B's own catalog file still holds db2 (Raft not read yet)");
        ClusterCatalog b2 = bridge("c4", 2, volB2, defaults);
        assertTrue(b2.awaitReady(WAIT), "B applied the catalog again");
        assertSame(away, find(volB2, "while-away"));
        assertNull(find(volB2, "db2"), "its deletion was committed");
        assertEquals(names(volA), names(volB2));
        assertEquals(16 * MIB, find(volB2, "db1").sizeBytes());

        // the LUN db2 freed goes to the next volume, the same on both
        Volume db3 = b2.create("db3", 4 * MIB, 512);
        assertEquals(db2.lun(), db3.lun());
        await("db3 on A", () -> same(db3, find(volA, "db3")));

        // A restarts: the defaults are not created again, though lun1 is gone
        a.delete("lun1");
        a.close();
        open.remove(a);
        ClusterCatalog a2 = bridge("c1", 1, volA, defaults);
        assertTrue(a2.awaitReady(WAIT));
        assertNull(find(volA, "lun1"), "a default is made once, not at every start");
        await("lun1 gone on B", () -> find(volB2, "lun1") == null);

        // through the management API (B): the same codes as a single controller's
        try (ManagementServer api =
                new ManagementServer("127.0.0.1", 0, volB2, TARGET, () -> new ObjectMapper().createObjectNode())) {
            api.volumeCommands(b2);
            String base = "http://127.0.0.1:" + api.start() + "/api/v1/volumes";
            HttpClient http = HttpClient.newHttpClient();
            HttpResponse<String> r = send(http, "POST", base, "{\"name\":\"web\",\"size\":\"4M\"}");
            assertEquals(201, r.statusCode(), r.body());
            assertTrue(r.body().contains("\"lun\" : 1"), "the lowest free LUN: " + r.body());
            assertEquals(
                    409,
                    send(http, "POST", base, "{\"name\":\"web\",\"size\":\"4M\"}")
                            .statusCode());
            assertEquals(
                    400,
                    send(http, "POST", base, "{\"name\":\"web2\",\"size\":1000}")
                            .statusCode());
            assertEquals(404, send(http, "DELETE", base + "/nope", null).statusCode());
            assertEquals(
                    200, send(http, "PUT", base + "/web", "{\"size\":\"8M\"}").statusCode());
            assertEquals(200, send(http, "DELETE", base + "/web", null).statusCode());
            await("web gone on A", () -> find(volA, "web") == null && find(volA, "db3") != null);

            // no quorum (two voters of three stopped): 503 with the reason; the volumes stay served
            for (int c = 2; c <= 3; c++) {
                open.remove(voters[c]);
                voters[c].close();
            }
            long t0 = System.nanoTime();
            r = send(http, "POST", base, "{\"name\":\"late\",\"size\":\"4M\"}");
            assertEquals(503, r.statusCode(), r.body());
            assertTrue(r.body().contains("no Raft leader or no quorum"), r.body());
            assertTrue(System.nanoTime() - t0 < Duration.ofSeconds(20).toNanos(), "bounded by the command deadline");
            assertNotNull(volB2.device("db1"), "I/O does not wait for Raft");

            // the voters come back: commands commit again (the clients recover from Ratis closing them)
            for (int c = 2; c <= 3; c++) {
                voters[c] = ClusterMember.start(peers, "c" + c, dir.resolve("raft-c" + c), ClusterTuning.DEFAULT);
                open.add(voters[c]);
            }
            long end = System.nanoTime() + WAIT.toNanos();
            do {
                r = send(http, "POST", base, "{\"name\":\"after\",\"size\":\"4M\"}");
            } while (r.statusCode() == 503 && System.nanoTime() < end);
            assertTrue(r.statusCode() == 201 || r.statusCode() == 409, r.statusCode() + " " + r.body());
            await("after on A", () -> find(volA, "after") != null);
            assertEquals(1, count(volB2, "after"));
        }
    }

    private void startGroup() throws IOException {
        int[] ports = freePorts(3);
        peers = ClusterPeers.parse(
                "catalog", "c1=127.0.0.1:" + ports[0] + ",c2=127.0.0.1:" + ports[1] + ",c3=127.0.0.1:" + ports[2]);
        for (int c = 1; c <= 4; c++) {
            String id = "c" + c;
            ClusterMember voter =
                    c <= 3 ? ClusterMember.start(peers, id, dir.resolve("raft-" + id), ClusterTuning.DEFAULT) : null;
            if (voter != null) {
                open.add(voter);
                voters[c] = voter;
            }
            ClusterAgent agent = new ClusterAgent(
                    ControllerIdentity.of(id, (c + 1) / 2, 2),
                    "127.0.0.1:" + (3400 + c),
                    "127.0.0.1:" + (3260 + c - 1),
                    peers,
                    ClusterTuning.DEFAULT,
                    voter);
            open.add(agent);
            agent.start();
        }
    }

    private VolumeService volumes(String name) throws IOException {
        Path d = dir.resolve(name);
        java.nio.file.Files.createDirectories(d);
        VolumeService v = VolumeService.open(d, new ScsiDeviceServer("HASHBRCK", "TEST", List.of()), TARGET);
        open.add(v);
        return v;
    }

    private ClusterCatalog bridge(String id, int brick, VolumeService volumes, ClusterCatalog.Defaults defaults) {
        int c = ControllerIdentity.controllerOf(id);
        ClusterCatalog bridge = new ClusterCatalog(
                ControllerIdentity.of(id, brick, 2),
                peers,
                ClusterTuning.DEFAULT,
                c <= 3 ? voters[c] : null,
                volumes,
                TARGET,
                defaults,
                COMMAND_DEADLINE,
                catalog -> {});
        open.add(bridge);
        bridge.start();
        return bridge;
    }

    /** name:id:lun of every volume, in id order. */
    private static List<String> names(VolumeService volumes) {
        return volumes.list().stream()
                .sorted(java.util.Comparator.comparingInt(Volume::id))
                .map(v -> v.name() + ":" + v.id() + ":" + v.lun())
                .toList();
    }

    private static Volume find(VolumeService volumes, String name) {
        for (Volume v : volumes.list()) {
            if (v.name().equals(name)) {
                return v;
            }
        }
        return null;
    }

    private static long count(VolumeService volumes, String name) {
        return volumes.list().stream().filter(v -> v.name().equals(name)).count();
    }

    private static long count(Catalog catalog, String name) {
        return catalog.getVolumesList().stream()
                .filter(v -> v.getName().equals(name))
                .count();
    }

    private static boolean same(Volume want, Volume got) {
        return got != null
                && got.id() == want.id()
                && got.lun() == want.lun()
                && got.sizeBytes() == want.sizeBytes()
                && got.blockSize() == want.blockSize()
                && got.name().equals(want.name());
    }

    private static void assertSame(Volume want, Volume got) {
        assertTrue(same(want, got), "want " + want + " got " + got);
    }

    @FunctionalInterface
    private interface Call {
        void run() throws Exception;
    }

    private static void assertKind(VolumeException.Kind kind, Call call) {
        VolumeException e = assertThrows(VolumeException.class, call::run);
        assertEquals(kind, e.kind(), e.getMessage());
    }

    private static HttpResponse<String> send(HttpClient http, String method, String url, String body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(60));
        b.method(
                method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long end = System.nanoTime() + WAIT.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > end) {
                fail("not reached within " + WAIT.toSeconds() + " s: " + what);
            }
            Thread.sleep(20);
        }
    }

    private static int[] freePorts(int n) throws IOException {
        int[] ports = new int[n];
        ServerSocket[] sockets = new ServerSocket[n];
        try {
            for (int i = 0; i < n; i++) {
                sockets[i] = new ServerSocket(0);
                ports[i] = sockets[i].getLocalPort();
            }
        } finally {
            for (ServerSocket s : sockets) {
                if (s != null) {
                    s.close();
                }
            }
        }
        return ports;
    }
}
