package io.hashbrick.node.mem;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Native memory for the metadata tables (A2H, H2P): libc {@code calloc}/{@code free} through the FFM
 * API, so a table grows and shrinks in small steps and gives memory back at once (an {@code Arena}
 * frees only when closed, and a shared arena's close is a global handshake). Every byte requested is
 * counted, so the RAM budgets of DESIGN.md ("Metadata") are measured, not estimated; malloc adds
 * about 16 bytes of its own per allocation, which {@link #OVERHEAD_BYTES} accounts for.
 */
public final class NativeMemory {
    /** glibc's per-chunk header, counted against every allocation. */
    public static final long OVERHEAD_BYTES = 16;

    private static final MethodHandle CALLOC;
    private static final MethodHandle FREE;

    static {
        Linker linker = Linker.nativeLinker();
        var libc = linker.defaultLookup();
        CALLOC = linker.downcallHandle(libc.find("calloc").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG));
        FREE = linker.downcallHandle(libc.find("free").orElseThrow(),
                FunctionDescriptor.ofVoid(ValueLayout.ADDRESS));
    }

    private final AtomicLong bytes = new AtomicLong();
    private final AtomicLong allocations = new AtomicLong();

    /** Zeroed memory of {@code size} bytes, counted; throws OutOfMemoryError when libc has none. */
    public MemorySegment allocateZeroed(long size) {
        if (size <= 0) {
            throw new IllegalArgumentException("allocation size must be positive: size=" + size);
        }
        MemorySegment p;
        try {
            p = (MemorySegment) CALLOC.invokeExact(1L, size);
        } catch (Throwable t) {
            throw new IllegalStateException("calloc failed size=" + size, t);
        }
        if (p.address() == 0) {
            throw new OutOfMemoryError("native metadata memory exhausted: size=" + size + " in_use=" + bytes.get());
        }
        bytes.addAndGet(size + OVERHEAD_BYTES);
        allocations.incrementAndGet();
        return p.reinterpret(size);
    }

    /** Frees memory from {@link #allocateZeroed}; {@code segment.byteSize()} must be what was allocated. */
    public void free(MemorySegment segment) {
        try {
            FREE.invokeExact(segment);
        } catch (Throwable t) {
            throw new IllegalStateException("free failed", t);
        }
        bytes.addAndGet(-(segment.byteSize() + OVERHEAD_BYTES));
        allocations.decrementAndGet();
    }

    /** Bytes held, malloc's headers included. */
    public long bytes() {
        return bytes.get();
    }

    public long allocations() {
        return allocations.get();
    }
}
