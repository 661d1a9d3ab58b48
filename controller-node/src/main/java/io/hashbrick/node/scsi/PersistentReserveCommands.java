package io.hashbrick.node.scsi;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/** PERSISTENT RESERVE IN (5Eh, SPC-4 §6.15) and OUT (5Fh, §6.16) on a logical unit's {@link Reservations}. */
final class PersistentReserveCommands {
    private PersistentReserveCommands() {}

    static final int READ_KEYS = 0, READ_RESERVATION = 1, REPORT_CAPABILITIES = 2, READ_FULL_STATUS = 3;

    static void in(ScsiTask t, LogicalUnit lu) {
        byte[] c = t.cdb;
        int sa = c[1] & 0x1f;
        int alloc = Cdb.u16(c, 7);
        Out o = Out.get(Out.CAPACITY);
        Reservations r = lu.reservations(); // one value for the whole answer
        switch (sa) {
            case READ_KEYS -> {
                Cdb.put32(o.b, 0, r.generation());
                int n = 8;
                for (Reservations.Registration reg : r.registrations()) {
                    if (n + 8 > o.b.length) {
                        break;
                    }
                    Cdb.put64(o.b, n, reg.key());
                    n += 8;
                }
                Cdb.put32(o.b, 4, 8 * r.registrations().size()); // ADDITIONAL LENGTH: all, even if cut
                o.length = n;
            }
            case READ_RESERVATION -> {
                Cdb.put32(o.b, 0, r.generation());
                o.length = 8;
                if (r.holder() >= 0) {
                    Cdb.put32(o.b, 4, 16);
                    // SPC-4 §6.15.3.3: all-registrants report key 0
                    Cdb.put64(
                            o.b,
                            8,
                            r.allRegistrants()
                                    ? 0
                                    : r.registrations().get(r.holder()).key());
                    o.b[21] = (byte) r.type(); // scope 0 = LU_SCOPE
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
        o.sendTo(t, alloc);
    }

    private static void fullStatus(Reservations r, Out o) {
        Cdb.put32(o.b, 0, r.generation());
        int n = 8;
        for (int i = 0; i < r.registrations().size(); i++) {
            Reservations.Registration reg = r.registrations().get(i);
            byte[] name = reg.initiatorPort().getBytes(StandardCharsets.UTF_8);
            int idLen = (4 + name.length + 1 + 3) & ~3; // TransportID, SPC-4 §7.6.4.6: null-terminated, padded to 4
            idLen = Math.max(idLen, 24);
            if (n + 24 + idLen > o.b.length) {
                break;
            }
            Cdb.put64(o.b, n, reg.key());
            o.b[n + 12] = (byte) (r.isHolder(i) ? 0x01 : 0);
            o.b[n + 13] = (byte) (r.isHolder(i) ? r.type() : 0);
            Cdb.put16(o.b, n + 18, reg.relativeTargetPort());
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

    static void out(ScsiTask t, LogicalUnit lu, ReservationAuthority authority) {
        byte[] c = t.cdb;
        boolean d = lu.descriptorSense();
        int sa = c[1] & 0x1f;
        int scope = (c[2] & 0xff) >>> 4;
        int type = c[2] & 0x0f;
        long len = Cdb.u32(c, 5);
        if (sa > ReservationRules.REGISTER_AND_IGNORE) { // REGISTER AND MOVE and beyond: not supported
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
        boolean typed = sa == ReservationRules.RESERVE
                || sa == ReservationRules.RELEASE
                || sa == ReservationRules.PREEMPT
                || sa == ReservationRules.PREEMPT_AND_ABORT;
        if (typed && (scope != 0 || !validType(type))) {
            Sense.invalidField(t, d, true, 2);
            return;
        }
        authority
                .change(lu, ReservationRules.Request.prout(t.nexus, sa, type, key, saKey))
                .reportTo(t, d);
    }

    private static boolean validType(int type) {
        return type == 1 || type == 3 || type == 5 || type == 6 || type == 7 || type == 8;
    }
}
