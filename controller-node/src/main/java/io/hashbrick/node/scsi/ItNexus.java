package io.hashbrick.node.scsi;

/**
 * An I_T nexus (SAM-5 §4.7): one initiator port talking to one target port. For iSCSI the initiator
 * port is the session's initiator name plus ISID ("iqn...,i,0x&lt;isid&gt;", RFC 7143 §10.1.4) and the
 * target port is the target name plus the portal group tag ("iqn...,t,0x&lt;tpgt&gt;").
 *
 * @param id unique within this process for the nexus's life; keys per-nexus state (unit attentions,
 *     reservations)
 * @param initiatorName the iSCSI initiator name (for logs and persistent reservations' TransportIDs)
 * @param initiatorPort the SCSI initiator port name, "name,i,0x&lt;isid&gt;"
 * @param targetPort the SCSI target port name, "name,t,0x&lt;tpgt&gt;"
 * @param relativeTargetPort relative target port identifier (SPC-4 §7.8.6.7), 1-based
 * @param targetPortGroup the ALUA target port group this port belongs to
 */
public record ItNexus(
        long id,
        String initiatorName,
        String initiatorPort,
        String targetPort,
        int relativeTargetPort,
        int targetPortGroup) {}
