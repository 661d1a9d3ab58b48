package io.hashbrick.node.block;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * The four libc calls a thin file needs, through the JDK's FFM API (JEP 454): {@code open},
 * {@code close}, {@code fallocate} (punch holes) and {@code lseek} (SEEK_DATA/SEEK_HOLE). Linux only.
 * {@link #load()} returns null where the symbols or native access are missing, so callers fall back.
 */
final class LibC {
    static final int O_RDWR = 2;
    /** linux/falloc.h */
    static final int FALLOC_FL_KEEP_SIZE = 0x01, FALLOC_FL_PUNCH_HOLE = 0x02;
    /** unistd.h (Linux values) */
    static final int SEEK_DATA = 3, SEEK_HOLE = 4;
    /** asm-generic/errno-base.h */
    static final int ENXIO = 6, EOPNOTSUPP = 95;

    private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));

    private final MethodHandle open;
    private final MethodHandle close;
    private final MethodHandle fallocate;
    private final MethodHandle lseek;

    private LibC(MethodHandle open, MethodHandle close, MethodHandle fallocate, MethodHandle lseek) {
        this.open = open;
        this.close = close;
        this.fallocate = fallocate;
        this.lseek = lseek;
    }

    /** @return the binding, or null where FFM or the symbols are unavailable (logged by the caller) */
    static LibC load() {
        try {
            Linker linker = Linker.nativeLinker();
            var libc = linker.defaultLookup();
            Linker.Option errno = Linker.Option.captureCallState("errno");
            MethodHandle open = linker.downcallHandle(
                    libc.findOrThrow("open"),
                    FunctionDescriptor.of(
                            ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT),
                    errno,
                    Linker.Option.firstVariadicArg(2));
            MethodHandle close = linker.downcallHandle(
                    libc.findOrThrow("close"), FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
            MethodHandle fallocate = linker.downcallHandle(
                    libc.findOrThrow("fallocate"),
                    FunctionDescriptor.of(
                            ValueLayout.JAVA_INT,
                            ValueLayout.JAVA_INT,
                            ValueLayout.JAVA_INT,
                            ValueLayout.JAVA_LONG,
                            ValueLayout.JAVA_LONG),
                    errno);
            MethodHandle lseek = linker.downcallHandle(
                    libc.findOrThrow("lseek"),
                    FunctionDescriptor.of(
                            ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT),
                    errno);
            return new LibC(open, close, fallocate, lseek);
        } catch (RuntimeException | Error e) { // IllegalCallerException without native access, etc.
            return null;
        }
    }

    /** A capture segment for errno; one per caller, reused (calls through it must not overlap). */
    static MemorySegment newErrnoSegment(Arena arena) {
        return arena.allocate(CAPTURE);
    }

    static int errno(MemorySegment capture) {
        return (int) ERRNO.get(capture, 0L);
    }

    /** @return a file descriptor, or -errno */
    int open(String path, MemorySegment capture) {
        try (Arena arena = Arena.ofConfined()) {
            int fd = (int) open.invokeExact(capture, arena.allocateFrom(path), O_RDWR, 0);
            return fd >= 0 ? fd : -errno(capture);
        } catch (Throwable t) {
            throw new IllegalStateException("libc open failed path=" + path, t);
        }
    }

    void close(int fd) {
        try {
            int rc = (int) close.invokeExact(fd);
            assert rc == 0 : "close fd=" + fd;
        } catch (Throwable t) {
            throw new IllegalStateException("libc close failed fd=" + fd, t);
        }
    }

    /** @return 0, or -errno */
    int punchHole(int fd, long offset, long length, MemorySegment capture) {
        try {
            int rc = (int)
                    fallocate.invokeExact(capture, fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length);
            return rc == 0 ? 0 : -errno(capture);
        } catch (Throwable t) {
            throw new IllegalStateException("libc fallocate failed fd=" + fd + " offset=" + offset, t);
        }
    }

    /** @return the resulting offset, or -errno (ENXIO: no data/hole at or after offset) */
    long lseek(int fd, long offset, int whence, MemorySegment capture) {
        try {
            long rc = (long) lseek.invokeExact(capture, fd, offset, whence);
            return rc >= 0 ? rc : -errno(capture);
        } catch (Throwable t) {
            throw new IllegalStateException("libc lseek failed fd=" + fd + " offset=" + offset, t);
        }
    }
}
