package io.hashbrick.journal;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Bounded many-producer, one-consumer ring of entries, indexed by {@code sequence & mask} (Disruptor's
 * ring, Vyukov's publish-by-slot). The claim counter is the journal's sequence counter: claiming a slot
 * is assigning the record's sequence number, so the writer consumes records in sequence order without
 * sorting. Nothing is allocated per offer or poll.
 */
final class AppendQueue {
    private final AtomicReferenceArray<JournalEntry> slots;
    private final int mask;
    /** Next sequence to claim (producers). */
    private final AtomicLong tail;
    /** Next sequence to consume; written by the consumer only, read by producers for the capacity check. */
    private volatile long head;

    AppendQueue(int capacity, long firstSequence) {
        assert Integer.bitCount(capacity) == 1 : capacity;
        this.slots = new AtomicReferenceArray<>(capacity);
        this.mask = capacity - 1;
        this.tail = new AtomicLong(firstSequence);
        this.head = firstSequence;
    }

    /** The entry's sequence number, or -1 when the ring is full. */
    long offer(JournalEntry entry) {
        int capacity = mask + 1;
        while (true) {
            long t = tail.get();
            if (t - head >= capacity) {
                return -1;
            }
            if (tail.compareAndSet(t, t + 1)) {
                entry.sequence = t;
                // Release: the consumer that sees the reference sees every field the producer set.
                slots.setRelease((int) (t & mask), entry);
                return t;
            }
        }
    }

    /**
     * The next entry in sequence order, or null if none is published yet (a producer may have claimed
     * the slot and not stored into it: the consumer treats that as empty and comes back).
     */
    JournalEntry poll() {
        long h = head;
        int index = (int) (h & mask);
        JournalEntry e = slots.getAcquire(index);
        if (e == null) {
            return null;
        }
        assert e.sequence == h : "sequence=" + e.sequence + " head=" + h;
        slots.setPlain(index, null); // ordered before the volatile head write below
        head = h + 1;
        return e;
    }

    /** Sequence the next {@link #poll} returns. */
    long head() {
        return head;
    }

    /** Next sequence a producer would claim. */
    long tail() {
        return tail.get();
    }
}
