package io.hashbrick.node.iscsi;

/**
 * A network portal of the target (RFC 7143 §2.2.2): the address an initiator connects to, and the
 * target portal group it belongs to. SendTargets reports it as {@code TargetAddress=address,tag}
 * (RFC 7143 Appendix C). In a cluster every controller's portal is one, tag = the controller's number.
 *
 * @param address {@code host:port} (an IPv6 host in brackets)
 * @param portalGroupTag TargetPortalGroupTag, 1..65535
 */
public record NetworkPortal(String address, int portalGroupTag) {
    public NetworkPortal {
        if (address == null || address.isEmpty() || address.indexOf(',') >= 0 || address.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("portal address must be host:port: address=" + address);
        }
        if (portalGroupTag < 1 || portalGroupTag > 0xFFFF) {
            throw new IllegalArgumentException(
                    "portal group tag out of range: address=" + address + " tag=" + portalGroupTag);
        }
    }
}
