package io.hashbrick.sim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class SsdTest {
    private static final long CAPACITY = 64 * 1024;
    private static final UUID UUID_A = new UUID(0x1111L, 0x2222L);

    @TempDir
    Path dir;

    private final List<String> events = new ArrayList<>();
    private final ManualClock clock = new ManualClock(0);

    private SsdOptions options() {
        return SsdOptions.simulated(clock, events::add);
    }

    static ByteBuffer pattern(int bytes, int seed) {
        ByteBuffer b = Ssd.allocateAligned(bytes);
        for (int i = 0; i < bytes; i++) {
            b.put(i, (byte) (i * 31 + seed));
        }
        return b;
    }

    static byte[] bytes(ByteBuffer b) {
        byte[] a = new byte[b.limit()];
        b.get(0, a);
        return a;
    }

    @ParameterizedTest
    @EnumSource(IoMode.class)
    void roundTripInEitherMode(IoMode preferred) throws IOException {
        try (Ssd ssd = Ssd.create(
                dir.resolve("ssd.img"), 3, CAPACITY, UUID_A, options().withMode(preferred))) {
            System.out.println("preferred=" + preferred + " mode=" + ssd.mode());
            if (preferred == IoMode.BUFFERED) {
                assertEquals(IoMode.BUFFERED, ssd.mode());
            }
            ByteBuffer src = pattern(8192, 7);
            assertEquals(IoStatus.OK, ssd.write(4096, src));
            assertEquals(src.limit(), src.position(), "a write that returned OK consumed its buffer");
            assertEquals(IoStatus.OK, ssd.flush());
            ByteBuffer dst = Ssd.allocateAligned(8192);
            assertEquals(IoStatus.OK, ssd.read(4096, dst));
            assertArrayEquals(bytes(src), bytes(dst));
            ByteBuffer untouched = Ssd.allocateAligned(4096);
            assertEquals(IoStatus.OK, ssd.read(0, untouched));
            assertArrayEquals(new byte[4096], bytes(untouched), "unwritten cells read as zeros");
            ByteBuffer last = Ssd.allocateAligned(4096);
            assertEquals(IoStatus.OK, ssd.read(CAPACITY - 4096, last), "the last cell is reachable");
        }
    }

    @Test
    void misalignedOrOutOfRangeIoIsRejectedWithContext() throws IOException {
        try (Ssd ssd = Ssd.create(dir.resolve("ssd.img"), 3, CAPACITY, UUID_A, options())) {
            ByteBuffer cell = Ssd.allocateAligned(4096);
            IllegalArgumentException offset = assertThrows(IllegalArgumentException.class, () -> ssd.read(512, cell));
            assertTrue(offset.getMessage().contains("offset=512"), offset.getMessage());
            assertTrue(offset.getMessage().contains("slot=3"), offset.getMessage());
            IllegalArgumentException length = assertThrows(
                    IllegalArgumentException.class,
                    () -> ssd.write(0, Ssd.allocateAligned(4096).limit(1000)));
            assertTrue(length.getMessage().contains("length=1000"), length.getMessage());
            assertThrows(IllegalArgumentException.class, () -> ssd.read(0, ByteBuffer.allocate(4096)), "heap buffer");
            ByteBuffer shifted = ByteBuffer.allocateDirect(8192 + 4096)
                    .alignedSlice(4096)
                    .position(8)
                    .limit(4104);
            IllegalArgumentException memory = assertThrows(IllegalArgumentException.class, () -> ssd.write(0, shifted));
            assertTrue(memory.getMessage().contains("address_mod_4096=8"), memory.getMessage());
            IllegalArgumentException beyond =
                    assertThrows(IllegalArgumentException.class, () -> ssd.read(CAPACITY, cell.clear()));
            assertTrue(beyond.getMessage().contains("capacity_bytes=" + CAPACITY), beyond.getMessage());
            assertThrows(
                    IllegalArgumentException.class,
                    () -> ssd.read(0, cell.clear().asReadOnlyBuffer()));
            assertEquals(0, ssd.counters().reads() + ssd.counters().writes(), "rejected commands are not counted");
        }
    }

    @Test
    void labelIsRecognisedAfterReopen() throws IOException {
        Path file = dir.resolve("ssd.img");
        try (Ssd ssd = Ssd.create(file, 7, CAPACITY, UUID_A, options())) {
            assertEquals(IoStatus.OK, ssd.write(0, pattern(4096, 1)));
        }
        try (Ssd again = Ssd.open(file, options())) {
            assertEquals(7, again.slot());
            assertEquals(CAPACITY, again.capacityBytes());
            assertEquals(UUID_A, again.uuid());
            ByteBuffer dst = Ssd.allocateAligned(4096);
            assertEquals(IoStatus.OK, again.read(0, dst));
            assertArrayEquals(bytes(pattern(4096, 1)), bytes(dst));
        }
        assertEquals(HEADER_FILE_SIZE, java.nio.file.Files.size(file));
    }

    private static final long HEADER_FILE_SIZE = Ssd.HEADER_BYTES + CAPACITY;

    @Test
    void corruptLabelIsDetected() throws IOException {
        Path file = dir.resolve("ssd.img");
        Ssd.create(file, 7, CAPACITY, UUID_A, options()).close();
        pokeByte(file, SsdHeader.SLOT_OFFSET, (byte) 9); // slot 7 -> 9 without fixing the CRC
        CorruptHeaderException crc = assertThrows(CorruptHeaderException.class, () -> Ssd.open(file, options()));
        assertTrue(crc.getMessage().contains("crc mismatch"), crc.getMessage());

        Path other = dir.resolve("other.img");
        Ssd.create(other, 1, CAPACITY, UUID_A, options()).close();
        pokeByte(other, 0, (byte) 'X');
        CorruptHeaderException magic = assertThrows(CorruptHeaderException.class, () -> Ssd.open(other, options()));
        assertTrue(magic.getMessage().contains("magic mismatch"), magic.getMessage());

        Path truncated = dir.resolve("truncated.img");
        Ssd.create(truncated, 1, CAPACITY, UUID_A, options()).close();
        try (FileChannel ch = FileChannel.open(truncated, StandardOpenOption.WRITE)) {
            ch.truncate(8192);
        }
        CorruptHeaderException size = assertThrows(CorruptHeaderException.class, () -> Ssd.open(truncated, options()));
        assertTrue(size.getMessage().contains("size=8192"), size.getMessage());
    }

    static void pokeByte(Path file, long position, byte value) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(new byte[] {value}).order(ByteOrder.LITTLE_ENDIAN), position);
        }
    }

    @Test
    void healthStateMachineAndIoInEachState() throws IOException {
        try (Ssd ssd = Ssd.create(dir.resolve("ssd.img"), 2, CAPACITY, UUID_A, options())) {
            ByteBuffer data = pattern(4096, 5);
            ByteBuffer dst = Ssd.allocateAligned(4096);
            assertEquals(IoStatus.OK, ssd.write(0, data));

            ssd.pull();
            assertEquals(Health.PULLED, ssd.health());
            assertEquals(IoStatus.NOT_PRESENT, ssd.read(0, dst));
            assertEquals(0, dst.position(), "a refused read leaves the buffer alone");
            assertEquals(IoStatus.NOT_PRESENT, ssd.write(0, data.clear()));
            assertEquals(IoStatus.NOT_PRESENT, ssd.flush());
            assertThrows(IllegalStateException.class, ssd::pull);
            assertThrows(IllegalStateException.class, ssd::fail, "a pulled drive cannot fail");

            assertEquals(Health.OK, ssd.reinsert());
            assertEquals(IoStatus.OK, ssd.read(0, dst.clear()));
            assertArrayEquals(bytes(pattern(4096, 5)), bytes(dst), "the reinserted drive kept its data");
            assertThrows(IllegalStateException.class, ssd::reinsert, "only a pulled drive can go back in");

            ssd.fail();
            ssd.fail(); // idempotent
            assertEquals(Health.FAILED, ssd.health());
            assertEquals(IoStatus.DEVICE_FAILED, ssd.read(0, dst.clear()));
            assertEquals(IoStatus.DEVICE_FAILED, ssd.write(0, data.clear()));
            assertEquals(IoStatus.DEVICE_FAILED, ssd.flush());

            ssd.pull();
            assertEquals(Health.FAILED, ssd.reinsert(), "a failed drive stays failed through pull and reinsert");

            UUID fresh = new UUID(0x3333L, 0x4444L);
            ssd.replace(fresh);
            assertEquals(Health.OK, ssd.health());
            assertEquals(fresh, ssd.uuid());
            assertEquals(1, ssd.generation());
            assertEquals(0, ssd.counters().errors(), "a new drive starts with fresh counters");
            assertEquals(IoStatus.OK, ssd.read(0, dst.clear()));
            assertArrayEquals(new byte[4096], bytes(dst), "the replacement is empty");

            ssd.pull();
            UUID third = new UUID(0x5555L, 0x6666L);
            ssd.replace(third); // replacing into an empty slot
            assertEquals(Health.OK, ssd.health());
            assertEquals(2, ssd.generation());
        }
        try (Ssd again = Ssd.open(dir.resolve("ssd.img"), options())) {
            assertEquals(new UUID(0x5555L, 0x6666L), again.uuid(), "the replacement's label is durable");
        }
        assertTrue(events.stream().anyMatch(l -> l.contains("event=ssd_replaced slot=2")), events.toString());
    }

    @Test
    void countersCountCommandsBytesAndErrors() throws IOException {
        try (Ssd ssd = Ssd.create(dir.resolve("ssd.img"), 0, CAPACITY, UUID_A, options())) {
            ByteBuffer two = pattern(8192, 1);
            assertEquals(IoStatus.OK, ssd.write(0, two));
            assertEquals(IoStatus.OK, ssd.write(8192, two.clear()));
            assertEquals(IoStatus.OK, ssd.read(0, Ssd.allocateAligned(4096)));
            assertEquals(IoStatus.OK, ssd.flush());
            ssd.fail();
            assertEquals(IoStatus.DEVICE_FAILED, ssd.read(0, Ssd.allocateAligned(4096)));
            SsdCounters c = ssd.counters();
            assertEquals(2, c.writes());
            assertEquals(16384, c.bytesWritten());
            assertEquals(1, c.reads());
            assertEquals(4096, c.bytesRead());
            assertEquals(1, c.flushes());
            assertEquals(1, c.deviceErrors());
            assertEquals(1, c.errors());
        }
    }

    @Test
    void capacityIsValidated() {
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class, () -> Ssd.create(dir.resolve("bad.img"), 0, 5000, UUID_A, options()));
        assertTrue(e.getMessage().contains("capacity_bytes=5000"), e.getMessage());
    }
}
