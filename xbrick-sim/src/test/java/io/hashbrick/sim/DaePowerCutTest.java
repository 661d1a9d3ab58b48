package io.hashbrick.sim;

import static io.hashbrick.sim.SsdPowerCutTest.CAPACITY;
import static io.hashbrick.sim.SsdPowerCutTest.readBytes;
import static io.hashbrick.sim.SsdPowerCutTest.sha256;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link Dae#powerCut}: every drive, each with its own seed; failed, pulled and replaced drives. */
class DaePowerCutTest {
    private static final int SLOTS = 5;
    private static final long SHELF_SEED = 0xDAE5EEDL;

    @TempDir
    Path dir;

    private final List<String> events = new ArrayList<>();
    private final SsdOptions cached =
            SsdOptions.simulated(new ManualClock(0), events::add).withVolatileCache(SsdPowerCutTest.CACHE_BYTES);

    private Dae shelf(String name) throws IOException {
        return Dae.open(dir.resolve(name), SLOTS, CAPACITY, SHELF_SEED, cached);
    }

    @Test
    void aShelfCutCoversEveryDriveAsTheDrivesOwnCutsWould() throws IOException {
        for (long seed = 1; seed <= 3; seed++) {
            try (Dae whole = shelf("whole-" + seed);
                    Dae each = shelf("each-" + seed)) {
                for (int i = 0; i < SLOTS; i++) {
                    issue(whole.slot(i), i);
                    issue(each.slot(i), i);
                }
                PowerCutSummary total = whole.powerCut(seed);
                assertEquals(SLOTS, total.drives(), "seed=" + seed + " " + total);
                PowerCutSummary sum = PowerCutSummary.NONE;
                for (int i = 0; i < SLOTS; i++) {
                    assertEquals(0, whole.slot(i).unflushedWrites(), "seed=" + seed + " slot=" + i);
                    sum = sum.plus(each.slot(i).powerCut(Dae.powerCutSeed(seed, i)));
                    assertEquals(
                            sha256(each.driveFile(i)),
                            sha256(whole.driveFile(i)),
                            "seed=" + seed + " slot=" + i + " the shelf cut gave the drive its own seed");
                }
                assertEquals(sum, total, "seed=" + seed);
                assertEquals(SLOTS * 12L, total.writes(), "seed=" + seed + " " + total);
                System.out.println("seed=" + seed + " " + total);
            }
        }
        assertTrue(events.stream().anyMatch(l -> l.contains("event=dae_power_cut seed=1 drives=5")), events.toString());
    }

    @Test
    void eachSlotGetsItsOwnSeed() {
        Set<Long> seeds = new HashSet<>();
        for (int i = 0; i < Dae.SLOTS_MAX; i++) {
            seeds.add(Dae.powerCutSeed(42, i));
        }
        assertEquals(Dae.SLOTS_MAX, seeds.size());
        assertEquals(Dae.powerCutSeed(42, 3), Dae.powerCutSeed(42, 3));
        assertNotEquals(Dae.powerCutSeed(42, 3), Dae.powerCutSeed(43, 3));
    }

    @Test
    void withTheModelOffAShelfCutLosesNothing() throws IOException {
        try (Dae dae = Dae.open(dir, SLOTS, CAPACITY, SHELF_SEED, cached.withVolatileCache(0))) {
            issue(dae.slot(2), 2);
            String before = sha256(dae.driveFile(2));
            assertEquals(PowerCutSummary.NONE, dae.powerCut(5));
            assertEquals(before, sha256(dae.driveFile(2)));
        }
    }

    /**
     * A failed drive and a drive this process pulled are cut like healthy ones (same bytes as a twin
     * shelf where nothing happened to them) and keep their health; the pulled one, reinserted, reads
     * what the cut left.
     */
    @Test
    void failedAndPulledDrivesAreCutAndKeepTheirHealth() throws IOException {
        long seed = 77;
        try (Dae hurt = shelf("hurt");
                Dae twin = shelf("twin")) {
            for (int i = 0; i < SLOTS; i++) {
                issue(hurt.slot(i), i);
                issue(twin.slot(i), i);
            }
            hurt.pull(1);
            hurt.fail(2);
            PowerCutSummary a = hurt.powerCut(seed);
            PowerCutSummary b = twin.powerCut(seed);
            assertEquals(b, a, "seed=" + seed);
            assertEquals(Health.PULLED, hurt.health(1));
            assertEquals(Health.FAILED, hurt.health(2));
            for (int i = 0; i < SLOTS; i++) {
                assertEquals(sha256(twin.driveFile(i)), sha256(hurt.driveFile(i)), "seed=" + seed + " slot=" + i);
            }
            assertEquals(Health.OK, hurt.reinsert(1));
            assertArrayEquals(readBytes(twin.slot(1), 0, (int) CAPACITY), readBytes(hurt.slot(1), 0, (int) CAPACITY));
        }
    }

    /** The record of a replaced drive belongs to the drive that left: the new one stays empty. */
    @Test
    void aReplacedDrivesUnflushedWritesAreDiscarded() throws IOException {
        try (Dae a = shelf("shared");
                Dae b = shelf("shared")) {
            issue(a.slot(3), 3);
            issue(a.slot(4), 4);
            a.replace(3); // by this controller
            assertEquals(0, a.slot(3).unflushedWrites());
            b.replace(4); // by the other one: a learns at its cut (or its next command)
            PowerCutSummary cut = a.powerCut(9);
            assertEquals(new PowerCutSummary(SLOTS, 0, 0, 0, 0, 0, 0), cut, "both records discarded");
            byte[] zeros = new byte[(int) CAPACITY];
            assertArrayEquals(zeros, readBytes(a.slot(3), 0, (int) CAPACITY), "slot 3");
            assertArrayEquals(zeros, readBytes(a.slot(4), 0, (int) CAPACITY), "slot 4");
        }
        assertTrue(
                events.stream().anyMatch(l -> l.contains("slot=4") && l.contains("reason=replaced")),
                events.toString());
    }

    /** The shared workload, one per slot: it leaves 12 unflushed writes. */
    private static void issue(Ssd ssd, int slot) {
        SsdPowerCutTest.issueWorkload(ssd, 1000 + slot);
    }
}
