package io.hashbrick.node.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.hashbrick.node.CorruptCheckpointException;
import io.hashbrick.proto.cluster.v1.Command;
import io.hashbrick.proto.cluster.v1.CommandResult;
import io.hashbrick.proto.cluster.v1.QueryResult;
import io.hashbrick.proto.cluster.v1.Status;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three Ratis voters in this JVM over gRPC on 127.0.0.1: commands commit, a retry is answered with its
 * first result, the leader's loss is survived, and a voter restarted on its storage catches up from
 * the leader's snapshot (it missed more than the leader's log still holds) and from its own. Every wait
 * is bounded; the figures go to the test's output ({@code cluster_figure} lines), never into an
 * assertion on speed.
 */
class ClusterGroupTest {
    private static final long GIB = 1L << 30;
    private static final Duration WAIT = Duration.ofSeconds(15);

    @TempDir
    Path dir;

    private final Map<String, ClusterMember> members = new TreeMap<>();
    private ClusterPeers peers;
    /** Small log segments and an eager purge, so a snapshot leaves the leader's early log behind. */
    private final ClusterTuning tuning = ClusterTuning.DEFAULT.withLog(8 << 10, 1);

    @AfterEach
    void stopAll() throws IOException {
        for (ClusterMember m : members.values()) {
            m.close();
        }
        members.clear();
    }

    @Test
    @Timeout(90)
    void commitsSurvivesTheLeadersLossAndARestartedVoterCatchesUp() throws Exception {
        int[] ports = freePorts(3);
        peers = ClusterPeers.parse(
                "test", "c1=127.0.0.1:" + ports[0] + ",c2=127.0.0.1:" + ports[1] + ",w=127.0.0.1:" + ports[2]);
        for (String id : peers.ids()) {
            start(id);
        }
        try (ClusterClient client = ClusterClient.connect(peers, tuning, WAIT)) {
            ok(client.submit(Commands.addMember(0, 1, 1)));
            ok(client.submit(Commands.addMember(1, 2, 1)));
            ok(client.submit(Commands.assign(2, 64, 1, 2)));
            Command create = client.prepare(Commands.createVolume("vol-a", GIB));
            CommandResult first = ok(client.submit(create));
            assertEquals(first, client.submit(create), "a retry through Raft is answered with the first result");
            assertEquals(
                    Status.STALE_EPOCH,
                    client.submit(Commands.failover(2, 1, 2)).getStatus());
            QueryResult map = client.map();
            assertEquals(Status.OK, map.getStatus());
            assertEquals(3, map.getMap().getEpoch());
            assertEquals(1, client.catalog().getCatalog().getVolumesCount());

            // The leader stops (its server closed, as a process would end); the survivors elect another.
            ClusterMember leader = awaitLeader();
            members.remove(leader.id());
            long killed = System.nanoTime();
            CompletableFuture<Void> closing = CompletableFuture.runAsync(() -> closeQuietly(leader));
            ClusterMember newLeader = awaitLeader();
            long electedMs = (System.nanoTime() - killed) / 1_000_000;
            ok(client.submit(Commands.createVolume("vol-b", GIB)));
            long firstCommitMs = (System.nanoTime() - killed) / 1_000_000;
            closing.get(WAIT.toSeconds(), TimeUnit.SECONDS);
            assertNotEquals(leader.id(), newLeader.id());
            System.out.println("cluster_figure event=leader_lost leader=" + leader.id() + " new_leader="
                    + newLeader.id() + " term=" + newLeader.term() + " new_leader_ready_ms=" + electedMs
                    + " first_commit_ms=" + firstCommitMs + " election_min_ms="
                    + tuning.electionMin().toMillis()
                    + " election_max_ms=" + tuning.electionMax().toMillis());

            for (int i = 0; i < 200; i++) {
                ok(client.submit(Commands.createVolume("v" + i, GIB)));
            }
            ok(client.submit(Commands.failover(3, 1, 2)));
            long snapshot = client.takeSnapshot(newLeader.id());
            assertTrue(snapshot >= first.getIndex() + 200, "snapshot index=" + snapshot);

            long restarted = System.nanoTime();
            ClusterMember back = start(leader.id());
            awaitEqualState(back, newLeader);
            long catchUpMs = (System.nanoTime() - restarted) / 1_000_000;
            // Whether it catches up from the leader's snapshot or from the log depends on whether the
            // leader purged its log up to the snapshot yet (asynchronous): either way the state agrees
            // (above); restarted once more, it starts from a snapshot of its own. (CI saw the log path once.)
            String by = back.stateMachine().snapshotsInstalled() >= 1 ? "installed_snapshot" : "log";
            System.out.println("cluster_figure event=voter_restarted member=" + back.id() + " caught_up_by=" + by
                    + " snapshot_index=" + snapshot + " catch_up_ms=" + catchUpMs);

            // Restarted again, it starts from its own snapshot and log, and catches up on what it missed.
            assertTrue(client.takeSnapshot(back.id()) >= snapshot);
            back.close();
            members.remove(back.id());
            ok(client.submit(Commands.createVolume("while-away", GIB)));
            ClusterMember again = start(back.id());
            awaitEqualState(again, awaitLeader());
            assertEquals(4, again.stateMachine().mapView().getEpoch());
            assertEquals(203, client.catalog().getCatalog().getVolumesCount());
        }
    }

    /** Fail-stop: a voter whose snapshot fails its checks does not start on part of a state. */
    @Test
    @Timeout(60)
    void aVoterRefusesToStartOnACorruptSnapshot() throws Exception {
        peers = ClusterPeers.parse("solo", "c1=127.0.0.1:" + freePorts(1)[0]);
        start("c1");
        long snapshot;
        try (ClusterClient client = ClusterClient.connect(peers, tuning, WAIT)) {
            ok(client.submit(Commands.createVolume("vol-a", GIB)));
            snapshot = client.takeSnapshot("c1");
            assertTrue(snapshot > 0, "snapshot index=" + snapshot);
        }
        members.remove("c1").close();
        // Every snapshot the voter kept is corrupted, not only the one asked for: under load CI once saw
        // the voter start from a later snapshot (one Ratis takes when the server stops, if an entry was
        // applied after the one asked for), which this test is not about.
        List<Path> snapshots;
        try (var files = Files.walk(dir.resolve("c1"))) {
            snapshots = files.filter(f -> f.getFileName().toString().matches("snapshot\\.\\d+_\\d+"))
                    .toList();
        }
        assertTrue(
                snapshots.stream().anyMatch(f -> f.getFileName().toString().endsWith("_" + snapshot)),
                "snapshot " + snapshot + " among " + snapshots);
        for (Path file : snapshots) {
            byte[] bytes = Files.readAllBytes(file);
            bytes[bytes.length - 1] ^= 1;
            Files.write(file, bytes);
        }
        CorruptCheckpointException e = assertThrows(CorruptCheckpointException.class, () -> start("c1"));
        assertTrue(e.getMessage().contains("crc32c="), e.getMessage());
        members.remove("c1");
    }

    private static void closeQuietly(ClusterMember m) {
        try {
            m.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private ClusterMember start(String id) throws IOException {
        ClusterMember m = ClusterMember.start(peers, id, dir.resolve(id), tuning);
        members.put(id, m);
        return m;
    }

    private static CommandResult ok(CommandResult r) {
        assertEquals(Status.OK, r.getStatus(), r.getDetail());
        return r;
    }

    private ClusterMember awaitLeader() throws InterruptedException {
        List<ClusterMember> leaders = new ArrayList<>();
        await("a leader", () -> {
            leaders.clear();
            for (ClusterMember m : members.values()) {
                if (m.isLeader()) {
                    leaders.add(m);
                }
            }
            return leaders.size() == 1;
        });
        return leaders.get(0);
    }

    private static void awaitEqualState(ClusterMember follower, ClusterMember leader) throws InterruptedException {
        await(
                follower.id() + " equal to " + leader.id(),
                () -> follower.stateMachine().appliedIndex()
                                >= leader.stateMachine().appliedIndex()
                        && follower.stateMachine()
                                .image()
                                .equals(leader.stateMachine().image()));
        assertArrayEquals(
                leader.stateMachine().image().toByteArray(),
                follower.stateMachine().image().toByteArray());
    }

    private static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long end = System.nanoTime() + WAIT.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > end) {
                fail("not reached within " + WAIT.toSeconds() + " s: " + what);
            }
            Thread.sleep(10);
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
