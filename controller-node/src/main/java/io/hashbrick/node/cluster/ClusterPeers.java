package io.hashbrick.node.cluster;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;

/**
 * The voters of a cluster's Raft group: 3 or 5 (1 for a development node), each an id and a
 * host:port. The group id is derived from the cluster's name, so every process given the same name and
 * peers forms the same group with no id to hand around (and no randomness).
 *
 * <p>Written as {@code c1=127.0.0.1:7101,c2=127.0.0.1:7102,w=127.0.0.1:7103}.
 */
public record ClusterPeers(String clusterName, RaftGroup group) {
    public ClusterPeers {
        int n = group.getPeers().size();
        if (n != 1 && n != 3 && n != 5) {
            throw new IllegalArgumentException(
                    "a cluster group has 1, 3 or 5 voters: voters=" + n + " cluster=" + clusterName);
        }
    }

    public static ClusterPeers parse(String clusterName, String spec) {
        List<RaftPeer> peers = new ArrayList<>();
        for (String item : spec.split(",", -1)) {
            int eq = item.indexOf('=');
            int colon = item.lastIndexOf(':');
            String id = eq < 0 ? "" : item.substring(0, eq);
            if (!id.matches("[a-z0-9][a-z0-9-]{0,31}")
                    || colon < eq + 2
                    || !item.substring(colon + 1).matches("\\d{1,5}")) {
                throw new IllegalArgumentException("peer must be id=host:port, id of [a-z0-9-]: peer=" + item);
            }
            int port = Integer.parseInt(item.substring(colon + 1));
            if (port < 1 || port > 65535) {
                throw new IllegalArgumentException("peer port out of range: peer=" + item);
            }
            for (RaftPeer p : peers) {
                if (p.getId().toString().equals(id)) {
                    throw new IllegalArgumentException("peer id repeated: id=" + id + " peers=" + spec);
                }
            }
            peers.add(RaftPeer.newBuilder()
                    .setId(id)
                    .setAddress(item.substring(eq + 1))
                    .build());
        }
        return new ClusterPeers(clusterName, RaftGroup.valueOf(groupId(clusterName), peers));
    }

    /** The group id of a cluster: a name-based UUID, the same in every process. */
    public static RaftGroupId groupId(String clusterName) {
        return RaftGroupId.valueOf(
                UUID.nameUUIDFromBytes(("hashbrick-cluster:" + clusterName).getBytes(StandardCharsets.UTF_8)));
    }

    public RaftPeer peer(String id) {
        RaftPeer p = group.getPeer(RaftPeerId.valueOf(id));
        if (p == null) {
            throw new IllegalArgumentException("not a voter of the group: id=" + id + " group=" + group);
        }
        return p;
    }

    public List<String> ids() {
        List<String> ids = new ArrayList<>();
        for (RaftPeer p : group.getPeers()) {
            ids.add(p.getId().toString());
        }
        return ids;
    }
}
