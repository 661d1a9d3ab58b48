package io.hashbrick.node.scsi;

/**
 * One SCSI target port of the array (SAM-5 §4.6.5) as asymmetric logical unit access reports it: its
 * relative target port identifier (SPC-4 §7.8.6.7) and the target port group it belongs to (§5.16). In
 * a cluster every controller's portal is one port, identifier and group both the controller's number,
 * so REPORT TARGET PORT GROUPS through any portal lists every path of the array.
 *
 * @param relativePortId 1..65535 (0 is reserved)
 * @param portGroup 0..65535
 */
public record TargetPort(int relativePortId, int portGroup) {
    public TargetPort {
        if (relativePortId < 1 || relativePortId > 0xFFFF || portGroup < 0 || portGroup > 0xFFFF) {
            throw new IllegalArgumentException(
                    "target port out of range: relative_port_id=" + relativePortId + " port_group=" + portGroup);
        }
    }
}
