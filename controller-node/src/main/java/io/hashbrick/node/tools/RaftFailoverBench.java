package io.hashbrick.node.tools;

import io.hashbrick.node.cluster.ClusterClient;
import io.hashbrick.node.cluster.ClusterPeers;
import io.hashbrick.node.cluster.ClusterTuning;
import io.hashbrick.proto.cluster.v1.Command;
import io.hashbrick.proto.cluster.v1.CommandResult;
import io.hashbrick.proto.cluster.v1.CreateVolume;
import io.hashbrick.proto.cluster.v1.Status;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/**
 * How long the cluster map's Raft group is without a leader when its leader's process dies: three
 * voter processes ({@code Witness} mains) on 127.0.0.1; each round SIGKILLs the leader, measures the
 * time to the first command committed after the kill, starts the process again on its storage and
 * measures the time until it has caught up. Prints one line per round and a summary. A benchmark, not
 * a test: nothing is asserted.
 *
 * <pre>
 * deploy/hashbrick build
 * java -cp 'controller-node/target/hashbrick-controller-node.jar:controller-node/target/lib/*' \
 *     io.hashbrick.node.tools.RaftFailoverBench --rounds 10
 * </pre>
 */
@CommandLine.Command(
        name = "raft-failover-bench",
        mixinStandardHelpOptions = true,
        description = "SIGKILLs the Raft leader of three voter processes and times the first commit after it.")
public final class RaftFailoverBench implements Callable<Integer> {
    private static final String[] IDS = {"c1", "c2", "w"};
    private static final Duration DEADLINE = Duration.ofSeconds(10);

    @Option(names = "--rounds", defaultValue = "10", description = "Leader kills (default ${DEFAULT-VALUE}).")
    int rounds;

    @Option(names = "--dir", description = "Working directory (default: a new temporary one).")
    Path dir;

    @Option(
            names = "--election-ms",
            defaultValue = "100-200",
            description = "Voters' election timeouts MIN-MAX ms (default ${DEFAULT-VALUE}).")
    String electionMs;

    private final Map<String, Process> voters = new TreeMap<>();
    private ClusterPeers peers;

    @Override
    public Integer call() throws Exception {
        if (dir == null) {
            dir = Files.createTempDirectory("raft-failover-bench");
        }
        StringBuilder spec = new StringBuilder();
        for (String id : IDS) {
            spec.append(spec.isEmpty() ? "" : ",")
                    .append(id)
                    .append("=127.0.0.1:")
                    .append(freePort());
        }
        peers = ClusterPeers.parse("bench", spec.toString());
        Runtime.getRuntime().addShutdownHook(new Thread(this::stopAll, "bench-stop"));
        try {
            for (String id : IDS) {
                start(id);
            }
            run();
        } finally {
            stopAll();
        }
        return 0;
    }

    private void run() throws Exception {
        long[] firstCommitMs = new long[rounds];
        long[] catchUpMs = new long[rounds];
        try (ClusterClient client = connect()) {
            for (int round = 0; round < rounds; round++) {
                long index = commit(client, round, "before");
                String leader = client.leaderHint();
                long killed = System.nanoTime();
                Instant killedAt = Instant.now(); // to line up with the voters' logs
                voters.get(leader).destroyForcibly().waitFor(); // SIGKILL
                index = commit(client, round, "after");
                firstCommitMs[round] = (System.nanoTime() - killed) / 1_000_000;
                long restarted = System.nanoTime();
                start(leader);
                awaitCaughtUp(client, leader, index);
                catchUpMs[round] = (System.nanoTime() - restarted) / 1_000_000;
                System.out.println("round=" + (round + 1) + " killed=" + leader + " killed_at=" + killedAt
                        + " new_leader=" + client.leaderHint()
                        + " first_commit_after_kill_ms=" + firstCommitMs[round] + " restarted_voter_caught_up_ms="
                        + catchUpMs[round]);
            }
        }
        System.out.println("rounds=" + rounds + " election_ms=" + electionMs + " first_commit_after_kill_ms "
                + summary(firstCommitMs)
                + " caught_up_ms " + summary(catchUpMs));
    }

    /** Connects once the group has a leader: three JVMs starting on a busy machine can take a while. */
    private ClusterClient connect() throws IOException {
        for (int attempt = 1; ; attempt++) {
            try {
                return ClusterClient.connect(peers, ClusterTuning.DEFAULT.withElection(electionMs), DEADLINE);
            } catch (IOException e) {
                if (attempt == 3) {
                    throw e;
                }
            }
        }
    }

    /** Commits one command, retrying the same operation until it is answered: @return its log index */
    private static long commit(ClusterClient client, int round, String when) {
        Command c = client.prepare(Command.newBuilder()
                .setCreateVolume(CreateVolume.newBuilder()
                        .setName("r" + round + "-" + when)
                        .setSizeBytes(1L << 30)
                        .setBlockSize(512)));
        for (int attempt = 0; attempt < 5; attempt++) {
            CommandResult r = client.submit(c);
            if (r.getStatus() == Status.OK) {
                return r.getIndex();
            }
            if (r.getStatus() != Status.DEADLINE_EXCEEDED && r.getStatus() != Status.UNAVAILABLE) {
                throw new IllegalStateException("commit refused: status=" + r.getStatus() + " " + r.getDetail());
            }
        }
        throw new IllegalStateException("no commit in 5 attempts: round=" + round + " when=" + when);
    }

    private void awaitCaughtUp(ClusterClient client, String voter, long index) throws InterruptedException {
        long end = System.nanoTime() + DEADLINE.toNanos();
        while (System.nanoTime() < end) {
            Long commit = client.commitIndexes(client.leaderHint()).get(voter);
            if (commit != null && commit >= index) {
                return;
            }
            Thread.sleep(5);
        }
        throw new IllegalStateException("voter did not catch up: voter=" + voter + " index=" + index);
    }

    private static String summary(long[] ms) {
        long[] sorted = ms.clone();
        Arrays.sort(sorted);
        return "min=" + sorted[0] + " median=" + sorted[sorted.length / 2] + " max=" + sorted[sorted.length - 1];
    }

    private void start(String id) throws IOException {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>(List.of(
                java,
                "-Xmx128m",
                "-XX:+UseSerialGC",
                "--enable-native-access=ALL-UNNAMED",
                "--sun-misc-unsafe-memory-access=allow",
                "-cp",
                System.getProperty("java.class.path"),
                "io.hashbrick.node.cluster.Witness",
                "--cluster",
                "bench",
                "--id",
                id,
                "--peers",
                peersSpec(),
                "--election-ms",
                electionMs,
                "--dir",
                dir.resolve(id).toString()));
        Process p = new ProcessBuilder(cmd)
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(
                        dir.resolve(id + ".log").toFile()))
                .start();
        voters.put(id, p);
    }

    private String peersSpec() {
        StringBuilder spec = new StringBuilder();
        for (String id : IDS) {
            spec.append(spec.isEmpty() ? "" : ",")
                    .append(id)
                    .append('=')
                    .append(peers.peer(id).getAddress());
        }
        return spec.toString();
    }

    private synchronized void stopAll() {
        for (Process p : voters.values()) {
            p.destroy();
        }
        for (Process p : voters.values()) {
            try {
                if (!p.waitFor(5, java.util.concurrent.TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                }
            } catch (InterruptedException e) {
                p.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
        voters.clear();
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new RaftFailoverBench()).execute(args));
    }
}
