package io.hashbrick.node.scsi;

import java.util.ArrayList;
import java.util.List;

/**
 * The rules of reservations as a pure function: a request (PERSISTENT RESERVE OUT, RESERVE(6),
 * RELEASE(6), a reset, an I_T nexus loss) against the value a unit holds gives the outcome to report and
 * the next value ({@code next == base} when nothing changed). No I/O, no clock, no shared state: a
 * controller computes it from the version it holds, and in a cluster the catalog takes the result only
 * if that version is still the newest (compare-and-set), so every port sees one order of changes.
 */
public final class ReservationRules {
    private ReservationRules() {}

    /**
     * Request kinds. NEXUS_LOST: a session ended (releases RESERVE(6) if that session holds it);
     * PORT_LOST: every nexus through a target port ended (its controller died or restarted).
     */
    public static final int PROUT = 0, RESERVE6 = 1, RELEASE6 = 2, RESET = 3, NEXUS_LOST = 4, PORT_LOST = 5;

    /** PERSISTENT RESERVE OUT service actions (SPC-4 §6.16.2). */
    static final int REGISTER = 0,
            RESERVE = 1,
            RELEASE = 2,
            CLEAR = 3,
            PREEMPT = 4,
            PREEMPT_AND_ABORT = 5,
            REGISTER_AND_IGNORE = 6;

    private static final int INVALID_RELEASE = 0x2604;

    /**
     * One change asked by the nexus named (its ports). For {@link #PROUT}: the service action, type, key
     * and service action key, already checked for shape; for {@link #RESET}: the reset's unit attention.
     */
    public record Request(
            int kind,
            String initiatorPort,
            String targetPort,
            int relativeTargetPort,
            long nexusId,
            int serviceAction,
            int type,
            long key,
            long saKey,
            int code) {

        static Request of(int kind, ItNexus n) {
            return new Request(kind, n.initiatorPort(), n.targetPort(), n.relativeTargetPort(), n.id(), 0, 0, 0, 0, 0);
        }

        public static Request reset(int code) {
            return new Request(RESET, "", "", 0, 0, 0, 0, 0, 0, code);
        }

        /** Every nexus through {@code targetPort} is gone: RESERVE(6) held through it is released. */
        public static Request portLost(String targetPort) {
            return new Request(PORT_LOST, "", targetPort, 0, 0, 0, 0, 0, 0, 0);
        }

        static Request prout(ItNexus n, int serviceAction, int type, long key, long saKey) {
            return new Request(
                    PROUT,
                    n.initiatorPort(),
                    n.targetPort(),
                    n.relativeTargetPort(),
                    n.id(),
                    serviceAction,
                    type,
                    key,
                    saKey,
                    0);
        }

        boolean is(Reservations.Registration r) {
            return r.initiatorPort().equals(initiatorPort) && r.targetPort().equals(targetPort);
        }
    }

    /**
     * What the command reports: GOOD, RESERVATION CONFLICT, or CHECK CONDITION with a sense key and code
     * (and, for INVALID FIELD, where: in the CDB or the parameter list, at byte {@code field}).
     */
    public record Outcome(int status, int senseKey, int code, boolean inCdb, int field) {
        public static final Outcome GOOD = new Outcome(ScsiTask.GOOD, 0, 0, false, -1);
        public static final Outcome CONFLICT = new Outcome(ScsiTask.RESERVATION_CONFLICT, 0, 0, false, -1);
        /** The cluster could not take the change (no leader, no quorum): initiators retry. */
        public static final Outcome UNAVAILABLE = check(Sense.NOT_READY, Sense.ASYMMETRIC_ACCESS_STATE_TRANSITION);
        /** The cluster's catalog no longer holds the unit's volume (deleted meanwhile). */
        public static final Outcome NO_SUCH_UNIT = check(Sense.ILLEGAL_REQUEST, Sense.LU_NOT_SUPPORTED);

        static Outcome check(int key, int code) {
            return new Outcome(ScsiTask.CHECK_CONDITION, key, code, false, -1);
        }

        static Outcome invalidField(boolean inCdb, int field) {
            return new Outcome(
                    ScsiTask.CHECK_CONDITION,
                    Sense.ILLEGAL_REQUEST,
                    inCdb ? Sense.INVALID_FIELD_IN_CDB : Sense.INVALID_FIELD_IN_PARAMETER_LIST,
                    inCdb,
                    field);
        }

        public boolean good() {
            return status == ScsiTask.GOOD;
        }

        void reportTo(ScsiTask t, boolean descriptorSense) {
            if (status == ScsiTask.CHECK_CONDITION) {
                if (field >= 0) {
                    Sense.invalidField(t, descriptorSense, inCdb, field);
                } else {
                    Sense.check(t, descriptorSense, senseKey, code);
                }
            } else {
                t.status = status;
            }
        }
    }

    /** The outcome and the next value ({@code next == base}: unchanged, nothing to commit). */
    public record Result(Outcome outcome, Reservations next) {}

    public static Result evaluate(Reservations base, Request req) {
        Draft d = new Draft(base);
        Outcome o =
                switch (req.kind()) {
                    case PROUT -> d.prout(req);
                    case RESERVE6 -> d.reserve6(req);
                    case RELEASE6 -> d.release6(req);
                    case RESET -> d.reset(req.code());
                    case NEXUS_LOST -> d.nexusLost(req);
                    case PORT_LOST -> d.portLost(req);
                    default -> throw new IllegalArgumentException("kind=" + req.kind());
                };
        return new Result(o, d.freeze());
    }

    /** A mutable copy of a value while one request is applied to it. */
    private static final class Draft {
        private final Reservations base;
        private final long version;
        private final ArrayList<Reservations.Registration> regs;
        private Reservations.Registration holder;
        private int type;
        private int generation;
        private String r6Initiator;
        private String r6Target;
        private long r6Nexus;
        private final List<Reservations.Attention> raised = new ArrayList<>();
        private boolean changed;

        Draft(Reservations base) {
            this.base = base;
            this.version = base.version() + 1;
            this.regs = new ArrayList<>(base.registrations());
            this.holder = base.holder() < 0 ? null : regs.get(base.holder());
            this.type = base.type();
            this.generation = base.generation();
            this.r6Initiator = base.reserve6Initiator();
            this.r6Target = base.reserve6Target();
            this.r6Nexus = base.reserve6Nexus();
        }

        Reservations freeze() {
            if (!changed) {
                return base;
            }
            // the older changes' newest few, then every one of this change (none may be lost)
            List<Reservations.Attention> older = base.attentions();
            List<Reservations.Attention> kept = new ArrayList<>(
                    older.subList(Math.max(0, older.size() - Reservations.KEPT_ATTENTIONS), older.size()));
            kept.addAll(raised);
            int h = holder == null ? -1 : regs.indexOf(holder);
            return new Reservations(
                    version, generation, regs, h, h < 0 ? 0 : type, r6Initiator, r6Target, r6Nexus, kept);
        }

        // ---- SPC-2 RESERVE(6) / RELEASE(6), resets, nexus loss

        Outcome reserve6(Request n) {
            boolean mine = r6Initiator.equals(n.initiatorPort()) && r6Target.equals(n.targetPort());
            if ((!r6Initiator.isEmpty() && !mine) || holder != null) {
                return Outcome.CONFLICT;
            }
            if (!mine || r6Nexus != n.nexusId()) { // a reinstated session of the holder's ports takes it over
                r6Initiator = n.initiatorPort();
                r6Target = n.targetPort();
                r6Nexus = n.nexusId();
                changed = true;
            }
            return Outcome.GOOD;
        }

        Outcome release6(Request n) {
            if (r6Initiator.equals(n.initiatorPort()) && r6Target.equals(n.targetPort())) {
                clearReserve6();
            }
            return Outcome.GOOD; // SPC-2 §7.21: RELEASE from another nexus is a no-op
        }

        /** A reset keeps persistent reservations (SPC-4 §5.13.1) but drops RESERVE(6). */
        Outcome reset(int code) {
            clearReserve6();
            raised.add(new Reservations.Attention(version, "", "", code));
            changed = true;
            return Outcome.GOOD;
        }

        /** Only the session that holds it releases it: an older one of the same ports ending changes nothing. */
        Outcome nexusLost(Request n) {
            if (r6Initiator.equals(n.initiatorPort()) && r6Target.equals(n.targetPort()) && r6Nexus == n.nexusId()) {
                clearReserve6();
            }
            return Outcome.GOOD;
        }

        Outcome portLost(Request n) {
            if (!r6Target.isEmpty() && r6Target.equals(n.targetPort())) {
                clearReserve6();
            }
            return Outcome.GOOD;
        }

        private void clearReserve6() {
            if (!r6Initiator.isEmpty()) {
                r6Initiator = "";
                r6Target = "";
                r6Nexus = 0;
                changed = true;
            }
        }

        // ---- PERSISTENT RESERVE OUT (SPC-4 §5.13)

        Outcome prout(Request n) {
            if (!r6Initiator.isEmpty()) {
                return Outcome.CONFLICT; // SPC-4 §5.13.3
            }
            Reservations.Registration me = find(n);
            int sa = n.serviceAction();
            if (sa == REGISTER || sa == REGISTER_AND_IGNORE) {
                return register(n, me, sa == REGISTER_AND_IGNORE);
            }
            if (me == null || me.key() != n.key()) {
                return Outcome.CONFLICT;
            }
            return switch (sa) {
                case RESERVE -> reserve(me, n.type());
                case RELEASE -> release(me, n.type());
                case CLEAR -> clear(me);
                default -> preempt(me, n.saKey(), n.type());
            };
        }

        private Reservations.Registration find(Request n) {
            for (Reservations.Registration r : regs) {
                if (n.is(r)) {
                    return r;
                }
            }
            return null;
        }

        private boolean allRegistrants() {
            return type == Reservations.WE_AR || type == Reservations.EA_AR;
        }

        private boolean isHolder(Reservations.Registration r) {
            return r != null && holder != null && (r == holder || allRegistrants());
        }

        private Outcome register(Request n, Reservations.Registration me, boolean ignore) {
            long saKey = n.saKey();
            if (me == null) {
                if (!ignore && n.key() != 0) {
                    return Outcome.CONFLICT; // §5.13.7.3: an unregistered nexus sends key 0
                }
                if (saKey != 0) {
                    if (regs.size() >= Reservations.MAX_REGISTRATIONS) {
                        return Outcome.check(Sense.ILLEGAL_REQUEST, Sense.INSUFFICIENT_REGISTRATION_RESOURCES);
                    }
                    regs.add(new Reservations.Registration(
                            n.initiatorPort(), n.targetPort(), n.relativeTargetPort(), saKey));
                    generation++;
                    changed = true;
                }
                return Outcome.GOOD;
            }
            if (!ignore && me.key() != n.key()) {
                return Outcome.CONFLICT;
            }
            generation++;
            changed = true;
            if (saKey != 0) {
                Reservations.Registration rekeyed = new Reservations.Registration(
                        me.initiatorPort(), me.targetPort(), me.relativeTargetPort(), saKey);
                regs.set(regs.indexOf(me), rekeyed);
                if (holder == me) {
                    holder = rekeyed;
                }
                return Outcome.GOOD;
            }
            unregister(me);
            return Outcome.GOOD;
        }

        /** §5.13.11.2.3: removing the holder's registration releases the reservation (unless others still hold it). */
        private void unregister(Reservations.Registration me) {
            regs.remove(me);
            if (holder == me) {
                if (allRegistrants() && !regs.isEmpty()) {
                    holder = regs.get(0);
                } else {
                    boolean ro = type == Reservations.WE_RO || type == Reservations.EA_RO;
                    holder = null;
                    if (ro) {
                        raiseForAllBut(null, Sense.RESERVATIONS_RELEASED);
                    }
                }
            }
        }

        private Outcome reserve(Reservations.Registration me, int t) {
            if (holder == null) {
                holder = me;
                type = t;
                changed = true;
                return Outcome.GOOD;
            }
            return !isHolder(me) || type != t ? Outcome.CONFLICT : Outcome.GOOD; // §5.13.9
        }

        private Outcome release(Reservations.Registration me, int t) {
            if (holder == null || !isHolder(me)) {
                return Outcome.GOOD; // §5.13.11.2: nothing to release
            }
            if (type != t) {
                return Outcome.check(Sense.ILLEGAL_REQUEST, INVALID_RELEASE);
            }
            int oldType = type;
            holder = null;
            changed = true;
            if (oldType != Reservations.WE && oldType != Reservations.EA) {
                raiseForAllBut(me, Sense.RESERVATIONS_RELEASED);
            }
            return Outcome.GOOD;
        }

        private Outcome clear(Reservations.Registration me) {
            raiseForAllBut(me, Sense.RESERVATIONS_PREEMPTED); // §5.13.11.2.6, before the list goes
            regs.clear();
            holder = null;
            generation++;
            changed = true;
            return Outcome.GOOD;
        }

        private Outcome preempt(Reservations.Registration me, long saKey, int t) {
            boolean ar = holder != null && allRegistrants();
            if (holder != null && (ar ? saKey == 0 : saKey == holder.key())) {
                // §5.13.12.2.2 (and .3 for all-registrants with key 0): take over the reservation
                removeKey(me, saKey, ar);
                holder = me;
                type = t;
                generation++;
                changed = true;
                return Outcome.GOOD;
            }
            if (saKey == 0) {
                return Outcome.invalidField(false, 8);
            }
            if (!removeKey(me, saKey, false)) {
                return Outcome.CONFLICT;
            }
            if (holder == null && ar && !regs.isEmpty()) {
                holder = regs.get(0); // an all-registrants reservation stays with the registrants left
            }
            generation++;
            changed = true;
            return Outcome.GOOD;
        }

        /** Removes the registrations with {@code saKey} (all others but {@code me} when {@code all}). */
        private boolean removeKey(Reservations.Registration me, long saKey, boolean all) {
            boolean removed = false;
            for (var it = regs.iterator(); it.hasNext(); ) {
                Reservations.Registration reg = it.next();
                if (reg != me && (all || reg.key() == saKey)) {
                    it.remove();
                    if (reg == holder) {
                        holder = null;
                    }
                    raise(reg, Sense.REGISTRATIONS_PREEMPTED);
                    removed = true;
                }
            }
            return removed;
        }

        private void raiseForAllBut(Reservations.Registration except, int code) {
            for (Reservations.Registration reg : regs) {
                if (reg != except) {
                    raise(reg, code);
                }
            }
        }

        private void raise(Reservations.Registration reg, int code) {
            raised.add(new Reservations.Attention(version, reg.initiatorPort(), reg.targetPort(), code));
            changed = true;
        }
    }
}
