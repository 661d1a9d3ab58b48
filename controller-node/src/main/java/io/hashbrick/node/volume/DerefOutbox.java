package io.hashbrick.node.volume;

import java.util.Arrays;
import java.util.function.LongConsumer;

/**
 * C's deref outbox: the handles maps replaced or unmapped, oldest first, each holding its reference
 * until D has dropped it. A handle's position counts every handle ever queued, so a deref batch is
 * named by the position after it and D can tell a resent batch from a new one. Guarded by
 * {@link MapStore}'s lock (no lock of its own).
 */
final class DerefOutbox {
    private long[] handles = new long[1024];
    private int size;
    /** Position of {@code handles[0]}. */
    private long start;

    void add(long handle) {
        if (size == handles.length) {
            handles = Arrays.copyOf(handles, handles.length * 2);
        }
        handles[size++] = handle;
    }

    int size() {
        return size;
    }

    /** Position of the oldest handle. */
    long start() {
        return start;
    }

    /** Replaces the contents (a checkpoint's). */
    void reset(long start, long[] loaded) {
        handles = Arrays.copyOf(loaded, Math.max(1024, loaded.length));
        size = loaded.length;
        this.start = start;
    }

    /** Copies the oldest handles, at most {@code max}, into {@code dst}. @return how many */
    int copyOldest(long[] dst, int max) {
        int n = Math.min(size, max);
        System.arraycopy(handles, 0, dst, 0, n);
        return n;
    }

    /** D has dropped every handle queued before {@code position}: they leave. */
    void ackUpTo(long position) {
        long n = Math.min(size, position - start);
        if (n <= 0) {
            return;
        }
        System.arraycopy(handles, (int) n, handles, 0, size - (int) n);
        size -= (int) n;
        start += n;
    }

    /** Visits the handles at position {@code from} or later. */
    void forEachFrom(long from, LongConsumer visitor) {
        for (int i = (int) Math.max(0, Math.min(size, from - start)); i < size; i++) {
            visitor.accept(handles[i]);
        }
    }

    long[] snapshot() {
        return Arrays.copyOf(handles, size);
    }
}
