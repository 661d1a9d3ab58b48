package io.hashbrick.node.data;

/**
 * Refcounts too large for an entry's 24-bit field (over 16,777,215 references to one block), keyed by
 * slot: a primitive open-addressing map (linear probing, backward-shift deletion, power-of-two
 * capacity, load at most 1/2). Such blocks are rare (a pattern written across a whole fleet of clones),
 * so the map starts empty, lives on the heap and is counted in {@link #heapBytes()}.
 */
final class RefcountSpill {
    private static final int MIN_CAPACITY = 8;
    /** slot + 1, 0 = empty. */
    private long[] keys = new long[MIN_CAPACITY];

    private long[] values = new long[MIN_CAPACITY];
    private int size;

    /** @return the refcount of {@code slot}, or 0 when absent */
    long get(long slot) {
        int mask = keys.length - 1;
        for (int i = index(slot + 1, mask), probes = 0; probes < keys.length; i = (i + 1) & mask, probes++) {
            if (keys[i] == slot + 1) {
                return values[i];
            }
            if (keys[i] == 0) {
                return 0;
            }
        }
        return 0;
    }

    void put(long slot, long refcount) {
        assert refcount > 0 : "refcount=" + refcount;
        if ((size + 1) * 2 > keys.length) {
            resize(keys.length * 2);
        }
        int mask = keys.length - 1;
        int i = index(slot + 1, mask);
        while (keys[i] != 0 && keys[i] != slot + 1) {
            i = (i + 1) & mask;
        }
        if (keys[i] == 0) {
            size++;
        }
        keys[i] = slot + 1;
        values[i] = refcount;
    }

    void remove(long slot) {
        int mask = keys.length - 1;
        int i = index(slot + 1, mask);
        while (keys[i] != slot + 1) {
            if (keys[i] == 0) {
                return;
            }
            i = (i + 1) & mask;
        }
        for (int j = (i + 1) & mask; keys[j] != 0; j = (j + 1) & mask) { // Knuth, Algorithm R
            int h = index(keys[j], mask);
            boolean homeInHoleToJ = i <= j ? (h > i && h <= j) : (h > i || h <= j);
            if (!homeInHoleToJ) {
                keys[i] = keys[j];
                values[i] = values[j];
                i = j;
            }
        }
        keys[i] = 0;
        values[i] = 0;
        size--;
    }

    private void resize(int capacity) {
        long[] oldKeys = keys;
        long[] oldValues = values;
        keys = new long[capacity];
        values = new long[capacity];
        size = 0;
        for (int i = 0; i < oldKeys.length; i++) {
            if (oldKeys[i] != 0) {
                put(oldKeys[i] - 1, oldValues[i]);
            }
        }
    }

    private static int index(long key, int mask) {
        return (int) ((key * 0x9E3779B97F4A7C15L) >>> 32) & mask; // Fibonacci hashing (Knuth §6.4)
    }

    int size() {
        return size;
    }

    /** Two arrays of 16-byte array headers plus 8 bytes per cell each, and this object. */
    long heapBytes() {
        return 16L + 2 * (16L + 8L * keys.length);
    }
}
