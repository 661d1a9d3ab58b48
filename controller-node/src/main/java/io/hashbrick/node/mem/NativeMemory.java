package io.hashbrick.node.mem;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Native memory for the metadata tables (H2P, A2H): libc {@code malloc}/{@code calloc}/{@code free}
 * through the FFM API (JEP 454). The tables allocate many small same-size pages; libc packs those
 * tightly and frees each on its own, which an {@code Arena} per allocation would not (and a shared
 * arena's close is a global handshake). Every requested byte is counted, so the RAM budgets of
 * DESIGN.md ("Metadata") are measured, not guessed; glibc adds about {@link #OVERHEAD_BYTES} per
 * allocation of its own, which the tables add to the figures they report.
 */
@SuppressWarnings("restricted") // raw native memory by design; the JVM runs with --enable-native-access
public final class NativeMemory {
    /** glibc's chunk header and rounding, per allocation, as the tables count it. */
    public static final long OVERHEAD_BYTES = 16;

    private static final MethodHandle MALLOC;
    private static final MethodHandle CALLOC;
    private static final MethodHandle FREE;
    /** Bytes requested and not yet freed by every table of this JVM (leak checks in tests). */
    private static final AtomicLong LIVE_BYTES = new AtomicLong();

    static {
        Linker linker = Linker.nativeLinker();
        SymbolLookup libc = linker.defaultLookup();
        MALLOC = linker.downcallHandle(
                libc.findOrThrow("malloc"), FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
        CALLOC = linker.downcallHandle(
                libc.findOrThrow("calloc"),
                FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG));
        FREE = linker.downcallHandle(libc.findOrThrow("free"), FunctionDescriptor.ofVoid(ValueLayout.ADDRESS));
    }

    private NativeMemory() {}

    /** A segment of exactly {@code bytes} bytes, contents undefined. */
    public static MemorySegment allocate(long bytes) {
        checkSize(bytes);
        MemorySegment p;
        try {
            p = (MemorySegment) MALLOC.invokeExact(bytes);
        } catch (Throwable t) {
            throw new IllegalStateException("malloc failed: bytes=" + bytes, t);
        }
        return counted(p, bytes);
    }

    /** A segment of exactly {@code bytes} zero bytes. */
    public static MemorySegment allocateZeroed(long bytes) {
        checkSize(bytes);
        MemorySegment p;
        try {
            p = (MemorySegment) CALLOC.invokeExact(1L, bytes);
        } catch (Throwable t) {
            throw new IllegalStateException("calloc failed: bytes=" + bytes, t);
        }
        return counted(p, bytes);
    }

    /** Frees a segment from {@link #allocate} or {@link #allocateZeroed}; size 0 (NULL) is ignored. */
    public static void free(MemorySegment segment) {
        if (segment.byteSize() == 0) {
            return;
        }
        try {
            FREE.invokeExact(segment);
        } catch (Throwable t) {
            throw new IllegalStateException("free failed: address=" + segment.address(), t);
        }
        LIVE_BYTES.addAndGet(-segment.byteSize());
    }

    /** Bytes requested and not yet freed by every user of this class in this JVM. */
    public static long liveBytes() {
        return LIVE_BYTES.get();
    }

    private static void checkSize(long bytes) {
        if (bytes <= 0) {
            throw new IllegalArgumentException("native allocation must be positive: bytes=" + bytes);
        }
    }

    private static MemorySegment counted(MemorySegment p, long bytes) {
        if (p.address() == 0) {
            throw new OutOfMemoryError(
                    "native metadata memory exhausted: bytes=" + bytes + " live_bytes=" + LIVE_BYTES.get());
        }
        LIVE_BYTES.addAndGet(bytes);
        return p.reinterpret(bytes);
    }
}
