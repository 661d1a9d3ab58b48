package io.hashbrick.node.scsi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * The rules of reservations as a pure function of (value, request), and a unit installing values: what
 * a cluster's controllers compute from the version they hold and install in version order.
 */
class ReservationRulesTest {
    private static final String TARGET = "iqn.2026-01.io.hashbrick:x";
    /** Host A through controller 1's port, host B through controller 2's. */
    private static final ItNexus A = new ItNexus(1, "iqn.host:a", "iqn.host:a,i,0x1", TARGET + ",t,0x0001", 1, 1);

    private static final ItNexus B = new ItNexus(7, "iqn.host:b", "iqn.host:b,i,0x1", TARGET + ",t,0x0002", 2, 2);
    /** A on another controller's process: another id, the same ports, so the same I_T nexus. */
    private static final ItNexus A_ELSEWHERE =
            new ItNexus(99, "iqn.host:a", "iqn.host:a,i,0x1", TARGET + ",t,0x0001", 1, 1);

    private static ReservationRules.Result prout(Reservations r, ItNexus n, int sa, int type, long key, long saKey) {
        return ReservationRules.evaluate(r, ReservationRules.Request.prout(n, sa, type, key, saKey));
    }

    private static Reservations ok(ReservationRules.Result r) {
        assertTrue(r.outcome().good(), r.outcome().toString());
        return r.next();
    }

    @Test
    void registeringAndReservingMakeNewVersionsAndConflictsChangeNothing() {
        Reservations r = ok(prout(Reservations.NONE, A, ReservationRules.REGISTER, 0, 0, 0xA));
        assertEquals(1, r.version());
        assertEquals(1, r.generation());
        r = ok(prout(r, B, ReservationRules.REGISTER, 0, 0, 0xB));
        r = ok(prout(r, A, ReservationRules.RESERVE, Reservations.WE, 0xA, 0));
        assertEquals(3, r.version());
        assertEquals(0, r.holder());
        assertEquals(Reservations.WE, r.type());
        // write exclusive: B may read, not write; A (the same nexus seen by another process) may write
        assertTrue(r.conflicts(B, OpcodeTable.ACCESS_WRITE, 0x2A));
        assertFalse(r.conflicts(B, OpcodeTable.ACCESS_READ, 0x28));
        assertFalse(r.conflicts(A_ELSEWHERE, OpcodeTable.ACCESS_WRITE, 0x2A));

        ReservationRules.Result theirs = prout(r, B, ReservationRules.RESERVE, Reservations.WE, 0xB, 0);
        assertEquals(ScsiTask.RESERVATION_CONFLICT, theirs.outcome().status());
        assertSame(r, theirs.next(), "a conflict changes nothing: nothing to commit");
        ReservationRules.Result wrongKey = prout(r, B, ReservationRules.RELEASE, Reservations.WE, 0xBAD, 0);
        assertEquals(ScsiTask.RESERVATION_CONFLICT, wrongKey.outcome().status());
        assertSame(r, wrongKey.next());
        ReservationRules.Result again = prout(r, A_ELSEWHERE, ReservationRules.RESERVE, Reservations.WE, 0xA, 0);
        assertTrue(again.outcome().good());
        assertSame(r, again.next(), "reserving what it holds changes nothing");
    }

    @Test
    void aPreemptionRemovesTheKeyAndRaisesAUnitAttentionForItsNexus() {
        Reservations r = ok(prout(Reservations.NONE, A, ReservationRules.REGISTER, 0, 0, 0xA));
        r = ok(prout(r, B, ReservationRules.REGISTER, 0, 0, 0xB));
        r = ok(prout(r, A, ReservationRules.RESERVE, Reservations.EA, 0xA, 0));
        Reservations before = r;
        r = ok(prout(r, B, ReservationRules.PREEMPT, Reservations.EA, 0xB, 0xA));
        assertEquals(before.version() + 1, r.version());
        assertEquals(1, r.registrations().size());
        assertEquals(0xB, r.registrations().get(r.holder()).key());
        Reservations.Attention a = r.attentions().getLast();
        assertEquals(r.version(), a.version());
        assertEquals(A.initiatorPort(), a.initiatorPort());
        assertEquals(A.targetPort(), a.targetPort());
        assertEquals(Sense.REGISTRATIONS_PREEMPTED, a.code());
        assertTrue(r.conflicts(A, OpcodeTable.ACCESS_READ, 0x28), "exclusive access: A may not even read");
    }

    @Test
    void reserve6ResetsAndNexusLoss() {
        Reservations r = ok(ReservationRules.evaluate(
                Reservations.NONE, ReservationRules.Request.of(ReservationRules.RESERVE6, A)));
        assertTrue(r.reserve6HeldBy(A_ELSEWHERE));
        assertTrue(r.conflicts(B, OpcodeTable.ACCESS_READ, 0x28));
        assertFalse(r.conflicts(B, OpcodeTable.ACCESS_CONFLICT, 0x17), "RELEASE(6) of another nexus is GOOD");
        ReservationRules.Result theirs =
                ReservationRules.evaluate(r, ReservationRules.Request.of(ReservationRules.RESERVE6, B));
        assertEquals(ScsiTask.RESERVATION_CONFLICT, theirs.outcome().status());
        assertSame(r, theirs.next());
        ReservationRules.Result pr = prout(r, B, ReservationRules.REGISTER, 0, 0, 0xB);
        assertEquals(ScsiTask.RESERVATION_CONFLICT, pr.outcome().status(), "SPC-4 §5.13.3");
        assertSame(
                r,
                ReservationRules.evaluate(r, ReservationRules.Request.of(ReservationRules.NEXUS_LOST, B))
                        .next());
        Reservations lost =
                ok(ReservationRules.evaluate(r, ReservationRules.Request.of(ReservationRules.NEXUS_LOST, A)));
        assertFalse(lost.reserve6Held());
        assertTrue(lost.attentions().isEmpty());

        Reservations reset =
                ok(ReservationRules.evaluate(r, ReservationRules.Request.reset(Sense.BUS_DEVICE_RESET_OCCURRED)));
        assertFalse(reset.reserve6Held());
        assertTrue(reset.attentions().getLast().everyNexus());
        assertEquals(
                Sense.BUS_DEVICE_RESET_OCCURRED, reset.attentions().getLast().code());
    }

    @Test
    void registrationsAndKeptAttentionsAreBounded() {
        Reservations r = Reservations.NONE;
        for (int i = 0; i < Reservations.MAX_REGISTRATIONS; i++) {
            ItNexus n = new ItNexus(i, "iqn.host:h" + i, "iqn.host:h" + i + ",i,0x1", TARGET + ",t,0x0001", 1, 1);
            r = ok(prout(r, n, ReservationRules.REGISTER, 0, 0, i + 1));
        }
        ReservationRules.Result full = prout(r, B, ReservationRules.REGISTER, 0, 0, 0xB);
        assertEquals(ScsiTask.CHECK_CONDITION, full.outcome().status());
        assertEquals(Sense.INSUFFICIENT_REGISTRATION_RESOURCES, full.outcome().code());
        assertSame(r, full.next());
        for (int i = 0; i < Reservations.KEPT_ATTENTIONS + 5; i++) {
            r = ok(ReservationRules.evaluate(r, ReservationRules.Request.reset(Sense.POWER_ON_OCCURRED)));
        }
        assertEquals(Reservations.KEPT_ATTENTIONS + 1, r.attentions().size(), "32 older ones and the newest's");
        assertEquals(r.version(), r.attentions().getLast().version());
        // a CLEAR by one of 256 registrants: a unit attention for each of the other 255, none lost
        ItNexus first = new ItNexus(0, "iqn.host:h0", "iqn.host:h0,i,0x1", TARGET + ",t,0x0001", 1, 1);
        Reservations cleared = ok(prout(r, first, ReservationRules.CLEAR, 0, 1, 0));
        assertEquals(
                Reservations.MAX_REGISTRATIONS - 1,
                cleared.attentions().stream()
                        .filter(a -> a.version() == cleared.version())
                        .count());
        assertTrue(cleared.attentions().size() <= Reservations.MAX_ATTENTIONS);
    }

    @Test
    void aUnitInstallsNewerValuesOnlyAndRaisesTheirAttentionsOnTheNexusesTheyName() {
        LogicalUnit lu = new LogicalUnit(0, 5, null, "vol"); // no I/O here
        lu.attentionsOf(A);
        lu.attentionsOf(B);
        Reservations r = ok(prout(Reservations.NONE, A, ReservationRules.REGISTER, 0, 0, 0xA));
        r = ok(prout(r, B, ReservationRules.REGISTER, 0, 0, 0xB));
        Reservations two = r;
        r = ok(prout(r, B, ReservationRules.PREEMPT, Reservations.WE, 0xB, 0xA)); // A's preempted
        r = ok(ReservationRules.evaluate(r, ReservationRules.Request.of(ReservationRules.RESERVE6, B)));
        assertTrue(lu.install(two));
        assertTrue(lu.attentionsOf(A).isEmpty());
        assertTrue(lu.install(r), "two versions at once: the attentions of both");
        assertEquals(Sense.REGISTRATIONS_PREEMPTED, lu.attentionsOf(A).poll());
        assertEquals(-1, lu.attentionsOf(A).poll());
        assertTrue(lu.attentionsOf(B).isEmpty());
        assertFalse(lu.install(two), "an older value is never installed over a newer one");
        assertSame(r, lu.reservations());
    }
}
