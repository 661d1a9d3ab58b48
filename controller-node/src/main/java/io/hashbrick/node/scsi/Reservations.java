package io.hashbrick.node.scsi;

import java.util.List;

/**
 * The reservations of one logical unit as a value: SPC-4 §5.13 persistent reservations (registrations
 * per I_T nexus, one reservation of scope LU) and the SPC-2 RESERVE(6)/RELEASE(6) holder. Never
 * changed in place: a change ({@link ReservationRules}) makes the next version, which the unit installs
 * ({@link LogicalUnit#install}); the access check of every command reads the installed value without a
 * lock. In a cluster the value is the catalog's (one per volume, the same through every controller's
 * port), so nexuses are named by their SCSI port names, never by a process's own ids.
 *
 * @param version one more at each change; 0: never changed
 * @param generation PRgeneration (SPC-4 §6.15.2)
 * @param registrations in registration order
 * @param holder index of the holder's registration, -1 when unreserved (all-registrants types: any
 *     registration holds it; this one is reported)
 * @param type the reservation's type (SPC-4 table 170) while reserved
 * @param reserve6Initiator the RESERVE(6) holder's initiator port, "" when none
 * @param reserve6Target the RESERVE(6) holder's target port, "" when none
 * @param reserve6Nexus which incarnation of that I_T nexus holds it ({@link ItNexus#id()}, random per
 *     process): the end of an older session of the same ports (a reinstatement) releases nothing
 * @param attentions the unit attentions of the newest changes, oldest first, at most {@link
 *     #KEPT_ATTENTIONS}
 */
public record Reservations(
        long version,
        int generation,
        List<Registration> registrations,
        int holder,
        int type,
        String reserve6Initiator,
        String reserve6Target,
        long reserve6Nexus,
        List<Attention> attentions) {

    /** SPC-4 §6.16.3 table 170 reservation types. */
    public static final int WE = 1, EA = 3, WE_RO = 5, EA_RO = 6, WE_AR = 7, EA_AR = 8;

    /** Registrations per unit: beyond, INSUFFICIENT REGISTRATION RESOURCES (SPC-4 §5.13.7). */
    public static final int MAX_REGISTRATIONS = 256;

    /**
     * Unit attentions of older changes kept with the value, for controllers that apply several versions
     * at once; the newest change's are all kept (at most one per registration, or one for a reset).
     */
    public static final int KEPT_ATTENTIONS = 32;

    /** The most unit attentions a value holds. */
    public static final int MAX_ATTENTIONS = KEPT_ATTENTIONS + MAX_REGISTRATIONS;

    public static final Reservations NONE = new Reservations(0, 0, List.of(), -1, 0, "", "", 0, List.of());

    public Reservations {
        registrations = List.copyOf(registrations);
        attentions = List.copyOf(attentions);
        if (holder < -1 || holder >= registrations.size()) {
            throw new IllegalArgumentException("holder=" + holder + " registrations=" + registrations.size());
        }
    }

    /** One registered I_T nexus and its reservation key (SPC-4 §5.13.7). */
    public record Registration(String initiatorPort, String targetPort, int relativeTargetPort, long key) {
        boolean is(ItNexus n) {
            return initiatorPort.equals(n.initiatorPort()) && targetPort.equals(n.targetPort());
        }
    }

    /**
     * A unit attention ({@code asc << 8 | ascq}) established by change {@code version}: for the nexus
     * named, or, with an empty {@code initiatorPort}, for every nexus (a reset: replaces what was pending).
     */
    public record Attention(long version, String initiatorPort, String targetPort, int code) {
        boolean everyNexus() {
            return initiatorPort.isEmpty();
        }

        boolean names(ItNexus n) {
            return initiatorPort.equals(n.initiatorPort()) && targetPort.equals(n.targetPort());
        }
    }

    // ---- access checks (SPC-4 §5.13.1 table 63, SPC-2 §5.5.1)

    /**
     * @param access {@link OpcodeTable#ACCESS_ALWAYS}, {@code ACCESS_READ} or {@code ACCESS_WRITE}
     * @return true if the command must end in RESERVATION CONFLICT
     */
    boolean conflicts(ItNexus n, int access, int opcode) {
        if (access == OpcodeTable.ACCESS_ALWAYS) {
            return false;
        }
        if (reserve6Held()) {
            // SPC-2 §7.21: RELEASE from another initiator is a no-op that completes GOOD
            return !reserve6HeldBy(n) && opcode != 0x17;
        }
        if (holder < 0 || access == OpcodeTable.ACCESS_PR_OUT) {
            return false;
        }
        int r = find(n);
        boolean registrantsOnly = type == WE_RO || type == EA_RO;
        if (r >= 0 && (r == holder || allRegistrants() || registrantsOnly)) {
            return false;
        }
        boolean writeExclusive = type == WE || type == WE_RO || type == WE_AR;
        return !(writeExclusive && access == OpcodeTable.ACCESS_READ);
    }

    /** The index of {@code n}'s registration, or -1. */
    int find(ItNexus n) {
        for (int i = 0; i < registrations.size(); i++) {
            if (registrations.get(i).is(n)) {
                return i;
            }
        }
        return -1;
    }

    boolean allRegistrants() {
        return type == WE_AR || type == EA_AR;
    }

    /** Whether registration {@code i} holds the reservation (SPC-4 §5.13.10). */
    boolean isHolder(int i) {
        return i >= 0 && holder >= 0 && (i == holder || allRegistrants());
    }

    boolean reserve6Held() {
        return !reserve6Initiator.isEmpty();
    }

    /** Whether the I_T nexus {@code n} names (its ports, any incarnation) holds RESERVE(6). */
    boolean reserve6HeldBy(ItNexus n) {
        return reserve6Initiator.equals(n.initiatorPort()) && reserve6Target.equals(n.targetPort());
    }

    /** Whether this very session of {@code n} took RESERVE(6). */
    boolean reserve6HeldByThisSession(ItNexus n) {
        return reserve6HeldBy(n) && reserve6Nexus == n.id();
    }
}
