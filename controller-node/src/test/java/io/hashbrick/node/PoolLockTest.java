package io.hashbrick.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fence of a failover: a pool held by a live process (another JVM) cannot be taken; once that
 * process is SIGKILLed it can, at once; a process never takes its own pool twice.
 */
class PoolLockTest {
    /** The other process: holds the pool lock of {@code args[0]} until killed. */
    public static void main(String[] args) throws Exception {
        PoolLock l = PoolLock.tryAcquire(Path.of(args[0]));
        System.out.println(l == null ? "busy" : "locked");
        System.out.flush();
        Thread.sleep(60_000);
    }

    @Test
    void aLiveHolderFencesThePoolAndItsDeathFreesIt(@TempDir Path dir) throws Exception {
        String java = ProcessHandle.current().info().command().orElse("java");
        Process holder = new ProcessBuilder(
                        java,
                        "-cp",
                        System.getProperty("java.class.path"),
                        PoolLockTest.class.getName(),
                        dir.toString())
                .redirectErrorStream(true)
                .start();
        try {
            BufferedReader out =
                    new BufferedReader(new InputStreamReader(holder.getInputStream(), StandardCharsets.UTF_8));
            String line;
            do {
                line = out.readLine();
            } while (line != null && !line.equals("locked") && !line.equals("busy"));
            assertEquals("locked", line, "the other process holds the pool");
            assertNull(PoolLock.tryAcquire(dir), "a live holder fences the pool");
            // the lock file names the holder, as its brick peer fences it: its pid and start time
            PoolLock.Owner owner = PoolLock.owner(dir);
            assertNotNull(owner, "the holder is on record");
            assertEquals(holder.pid(), owner.pid());
            long start = holder.toHandle().info().startInstant().orElseThrow().toEpochMilli();
            assertEquals(start, owner.startMs(), 1_000.0, "its start time tells it from a reused pid");
            holder.destroyForcibly(); // SIGKILL
            assertEquals(true, holder.waitFor(10, TimeUnit.SECONDS));
            try (PoolLock l = PoolLock.tryAcquire(dir)) {
                assertNotNull(l, "the holder's death frees the pool at once");
                assertNull(PoolLock.tryAcquire(dir), "never taken twice by one process");
            }
            try (PoolLock again = PoolLock.tryAcquire(dir)) {
                assertNotNull(again, "released by close");
            }
        } finally {
            holder.destroyForcibly();
        }
    }

    @Test
    void aLockFileThatNamesNoHolderNamesNobody(@TempDir Path dir) throws Exception {
        assertNull(PoolLock.owner(dir), "no lock file");
        for (String text : new String[] {"", "pid=", "pid=abc start_ms=1", "start_ms=5", "pid=-3 start_ms=5", "x"}) {
            java.nio.file.Files.writeString(dir.resolve(PoolLock.FILE), text);
            assertNull(PoolLock.owner(dir), "lock file: " + text);
        }
        try (PoolLock l = PoolLock.tryAcquire(dir)) { // rewritten by the next holder
            assertEquals(ProcessHandle.current().pid(), PoolLock.owner(dir).pid());
        }
    }
}
