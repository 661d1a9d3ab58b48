package io.hashbrick.node;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Who holds a cluster member's pool (its directory: DAE, NVRAM, journals, checkpoints): one process at
 * a time, by an exclusive lock on {@code pool.lock} in it. The operating system releases the lock when
 * its process ends however it ends (SIGKILL too), so a brick peer that can take it knows the owner is
 * gone: it is the fence of a failover (a paused process keeps its lock, so its pool is never opened
 * twice). The lock is held for the life of the open pool.
 */
final class PoolLock implements AutoCloseable {
    static final String FILE = "pool.lock";

    private final Path dir;
    private final FileChannel channel;
    private final FileLock lock;

    private PoolLock(Path dir, FileChannel channel, FileLock lock) {
        this.dir = dir;
        this.channel = channel;
        this.lock = lock;
    }

    /**
     * The directories this process holds: never opened again while held, since closing any channel of a
     * file may drop every lock the process holds on it (POSIX record locks).
     */
    private static final java.util.Set<Path> HELD = java.util.concurrent.ConcurrentHashMap.newKeySet();

    /** @return the lock, or null when another process (or this one) holds it */
    static PoolLock tryAcquire(Path dir) throws IOException {
        Path key = dir.toAbsolutePath().normalize();
        if (!HELD.add(key)) { // taken (or being tried) by this process: never a second channel
            return null;
        }
        FileLock l = null;
        FileChannel ch = null;
        try {
            Files.createDirectories(dir);
            ch = FileChannel.open(
                    dir.resolve(FILE), StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.READ);
            try {
                l = ch.tryLock();
            } catch (OverlappingFileLockException e) {
                l = null; // not possible while HELD guards it; treated as held
            }
            if (l != null) {
                try {
                    writeOwner(ch);
                } catch (IOException | RuntimeException e) { // not held without its holder on record
                    l.release();
                    l = null;
                    throw e;
                }
            }
            return l == null ? null : new PoolLock(key, ch, l);
        } finally {
            if (l == null) {
                if (ch != null) {
                    ch.close();
                }
                HELD.remove(key);
            }
        }
    }

    /**
     * The holder's process, written into the lock file once held: its brick peer fences a holder the
     * Raft leader has stopped hearing from by this record ({@link PoolFailover}); the start time tells a
     * reused pid from the holder.
     */
    record Owner(long pid, long startMs) {}

    private static void writeOwner(FileChannel ch) throws IOException {
        ProcessHandle me = ProcessHandle.current();
        long start =
                me.info().startInstant().map(java.time.Instant::toEpochMilli).orElse(0L);
        byte[] text = ("pid=" + me.pid() + " start_ms=" + start + "\n").getBytes(StandardCharsets.US_ASCII);
        ch.truncate(0);
        ch.write(ByteBuffer.wrap(text), 0);
    }

    /** The holder recorded in {@code dir}'s lock file; null when there is none (or it does not parse). */
    static Owner owner(Path dir) {
        try {
            String text = Files.readString(dir.resolve(FILE), StandardCharsets.US_ASCII)
                    .trim();
            long pid = -1;
            long start = -1;
            for (String kv : text.split(" ")) {
                if (kv.startsWith("pid=")) {
                    pid = Long.parseLong(kv.substring(4));
                } else if (kv.startsWith("start_ms=")) {
                    start = Long.parseLong(kv.substring(9));
                }
            }
            return pid > 0 && start >= 0 ? new Owner(pid, start) : null;
        } catch (IOException | NumberFormatException e) {
            return null;
        }
    }

    Path dir() {
        return dir;
    }

    @Override
    public void close() {
        try {
            lock.release();
        } catch (IOException e) {
            Log.warn("pool_unlock_failed", "dir=" + dir + " error=" + Log.q(e.toString()));
        }
        try {
            channel.close();
        } catch (IOException e) {
            // closing releases it anyway
        }
        HELD.remove(dir);
    }
}
