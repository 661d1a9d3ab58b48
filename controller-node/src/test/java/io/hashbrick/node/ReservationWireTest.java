package io.hashbrick.node;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.hashbrick.node.scsi.ReservationRules;
import io.hashbrick.node.scsi.Reservations;
import io.hashbrick.proto.cluster.v1.Reservation;
import java.nio.ByteBuffer;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The reservation datagrams and the value they carry: round trips, and anything broken refused. */
class ReservationWireTest {
    private static final long SEED = 20261207L;

    private static Reservations value() {
        ReservationRules.Result r = ReservationRules.evaluate(
                Reservations.NONE,
                new ReservationRules.Request(
                        ReservationRules.PROUT, "iqn.host:a,i,0x1", "iqn.x,t,0x0001", 1, 9, 0, 0, 0, 0xA, 0));
        return ReservationRules.evaluate(r.next(), ReservationRules.Request.reset(0x2903))
                .next();
    }

    @Test
    void aPushAndItsAnswerRoundTripAndTheValueSurvivesTheCatalogsForm() {
        Reservations v = value();
        Reservation p = ClusterReservations.toProto(42, v);
        assertEquals(v, ClusterReservations.fromProto(p));
        ByteBuffer b = ByteBuffer.allocate(ReservationWire.MAX_BYTES);
        ReservationWire.write(
                b, new ReservationWire.Message(ReservationWire.PUSH, 2, 77, 42, v.version(), p.toByteArray()));
        ReservationWire.Message m = ReservationWire.parse(b);
        assertNotNull(m);
        assertEquals(ReservationWire.PUSH, m.type());
        assertEquals(2, m.sender());
        assertEquals(77, m.nonce());
        assertEquals(42, m.volume());
        assertEquals(v.version(), m.version());
        assertArrayEquals(p.toByteArray(), m.payload());
        ReservationWire.write(
                b, new ReservationWire.Message(ReservationWire.INSTALLED, 1, 77, 42, v.version(), new byte[0]));
        assertEquals(ReservationWire.INSTALLED, ReservationWire.parse(b).type());
    }

    @Test
    void everyFlippedByteAndEveryShortLengthIsRefused() {
        Reservation p = ClusterReservations.toProto(42, value());
        ByteBuffer b = ByteBuffer.allocate(ReservationWire.MAX_BYTES);
        ReservationWire.write(b, new ReservationWire.Message(ReservationWire.PUSH, 2, 77, 42, 2, p.toByteArray()));
        byte[] good = new byte[b.remaining()];
        b.get(good);
        SplittableRandom random = new SplittableRandom(SEED);
        for (int i = 0; i < good.length; i++) {
            byte[] bad = good.clone();
            bad[i] ^= (byte) (1 + random.nextInt(255));
            assertNull(ReservationWire.parse(ByteBuffer.wrap(bad)), "seed=" + SEED + " byte=" + i);
        }
        for (int n = 0; n < good.length; n++) {
            assertNull(ReservationWire.parse(ByteBuffer.wrap(good, 0, n).slice()), "length=" + n);
        }
        assertThrows(
                IllegalArgumentException.class,
                () -> ReservationWire.write(
                        b,
                        new ReservationWire.Message(
                                ReservationWire.PUSH, 2, 1, 1, 1, new byte[ReservationWire.MAX_BYTES])));
    }

    @Test
    void aValueThatBreaksTheUnitsInvariantsIsRefused() {
        Reservation bad = ClusterReservations.toProto(42, value()).toBuilder()
                .setHolder(5)
                .build();
        assertThrows(IllegalArgumentException.class, () -> ClusterReservations.fromProto(bad));
    }
}
