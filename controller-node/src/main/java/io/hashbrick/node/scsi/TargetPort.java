package io.hashbrick.node.scsi;

/**
 * One SCSI target port of the array (SAM-5 §4.6.5) as asymmetric logical unit access reports it: its
 * relative target port identifier (SPC-4 §7.8.6.7) and the target port group it belongs to (§5.16). In
 * a cluster every controller's portal is one port, identifier and group both the controller's number,
 * so REPORT TARGET PORT GROUPS through any portal lists every path of the array.
 *
 * @param relativePortId 1..65535 (0 is reserved)
 * @param portGroup 0..65535
 * @param available false: its controller is down (its pool failed over): reported unavailable (SPC-4
 *     §5.16.2.1, asymmetric access state 3h), so a host's multipath stops choosing its paths
 */
public record TargetPort(int relativePortId, int portGroup, boolean available) {
    public TargetPort {
        if (relativePortId < 1 || relativePortId > 0xFFFF || portGroup < 0 || portGroup > 0xFFFF) {
            throw new IllegalArgumentException(
                    "target port out of range: relative_port_id=" + relativePortId + " port_group=" + portGroup);
        }
    }

    /** An active/optimized port. */
    public TargetPort(int relativePortId, int portGroup) {
        this(relativePortId, portGroup, true);
    }

    /** Whether this is the port {@code other} names (the same identifier and group, whatever its state). */
    boolean sameAs(TargetPort other) {
        return relativePortId == other.relativePortId && portGroup == other.portGroup;
    }
}
