package io.hashbrick.node.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.hashbrick.proto.cluster.v1.ClusterMap;
import io.hashbrick.proto.cluster.v1.Member;
import io.hashbrick.routing.placement.Placement;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The controllers' agents of a two-brick cluster in this JVM (three voters c1..c3, and c4 following
 * through a client): each registers once, the placement is committed once every controller is a member,
 * and a restarted agent finds itself registered and the map placed.
 */
class ClusterAgentTest {
    private static final Duration WAIT = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    private final List<AutoCloseable> open = new ArrayList<>();

    @AfterEach
    void stopAll() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
    }

    @Test
    @Timeout(120)
    void controllersRegisterAndThePlacementIsCommittedOnce() throws Exception {
        int[] ports = freePorts(3);
        ClusterPeers peers = ClusterPeers.parse(
                "agents", "c1=127.0.0.1:" + ports[0] + ",c2=127.0.0.1:" + ports[1] + ",c3=127.0.0.1:" + ports[2]);
        List<ClusterAgent> agents = new ArrayList<>();
        for (int c = 1; c <= 4; c++) {
            String id = "c" + c;
            ClusterMember voter =
                    c <= 3 ? ClusterMember.start(peers, id, dir.resolve(id), ClusterTuning.DEFAULT) : null;
            if (voter != null) {
                open.add(voter);
            }
            ClusterAgent agent = new ClusterAgent(
                    ControllerIdentity.of(id, (c + 1) / 2, 2),
                    "127.0.0.1:" + (3300 + c),
                    "127.0.0.1:" + (3260 + c - 1),
                    peers,
                    ClusterTuning.DEFAULT,
                    voter);
            open.add(agent);
            agents.add(agent);
            agent.start();
        }
        for (ClusterAgent a : agents) {
            await(a.self().memberId() + " placed", () -> a.phase().equals("placed"));
        }
        ClusterMap map = agents.get(0).map();
        assertEquals(4, map.getMembersCount());
        assertEquals(Placement.BUCKETS, map.getBucketsCount());
        assertEquals(5, map.getEpoch(), "four AddMember and one SetAssignment: each applied once");
        int sum = 0;
        for (Member m : map.getMembersList()) {
            sum += InitialPlacement.share(map.getBucketsList(), m.getId());
            assertEquals("127.0.0.1:" + (3260 + m.getId() - 1), m.getPortal(), "c" + m.getId() + "'s portal");
        }
        assertEquals(Placement.BUCKETS, sum);
        ClusterAgent follower = agents.get(3);
        await("c4's view refreshed", () -> follower.map().getBucketsCount() == Placement.BUCKETS);
        Map<String, Object> status = follower.status();
        assertEquals("none", status.get("raft_role"));
        assertEquals("committed", status.get("placement"));
        assertEquals(1024, status.get("buckets"));

        // c4 restarts: it finds itself a member and the map placed; nothing is committed again
        follower.close();
        open.remove(follower);
        ClusterAgent again = new ClusterAgent(
                ControllerIdentity.of("c4", 2, 2),
                "127.0.0.1:3304",
                "127.0.0.1:3263",
                peers,
                ClusterTuning.DEFAULT,
                null);
        open.add(again);
        again.start();
        await("c4 placed again", () -> again.phase().equals("placed"));
        assertEquals(5, agents.get(0).map().getEpoch());
        assertTrue(
                agents.get(0).status().get("leader").toString().matches("c[123]"),
                "a leader is known: " + agents.get(0).status());
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
