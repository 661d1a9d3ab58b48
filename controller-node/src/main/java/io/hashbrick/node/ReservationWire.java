package io.hashbrick.node;

import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * The reservation datagrams between controllers (UDP, on each controller's iSCSI portal port number):
 * a controller that committed a change of a volume's reservations sends the new value to every other
 * controller (PUSH), each installs it and answers (INSTALLED), and the command that made the change is
 * answered only then. One datagram per message, at most {@link #MAX_BYTES}.
 *
 * <pre>
 *  0  magic "HBRV"  u32
 *  4  version       u8 (1)
 *  5  type          u8 (PUSH 1, INSTALLED 2)
 *  6  zero          u16
 *  8  length        u32 (the whole datagram)
 * 12  sender        u32 (member id)
 * 16  nonce         u64 (the push's; its answer repeats it)
 * 24  volume        u64
 * 32  version       u64 (PUSH: the value's; INSTALLED: the version now installed there)
 * 40  payload       PUSH: the value (cluster.v1.Reservation); INSTALLED: none
 * end crc32c        u32 of every byte before it
 * </pre>
 *
 * Anything else (magic, version, type, length, CRC) is dropped and counted.
 */
final class ReservationWire {
    static final int MAGIC = 0x48425256; // "HBRV"
    static final byte VERSION = 1;
    static final byte PUSH = 1;
    static final byte INSTALLED = 2;
    static final int HEADER_BYTES = 40;
    static final int MAX_BYTES = 65_000;

    private ReservationWire() {}

    record Message(byte type, int sender, long nonce, long volume, long version, byte[] payload) {}

    /** Writes {@code m} into {@code b} (cleared), flipped for sending. @throws IllegalArgumentException if too big */
    static void write(ByteBuffer b, Message m) {
        int length = HEADER_BYTES + m.payload().length + 4;
        if (length > MAX_BYTES || length > b.capacity()) {
            throw new IllegalArgumentException("reservation datagram too big: bytes=" + length + " max=" + MAX_BYTES);
        }
        b.clear();
        b.putInt(MAGIC).put(VERSION).put(m.type()).putShort((short) 0).putInt(length);
        b.putInt(m.sender()).putLong(m.nonce()).putLong(m.volume()).putLong(m.version());
        b.put(m.payload());
        b.putInt(crc(b, length - 4));
        b.flip();
    }

    /** @return the message in {@code b} (position 0, limit = its length), or null when it is not one */
    static Message parse(ByteBuffer b) {
        int n = b.limit();
        if (n < HEADER_BYTES + 4 || n > MAX_BYTES || b.getInt(0) != MAGIC || b.get(4) != VERSION) {
            return null;
        }
        byte type = b.get(5);
        if ((type != PUSH && type != INSTALLED) || b.getShort(6) != 0 || b.getInt(8) != n) {
            return null;
        }
        if (b.getInt(n - 4) != crc(b, n - 4)) {
            return null;
        }
        byte[] payload = new byte[n - HEADER_BYTES - 4];
        if (type == INSTALLED && payload.length != 0) {
            return null;
        }
        b.get(HEADER_BYTES, payload);
        return new Message(type, b.getInt(12), b.getLong(16), b.getLong(24), b.getLong(32), payload);
    }

    private static int crc(ByteBuffer b, int length) {
        CRC32C c = new CRC32C();
        c.update(b.slice(0, length));
        return (int) c.getValue();
    }
}
