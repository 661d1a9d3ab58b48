package io.hashbrick.journal;

import java.lang.foreign.MemorySegment;

/**
 * The records of one batch, as the mirror sees them: one or two byte ranges of the region (two when
 * the batch wraps) holding records {@code firstSequence..lastSequence}. A flyweight the writer reuses
 * for every batch; valid only during {@link JournalMirror#replicate}.
 */
public final class JournalBatch {
    /** The region header's bytes, at offset 0: the records start after them. */
    public static final int HEADER_BYTES = RegionLayout.DATA_OFFSET;

    private final MemorySegment region;
    private long firstSequence;
    private long lastSequence;
    private int incarnation;
    private int rangeCount;
    private final long[] rangeOffset = new long[2];
    private final long[] rangeLength = new long[2];

    JournalBatch(MemorySegment region) {
        this.region = region;
    }

    void reset(long first, long last, int incarnation) {
        this.firstSequence = first;
        this.lastSequence = last;
        this.incarnation = incarnation;
        this.rangeCount = 0;
    }

    void addRange(long offset, long length) {
        assert rangeCount < 2 && length > 0;
        rangeOffset[rangeCount] = offset;
        rangeLength[rangeCount] = length;
        rangeCount++;
    }

    /** The whole region; the ranges index into it. */
    public MemorySegment region() {
        return region;
    }

    public long firstSequence() {
        return firstSequence;
    }

    public long lastSequence() {
        return lastSequence;
    }

    public int incarnation() {
        return incarnation;
    }

    public int rangeCount() {
        return rangeCount;
    }

    /** Physical region offset of range {@code i}: the peer writes these bytes at the same offset. */
    public long rangeOffset(int i) {
        return rangeOffset[i];
    }

    public long rangeLength(int i) {
        return rangeLength[i];
    }
}
