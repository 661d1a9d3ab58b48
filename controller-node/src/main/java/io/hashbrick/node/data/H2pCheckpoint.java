package io.hashbrick.node.data;

import io.hashbrick.node.CheckpointInput;
import io.hashbrick.node.CheckpointOutput;
import io.hashbrick.node.CorruptCheckpointException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.util.zip.CRC32C;

/**
 * The on-disk image of an {@link H2pTable}: every live entry with its slot, so a restart puts each entry
 * back into the slot its handle names (A2H holds handles, DESIGN.md "Metadata"). Little-endian:
 *
 * <pre>
 * file:   | header (32) | bucket section 0 | ... | bucket section 4095 | trailer (8) |
 *
 * header:
 *  0   magic "HBH2PCK1"            8 bytes
 *  8   format version              u32 (2; version 1, without generations, is read as generation 0)
 *  12  bucket count                u32 (4096)
 *  16  live entries, all buckets   u64
 *  24  index hash seed             u64   (the index hashes with it; restored as is)
 *
 * bucket section b (buckets in order 0..4095, empty ones too):
 *  0   bucket number               u32 (= b)
 *  4   slot high-water mark        u32   slots ever handed out, at most 2^32 - 2
 *  8   live entries (n)            u32   at most the high-water mark
 *  12  CRC32C of bytes 0..11       u32   checked before the mark sizes anything
 *  16  n entry records, slots strictly ascending, each below the high-water mark
 *
 * entry record (56 bytes):
 *  0   slot                        u32
 *  4   length                      u16   9 bits used
 *  6   flags                       u8    6 caller bits used
 *  7   generation                  u8    6 bits used (version 1: zero)
 *  8   location                    u64   40 bits used
 *  16  refcount                    u64   1 .. 2^63 - 1, spilled counts included
 *  24  fingerprint bytes 5..31     27 bytes (bytes 0..1 are the bucket; 2..4 are not kept)
 *  51  zero                        5 bytes
 *
 * trailer:
 *  0   end magic "H2PE"            u32
 *  4   CRC32C of every byte before this field    u32
 * </pre>
 *
 * Restore re-creates each entry at its slot, rebuilds the index, and puts every slot below the
 * high-water mark that holds no entry on the free list, so handles issued later never collide with
 * one A2H holds. Any failed check throws {@link CorruptCheckpointException} and the partly built table
 * is closed: a table is never half restored. The header CRC of each bucket section guards its
 * high-water mark, the one field that sizes memory before the whole-file CRC is known.
 */
final class H2pCheckpoint {
    static final long MAGIC = 0x314B_4350_3248_4248L; // "HBH2PCK1" read as little-endian
    static final int END_MAGIC = 0x4550_3248; // "H2PE" read as little-endian
    static final int VERSION = 2;
    /** Written before handles had generations: the generation byte is zero. */
    static final int VERSION_WITHOUT_GENERATIONS = 1;

    static final int HEADER_BYTES = 32;
    static final int SECTION_HEADER_BYTES = 16;
    static final int RECORD_BYTES = 56;
    static final int TRAILER_BYTES = 8;
    private static final int RECORD_FP_AT = 24;
    /** Record offset that stands for fingerprint byte 0: stored byte 5 is at {@link #RECORD_FP_AT}. */
    private static final int RECORD_FP_BASE = RECORD_FP_AT - H2pEntries.FP_FIRST_STORED;

    private H2pCheckpoint() {}

    static long write(H2pTable table, WritableByteChannel channel) throws IOException {
        CheckpointOutput out = new CheckpointOutput(channel);
        CRC32C sectionCrc = new CRC32C();
        out.reserve(HEADER_BYTES)
                .putLong(MAGIC)
                .putInt(VERSION)
                .putInt(H2pHandle.BUCKETS)
                .putLong(table.uniqueBlocks())
                .putLong(table.hashSeed());
        for (int b = 0; b < H2pHandle.BUCKETS; b++) {
            writeBucket(table.bucket(b), out, sectionCrc);
        }
        ByteBuffer buf = out.reserve(TRAILER_BYTES).putInt(END_MAGIC);
        buf.putInt(out.crcSoFar());
        return out.flush();
    }

    private static void writeBucket(H2pBucket bucket, CheckpointOutput out, CRC32C sectionCrc) throws IOException {
        long highWater = bucket.highWater();
        long live = bucket.uniqueBlocks();
        ByteBuffer buf = out.reserve(SECTION_HEADER_BYTES);
        int at = buf.position();
        buf.putInt(bucket.bucket()).putInt((int) highWater).putInt((int) live);
        sectionCrc.reset();
        sectionCrc.update(buf.array(), at, 12);
        buf.putInt((int) sectionCrc.getValue());
        long seen = 0;
        for (long slot = 0; slot < highWater; slot++) { // bounded: the high-water mark is at most 2^32 - 2
            if (bucket.isLiveSlot(slot)) {
                writeRecord(bucket, slot, out);
                seen++;
            }
        }
        check(
                seen == live,
                "H2P bucket changed during checkpoint: bucket=%d live=%d seen=%d",
                bucket.bucket(),
                live,
                seen);
    }

    private static void writeRecord(H2pBucket bucket, long slot, CheckpointOutput out) throws IOException {
        long handle = H2pHandle.of(bucket.bucket(), slot, bucket.generationOf(slot));
        ByteBuffer buf = out.reserve(RECORD_BYTES);
        int at = buf.position();
        buf.putInt((int) slot)
                .putShort((short) bucket.length(handle))
                .put((byte) bucket.flags(handle))
                .put((byte) bucket.generationOf(slot))
                .putLong(bucket.location(handle))
                .putLong(bucket.refcount(handle));
        bucket.copyStoredFingerprint(handle, out.segment(), at + RECORD_FP_AT);
        buf.position(at + RECORD_FP_AT + H2pEntries.FP_STORED_BYTES);
        buf.put((byte) 0).putInt(0);
    }

    static H2pTable read(ReadableByteChannel channel) throws IOException {
        CheckpointInput in = new CheckpointInput(channel);
        ByteBuffer buf = in.need(HEADER_BYTES);
        long magic = buf.getLong();
        int version = buf.getInt();
        int buckets = buf.getInt();
        long entries = buf.getLong();
        long seed = buf.getLong();
        if (magic != MAGIC
                || (version != VERSION && version != VERSION_WITHOUT_GENERATIONS)
                || buckets != H2pHandle.BUCKETS) {
            throw fail(
                    in,
                    "not an H2P checkpoint of this format: magic=0x%x version=%d buckets=%d expected_magic=0x%x"
                            + " expected_version=%d expected_buckets=%d",
                    magic,
                    version,
                    buckets,
                    MAGIC,
                    VERSION,
                    H2pHandle.BUCKETS);
        }
        H2pTable table = new H2pTable(seed);
        try {
            long restored = 0;
            CRC32C sectionCrc = new CRC32C();
            for (int b = 0; b < H2pHandle.BUCKETS; b++) {
                restored += readBucket(table.bucket(b), in, sectionCrc);
            }
            readTrailer(in, entries, restored);
            for (int b = 0; b < H2pHandle.BUCKETS; b++) {
                table.bucket(b).releaseWriter();
            }
            return table;
        } catch (IOException | RuntimeException e) {
            table.close();
            throw e;
        }
    }

    private static long readBucket(H2pBucket bucket, CheckpointInput in, CRC32C sectionCrc) throws IOException {
        ByteBuffer buf = in.need(SECTION_HEADER_BYTES);
        int at = buf.position();
        sectionCrc.reset();
        sectionCrc.update(buf.array(), at, 12);
        int number = buf.getInt();
        long highWater = Integer.toUnsignedLong(buf.getInt());
        long live = Integer.toUnsignedLong(buf.getInt());
        int crc = buf.getInt();
        if (crc != (int) sectionCrc.getValue()
                || number != bucket.bucket()
                || highWater > H2pEntries.MAX_SLOTS
                || live > highWater) {
            throw fail(
                    in,
                    "H2P checkpoint bucket header invalid: bucket=%d expected_bucket=%d high_water=%d live=%d"
                            + " crc=0x%x computed_crc=0x%x",
                    number,
                    bucket.bucket(),
                    highWater,
                    live,
                    crc,
                    (int) sectionCrc.getValue());
        }
        long nextSlot = 0;
        for (long i = 0; i < live; i++) { // bounded: live <= high-water mark <= 2^32 - 2
            nextSlot = readRecord(bucket, in, highWater, nextSlot) + 1;
        }
        bucket.restoreHighWater(highWater);
        return live;
    }

    /** @return the slot restored */
    private static long readRecord(H2pBucket bucket, CheckpointInput in, long highWater, long nextSlot)
            throws IOException {
        ByteBuffer buf = in.need(RECORD_BYTES);
        int at = buf.position();
        long slot = Integer.toUnsignedLong(buf.getInt());
        int length = buf.getShort() & 0xFFFF;
        int flags = buf.get() & 0xFF;
        int generation = buf.get() & 0xFF;
        int zero = generation >= H2pHandle.GENERATIONS ? generation : 0;
        long location = buf.getLong();
        long refcount = buf.getLong();
        zero |= buf.get(at + RECORD_FP_AT + H2pEntries.FP_STORED_BYTES) | buf.getInt(at + RECORD_BYTES - 4);
        if (slot < nextSlot
                || slot >= highWater
                || length > H2pEntries.MAX_LENGTH
                || (flags & ~H2pEntries.CALLER_FLAGS_MASK) != 0
                || zero != 0
                || location < 0
                || location > H2pEntries.MAX_LOCATION
                || refcount <= 0) {
            throw fail(
                    in,
                    "H2P checkpoint record invalid: bucket=%d slot=%d min_slot=%d high_water=%d length=%d"
                            + " flags=0x%x padding=0x%x location=%d refcount=%d",
                    bucket.bucket(),
                    slot,
                    nextSlot,
                    highWater,
                    length,
                    flags,
                    zero,
                    location,
                    refcount);
        }
        if (!bucket.restoreEntry(
                slot, in.segment(), at + RECORD_FP_BASE, location, length, flags, refcount, generation)) {
            throw fail(in, "H2P checkpoint holds a fingerprint twice: bucket=%d slot=%d", bucket.bucket(), slot);
        }
        buf.position(at + RECORD_BYTES);
        return slot;
    }

    private static void readTrailer(CheckpointInput in, long entries, long restored) throws IOException {
        ByteBuffer buf = in.need(TRAILER_BYTES);
        int endMagic = buf.getInt();
        int computed = in.crcSoFar();
        int stored = buf.getInt();
        if (endMagic != END_MAGIC || stored != computed || entries != restored) {
            throw fail(
                    in,
                    "H2P checkpoint trailer invalid: end_magic=0x%x expected_end_magic=0x%x crc=0x%x"
                            + " computed_crc=0x%x header_entries=%d restored_entries=%d",
                    endMagic,
                    END_MAGIC,
                    stored,
                    computed,
                    entries,
                    restored);
        }
        if (!in.atEnd()) {
            throw fail(in, "H2P checkpoint has bytes after its trailer: trailer_end=%d", in.offset());
        }
    }

    private static CorruptCheckpointException fail(CheckpointInput in, String format, Object... args) {
        return new CorruptCheckpointException(String.format(format, args) + " offset=" + in.offset());
    }

    private static void check(boolean condition, String format, Object... args) {
        if (!condition) {
            throw new IllegalStateException(String.format(format, args));
        }
    }
}
