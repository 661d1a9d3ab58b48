package io.hashbrick.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import io.hashbrick.node.iscsi.NetworkPortal;
import io.hashbrick.node.scsi.TargetPort;
import io.hashbrick.proto.cluster.v1.ClusterMap;
import io.hashbrick.proto.cluster.v1.Member;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** The map's members as the front end's ports and portals: port, group and tag K for controller K. */
class ClusterPortsTest {
    private static Member member(int id, String portal) {
        return Member.newBuilder()
                .setId(id)
                .setBrick((id + 1) / 2)
                .setAddress("127.0.0.1:" + (7450 + id))
                .setPortal(portal)
                .build();
    }

    @Test
    void everyMemberIsAPortAndEveryRegisteredPortalIsListed() {
        ClusterMap two = ClusterMap.newBuilder()
                .setEpoch(3)
                .addMembers(member(2, "127.0.0.1:3401"))
                .addMembers(member(1, "127.0.0.1:3400"))
                .build();
        AtomicReference<ClusterMap> map = new AtomicReference<>(ClusterMap.getDefaultInstance());
        ClusterPorts ports = new ClusterPorts(map::get);
        assertEquals(List.of(), ports.targetPorts(), "no map yet: the front end reports its own port alone");
        map.set(two);
        assertEquals(List.of(new TargetPort(1, 1), new TargetPort(2, 2)), ports.targetPorts(), "in member order");
        assertEquals(
                List.of(new NetworkPortal("127.0.0.1:3400", 1), new NetworkPortal("127.0.0.1:3401", 2)),
                ports.portals());
        assertSame(ports.targetPorts(), ports.targetPorts(), "the same map: built once");

        map.set(two.toBuilder()
                .setEpoch(4)
                .addMembers(member(3, "127.0.0.1:3402"))
                .addMembers(member(4, "")) // registered by a build without portals
                .build());
        assertEquals(4, ports.targetPorts().size(), "a new map shows at once");
        assertEquals(3, ports.portals().size(), "c4 registered no portal: SendTargets cannot list it");
        assertEquals(new TargetPort(4, 4), ports.targetPorts().get(3));

        map.set(two.toBuilder()
                .setEpoch(5)
                .setMembers(1, two.getMembers(1).toBuilder().setServedBy(2)) // c1 down, its pool on c2
                .build());
        assertEquals(
                List.of(new TargetPort(1, 1, false), new TargetPort(2, 2)),
                ports.targetPorts(),
                "a controller whose pool failed over is unavailable");
    }
}
