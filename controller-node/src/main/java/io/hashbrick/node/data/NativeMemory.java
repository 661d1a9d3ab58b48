package io.hashbrick.node.data;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.concurrent.atomic.AtomicLong;

/**
 * libc {@code malloc}/{@code free} through the FFM API (JEP 454), with every requested byte counted.
 * The metadata tables allocate many same-size pages (see {@link H2pEntries}) and small index arrays;
 * libc's allocator packs those tightly, which an {@code Arena} per allocation would not, and it lets
 * a page be freed on its own.
 *
 * <p>Only sizes requested are counted: glibc adds 8 bytes of chunk header per allocation and rounds to
 * 16. The RSS check in H2pMemoryTest measures what the process really pays.
 */
@SuppressWarnings("restricted") // raw native memory by design; the JVM runs with --enable-native-access
final class NativeMemory {
    private static final MethodHandle MALLOC;
    private static final MethodHandle FREE;
    /** Bytes requested and not yet freed, over all tables of this JVM (leak checks in tests). */
    private static final AtomicLong LIVE_BYTES = new AtomicLong();

    static {
        Linker linker = Linker.nativeLinker();
        SymbolLookup libc = linker.defaultLookup();
        MALLOC = linker.downcallHandle(libc.findOrThrow("malloc"),
                FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
        FREE = linker.downcallHandle(libc.findOrThrow("free"), FunctionDescriptor.ofVoid(ValueLayout.ADDRESS));
    }

    private NativeMemory() {}

    /** @return a segment of exactly {@code bytes} bytes, contents undefined */
    static MemorySegment allocate(long bytes) {
        if (bytes <= 0) {
            throw new IllegalArgumentException("native allocation must be positive: bytes=" + bytes);
        }
        MemorySegment p;
        try {
            p = (MemorySegment) MALLOC.invokeExact(bytes);
        } catch (Throwable t) {
            throw new IllegalStateException("malloc failed: bytes=" + bytes, t);
        }
        if (p.address() == 0) {
            throw new OutOfMemoryError("malloc returned NULL: bytes=" + bytes + " live_bytes=" + LIVE_BYTES.get());
        }
        LIVE_BYTES.addAndGet(bytes);
        return p.reinterpret(bytes);
    }

    /** Frees a segment from {@link #allocate}; NULL (size 0) is ignored. */
    static void free(MemorySegment segment) {
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

    /** @return bytes requested and not yet freed by every user of this class in this JVM */
    static long liveBytes() {
        return LIVE_BYTES.get();
    }
}
