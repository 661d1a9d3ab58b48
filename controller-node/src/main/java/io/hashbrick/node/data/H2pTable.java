package io.hashbrick.node.data;

import io.hashbrick.node.CorruptCheckpointException;
import io.hashbrick.routing.placement.Placement;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;

/**
 * The D role's H2P table: 4096 {@link H2pBucket}s, each call routed by the fingerprint's top 12 bits or
 * by the handle's bucket field. Buckets hold no native memory until their first insert, so a node pays
 * only for the buckets it owns and fills (about 256 heap bytes for each of the others).
 *
 * <p>RAM budget (DESIGN.md, "Metadata"): at most 48 bytes per unique block, all overhead included;
 * {@link #ramBytesPerUniqueBlock()} reports the figure the node publishes. Threads: as {@link H2pBucket}
 * (one writer per bucket; different buckets may have different writer threads).
 */
public final class H2pTable implements AutoCloseable {
    /** This object and its bucket array (16-byte header + 4 bytes per compressed reference). */
    private static final long HEAP_BYTES_FIXED = 32 + 16 + 4L * H2pHandle.BUCKETS;

    private final H2pBucket[] buckets = new H2pBucket[H2pHandle.BUCKETS];
    private final long hashSeed;

    /** @param hashSeed secret seed of every bucket's index hash (see {@link H2pIndex}) */
    public H2pTable(long hashSeed) {
        this(hashSeed, H2pEntries.MAX_SLOTS);
    }

    /** Tests: every bucket full at {@code maxSlots} entries. */
    H2pTable(long hashSeed, long maxSlots) {
        this.hashSeed = hashSeed;
        for (int b = 0; b < buckets.length; b++) {
            buckets[b] = new H2pBucket(b, hashSeed, maxSlots);
        }
    }

    /** @return the bucket a single-writer thread of the D role drives */
    public H2pBucket bucket(int bucket) {
        if (bucket < 0 || bucket >= buckets.length) {
            throw new IllegalArgumentException("bucket out of range: bucket=" + bucket);
        }
        return buckets[bucket];
    }

    /**
     * Writes every bucket's live entries and slot high-water mark to {@code out} ({@link H2pCheckpoint}
     * draws the format). Run it on a thread that may read every bucket, with no writer active.
     * @return bytes written
     */
    public long writeCheckpoint(WritableByteChannel out) throws IOException {
        return H2pCheckpoint.write(this, out);
    }

    /**
     * Reads a checkpoint into a new table whose every entry sits in the slot it had, so handles held by
     * A2H stay valid. The buckets come back without a writer thread: the D role's threads take them
     * over (the hand-over must give a happens-before edge, as for {@link H2pBucket#releaseWriter}).
     * @throws CorruptCheckpointException if any check fails; no table is returned then
     */
    public static H2pTable readCheckpoint(ReadableByteChannel in) throws IOException {
        return H2pCheckpoint.read(in);
    }

    /**
     * Lets any thread mutate any bucket: for a caller that serialises all mutations under one lock of
     * its own (the single-controller data path), where the lock gives the happens-before edges.
     */
    public void guardedByCallerLock() {
        for (H2pBucket b : buckets) {
            b.anyWriterThread();
        }
    }

    /**
     * Writes H2P's pages for an incremental checkpoint ({@link H2pPages}): every page ({@code base}) or
     * those changed since the last capture, whose marks it clears. No writer may run meanwhile.
     * @return pages written
     */
    public long writePages(WritableByteChannel out, boolean base) throws IOException {
        return H2pPages.write(this, out, base);
    }

    /**
     * Applies a checkpoint's page section: a base makes a new table ({@code table} null), a delta goes
     * onto {@code table}; call {@link #finishRestore} after the chain's last.
     */
    public static H2pTable readPages(ReadableByteChannel in, H2pTable table) throws IOException {
        return H2pPages.read(in, table);
    }

    /** After the last page section: the touched buckets' indexes, counts and free lists built from their pages. */
    public void finishRestore() throws CorruptCheckpointException {
        for (H2pBucket b : buckets) {
            b.finishRawRestore();
        }
    }

    /** Pages changed since the last page capture (what a delta would hold). */
    public long dirtyPages() {
        long n = 0;
        for (H2pBucket b : buckets) {
            n += b.entries().dirtyPages();
        }
        return n;
    }

    long hashSeed() {
        return hashSeed;
    }

    public long lookup(MemorySegment fp, long offset) {
        return buckets[Placement.bucket(fp, offset)].lookup(fp, offset);
    }

    public long insert(MemorySegment fp, long offset, long location, int length, int flags) {
        return buckets[Placement.bucket(fp, offset)].insert(fp, offset, location, length, flags);
    }

    /** Journal replay: see {@link H2pBucket#insertAt}. */
    public long insertAt(MemorySegment fp, long offset, long handle, long location, int length, int flags) {
        return buckets[Placement.bucket(fp, offset)].insertAt(fp, offset, handle, location, length, flags);
    }

    /** After a replay: every bucket's free list built again (a bucket whose list is intact is untouched too). */
    public void rebuildFreeLists() {
        for (H2pBucket b : buckets) {
            b.rebuildFreeList();
        }
    }

    public long addOrInsert(MemorySegment fp, long offset, long location, int length, int flags) {
        return buckets[Placement.bucket(fp, offset)].addOrInsert(fp, offset, location, length, flags);
    }

    /**
     * Whether {@code handle} names a live entry at its generation: false for NONE, a malformed value,
     * or a handle whose slot was freed (and maybe reused) since it was issued.
     */
    public boolean isCurrent(long handle) {
        return buckets[H2pHandle.bucket(handle)].isCurrent(handle);
    }

    /**
     * The handle with the generation its slot holds now, when the slot is live (else the handle as
     * given): only for the simulation's planted bug {@link io.hashbrick.node.Plant#REUSED_HANDLE_SERVED}.
     */
    public long withSlotGeneration(long handle) {
        if ((handle & ~H2pHandle.HANDLE_MASK) != 0) {
            return handle;
        }
        int b = H2pHandle.bucket(handle);
        long slot = H2pHandle.slot(handle);
        return buckets[b].slotLive(slot) ? H2pHandle.of(b, slot, buckets[b].generationOf(slot)) : handle;
    }

    public long addRef(long handle, int delta) {
        return of(handle).addRef(handle, delta);
    }

    public long refcount(long handle) {
        return of(handle).refcount(handle);
    }

    public long location(long handle) {
        return of(handle).location(handle);
    }

    public int length(long handle) {
        return of(handle).length(handle);
    }

    public int flags(long handle) {
        return of(handle).flags(handle);
    }

    public void setLocation(long handle, long location, int length, int flags) {
        of(handle).setLocation(handle, location, length, flags);
    }

    public boolean fingerprintMatches(long handle, MemorySegment fp, long offset) {
        return of(handle).fingerprintMatches(handle, fp, offset);
    }

    public long uniqueBlocks() {
        long n = 0;
        for (H2pBucket b : buckets) {
            n += b.uniqueBlocks();
        }
        return n;
    }

    /** @return native bytes held now: exactly the sizes requested from malloc, not yet freed */
    public long nativeBytes() {
        long n = 0;
        for (H2pBucket b : buckets) {
            n += b.nativeBytes();
        }
        return n;
    }

    /** @return an estimate of the Java heap this table holds (objects and spill maps) */
    public long heapBytesEstimate() {
        long n = HEAP_BYTES_FIXED;
        for (H2pBucket b : buckets) {
            n += b.heapBytesEstimate();
        }
        return n;
    }

    /** @return (native + heap) bytes per unique block; 0 when the table is empty */
    public double ramBytesPerUniqueBlock() {
        long unique = uniqueBlocks();
        return unique == 0 ? 0 : (double) (nativeBytes() + heapBytesEstimate()) / unique;
    }

    @Override
    public void close() {
        for (H2pBucket b : buckets) {
            b.close();
        }
    }

    private H2pBucket of(long handle) {
        if ((handle & ~H2pHandle.HANDLE_MASK) != 0) {
            throw new IllegalArgumentException("unknown handle: handle=0x" + Long.toHexString(handle));
        }
        return buckets[H2pHandle.bucket(handle)];
    }
}
