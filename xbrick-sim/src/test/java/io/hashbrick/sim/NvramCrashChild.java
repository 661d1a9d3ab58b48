package io.hashbrick.sim;

import java.lang.foreign.ValueLayout;
import java.nio.file.Path;

/**
 * Run by {@link BatteryBackedMemoryTest} in a child JVM: opens the memory, vaults once, stores a
 * pattern without vaulting, says "stored", then waits to be killed with SIGKILL.
 */
public final class NvramCrashChild {
    private NvramCrashChild() {}

    public static void main(String[] args) throws Exception {
        Path file = Path.of(args[0]);
        BatteryBackedMemory m = BatteryBackedMemory.open(file, 1, 64 * 1024, SimClock.SYSTEM, EventSink.NONE);
        m.data().set(ValueLayout.JAVA_LONG, 0, 0x1111L);
        m.vault();
        for (int i = 0; i < 8; i++) {
            m.data().set(ValueLayout.JAVA_LONG, 8L * i, 0xC0FFEE00L + i); // after the vault: page cache only
        }
        System.out.println("stored");
        System.out.flush();
        Thread.sleep(60_000); // bounded: the parent kills us long before
    }
}
