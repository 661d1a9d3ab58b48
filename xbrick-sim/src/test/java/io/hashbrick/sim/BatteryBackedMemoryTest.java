package io.hashbrick.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BatteryBackedMemoryTest {
    private static final long SIZE = 64 * 1024;

    @TempDir
    Path dir;

    private final List<String> events = new ArrayList<>();
    private final ManualClock clock = new ManualClock(0);

    private BatteryBackedMemory open(Path file, int owner) throws IOException {
        return BatteryBackedMemory.open(file, owner, SIZE, clock, events::add);
    }

    @Test
    void storesSurviveCloseAndReopenWithoutAVault() throws IOException {
        Path file = dir.resolve("nvram-1.img");
        try (BatteryBackedMemory m = open(file, 1)) {
            assertEquals(SIZE, m.data().byteSize());
            m.data().set(ValueLayout.JAVA_LONG, 0, 42L);
            m.data().set(ValueLayout.JAVA_LONG, SIZE - 8, 43L);
        } // closed without vault: what a crash leaves behind
        try (BatteryBackedMemory m = open(file, 1)) {
            assertEquals(42L, m.data().get(ValueLayout.JAVA_LONG, 0));
            assertEquals(43L, m.data().get(ValueLayout.JAVA_LONG, SIZE - 8));
        }
    }

    @Test
    void powerLossRevertsToTheLastVault() throws IOException {
        try (BatteryBackedMemory m = open(dir.resolve("nvram-1.img"), 1)) {
            MemorySegment d = m.data();
            d.set(ValueLayout.JAVA_LONG, 0, 1L);
            m.simulatePowerLoss();
            assertEquals(0L, d.get(ValueLayout.JAVA_LONG, 0), "before any vault, power loss leaves it empty");

            d.set(ValueLayout.JAVA_LONG, 0, 2L);
            m.vault();
            d.set(ValueLayout.JAVA_LONG, 0, 3L);
            d.set(ValueLayout.JAVA_LONG, 4096, 4L);
            m.simulatePowerLoss();
            assertEquals(2L, d.get(ValueLayout.JAVA_LONG, 0), "the vaulted store survives");
            assertEquals(0L, d.get(ValueLayout.JAVA_LONG, 4096), "the unvaulted store is gone");
            assertEquals(2, m.vaults(), "open vaults once, then ours");
        }
        try (BatteryBackedMemory m = open(dir.resolve("nvram-1.img"), 1)) {
            assertEquals(2L, m.data().get(ValueLayout.JAVA_LONG, 0), "and the reverted image is what is on file");
        }
        assertTrue(events.stream().anyMatch(l -> l.startsWith("t_ns=0 event=nvram_power_lost")), events.toString());
    }

    /** A real SIGKILL: the page cache keeps every store; a later power loss keeps only the vaulted one. */
    @Test
    void sigkilledProcessLosesNothingPowerLossLosesTheUnvaulted() throws Exception {
        Path file = dir.resolve("nvram-1.img");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process child = new ProcessBuilder(
                        java,
                        "-cp",
                        System.getProperty("java.class.path"),
                        NvramCrashChild.class.getName(),
                        file.toString())
                .redirectErrorStream(true)
                .start();
        try (BufferedReader out =
                new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
            String line = out.readLine();
            assertEquals("stored", line, "child output");
            child.destroyForcibly(); // SIGKILL on Linux: no shutdown hooks, no unmap, no msync
            assertTrue(child.waitFor(10, TimeUnit.SECONDS));
            assertEquals(137, child.exitValue(), "killed by SIGKILL");
        }
        try (BatteryBackedMemory m = open(file, 1)) {
            for (int i = 0; i < 8; i++) {
                assertEquals(0xC0FFEE00L + i, m.data().get(ValueLayout.JAVA_LONG, 8L * i), "store " + i);
            }
        }
        BatteryBackedMemory.revertToVault(file);
        try (BatteryBackedMemory m = open(file, 1)) {
            assertEquals(0x1111L, m.data().get(ValueLayout.JAVA_LONG, 0), "the vaulted store");
            assertEquals(0L, m.data().get(ValueLayout.JAVA_LONG, 8), "the unvaulted stores are gone");
        }
    }

    @Test
    void headerIsChecked() throws IOException {
        Path file = dir.resolve("nvram-1.img");
        open(file, 1).close();
        IllegalArgumentException owner = assertThrows(IllegalArgumentException.class, () -> open(file, 2));
        assertTrue(owner.getMessage().contains("owner=2 found_owner=1"), owner.getMessage());
        SsdTest.pokeByte(file, BatteryBackedMemory.SIZE_OFFSET, (byte) 1);
        CorruptHeaderException crc = assertThrows(CorruptHeaderException.class, () -> open(file, 1));
        assertTrue(crc.getMessage().contains("crc mismatch"), crc.getMessage());
        SsdTest.pokeByte(file, 0, (byte) 0);
        CorruptHeaderException magic = assertThrows(CorruptHeaderException.class, () -> open(file, 1));
        assertTrue(magic.getMessage().contains("magic mismatch"), magic.getMessage());
        assertThrows(
                IllegalArgumentException.class,
                () -> BatteryBackedMemory.open(dir.resolve("x"), 1, 5000, clock, events::add));
    }
}
