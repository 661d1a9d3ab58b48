package io.hashbrick.node.mirror;

import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * The journal-mirror stream's frames (owner -> brick peer, and the peer's acknowledgements back): a
 * 40-byte header, then {@code length} payload bytes.
 *
 * <pre>
 *  0 u32 magic "HBJM"     4 u8 version   5 u8 type   6 u8 journal (0 D, 1 C)   7 u8 flags
 *  8 u32 payload length  12 u32 CRC32C of the header (this field zero) and the payload
 * 16 u64 a               24 u64 b                    32 u64 c
 * </pre>
 *
 * HELLO (a pool, b D's region bytes, c C's); IMAGE_BEGIN (the peer's copy of the journal is zeroed);
 * DATA (a the batch's last sequence, 0 in an image; b the region offset the payload goes to); IMAGE_END
 * (a every sequence up to it is in the image); TRUSTED (every record the owner acknowledged is in the
 * copy: from now on it counts at a failover); DEGRADED (the owner acknowledges without the peer: the
 * copy no longer counts); ACK, peer to owner (a frames applied on this connection, b and c the last
 * sequence of D and of C the copy holds).
 */
final class MirrorWire {
    static final int MAGIC = 0x48424A4D;
    static final byte VERSION = 1;
    static final int HEADER_BYTES = 40;
    /** A frame's payload at most (an image goes in chunks of it; a batch's range is cut into it). */
    static final int MAX_PAYLOAD = 1 << 20;

    static final byte HELLO = 1;
    static final byte IMAGE_BEGIN = 2;
    static final byte DATA = 3;
    static final byte IMAGE_END = 4;
    static final byte TRUSTED = 5;
    static final byte DEGRADED = 6;
    static final byte ACK = 7;

    private MirrorWire() {}

    /** Writes a header at {@code at} of {@code b} (absolute); the payload follows it there. */
    static void header(ByteBuffer b, int at, byte type, int journal, int length, long a, long bb, long c) {
        b.putInt(at, MAGIC);
        b.put(at + 4, VERSION);
        b.put(at + 5, type);
        b.put(at + 6, (byte) journal);
        b.put(at + 7, (byte) 0);
        b.putInt(at + 8, length);
        b.putInt(at + 12, 0);
        b.putLong(at + 16, a);
        b.putLong(at + 24, bb);
        b.putLong(at + 32, c);
    }

    /** Seals the frame at {@code at} (header and payload written): its checksum. */
    static void seal(ByteBuffer b, int at, CRC32C crc) {
        b.putInt(at + 12, checksum(b, at, crc));
    }

    static int checksum(ByteBuffer b, int at, CRC32C crc) {
        int length = b.getInt(at + 8);
        int stored = b.getInt(at + 12);
        b.putInt(at + 12, 0);
        crc.reset();
        int position = b.position();
        int limit = b.limit();
        b.limit(at + HEADER_BYTES + length).position(at); // no slice: nothing allocated per frame
        crc.update(b);
        b.limit(limit).position(position);
        b.putInt(at + 12, stored);
        return (int) crc.getValue();
    }

    /** Why the frame at {@code at} is refused, or null: magic, version, type, length, checksum. */
    static String refusal(ByteBuffer b, int at, CRC32C crc) {
        if (b.getInt(at) != MAGIC) {
            return "bad_magic";
        }
        if (b.get(at + 4) != VERSION) {
            return "version_" + b.get(at + 4);
        }
        byte type = b.get(at + 5);
        if (type < HELLO || type > ACK) {
            return "type_" + type;
        }
        int journal = b.get(at + 6);
        if (journal != 0 && journal != 1) {
            return "journal_" + journal;
        }
        int length = b.getInt(at + 8);
        if (length < 0 || length > MAX_PAYLOAD) {
            return "length_" + length;
        }
        return null;
    }

    static boolean checksumOk(ByteBuffer b, int at, CRC32C crc) {
        return checksum(b, at, crc) == b.getInt(at + 12);
    }
}
