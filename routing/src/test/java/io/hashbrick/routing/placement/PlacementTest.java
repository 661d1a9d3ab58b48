package io.hashbrick.routing.placement;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.security.MessageDigest;
import org.junit.jupiter.api.Test;

class PlacementTest {
    @Test
    void bucketIsTheTopTwelveBits() throws Exception {
        assertEquals(0xABC, Placement.bucket((byte) 0xAB, (byte) 0xCD));
        assertEquals(0, Placement.bucket((byte) 0, (byte) 0x0F));
        assertEquals(4095, Placement.bucket((byte) 0xFF, (byte) 0xF0));
        byte[] fp = MessageDigest.getInstance("SHA-256").digest(new byte[4096]);
        int b = Placement.bucket(fp[0], fp[1]);
        assertEquals(((fp[0] & 0xff) << 8 | (fp[1] & 0xff)) >>> 4, b);
    }

    @Test
    void handlesPackBucketAndSlotInFortyEightBits() {
        long h = Placement.handle(4095, Placement.MAX_SLOT);
        assertEquals((1L << 48) - 1, h);
        assertEquals(4095, Placement.bucketOf(h));
        assertEquals(Placement.MAX_SLOT, Placement.slotOf(h));
        long h2 = Placement.handle(17, 123_456_789L);
        assertEquals(17, Placement.bucketOf(h2));
        assertEquals(123_456_789L, Placement.slotOf(h2));
        assertThrows(IllegalArgumentException.class, () -> Placement.handle(4096, 0));
        assertThrows(IllegalArgumentException.class, () -> Placement.handle(0, Placement.MAX_SLOT + 1));
    }
}
