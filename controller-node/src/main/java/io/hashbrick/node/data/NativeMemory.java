package io.hashbrick.node.data;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.concurrent.atomic.AtomicLong;

/**
 * libc {@code malloc}/{@code realloc}/{@code free} through the FFM API (JEP 454), with every requested
 * byte counted. The metadata tables use libc rather than an {@code Arena} because an arena cannot grow
 * an allocation in place: {@code realloc} can (and, for large chunks, glibc moves pages with
 * {@code mremap} instead of copying), which is what lets a bucket's entry array grow by 12.5% at a time
 * without ever holding two copies for long.
 *
 * <p>Only sizes requested are counted: glibc adds 8 bytes of chunk header per allocation and rounds to
 * 16, which at two allocations per bucket is ~0.1 MiB for all 4096 buckets; the RSS check in the tests
 * measures what the process really pays.
 */
final class NativeMemory {
    private static final MethodHandle MALLOC;
    private static final MethodHandle REALLOC;
    private static final MethodHandle FREE;
    /** Bytes requested and not yet freed, over all tables of this JVM (leak checks in tests). */
    private static final AtomicLong LIVE_BYTES = new AtomicLong();

    static {
        Linker linker = Linker.nativeLinker();
        SymbolLookup libc = linker.defaultLookup();
        MALLOC = linker.downcallHandle(libc.findOrThrow("malloc"),
                FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
        REALLOC = linker.downcallHandle(libc.findOrThrow("realloc"),
                FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
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

    /**
     * @param old a segment from {@link #allocate} or this method, or {@link MemorySegment#NULL} (size 0)
     * @return a segment of {@code newBytes} bytes holding the old contents up to the smaller size;
     *     {@code old} must not be used afterwards
     */
    static MemorySegment reallocate(MemorySegment old, long newBytes) {
        if (old.byteSize() == 0) {
            return allocate(newBytes);
        }
        if (newBytes <= 0) {
            throw new IllegalArgumentException("native reallocation must be positive: bytes=" + newBytes);
        }
        MemorySegment p;
        try {
            p = (MemorySegment) REALLOC.invokeExact(old, newBytes);
        } catch (Throwable t) {
            throw new IllegalStateException("realloc failed: bytes=" + newBytes, t);
        }
        if (p.address() == 0) { // the old block is untouched and still ours (C11 7.22.3.5)
            throw new OutOfMemoryError("realloc returned NULL: old_bytes=" + old.byteSize() + " new_bytes=" + newBytes
                    + " live_bytes=" + LIVE_BYTES.get());
        }
        LIVE_BYTES.addAndGet(newBytes - old.byteSize());
        return p.reinterpret(newBytes);
    }

    /** Frees a segment from {@link #allocate}/{@link #reallocate}; NULL (size 0) is ignored. */
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
