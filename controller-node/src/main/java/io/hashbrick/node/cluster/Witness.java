package io.hashbrick.node.cluster;

import io.hashbrick.node.Log;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The witness: a small process that is only a voter of the cluster's Raft group, with no I/O role.
 * A one-brick cluster has two controllers; a third voter lets either survive the other's loss with a
 * quorum, as two-node clusters use a quorum device. As bricks join, controllers replace it. It holds
 * the log and the state machine like any voter (Raft has no log-less voters), a few MiB at most.
 *
 * <pre>
 * java -cp 'controller-node/target/classes:controller-node/target/lib/*' io.hashbrick.node.cluster.Witness \
 *     --id w --peers c1=127.0.0.1:7101,c2=127.0.0.1:7102,w=127.0.0.1:7103 --dir /var/lib/hashbrick/witness
 * </pre>
 *
 * SIGTERM stops it cleanly; SIGKILL is survived like any voter's crash (it recovers from its storage).
 */
@Command(
        name = "hashbrick-witness",
        mixinStandardHelpOptions = true,
        version = "hashbrick 0.1",
        description = "Runs a voter of the cluster's Raft group that serves no I/O.")
public final class Witness implements Callable<Integer> {
    @Option(names = "--id", required = true, description = "This voter's id among --peers.")
    String id;

    @Option(names = "--peers", required = true, description = "Every voter: id=host:port,... (3 or 5).")
    String peers;

    @Option(names = "--dir", required = true, description = "Storage directory (Raft log and snapshots).")
    Path dir;

    @Option(
            names = "--cluster",
            defaultValue = "hashbrick",
            description = "Cluster name; the Raft group id derives from it (default ${DEFAULT-VALUE}).")
    String cluster;

    @Option(
            names = "--election-ms",
            description = "Election timeout range MIN-MAX in ms; every voter must use the same (default 100-200).")
    String electionMs;

    @Override
    public Integer call() throws Exception {
        ClusterPeers group = ClusterPeers.parse(cluster, peers);
        ClusterTuning tuning =
                electionMs == null ? ClusterTuning.DEFAULT : ClusterTuning.DEFAULT.withElection(electionMs);
        ClusterMember member = ClusterMember.start(group, id, dir, tuning);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime()
                .addShutdownHook(new Thread(
                        () -> {
                            try {
                                member.close();
                            } catch (Exception e) {
                                Log.warn("witness_stop_failed", "member=" + id + " error=" + Log.q(e));
                            }
                            stopped.countDown();
                        },
                        "witness-stop"));
        Log.info("witness_started", "member=" + id + " cluster=" + cluster + " peers=" + peers);
        stopped.await();
        return 0;
    }

    public static void main(String[] args) {
        CommandLine cl = new CommandLine(new Witness());
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            Log.error("witness_failed", "error=" + Log.q(ex.getMessage()));
            return 1;
        });
        int code = cl.execute(args);
        if (code != 0) {
            System.exit(code);
        }
    }
}
