package io.hashbrick.node.scsi;

import java.util.ArrayList;
import java.util.List;

/**
 * Reservations of one logical unit, in memory: the SPC-2 RESERVE(6)/RELEASE(6) holder and SPC-4 §5.13
 * persistent reservations (registrations per I_T nexus, one reservation of scope LU). Cluster-wide
 * coordination comes later; all methods are synchronized (PR commands are rare).
 */
final class Reservations {
    /** SPC-4 §6.16.3 table 170 reservation types. */
    static final int WE = 1, EA = 3, WE_RO = 5, EA_RO = 6, WE_AR = 7, EA_AR = 8;

    /** One registration: an I_T nexus (initiator port + target port) and its key (SPC-4 §5.13.7). */
    static final class Registration {
        final String initiatorPort;
        final String targetPort;
        final int relativeTargetPort;
        long key;

        Registration(ItNexus n, long key) {
            this.initiatorPort = n.initiatorPort();
            this.targetPort = n.targetPort();
            this.relativeTargetPort = n.relativeTargetPort();
            this.key = key;
        }

        boolean is(ItNexus n) {
            return initiatorPort.equals(n.initiatorPort()) && targetPort.equals(n.targetPort());
        }
    }

    private ItNexus reserve6Holder;
    final List<Registration> registrations = new ArrayList<>();
    /** The reservation holder, or null; for all-registrants types any registration holds it. */
    Registration holder;

    int type;
    int generation;

    // ---- SPC-2 RESERVE(6)/RELEASE(6)

    synchronized boolean reserve6(ItNexus n) {
        if ((reserve6Holder != null && !reserve6Holder.equals(n)) || holder != null) {
            return false;
        }
        reserve6Holder = n;
        return true;
    }

    synchronized void release6(ItNexus n) {
        if (n.equals(reserve6Holder)) {
            reserve6Holder = null;
        }
    }

    /** LU reset, target reset, or (for {@code n} itself) I_T nexus loss release the SPC-2 reservation. */
    synchronized void clearReserve6(ItNexus n) {
        if (n == null || n.equals(reserve6Holder)) {
            reserve6Holder = null;
        }
    }

    // ---- access checks (SPC-4 §5.13.1 table 63, SPC-2 §5.5.1)

    /**
     * @param access {@link OpcodeTable#ACCESS_ALWAYS}, {@code ACCESS_READ} or {@code ACCESS_WRITE}
     * @return true if the command must end in RESERVATION CONFLICT
     */
    synchronized boolean conflicts(ItNexus n, int access, int opcode) {
        if (access == OpcodeTable.ACCESS_ALWAYS) {
            return false;
        }
        if (reserve6Holder != null) {
            // SPC-2 §7.21: RELEASE from another initiator is a no-op that completes GOOD
            return !reserve6Holder.equals(n) && opcode != 0x17;
        }
        if (holder == null || access == OpcodeTable.ACCESS_PR_OUT) {
            return false;
        }
        Registration r = find(n);
        boolean allRegistrants = type == WE_AR || type == EA_AR;
        boolean registrantsOnly = type == WE_RO || type == EA_RO;
        if (r != null && (r == holder || allRegistrants || registrantsOnly)) {
            return false;
        }
        boolean writeExclusive = type == WE || type == WE_RO || type == WE_AR;
        return !(writeExclusive && access == OpcodeTable.ACCESS_READ);
    }

    Registration find(ItNexus n) {
        for (Registration r : registrations) {
            if (r.is(n)) {
                return r;
            }
        }
        return null;
    }

    boolean isHolder(Registration r) {
        return r != null && holder != null && (r == holder || type == WE_AR || type == EA_AR);
    }

    boolean reserve6Held() {
        return reserve6Holder != null;
    }
}
