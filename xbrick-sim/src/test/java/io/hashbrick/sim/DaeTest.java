package io.hashbrick.sim;

import static io.hashbrick.sim.SsdTest.bytes;
import static io.hashbrick.sim.SsdTest.pattern;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DaeTest {
    private static final long CAPACITY = 64 * 1024;
    private static final long SEED = 0xDAE5EEDL;

    @TempDir
    Path dir;

    private final List<String> events = new ArrayList<>();
    private final SsdOptions options = SsdOptions.simulated(new ManualClock(0), events::add);

    @Test
    void fullShelfOf25IsCreatedAndFoundAgain() throws IOException {
        List<UUID> first = new ArrayList<>();
        try (Dae dae = Dae.open(dir, Dae.SLOTS_DEFAULT, CAPACITY, SEED, options)) {
            assertEquals(25, dae.slotCount());
            assertEquals(25, dae.count(Health.OK));
            for (int i = 0; i < 25; i++) {
                assertEquals(i, dae.slot(i).slot());
                first.add(dae.slot(i).uuid());
                assertTrue(Files.exists(dir.resolve(String.format("ssd-%02d.img", i))));
            }
        }
        assertEquals(25, new HashSet<>(first).size(), "every drive has its own UUID");
        try (Dae again = Dae.open(dir, Dae.SLOTS_DEFAULT, CAPACITY, SEED, options)) {
            for (int i = 0; i < 25; i++) {
                assertEquals(first.get(i), again.slot(i).uuid(), "slot " + i + " holds the same drive after reopen");
            }
        }
    }

    @Test
    void smallShelfKeepsDataAndHealthAcrossReopen() throws IOException {
        try (Dae dae = Dae.open(dir, 5, CAPACITY, SEED, options)) {
            assertEquals(IoStatus.OK, dae.slot(4).write(8192, pattern(4096, 9)));
            assertEquals(IoStatus.OK, dae.slot(4).flush());
            dae.pull(1);
            dae.fail(2);
            assertEquals("slots=5 ok=3 failed=1 pulled=1 health=OK,PULLED,FAILED,OK,OK", dae.healthSummary());
        }
        try (Dae dae = Dae.open(dir, 5, CAPACITY, SEED, options)) {
            assertEquals(Health.PULLED, dae.health(1), "a pulled drive is still out after a restart");
            assertEquals(Health.FAILED, dae.health(2));
            ByteBuffer dst = Ssd.allocateAligned(4096);
            assertEquals(IoStatus.OK, dae.slot(4).read(8192, dst));
            assertArrayEquals(bytes(pattern(4096, 9)), bytes(dst));
        }
    }

    @Test
    void driveUuidsFollowFromTheSeed() throws IOException {
        Set<UUID> a = new HashSet<>();
        try (Dae one = Dae.open(dir.resolve("a"), 5, CAPACITY, SEED, options);
                Dae two = Dae.open(dir.resolve("b"), 5, CAPACITY, SEED, options)) {
            for (int i = 0; i < 5; i++) {
                assertEquals(one.slot(i).uuid(), two.slot(i).uuid(), "same seed, same drives");
                assertEquals(4, one.slot(i).uuid().version());
                a.add(one.slot(i).uuid());
            }
        }
        try (Dae other = Dae.open(dir.resolve("c"), 5, CAPACITY, SEED + 1, options)) {
            assertTrue(!a.contains(other.slot(0).uuid()), "another seed, other drives");
        }
    }

    /** Two controllers (two {@code Dae} objects, as two processes would have) over one shelf. */
    @Test
    void bothControllersSeeOneShelf() throws IOException {
        try (Dae a = Dae.open(dir, 5, CAPACITY, SEED, options);
                Dae b = Dae.open(dir, 5, CAPACITY, SEED, options)) {
            assertEquals(IoStatus.OK, a.slot(1).write(0, pattern(4096, 3)));
            ByteBuffer dst = Ssd.allocateAligned(4096);
            assertEquals(IoStatus.OK, b.slot(1).read(0, dst));
            assertArrayEquals(bytes(pattern(4096, 3)), bytes(dst), "b reads what a wrote");

            a.pull(2);
            assertEquals(IoStatus.NOT_PRESENT, b.slot(2).read(0, dst.clear()), "b sees a's pull at once");
            assertEquals(Health.OK, b.reinsert(2));
            assertEquals(IoStatus.OK, a.slot(2).read(0, dst.clear()), "a reopens the drive b put back");

            a.fail(3);
            assertEquals(IoStatus.DEVICE_FAILED, b.slot(3).write(0, pattern(4096, 1)));
            UUID old = a.slot(3).uuid();
            b.replace(3);
            assertEquals(Health.OK, a.health(3));
            assertEquals(IoStatus.OK, a.slot(3).read(0, dst.clear()), "a's next command sees the new drive");
            assertNotEquals(old, a.slot(3).uuid());
            assertEquals(b.slot(3).uuid(), a.slot(3).uuid());
            assertEquals(1, a.slot(3).generation());
            assertEquals(Dae.driveUuid(SEED, 3, 1), a.slot(3).uuid());
        }
    }

    @Test
    void anotherShelfsDirectoryIsRefused() throws IOException {
        Dae.open(dir, 5, CAPACITY, SEED, options).close();
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> Dae.open(dir, 6, CAPACITY, SEED, options));
        assertTrue(e.getMessage().contains("slots=6 found_slots=5"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Dae.open(dir, 5, CAPACITY * 2, SEED, options));
        SsdTest.pokeByte(dir.resolve(Dae.STATE_FILE), 12, (byte) 7);
        CorruptHeaderException c =
                assertThrows(CorruptHeaderException.class, () -> Dae.open(dir, 5, CAPACITY, SEED, options));
        assertTrue(c.getMessage().contains("crc_ok=false"), c.getMessage());
    }

    @Test
    void aVanishedDriveFileComesBackAsANewDrive() throws IOException {
        UUID before;
        try (Dae dae = Dae.open(dir, 3, CAPACITY, SEED, options)) {
            before = dae.slot(0).uuid();
        }
        Files.delete(dir.resolve("ssd-00.img"));
        try (Dae dae = Dae.open(dir, 3, CAPACITY, SEED, options)) {
            assertNotEquals(before, dae.slot(0).uuid());
            assertEquals(Dae.driveUuid(SEED, 0, 1), dae.slot(0).uuid());
        }
    }

    @Test
    void slotIndexIsChecked() throws IOException {
        try (Dae dae = Dae.open(dir, 3, CAPACITY, SEED, options)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> dae.slot(3));
            assertTrue(e.getMessage().contains("slot=3 slots=3"), e.getMessage());
        }
    }
}
