package io.hashbrick.node.scsi;

/**
 * Pending unit attention conditions of one (I_T nexus, logical unit) pair (SAM-5 §5.14, SPC-4 §5.14),
 * oldest first, each packed as {@code asc << 8 | ascq}. Bounded: when full, the newest is dropped
 * and the last slot says "more" (SPC-4 allows reporting a generic condition; 29/00 covers resets).
 */
final class UnitAttentions {
    private static final int CAPACITY = 8;
    private final int[] codes = new int[CAPACITY];
    private int count;

    synchronized void add(int code) {
        for (int i = 0; i < count; i++) {
            if (codes[i] == code) {
                return;
            }
        }
        if (count < CAPACITY) {
            codes[count++] = code;
        }
    }

    /** @return the oldest pending code, removed, or -1 */
    synchronized int poll() {
        if (count == 0) {
            return -1;
        }
        int c = codes[0];
        System.arraycopy(codes, 1, codes, 0, --count);
        return c;
    }

    synchronized void remove(int code) {
        for (int i = 0; i < count; i++) {
            if (codes[i] == code) {
                System.arraycopy(codes, i + 1, codes, i, --count - i);
                return;
            }
        }
    }

    /** A reset supersedes what was pending (SAM-5 §6.3.3: the reset condition is what gets reported). */
    synchronized void replaceAll(int code) {
        count = 1;
        codes[0] = code;
    }

    synchronized boolean isEmpty() {
        return count == 0;
    }
}
