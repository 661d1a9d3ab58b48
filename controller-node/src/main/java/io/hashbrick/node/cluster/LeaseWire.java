package io.hashbrick.node.cluster;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32C;

/**
 * The lease datagrams (UDP, on each voter's Raft port number): a controller's renewal and a brick
 * peer's question, and the voters' answers. Small, fixed-size, one per packet; a lease is a heartbeat
 * and must not wait behind the Raft client's RPCs (measured here: renewals through Ratis's gRPC landed
 * 300-530 ms apart under a drill's load, against 100 ms sent).
 *
 * <p>Request, {@link #REQUEST_BYTES}: magic {@code HBLE}, version, type (RENEW, ASK), 2 bytes zero, the
 * member renewing or asked about (u32), the sender (u32), a sequence number (u64), CRC32C of the bytes
 * before it. Reply, {@link #REPLY_BYTES}: magic, version, type (RENEWED, ANSWER, NOT_LEADER), expired
 * (u8), 1 byte zero, member (u32), sequence (u64), lease, silent and leader-for in ms (u32 each), the
 * answering voter's id (8 bytes ASCII, zero-padded), CRC32C. Anything else is dropped.
 */
final class LeaseWire {
    static final int MAGIC = 0x48424C45; // "HBLE"
    static final byte VERSION = 1;
    static final byte RENEW = 1;
    static final byte ASK = 2;
    static final byte RENEWED = 3;
    static final byte ANSWER = 4;
    static final byte NOT_LEADER = 5;
    static final int REQUEST_BYTES = 28;
    static final int REPLY_BYTES = 44;
    private static final int ID_BYTES = 8;

    private LeaseWire() {}

    record Request(byte type, int member, int sender, long seq) {}

    record Reply(
            byte type,
            int member,
            long seq,
            boolean expired,
            long leaseMs,
            long silentMs,
            long leaderForMs,
            String voter) {}

    static void request(ByteBuffer b, byte type, int member, int sender, long seq) {
        b.clear();
        b.putInt(MAGIC)
                .put(VERSION)
                .put(type)
                .putShort((short) 0)
                .putInt(member)
                .putInt(sender)
                .putLong(seq);
        b.putInt(crc(b, 0, REQUEST_BYTES - 4));
        b.flip();
    }

    /** @return the request, or null when {@code b} (position 0, limit = its length) is not one */
    static Request parseRequest(ByteBuffer b) {
        if (!framed(b, REQUEST_BYTES)) {
            return null;
        }
        byte type = b.get(5);
        if (type != RENEW && type != ASK) {
            return null;
        }
        return new Request(type, b.getInt(8), b.getInt(12), b.getLong(16));
    }

    static void reply(ByteBuffer b, Reply r) {
        b.clear();
        b.putInt(MAGIC)
                .put(VERSION)
                .put(r.type())
                .put((byte) (r.expired() ? 1 : 0))
                .put((byte) 0);
        b.putInt(r.member()).putLong(r.seq());
        b.putInt(clampMs(r.leaseMs())).putInt(clampMs(r.silentMs())).putInt(clampMs(r.leaderForMs()));
        byte[] id = r.voter().getBytes(StandardCharsets.US_ASCII);
        for (int i = 0; i < ID_BYTES; i++) {
            b.put(i < id.length ? id[i] : 0);
        }
        b.putInt(crc(b, 0, REPLY_BYTES - 4));
        b.flip();
    }

    /** @return the reply, or null when {@code b} is not one */
    static Reply parseReply(ByteBuffer b) {
        if (!framed(b, REPLY_BYTES)) {
            return null;
        }
        byte type = b.get(5);
        if (type != RENEWED && type != ANSWER && type != NOT_LEADER) {
            return null;
        }
        byte[] id = new byte[ID_BYTES];
        int n = 0;
        for (int i = 0; i < ID_BYTES; i++) {
            id[i] = b.get(32 + i);
            if (id[i] != 0) {
                n = i + 1;
            }
        }
        return new Reply(
                type,
                b.getInt(8),
                b.getLong(12),
                b.get(6) == 1,
                Integer.toUnsignedLong(b.getInt(20)),
                Integer.toUnsignedLong(b.getInt(24)),
                Integer.toUnsignedLong(b.getInt(28)),
                new String(id, 0, n, StandardCharsets.US_ASCII));
    }

    /** Whether {@code b} is {@code bytes} long with this format's magic, version and a matching CRC32C. */
    private static boolean framed(ByteBuffer b, int bytes) {
        return b.remaining() == bytes
                && b.getInt(0) == MAGIC
                && b.get(4) == VERSION
                && b.getInt(bytes - 4) == crc(b, 0, bytes - 4);
    }

    private static int clampMs(long ms) {
        return (int) Math.min(Math.max(ms, 0), 0xFFFF_FFFFL);
    }

    private static int crc(ByteBuffer b, int from, int to) {
        CRC32C c = new CRC32C();
        c.update(b.duplicate().limit(to).position(from));
        return (int) c.getValue();
    }
}
