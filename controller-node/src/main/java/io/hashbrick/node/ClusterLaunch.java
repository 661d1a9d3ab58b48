package io.hashbrick.node;

import io.hashbrick.node.cluster.ClusterAgent;
import io.hashbrick.node.cluster.ClusterMember;
import io.hashbrick.node.cluster.ClusterPeers;
import io.hashbrick.node.cluster.ClusterTuning;
import io.hashbrick.node.cluster.ControllerIdentity;
import io.hashbrick.node.cluster.LeaseKeeper;
import java.io.IOException;
import java.nio.file.Path;

/**
 * A controller's control plane in cluster mode: its Raft voter when the group names it among the
 * voters (the others follow the map through a client), and the {@link ClusterAgent} that registers it
 * and commits the first placement. Started before the I/O side and independent of it: nothing on the
 * I/O path waits for Raft.
 */
final class ClusterLaunch implements AutoCloseable {
    private final ClusterAgent agent;
    private final ClusterMember voter;
    private final ClusterPeers peers;
    private final ClusterTuning tuning;
    private final LeaseKeeper lease;

    private ClusterLaunch(
            ClusterAgent agent, ClusterMember voter, ClusterPeers peers, ClusterTuning tuning, LeaseKeeper lease) {
        this.agent = agent;
        this.lease = lease;
        this.voter = voter;
        this.peers = peers;
        this.tuning = tuning;
    }

    /**
     * @param address where this controller's roles listen (host:port), registered in the map
     * @param portal where its iSCSI portal will listen (host:port), registered in the map
     * @param raftDir the voter's storage, or null for {@code dir/raft}
     * @param electionMs election timeouts MIN-MAX, or null for the default
     */
    static ClusterLaunch start(
            ControllerIdentity self,
            String address,
            String portal,
            String clusterName,
            String raftPeers,
            Path dir,
            Path raftDir,
            String electionMs)
            throws IOException {
        ClusterPeers peers = ClusterPeers.parse(clusterName, raftPeers);
        ClusterTuning tuning =
                electionMs == null ? ClusterTuning.DEFAULT : ClusterTuning.DEFAULT.withElection(electionMs);
        boolean votes = peers.ids().contains(self.memberId());
        ClusterMember voter = votes
                ? ClusterMember.start(peers, self.memberId(), raftDir == null ? dir.resolve("raft") : raftDir, tuning)
                : null;
        ClusterAgent agent = new ClusterAgent(self, address, portal, peers, tuning, voter);
        agent.start();
        LeaseKeeper lease = new LeaseKeeper(self, peers);
        lease.start();
        Log.info(
                "cluster_controller_started",
                "member=" + self.memberId() + " brick=" + self.brick() + " controllers=" + self.expectedControllers()
                        + " voter=" + votes + " cluster=" + clusterName + " voters=" + String.join(",", peers.ids()));
        return new ClusterLaunch(agent, voter, peers, tuning, lease);
    }

    ClusterAgent agent() {
        return agent;
    }

    /** This controller's voter, or null when it is not one. */
    ClusterMember voter() {
        return voter;
    }

    /** This controller's lease from the Raft leader (its brick peer fences it when it runs out). */
    LeaseKeeper lease() {
        return lease;
    }

    ClusterPeers peers() {
        return peers;
    }

    ClusterTuning tuning() {
        return tuning;
    }

    @Override
    public void close() throws IOException {
        lease.close();
        agent.close();
        if (voter != null) {
            voter.close();
        }
    }
}
