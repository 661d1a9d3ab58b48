package io.hashbrick.node.scsi;

/**
 * The LBA ranges a logical unit's commands are executing on: held shared by reads and plain writes,
 * exclusive by COMPARE AND WRITE, ORWRITE and WRITE ATOMIC (SBC-4 §4.29: their read, compare and write
 * are atomic against every other command, and no read sees a WRITE ATOMIC torn). It replaces the
 * unit-wide lock that was held across the device I/O: a range is a reservation, so the monitor here
 * is held only to look at and change the table, never across I/O, and a command waits only for the
 * commands whose range overlaps its own with one of the two exclusive. An atomic command on one
 * block no longer stops the unit's reads and writes elsewhere.
 *
 * <p>Writer preference: an exclusive request that waits is in the table too, and shared requests that
 * overlap it wait behind it, so a stream of overlapping reads cannot starve it. Waiting exclusive
 * requests wait only for held ranges, never for each other's wait, so there is no cycle.
 *
 * <p>Bounded: one entry per command executing on the unit (workers and connection threads); the table
 * grows by doubling while the front end warms up and is never shrunk, so nothing is allocated per
 * command afterwards. Every loop is bounded by the table's size.
 */
final class RangeLock {
    private static final byte SHARED = 1, EXCLUSIVE = 2, EXCLUSIVE_WAITING = 3;

    private long[] first = new long[16];
    private long[] end = new long[16];
    private byte[] kind = new byte[16];
    /** Entries in use: {@code [0, count)}. */
    private int count;

    /** Holds {@code [lba, lba + blocks)} shared, waiting while an exclusive range over it is held or waited for. */
    synchronized void lockShared(long lba, long blocks) {
        long e = lba + blocks;
        while (overlaps(lba, e, EXCLUSIVE, EXCLUSIVE_WAITING)) {
            waitQuietly();
        }
        add(lba, e, SHARED);
    }

    /** {@link #lockShared} if that needs no wait; false otherwise, and nothing is held. */
    synchronized boolean tryLockShared(long lba, long blocks) {
        long e = lba + blocks;
        if (overlaps(lba, e, EXCLUSIVE, EXCLUSIVE_WAITING)) {
            return false;
        }
        add(lba, e, SHARED);
        return true;
    }

    synchronized void unlockShared(long lba, long blocks) {
        remove(lba, lba + blocks, SHARED);
    }

    /** Holds {@code [lba, lba + blocks)} alone: waits until no held range overlaps it. */
    synchronized void lockExclusive(long lba, long blocks) {
        long e = lba + blocks;
        int at = add(lba, e, EXCLUSIVE_WAITING);
        while (overlaps(lba, e, SHARED, EXCLUSIVE)) {
            waitQuietly();
            at = indexOf(lba, e, EXCLUSIVE_WAITING); // entries move when others leave
        }
        kind[at] = EXCLUSIVE;
    }

    synchronized void unlockExclusive(long lba, long blocks) {
        remove(lba, lba + blocks, EXCLUSIVE);
    }

    /** Ranges held or waited for (tests). */
    synchronized int size() {
        return count;
    }

    private boolean overlaps(long lba, long e, byte k1, byte k2) {
        for (int i = 0; i < count; i++) {
            byte k = kind[i];
            if ((k == k1 || k == k2) && first[i] < e && lba < end[i]) {
                return true;
            }
        }
        return false;
    }

    private int add(long lba, long e, byte k) {
        if (count == kind.length) {
            first = java.util.Arrays.copyOf(first, count * 2);
            end = java.util.Arrays.copyOf(end, count * 2);
            kind = java.util.Arrays.copyOf(kind, count * 2);
        }
        first[count] = lba;
        end[count] = e;
        kind[count] = k;
        return count++;
    }

    private void remove(long lba, long e, byte k) {
        int at = indexOf(lba, e, k);
        if (at < 0) {
            throw new IllegalStateException("range not held: lba=" + lba + " end=" + e + " kind=" + k);
        }
        count--;
        first[at] = first[count];
        end[at] = end[count];
        kind[at] = kind[count];
        notifyAll();
    }

    private int indexOf(long lba, long e, byte k) {
        for (int i = 0; i < count; i++) {
            if (first[i] == lba && end[i] == e && kind[i] == k) {
                return i;
            }
        }
        return -1;
    }

    private void waitQuietly() {
        try {
            wait();
        } catch (InterruptedException ex) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for an LBA range", ex);
        }
    }
}
