package io.hashbrick.node.scsi;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;

/** PERSISTENT RESERVE IN (5Eh, SPC-4 §6.15) and OUT (5Fh, §6.16) on a logical unit's {@link Reservations}. */
final class PersistentReserveCommands {
    private PersistentReserveCommands() {}

    static final int READ_KEYS = 0, READ_RESERVATION = 1, REPORT_CAPABILITIES = 2, READ_FULL_STATUS = 3;
    static final int REGISTER = 0,
            RESERVE = 1,
            RELEASE = 2,
            CLEAR = 3,
            PREEMPT = 4,
            PREEMPT_AND_ABORT = 5,
            REGISTER_AND_IGNORE = 6;
    private static final int INVALID_RELEASE = 0x2604;

    static void in(ScsiTask t, LogicalUnit lu) {
        byte[] c = t.cdb;
        int sa = c[1] & 0x1f;
        int alloc = Cdb.u16(c, 7);
        Out o = Out.get(Out.CAPACITY);
        Reservations r = lu.reservations;
        synchronized (r) {
            switch (sa) {
                case READ_KEYS -> {
                    Cdb.put32(o.b, 0, r.generation);
                    int n = 8;
                    for (Reservations.Registration reg : r.registrations) {
                        Cdb.put64(o.b, n, reg.key);
                        n += 8;
                    }
                    Cdb.put32(o.b, 4, n - 8);
                    o.length = n;
                }
                case READ_RESERVATION -> {
                    Cdb.put32(o.b, 0, r.generation);
                    o.length = 8;
                    if (r.holder != null) {
                        boolean ar = r.type == Reservations.WE_AR || r.type == Reservations.EA_AR;
                        Cdb.put32(o.b, 4, 16);
                        Cdb.put64(o.b, 8, ar ? 0 : r.holder.key); // SPC-4 §6.15.3.3: all-registrants report 0
                        o.b[21] = (byte) r.type; // scope 0 = LU_SCOPE
                        o.length = 24;
                    }
                }
                case REPORT_CAPABILITIES -> {
                    Cdb.put16(o.b, 0, 8);
                    o.b[2] = 0x10; // CRH: RESERVE(6)/RELEASE(6) handled per SPC-4 §5.13.3
                    o.b[3] = (byte) 0x80; // TMV: the type mask is valid
                    o.b[4] = (byte) (0x80 | 0x40 | 0x20 | 0x08 | 0x02); // WR_EX_AR EX_AC_RO WR_EX_RO EX_AC WR_EX
                    o.b[5] = 0x01; // EX_AC_AR
                    o.length = 8;
                }
                case READ_FULL_STATUS -> fullStatus(r, o);
                default -> {
                    Sense.invalidField(t, lu.descriptorSense(), true, 1);
                    return;
                }
            }
        }
        o.sendTo(t, alloc);
    }

    private static void fullStatus(Reservations r, Out o) {
        Cdb.put32(o.b, 0, r.generation);
        int n = 8;
        for (Reservations.Registration reg : r.registrations) {
            byte[] name = reg.initiatorPort.getBytes(StandardCharsets.UTF_8);
            int idLen = (4 + name.length + 1 + 3) & ~3; // TransportID, SPC-4 §7.6.4.6: null-terminated, padded to 4
            idLen = Math.max(idLen, 24);
            if (n + 24 + idLen > o.b.length) {
                break;
            }
            Cdb.put64(o.b, n, reg.key);
            o.b[n + 12] = (byte) (r.isHolder(reg) ? 0x01 : 0);
            o.b[n + 13] = (byte) (r.isHolder(reg) ? r.type : 0);
            Cdb.put16(o.b, n + 18, reg.relativeTargetPort);
            Cdb.put32(o.b, n + 20, idLen);
            int id = n + 24;
            o.b[id] = 0x45; // FORMAT CODE 01b (name + ISID), PROTOCOL IDENTIFIER 5 (iSCSI)
            Cdb.put16(o.b, id + 2, idLen - 4);
            System.arraycopy(name, 0, o.b, id + 4, name.length);
            n = id + idLen;
        }
        Cdb.put32(o.b, 4, n - 8);
        o.length = n;
    }

    /** The Data-Out a PROUT consumes: its PARAMETER LIST LENGTH (SPC-4 §6.16.1). */
    static int dataOutLength(byte[] c) {
        return (int) Math.min(Cdb.u32(c, 5), Integer.MAX_VALUE);
    }

    static void out(ScsiTask t, LogicalUnit lu) {
        byte[] c = t.cdb;
        boolean d = lu.descriptorSense();
        int sa = c[1] & 0x1f;
        int scope = (c[2] & 0xff) >>> 4;
        int type = c[2] & 0x0f;
        long len = Cdb.u32(c, 5);
        if (sa > REGISTER_AND_IGNORE) { // REGISTER AND MOVE and beyond: not supported
            Sense.invalidField(t, d, true, 1);
            return;
        }
        if (len != 24) { // SPEC_I_PT is not supported, so the list is always 24 bytes (§6.16.3)
            Sense.check(t, d, Sense.ILLEGAL_REQUEST, Sense.PARAMETER_LIST_LENGTH_ERROR);
            return;
        }
        ByteBuffer p = t.dataOut;
        if (p == null || p.remaining() < 24) {
            Sense.check(t, d, Sense.ILLEGAL_REQUEST, Sense.PARAMETER_LIST_LENGTH_ERROR);
            return;
        }
        int base = p.position();
        long key = p.getLong(base);
        long saKey = p.getLong(base + 8);
        int flags = p.get(base + 20);
        if ((flags & 0x0D) != 0) { // SPEC_I_PT, APTPL (persist through power loss) not supported
            Sense.invalidField(t, d, false, 20);
            return;
        }
        boolean typed = sa == RESERVE || sa == RELEASE || sa == PREEMPT || sa == PREEMPT_AND_ABORT;
        if (typed && (scope != 0 || !validType(type))) {
            Sense.invalidField(t, d, true, 2);
            return;
        }
        Reservations r = lu.reservations;
        synchronized (r) {
            if (r.reserve6Held()) {
                t.status = ScsiTask.RESERVATION_CONFLICT; // SPC-4 §5.13.3
                return;
            }
            Reservations.Registration me = r.find(t.nexus);
            if (sa == REGISTER || sa == REGISTER_AND_IGNORE) {
                register(t, lu, r, me, key, saKey, sa == REGISTER_AND_IGNORE);
                return;
            }
            if (me == null || me.key != key) {
                t.status = ScsiTask.RESERVATION_CONFLICT;
                return;
            }
            switch (sa) {
                case RESERVE -> reserve(t, r, me, type);
                case RELEASE -> release(t, lu, r, me, type);
                case CLEAR -> clear(lu, r, me);
                default -> preempt(t, lu, r, me, saKey, type);
            }
        }
    }

    private static boolean validType(int type) {
        return type == 1 || type == 3 || type == 5 || type == 6 || type == 7 || type == 8;
    }

    private static void register(
            ScsiTask t,
            LogicalUnit lu,
            Reservations r,
            Reservations.Registration me,
            long key,
            long saKey,
            boolean ignore) {
        if (me == null) {
            if (!ignore && key != 0) {
                t.status = ScsiTask.RESERVATION_CONFLICT; // §5.13.7.3: unregistered nexus must send key 0
                return;
            }
            if (saKey != 0) {
                r.registrations.add(new Reservations.Registration(t.nexus, saKey));
                r.generation++;
            }
            return;
        }
        if (!ignore && me.key != key) {
            t.status = ScsiTask.RESERVATION_CONFLICT;
            return;
        }
        r.generation++;
        if (saKey != 0) {
            me.key = saKey;
            return;
        }
        unregister(lu, r, me);
    }

    /** §5.13.11.2.3: removing the holder's registration releases the reservation (unless others still hold it). */
    private static void unregister(LogicalUnit lu, Reservations r, Reservations.Registration me) {
        r.registrations.remove(me);
        boolean ar = r.type == Reservations.WE_AR || r.type == Reservations.EA_AR;
        if (r.holder == me) {
            if (ar && !r.registrations.isEmpty()) {
                r.holder = r.registrations.get(0);
            } else {
                boolean ro = r.type == Reservations.WE_RO || r.type == Reservations.EA_RO;
                r.holder = null;
                if (ro) {
                    raiseFor(lu, r, null, Sense.RESERVATIONS_RELEASED);
                }
            }
        }
    }

    private static void reserve(ScsiTask t, Reservations r, Reservations.Registration me, int type) {
        if (r.holder == null) {
            r.holder = me;
            r.type = type;
        } else if (!r.isHolder(me) || r.type != type) {
            t.status = ScsiTask.RESERVATION_CONFLICT; // §5.13.9
        }
    }

    private static void release(ScsiTask t, LogicalUnit lu, Reservations r, Reservations.Registration me, int type) {
        if (r.holder == null || !r.isHolder(me)) {
            return; // §5.13.11.2: GOOD, nothing to release
        }
        if (r.type != type) {
            Sense.check(t, lu.descriptorSense(), Sense.ILLEGAL_REQUEST, INVALID_RELEASE);
            return;
        }
        int oldType = r.type;
        r.holder = null;
        if (oldType != Reservations.WE && oldType != Reservations.EA) {
            raiseFor(lu, r, me, Sense.RESERVATIONS_RELEASED);
        }
    }

    private static void clear(LogicalUnit lu, Reservations r, Reservations.Registration me) {
        raiseFor(lu, r, me, Sense.RESERVATIONS_PREEMPTED); // §5.13.11.2.6, before the list goes
        r.registrations.clear();
        r.holder = null;
        r.generation++;
    }

    private static void preempt(
            ScsiTask t, LogicalUnit lu, Reservations r, Reservations.Registration me, long saKey, int type) {
        boolean ar = r.holder != null && (r.type == Reservations.WE_AR || r.type == Reservations.EA_AR);
        if (r.holder != null && (ar ? saKey == 0 : saKey == r.holder.key)) {
            // §5.13.12.2.2 (and .3 for all-registrants with key 0): take over the reservation
            removeKey(lu, r, me, saKey, ar);
            r.holder = me;
            r.type = type;
            r.generation++;
            return;
        }
        if (saKey == 0) {
            Sense.invalidField(t, lu.descriptorSense(), false, 8);
            return;
        }
        if (!removeKey(lu, r, me, saKey, false)) {
            t.status = ScsiTask.RESERVATION_CONFLICT;
            return;
        }
        r.generation++;
    }

    /** Removes the registrations with {@code saKey} (all others but {@code me} when {@code all}). */
    private static boolean removeKey(
            LogicalUnit lu, Reservations r, Reservations.Registration me, long saKey, boolean all) {
        boolean removed = false;
        for (Iterator<Reservations.Registration> it = r.registrations.iterator(); it.hasNext(); ) {
            Reservations.Registration reg = it.next();
            if (reg != me && (all || reg.key == saKey)) {
                it.remove();
                raiseFor(lu, reg, Sense.REGISTRATIONS_PREEMPTED);
                removed = true;
            }
        }
        return removed;
    }

    private static void raiseFor(LogicalUnit lu, Reservations r, Reservations.Registration except, int code) {
        for (Reservations.Registration reg : r.registrations) {
            if (reg != except) {
                raiseFor(lu, reg, code);
            }
        }
    }

    private static void raiseFor(LogicalUnit lu, Reservations.Registration reg, int code) {
        for (var e : lu.attentions.entrySet()) {
            if (reg.is(e.getKey())) {
                e.getValue().add(code);
            }
        }
    }
}
