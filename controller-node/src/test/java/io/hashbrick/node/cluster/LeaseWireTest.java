package io.hashbrick.node.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.ByteBuffer;
import java.util.Random;
import org.junit.jupiter.api.Test;

class LeaseWireTest {
    @Test
    void requestsAndRepliesRoundTrip() {
        ByteBuffer b = ByteBuffer.allocate(64);
        LeaseWire.request(b, LeaseWire.ASK, 7, 3, 1L << 40);
        assertEquals(LeaseWire.REQUEST_BYTES, b.remaining());
        assertEquals(new LeaseWire.Request(LeaseWire.ASK, 7, 3, 1L << 40), LeaseWire.parseRequest(b));
        LeaseWire.Reply r = new LeaseWire.Reply(LeaseWire.ANSWER, 7, 99, true, 600, 612, 4_000_000_000L, "c12");
        LeaseWire.reply(b, r);
        assertEquals(LeaseWire.REPLY_BYTES, b.remaining());
        assertEquals(r, LeaseWire.parseReply(b));
    }

    @Test
    void everyFlippedByteAndEveryWrongLengthIsRefused() {
        long seed = System.nanoTime();
        Random rnd = new Random(seed);
        ByteBuffer b = ByteBuffer.allocate(64);
        LeaseWire.request(b, LeaseWire.RENEW, 2, 2, 5);
        byte[] good = new byte[b.remaining()];
        b.get(good);
        for (int i = 0; i < good.length; i++) {
            byte[] bad = good.clone();
            bad[i] ^= (byte) (1 + rnd.nextInt(255));
            assertNull(LeaseWire.parseRequest(ByteBuffer.wrap(bad)), "byte " + i + " seed=" + seed);
        }
        for (int n = 0; n < good.length; n++) {
            assertNull(LeaseWire.parseRequest(ByteBuffer.wrap(good, 0, n).slice()), "length " + n);
        }
        assertNull(LeaseWire.parseReply(ByteBuffer.wrap(good)), "a request is no reply");
        LeaseWire.reply(b, new LeaseWire.Reply(LeaseWire.RENEWED, 2, 5, false, 600, 0, 0, "w"));
        byte[] reply = new byte[b.remaining()];
        b.get(reply);
        for (int i = 0; i < reply.length; i++) {
            byte[] bad = reply.clone();
            bad[i] ^= (byte) (1 + rnd.nextInt(255));
            assertNull(LeaseWire.parseReply(ByteBuffer.wrap(bad)), "reply byte " + i + " seed=" + seed);
        }
    }
}
