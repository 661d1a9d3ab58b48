package io.hashbrick.node.api.tcp;

import io.hashbrick.node.api.RoleCall;
import io.hashbrick.node.api.Status;
import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * The frame of the TCP role binding: a fixed header, then a little-endian payload. Every request frame
 * is answered by one reply frame with the same request id and the type with its high bit set; replies
 * may come in any order (requests are pipelined).
 *
 * <pre>
 *  0   magic "HBRT"   u32 (0x54524248 read as little-endian)
 *  4   version        u16 (1)
 *  6   type           u8  (request 1..7, reply = request | 0x80)
 *  7   flags          u8  (0)
 *  8   length         u32 (the whole frame, header included: 24 .. MAX_FRAME_BYTES)
 * 12   crc32c         u32 (CRC32C of bytes [0, 12) and [16, length))
 * 16   request id     u64 (the client's; the reply repeats it)
 * 24   payload
 * </pre>
 *
 * <p>Payloads. {@code H} = the request header: epoch i64, operation id i64, sender i32 (20 bytes).
 * {@code S} = a status u8 ({@link #code}). Counts are u32 and checked against the limits before a call
 * reaches a role ({@link TcpRoleServer#MAX_BLOCKS}, {@link TcpRoleServer#MAX_DEREF_HANDLES}).
 *
 * <pre>
 * type        request                                           reply
 * 1 probe     H, n, n x fingerprint[32]                         S, n, known bitmap[(n+7)/8] (bit i%8 of byte i/8)
 * 2 put       H, n, n x {fingerprint[32], len u32, data[len]}   S, m, m x handle i64 (OK) | m x S (NEED_DATA); m = 0 else
 *             (len 0: no data; else 1..4096)
 * 3 deref     H, n, positioned u8, n x handle i64,              S, duplicate u8
 *             n x position i64 if positioned
 * 4 fetch     H, n, n x handle i64                              S, n, n x {S, data[4096] if S = OK}
 * 5 map       H, volume i32, first i64, n, conditional u8,      S, m, m x replaced i64 (m = n if OK, else 0)
 *             n x handle i64, n x expected i64 if conditional
 * 6 resolve   H, volume i32, first i64, n                       S, m, m x handle i64 (m = n if OK, else 0)
 * 7 unmap     H, volume i32, first i64, count i64, countRun u8  S, unmapped i64, run i64
 * </pre>
 *
 * <p>A frame that breaks any of this (magic, version, CRC, length, type, a count over its limit, a
 * payload shorter or longer than its counts say) is a protocol error: the receiver logs one line and
 * closes the connection ({@link CorruptFrameException}); it never guesses.
 */
final class Frame {
    static final int MAGIC = 0x5452_4248; // "HBRT" read as little-endian
    static final int VERSION = 1;
    static final int HEADER_BYTES = 24;
    static final int CRC_AT = 12;
    static final int LENGTH_AT = 8;
    /** The request header in every request payload: epoch, operation id, sender. */
    static final int CALL_HEADER_BYTES = 8 + 8 + 4;

    static final int PROBE = 1;
    static final int PUT = 2;
    static final int DEREF = 3;
    static final int FETCH = 4;
    static final int MAP = 5;
    static final int RESOLVE = 6;
    static final int UNMAP = 7;
    static final int TYPES = 8;
    static final int REPLY = 0x80;

    /**
     * The largest frame: a put of 64 raw blocks (24 + 20 + 4 + 64 x (36 + 4096) = 264,496 bytes), with
     * room; a fetch reply (262,237) and a deref of 4096 positioned handles (65,585) are smaller.
     */
    static final int MAX_FRAME_BYTES = 320 * 1024;

    /** Wire codes: index = code. Fixed here, not the enum's order, so reordering {@link Status} cannot change the wire. */
    private static final Status[] FROM_CODE = {
        null, // 0: unspecified, read as MEDIUM_ERROR
        Status.OK,
        Status.STALE_EPOCH,
        Status.NOT_OWNER,
        Status.STALE_HANDLE,
        Status.POOL_FULL,
        Status.NEED_DATA,
        Status.UNKNOWN_VOLUME,
        Status.OUT_OF_RANGE,
        Status.MEDIUM_ERROR,
        Status.BACK_PRESSURE,
        Status.READ_ONLY,
        Status.MAP_CONFLICT,
        Status.WOULD_BLOCK,
        Status.UNREACHABLE,
        Status.NO_REPLY,
        Status.TIMED_OUT
    };

    private static final byte[] TO_CODE = new byte[Status.values().length];

    static {
        for (int i = 1; i < FROM_CODE.length; i++) {
            TO_CODE[FROM_CODE[i].ordinal()] = (byte) i;
        }
        for (Status s : Status.values()) {
            if (TO_CODE[s.ordinal()] == 0) {
                throw new ExceptionInInitializerError("status without a wire code: " + s);
            }
        }
    }

    private Frame() {}

    static byte code(Status s) {
        return TO_CODE[s.ordinal()];
    }

    /** The status of a wire code: 0 and codes this build does not know are MEDIUM_ERROR (never a success). */
    static Status status(int code) {
        Status s = code > 0 && code < FROM_CODE.length ? FROM_CODE[code] : null;
        return s == null ? Status.MEDIUM_ERROR : s;
    }

    static Status getStatus(ByteBuffer in) {
        return status(in.get() & 0xFF);
    }

    static String typeName(int type) {
        return switch (type & ~REPLY) {
            case PROBE -> "probe";
            case PUT -> "put";
            case DEREF -> "deref";
            case FETCH -> "fetch";
            case MAP -> "map";
            case RESOLVE -> "resolve";
            case UNMAP -> "unmap";
            default -> "type_" + type;
        };
    }

    /** Writes a frame header at {@code out}'s position (length and CRC are filled by {@link #seal}). */
    static void putHeader(ByteBuffer out, int type, long requestId) {
        out.putInt(MAGIC).putShort((short) VERSION).put((byte) type).put((byte) 0);
        out.putInt(0).putInt(0).putLong(requestId);
    }

    /** Fills the length and CRC of the frame that starts at {@code start} and ends at {@code out}'s position. */
    static void seal(ByteBuffer out, int start, CRC32C crc) {
        int end = out.position();
        out.putInt(start + LENGTH_AT, end - start);
        out.putInt(start + CRC_AT, crc(out, start, end, crc));
    }

    static int crc(ByteBuffer b, int start, int end, CRC32C crc) {
        crc.reset();
        int p = b.position();
        int l = b.limit();
        b.limit(end).position(start);
        b.limit(start + CRC_AT);
        crc.update(b);
        b.limit(end).position(start + CRC_AT + 4);
        crc.update(b);
        b.limit(l).position(p);
        return (int) crc.getValue();
    }

    static void putCallHeader(ByteBuffer out, RoleCall c) {
        out.putLong(c.epoch).putLong(c.operationId).putInt(c.sender);
    }

    static void getCallHeader(ByteBuffer in, RoleCall c) {
        long epoch = in.getLong();
        long operationId = in.getLong();
        c.header(epoch, operationId, in.getInt());
    }

    /** A count read from the wire, refused past {@code max} (u32: past 2^31 it reads negative). */
    static int count(ByteBuffer in, int max, String what) throws CorruptFrameException {
        int n = in.getInt();
        if (n < 0 || n > max) {
            throw new CorruptFrameException(what + "=" + Integer.toUnsignedString(n) + " max=" + max);
        }
        return n;
    }
}
