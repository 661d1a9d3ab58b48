package io.hashbrick.node.data;

import io.hashbrick.node.CorruptCheckpointException;
import io.hashbrick.routing.placement.Placement;
import java.lang.foreign.MemorySegment;

/**
 * H2P for one bucket (1/4096 of the fingerprint space, DESIGN.md "Metadata"): fingerprint -> handle,
 * and handle -> (location, length, flags, refcount). Entries sit in {@link H2pEntries} (37 bytes each,
 * stable slots, free list), found through {@link H2pIndex} (2 or 4 bytes per cell at load 0.64..0.8);
 * refcounts past 24 bits spill into {@link RefcountSpill}. RAM per unique block: 37 bytes of entry,
 * 0.75 bytes of page overhead and directory, at most one part-filled 32-entry page per bucket, 2.5..3.1
 * bytes of narrow index (5..6.25 wide), and this object's share of the heap.
 *
 * <p>Location (40 bits), length (9 bits) and the 6 caller flag bits are opaque to the table: the D role
 * defines them (journal position or stripe + offset; length in 16-byte units; {@link #FLAG_IN_JOURNAL}).
 *
 * <p>Threads: one writer. The D role runs each bucket on a single thread (the bucket is the unit of
 * ownership), so nothing here is synchronized; {@code assert} checks that mutations come from one
 * thread. Handing a bucket to another thread (failover, rebalance) goes through {@link #releaseWriter}
 * and a happens-before edge the caller provides. Reads from other threads are not supported.
 *
 * <p>No method allocates on the heap after warm-up except when the arrays grow (amortized).
 */
public final class H2pBucket implements AutoCloseable {
    /** Caller flag: the block is in the journal, not yet destaged to a stripe. */
    public static final int FLAG_IN_JOURNAL = 1;
    /** Heap bytes of one bucket and its helpers (objects, the index's segment), rounded up; arrays apart. */
    static final long HEAP_BYTES_ESTIMATE = 256;

    private final int bucket;
    private final H2pEntries entries;
    private final H2pIndex index;
    private RefcountSpill spill;
    private long live;
    private Thread writer;
    private boolean anyThread;
    private boolean closed;

    /**
     * @param bucket the bucket number, 0..4095
     * @param hashSeed secret per-node seed of the index hash (see {@link H2pIndex}); from the node's
     *     randomness source, so a simulation can fix it
     */
    public H2pBucket(int bucket, long hashSeed) {
        this(bucket, hashSeed, H2pEntries.MAX_SLOTS);
    }

    /** Tests: a bucket full at {@code maxSlots} entries. */
    H2pBucket(int bucket, long hashSeed, long maxSlots) {
        if (bucket < 0 || bucket >= H2pHandle.BUCKETS) {
            throw new IllegalArgumentException("bucket out of range: bucket=" + bucket);
        }
        this.bucket = bucket;
        this.entries = new H2pEntries(maxSlots);
        this.index = new H2pIndex(entries, hashSeed);
    }

    /** @return the handle of fingerprint {@code fp[offset .. offset+32)}, or {@link H2pHandle#NONE} */
    public long lookup(MemorySegment fp, long offset) {
        checkBucket(fp, offset);
        long slot = index.find(fp, offset, fp.get(H2pEntries.LONG_LE, offset + H2pEntries.FP_FIRST_STORED));
        return slot < 0 ? H2pHandle.NONE : H2pHandle.of(bucket, slot, entries.generation(slot));
    }

    /**
     * Fingerprints this bucket can still store (free slots and slots never handed out): the write path
     * asks before it journals new blocks, so a full bucket is a clean NO_SPACE, never a failed apply.
     */
    public long slotsFree() {
        return entries.maxSlots() - live;
    }

    /** Stores a fingerprint the caller found absent, with refcount 1. @return its handle */
    public long insert(MemorySegment fp, long offset, long location, int length, int flags) {
        checkPlacement(location, length, flags);
        checkBucket(fp, offset);
        checkWritable();
        long word0 = fp.get(H2pEntries.LONG_LE, offset + H2pEntries.FP_FIRST_STORED);
        assert index.find(fp, offset, word0) < 0 : "insert of a present fingerprint: bucket=" + bucket;
        long slot = entries.take();
        entries.write(slot, fp, offset, location, length, flags, 1);
        index.add(slot, word0);
        live++;
        return H2pHandle.of(bucket, slot, entries.generation(slot));
    }

    /**
     * Journal replay: stores a fingerprint the caller found absent at exactly {@code handle} (the slot
     * and generation the live node gave it and C's records name), with refcount 1.
     */
    public long insertAt(MemorySegment fp, long offset, long handle, long location, int length, int flags) {
        checkPlacement(location, length, flags);
        checkBucket(fp, offset);
        checkWritable();
        if (H2pHandle.bucket(handle) != bucket || (handle & ~H2pHandle.HANDLE_MASK) != 0) {
            throw new IllegalArgumentException(
                    "replayed handle of another bucket: bucket=" + bucket + " handle=0x" + Long.toHexString(handle));
        }
        long word0 = fp.get(H2pEntries.LONG_LE, offset + H2pEntries.FP_FIRST_STORED);
        assert index.find(fp, offset, word0) < 0 : "insert of a present fingerprint: bucket=" + bucket;
        long slot = H2pHandle.slot(handle);
        entries.placeAt(slot);
        entries.write(slot, fp, offset, location, length, flags, 1);
        entries.setGeneration(slot, H2pHandle.generation(handle));
        index.add(slot, word0);
        live++;
        return handle;
    }

    /** After a replay that placed entries at given slots: the free list is built again now. */
    void rebuildFreeList() {
        checkWritable();
        entries.rebuildFreeListIfStale();
    }

    /**
     * The write path's step 2 (DESIGN.md): a known fingerprint gains a reference, a new one is stored
     * at {@code location} with refcount 1. @return the handle, with {@link H2pHandle#INSERTED} set when
     * the entry is new (decode with {@link H2pHandle#inserted} and {@link H2pHandle#handle})
     */
    public long addOrInsert(MemorySegment fp, long offset, long location, int length, int flags) {
        long handle = lookup(fp, offset);
        if (handle != H2pHandle.NONE) {
            addRef(handle, 1);
            return handle;
        }
        return insert(fp, offset, location, length, flags) | H2pHandle.INSERTED;
    }

    /**
     * Adds {@code delta} (may be negative) to a refcount. Reaching 0 frees the slot for reuse and forgets
     * the fingerprint. @return the new refcount
     * @throws IllegalStateException if the refcount would go negative (nothing changes then)
     */
    public long addRef(long handle, int delta) {
        long slot = liveSlot(handle);
        checkWritable();
        long before = refcountOf(slot);
        long after = before + delta;
        if (after < 0) {
            throw new IllegalStateException("refcount would go negative: handle=0x" + Long.toHexString(handle)
                    + " refcount=" + before + " delta=" + delta);
        }
        if (after == 0) {
            free(slot);
        } else {
            storeRefcount(slot, before, after);
        }
        return after;
    }

    private void free(long slot) {
        if (entries.spilled(slot)) {
            spill.remove(slot);
        }
        index.remove(slot, entries.word0(slot));
        entries.give(slot);
        live--;
    }

    private void storeRefcount(long slot, long before, long after) {
        if (after <= H2pEntries.MAX_INLINE_REFCOUNT) {
            if (before > H2pEntries.MAX_INLINE_REFCOUNT) {
                spill.remove(slot);
            }
            entries.setRefcountField(slot, (int) after, false);
        } else {
            if (spill == null) {
                spill = new RefcountSpill();
            }
            spill.put(slot, after);
            entries.setRefcountField(slot, H2pEntries.MAX_INLINE_REFCOUNT, true);
        }
    }

    private long refcountOf(long slot) {
        return entries.spilled(slot) ? spill.get(slot) : entries.refcountField(slot);
    }

    public long refcount(long handle) {
        return refcountOf(liveSlot(handle));
    }

    public long location(long handle) {
        return entries.location(liveSlot(handle));
    }

    public int length(long handle) {
        return entries.length(liveSlot(handle));
    }

    public int flags(long handle) {
        return entries.flags(liveSlot(handle));
    }

    /** Moves an entry (destage: journal -> stripe; rebuild; defragmentation). The handle does not change. */
    public void setLocation(long handle, long location, int length, int flags) {
        checkPlacement(location, length, flags);
        long slot = liveSlot(handle);
        checkWritable();
        entries.setPlacement(slot, location, length, flags);
    }

    /** @return whether the live entry {@code handle} holds fingerprint {@code fp} (its 228 kept bits) */
    public boolean fingerprintMatches(long handle, MemorySegment fp, long offset) {
        long slot = liveSlot(handle);
        return Placement.bucket(fp, offset) == bucket
                && entries.matches(slot, fp, offset, fp.get(H2pEntries.LONG_LE, offset + H2pEntries.FP_FIRST_STORED));
    }

    /** Copies the 27 stored fingerprint bytes (fingerprint bytes 5..31) of a live entry to {@code dst}. */
    public void copyStoredFingerprint(long handle, MemorySegment dst, long offset) {
        entries.copyStored(liveSlot(handle), dst, offset);
    }

    /**
     * Calls {@code visitor} once per live entry in slot order (checkpoints, the metadata auditor). The
     * visitor may read this bucket but must not change it.
     */
    public void forEachLive(H2pVisitor visitor) {
        long seen = 0;
        for (long slot = 0, n = entries.highWater(); slot < n; slot++) {
            if (entries.isLive(slot)) {
                seen++;
                visitor.entry(
                        H2pHandle.of(bucket, slot, entries.generation(slot)),
                        entries.location(slot),
                        entries.length(slot),
                        entries.flags(slot),
                        refcountOf(slot));
            }
        }
        if (seen != live) {
            throw new IllegalStateException("H2P bucket changed during iteration or lost count: bucket=" + bucket
                    + " live=" + live + " seen=" + seen);
        }
    }

    /** @return slots ever handed out: every handle of this bucket has a slot below (checkpoints) */
    long highWater() {
        return entries.highWater();
    }

    /** @return whether {@code slot} holds a live entry (checkpoints) */
    boolean isLiveSlot(long slot) {
        return entries.isLive(slot);
    }

    /**
     * @return whether {@code handle} names a live entry of this bucket at its generation: false for a
     *     handle whose slot was freed (and maybe reused) since it was issued (STALE_HANDLE)
     */
    public boolean isCurrent(long handle) {
        long slot = H2pHandle.slot(handle);
        return (handle & ~H2pHandle.HANDLE_MASK) == 0
                && H2pHandle.bucket(handle) == bucket
                && entries.isLive(slot)
                && entries.generation(slot) == H2pHandle.generation(handle);
    }

    /** Whether {@code slot} holds a live entry (any generation). */
    boolean slotLive(long slot) {
        return slot >= 0 && slot < entries.capacity() && entries.isLive(slot);
    }

    /** @return the slot's generation (checkpoints) */
    int generationOf(long slot) {
        return entries.generation(slot);
    }

    /**
     * Restore only ({@link H2pCheckpoint}), slots strictly ascending: re-creates a live entry at exactly
     * {@code slot}; skipped slots become free. The fingerprint's stored bytes are {@code fp[offset+5 ..
     * offset+32)}; bytes 0..4 are not read. The caller validated every field against the format's ranges.
     * @return false, changing nothing, when the fingerprint is present already (a corrupt checkpoint)
     */
    boolean restoreEntry(
            long slot,
            MemorySegment fp,
            long offset,
            long location,
            int length,
            int flags,
            long refcount,
            int generation) {
        checkPlacement(location, length, flags);
        checkWritable();
        assert refcount > 0 : "refcount=" + refcount;
        long word0 = fp.get(H2pEntries.LONG_LE, offset + H2pEntries.FP_FIRST_STORED);
        if (index.find(fp, offset, word0) >= 0) {
            return false;
        }
        entries.takeAt(slot);
        entries.write(slot, fp, offset, location, length, flags, 1);
        entries.setGeneration(slot, generation);
        storeRefcount(slot, 1, refcount);
        index.add(slot, word0);
        live++;
        return true;
    }

    /** The entry pages (checkpoints write and restore them whole, {@link H2pPages}). */
    H2pEntries entries() {
        return entries;
    }

    /** The true refcount of a live slot whose count spilled (checkpoints). */
    long spilledRefcount(long slot) {
        return spill.get(slot);
    }

    /** Restore only: the spilled counts of page {@code page}'s slots go (the page's own come next). */
    void restorePageSpills(int page) {
        checkWritable();
        if (spill == null) {
            return;
        }
        long first = (long) page << H2pEntries.PAGE_SHIFT;
        for (long slot = first; slot < first + H2pEntries.ENTRIES_PER_PAGE; slot++) {
            if (spill.get(slot) != 0) {
                spill.remove(slot);
            }
        }
    }

    /** Restore only: a spilled refcount of a restored page. */
    void restoreSpill(long slot, long refcount) {
        checkWritable();
        if (spill == null) {
            spill = new RefcountSpill();
        }
        spill.put(slot, refcount);
    }

    private boolean restoredRaw;

    /** Restore only: pages were copied in; {@link #finishRawRestore} rebuilds the rest from them. */
    void restoredRaw() {
        restoredRaw = true;
    }

    /**
     * Restore only, after the last checkpoint's pages: the index, the count of live entries and the free
     * list built again from the pages (the stored fingerprint bytes, refcounts and generations).
     * @throws CorruptCheckpointException if two live entries hold one fingerprint, or a spilled count is missing
     */
    void finishRawRestore() throws CorruptCheckpointException {
        if (!restoredRaw) {
            return;
        }
        checkWritable();
        restoredRaw = false;
        index.free();
        live = 0;
        MemorySegment fp = MemorySegment.ofArray(new byte[32]);
        for (long slot = 0, n = entries.highWater(); slot < n; slot++) {
            if (entries.refcountField(slot) == 0) {
                continue;
            }
            if (entries.spilled(slot) && (spill == null || spill.get(slot) <= H2pEntries.MAX_INLINE_REFCOUNT)) {
                throw new CorruptCheckpointException(
                        "H2P page restore: spilled refcount missing: bucket=" + bucket + " slot=" + slot);
            }
            entries.copyStored(slot, fp, H2pEntries.FP_FIRST_STORED);
            long word0 = entries.word0(slot);
            if (index.find(fp, 0, word0) >= 0) {
                throw new CorruptCheckpointException(
                        "H2P page restore: one fingerprint in two slots: bucket=" + bucket + " slot=" + slot);
            }
            index.add(slot, word0);
            live++;
        }
        entries.rebuildFreeList();
    }

    /** Restore only: raises the high-water mark to {@code slots}; the slots above the last entry become free. */
    void restoreHighWater(long slots) {
        checkWritable();
        entries.freeUpTo(slots);
    }

    public int bucket() {
        return bucket;
    }

    public long uniqueBlocks() {
        return live;
    }

    /** @return native bytes this bucket holds now (sizes requested from malloc) */
    public long nativeBytes() {
        return entries.nativeBytes() + index.nativeBytes();
    }

    /** @return the part of {@link #nativeBytes()} that is the index */
    long indexNativeBytes() {
        return index.nativeBytes();
    }

    /** @return an estimate of this bucket's Java heap, the spill map included */
    public long heapBytesEstimate() {
        return HEAP_BYTES_ESTIMATE + entries.heapBytes() + (spill == null ? 0 : spill.heapBytes());
    }

    /** @return whether the index uses 32-bit cells (the bucket has handed out slot 65535 or beyond) */
    boolean wideIndex() {
        return index.wide();
    }

    long spilledCount() {
        return spill == null ? 0 : spill.size();
    }

    /** Forgets the writer thread so another may take the bucket over (the caller orders the two). */
    public void releaseWriter() {
        writer = null;
    }

    /** Frees all native memory; every handle becomes unknown and mutations fail. */
    @Override
    public void close() {
        closed = true;
        entries.free();
        index.free();
        spill = null;
        live = 0;
    }

    private long liveSlot(long handle) {
        long slot = H2pHandle.slot(handle);
        if (!isCurrent(handle)) {
            throw new IllegalArgumentException("unknown handle: handle=0x" + Long.toHexString(handle) + " bucket="
                    + bucket + " handle_bucket=" + H2pHandle.bucket(handle) + " slot=" + slot
                    + " high_water=" + entries.highWater() + " generation=" + H2pHandle.generation(handle)
                    + (entries.isLive(slot) ? " slot_generation=" + entries.generation(slot) : ""));
        }
        return slot;
    }

    private void checkBucket(MemorySegment fp, long offset) {
        int fpBucket = Placement.bucket(fp, offset);
        if (fpBucket != bucket) {
            throw new IllegalArgumentException(
                    "fingerprint belongs to another bucket: bucket=" + bucket + " fingerprint_bucket=" + fpBucket);
        }
    }

    private static void checkPlacement(long location, int length, int flags) {
        if (location < 0
                || location > H2pEntries.MAX_LOCATION
                || length < 0
                || length > H2pEntries.MAX_LENGTH
                || (flags & ~H2pEntries.CALLER_FLAGS_MASK) != 0) {
            throw new IllegalArgumentException("placement out of range: location=" + location + " max_location="
                    + H2pEntries.MAX_LOCATION + " length=" + length + " max_length=" + H2pEntries.MAX_LENGTH
                    + " flags=0x" + Integer.toHexString(flags) + " flags_mask=0x"
                    + Integer.toHexString(H2pEntries.CALLER_FLAGS_MASK));
        }
    }

    private void checkWritable() {
        if (closed) {
            throw new IllegalStateException("H2P bucket is closed: bucket=" + bucket);
        }
        assert sameWriter()
                : "H2P bucket mutated from a second thread: bucket=" + bucket + " writer=" + writer + " current="
                        + Thread.currentThread();
    }

    /** The caller serialises every mutation itself (one lock over the D role); no thread ownership check. */
    void anyWriterThread() {
        anyThread = true;
    }

    private boolean sameWriter() {
        if (anyThread) {
            return true;
        }
        if (writer == null) {
            writer = Thread.currentThread();
        }
        return writer == Thread.currentThread();
    }
}
