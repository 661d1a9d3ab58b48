package io.hashbrick.node;

import io.hashbrick.node.iscsi.IscsiServer;
import io.hashbrick.node.iscsi.NetworkPortal;
import io.hashbrick.node.scsi.ScsiDeviceServer;
import io.hashbrick.node.scsi.TargetPort;
import io.hashbrick.proto.cluster.v1.ClusterMap;
import io.hashbrick.proto.cluster.v1.Member;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * The front end's view of the cluster as one array with a port per controller (issue 19 item 4): each
 * member K of the map is SCSI target port K in target port group K (REPORT TARGET PORT GROUPS) and the
 * iSCSI portal it registered, with portal group tag K (SendTargets). The front end gets plain suppliers
 * of these lists; it never sees the map. Rebuilt only when the map changes (a new map is a new value).
 */
final class ClusterPorts {
    private final Supplier<ClusterMap> maps;
    private volatile View view = new View(null, List.of(), List.of());

    record View(ClusterMap map, List<TargetPort> ports, List<NetworkPortal> portals) {}

    ClusterPorts(Supplier<ClusterMap> maps) {
        this.maps = maps;
    }

    /** Gives this controller's SCSI device server and portal the cluster's ports. */
    static void attach(Supplier<ClusterMap> maps, ScsiDeviceServer scsi, IscsiServer portal) {
        ClusterPorts p = new ClusterPorts(maps);
        scsi.targetPorts(p::targetPorts);
        portal.portals(p::portals);
    }

    /** Every member's port, in member (= group) order. */
    List<TargetPort> targetPorts() {
        return current().ports();
    }

    /** Every member's registered portal, in member order; a member that registered none is left out. */
    List<NetworkPortal> portals() {
        return current().portals();
    }

    private View current() {
        ClusterMap m = maps.get();
        View v = view;
        if (m == null || m == v.map()) {
            return v;
        }
        v = of(m);
        view = v;
        return v;
    }

    static View of(ClusterMap m) {
        List<Member> members = new ArrayList<>(m.getMembersList());
        members.sort((a, b) -> Integer.compare(a.getId(), b.getId()));
        List<TargetPort> ports = new ArrayList<>(members.size());
        List<NetworkPortal> portals = new ArrayList<>(members.size());
        for (Member member : members) {
            if (member.getId() < 1 || member.getId() > 0xFFFF) {
                continue; // no such controller number: the map refuses them; never a port 0
            }
            boolean home = member.getServedBy() == 0 || member.getServedBy() == member.getId();
            ports.add(new TargetPort(member.getId(), member.getId(), home)); // failed over: its process is down
            if (!member.getPortal().isEmpty()) {
                portals.add(new NetworkPortal(member.getPortal(), member.getId()));
            }
        }
        return new View(m, List.copyOf(ports), List.copyOf(portals));
    }
}
