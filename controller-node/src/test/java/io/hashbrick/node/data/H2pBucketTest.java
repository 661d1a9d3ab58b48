package io.hashbrick.node.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hashbrick.node.mem.NativeMemory;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class H2pBucketTest {
    private static final long SEED = 0x5EED_0001L;

    @Test
    void insertLookupAddRefFreeAndReuse() {
        SplittableRandom random = new SplittableRandom(SEED);
        MemorySegment fp = Fingerprints.newSegment();
        Fingerprints.random(random, fp, 0);
        int b = H2pHandle.bucketOf(fp, 0);
        try (H2pTable table = new H2pTable(SEED)) {
            assertEquals(H2pHandle.NONE, table.lookup(fp, 0));
            long h = table.insert(fp, 0, H2pEntries.MAX_LOCATION, H2pEntries.MAX_LENGTH, H2pBucket.FLAG_IN_JOURNAL);
            assertEquals(b, H2pHandle.bucket(h));
            assertEquals(h, table.lookup(fp, 0));
            assertEquals(H2pEntries.MAX_LOCATION, table.location(h));
            assertEquals(H2pEntries.MAX_LENGTH, table.length(h));
            assertEquals(H2pBucket.FLAG_IN_JOURNAL, table.flags(h));
            assertEquals(1, table.refcount(h));
            assertTrue(table.fingerprintMatches(h, fp, 0));

            long again = table.addOrInsert(fp, 0, 7, 3, 0);
            assertFalse(H2pHandle.inserted(again));
            assertEquals(h, H2pHandle.handle(again));
            assertEquals(2, table.refcount(h));
            assertEquals(H2pEntries.MAX_LOCATION, table.location(h), "addOrInsert of a known block keeps its location");

            table.setLocation(h, 0x12_3456_789AL, 100, 0); // destage: journal -> stripe
            assertEquals(0x12_3456_789AL, table.location(h));
            assertEquals(100, table.length(h));
            assertEquals(0, table.flags(h));
            assertEquals(2, table.refcount(h));

            assertEquals(1, table.addRef(h, -1));
            assertEquals(0, table.addRef(h, -1));
            assertEquals(H2pHandle.NONE, table.lookup(fp, 0));
            assertEquals(0, table.uniqueBlocks());
            assertThrows(IllegalArgumentException.class, () -> table.refcount(h));

            MemorySegment other = Fingerprints.newSegment();
            Fingerprints.randomInBucket(random, other, 0, b);
            long reused = table.addOrInsert(other, 0, 1, 1, 0);
            assertTrue(H2pHandle.inserted(reused));
            long n = H2pHandle.handle(reused);
            assertEquals(H2pHandle.slot(h), H2pHandle.slot(n), "a freed slot is reused first");
            assertEquals(H2pHandle.generation(h) + 1, H2pHandle.generation(n), "with the next generation");
            assertFalse(table.bucket(b).isCurrent(h), "the old handle is stale");
            assertTrue(table.bucket(b).isCurrent(n));
            var stale = assertThrows(IllegalArgumentException.class, () -> table.fingerprintMatches(h, other, 0));
            assertTrue(stale.getMessage().contains("slot_generation=1"), stale.getMessage());
            assertTrue(table.fingerprintMatches(n, other, 0));
        }
    }

    @Test
    void generationsSurviveACheckpointAndWrapAfterSixtyFour() throws Exception {
        SplittableRandom random = new SplittableRandom(SEED + 7);
        MemorySegment fp = Fingerprints.newSegment();
        try (H2pTable table = new H2pTable(SEED)) {
            Fingerprints.randomInBucket(random, fp, 0, 9);
            long first = table.insert(fp, 0, 1, 1, 0);
            long h = first;
            for (int i = 1; i <= H2pHandle.GENERATIONS; i++) { // free and reuse the slot 64 times
                table.addRef(h, -1);
                Fingerprints.randomInBucket(random, fp, 0, 9);
                h = table.insert(fp, 0, 1, 1, 0);
                assertEquals(H2pHandle.slot(first), H2pHandle.slot(h));
                assertEquals(i % H2pHandle.GENERATIONS, H2pHandle.generation(h), "reuse " + i);
            }
            table.addRef(h, -1);
            Fingerprints.randomInBucket(random, fp, 0, 9);
            long live = table.insert(fp, 0, 5, 2, 0); // generation 1
            assertEquals(1, H2pHandle.generation(live));
            var out = new java.io.ByteArrayOutputStream();
            table.writeCheckpoint(java.nio.channels.Channels.newChannel(out));
            try (H2pTable back = H2pTable.readCheckpoint(
                    java.nio.channels.Channels.newChannel(new java.io.ByteArrayInputStream(out.toByteArray())))) {
                assertEquals(live, back.lookup(fp, 0), "the handle, generation included, survives a checkpoint");
                assertTrue(back.bucket(9).isCurrent(live));
                assertFalse(back.bucket(9).isCurrent(first));
            }
        }
    }

    @Test
    void handlesStayStableAcrossManyGrowths() {
        SplittableRandom random = new SplittableRandom(SEED + 1);
        int n = 20_000; // 1 slot at a time through ~50 entry-array and ~25 index growths
        MemorySegment fps = MemorySegment.ofArray(new byte[n * 32]);
        long[] handles = new long[n];
        try (H2pBucket bucket = new H2pBucket(42, SEED)) {
            for (int i = 0; i < n; i++) {
                Fingerprints.randomInBucket(random, fps, 32L * i, 42);
                handles[i] = bucket.insert(fps, 32L * i, i, i & 511, i & 63);
                if ((i & 1023) == 0) { // all earlier handles still resolve to the same entries
                    for (int j = 0; j <= i; j += 7) {
                        assertEquals(handles[j], bucket.lookup(fps, 32L * j));
                    }
                }
            }
            for (int i = 0; i < n; i++) {
                assertEquals(handles[i], bucket.lookup(fps, 32L * i));
                assertEquals(i, bucket.location(handles[i]));
                assertEquals(i & 511, bucket.length(handles[i]));
                assertEquals(i & 63, bucket.flags(handles[i]));
                assertTrue(bucket.fingerprintMatches(handles[i], fps, 32L * i));
            }
        }
    }

    @Test
    void refcountSpillsPast18BitsAndComesBack() {
        SplittableRandom random = new SplittableRandom(SEED + 2);
        MemorySegment fp = Fingerprints.newSegment();
        Fingerprints.randomInBucket(random, fp, 0, 7);
        try (H2pBucket bucket = new H2pBucket(7, SEED)) {
            long h = bucket.insert(fp, 0, 99, 5, 1);
            assertEquals(H2pEntries.MAX_INLINE_REFCOUNT, bucket.addRef(h, H2pEntries.MAX_INLINE_REFCOUNT - 1));
            assertEquals(0, bucket.spilledCount());
            long big = bucket.addRef(h, 1);
            assertEquals(1L << 18, big);
            assertEquals(1, bucket.spilledCount());
            for (int i = 0; i < 3; i++) { // past 2^31 as well: the spill map holds a long
                bucket.addRef(h, Integer.MAX_VALUE);
            }
            assertEquals(3L * Integer.MAX_VALUE + (1L << 18), bucket.refcount(h));
            assertEquals(99, bucket.location(h), "spill keeps the placement");
            assertEquals(5, bucket.length(h));
            assertEquals(1, bucket.flags(h));
            bucket.setLocation(h, 100, 6, 0);
            assertEquals(3L * Integer.MAX_VALUE + (1L << 18), bucket.refcount(h), "setLocation keeps a spilled count");
            for (int i = 0; i < 3; i++) {
                bucket.addRef(h, -Integer.MAX_VALUE);
            }
            assertEquals(1L << 18, bucket.refcount(h));
            assertEquals(H2pEntries.MAX_INLINE_REFCOUNT, bucket.addRef(h, -1));
            assertEquals(0, bucket.spilledCount(), "back in the entry");
            assertEquals(1, bucket.addRef(h, 1 - H2pEntries.MAX_INLINE_REFCOUNT));
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> bucket.addRef(h, -2));
            assertTrue(e.getMessage().contains("refcount=1") && e.getMessage().contains("delta=-2"), e.getMessage());
            assertEquals(1, bucket.refcount(h), "a refused addRef changes nothing");
            long big2 = bucket.addRef(h, H2pEntries.MAX_INLINE_REFCOUNT + 10);
            assertEquals(1, bucket.spilledCount());
            assertEquals(0, bucket.addRef(h, (int) -big2), "freeing a spilled entry in one step");
            assertEquals(0, bucket.spilledCount());
            assertEquals(H2pHandle.NONE, bucket.lookup(fp, 0));
        }
    }

    @Test
    void indexSwitchesFrom16To32BitCells() {
        SplittableRandom random = new SplittableRandom(SEED + 3);
        int n = 70_000;
        MemorySegment fps = MemorySegment.ofArray(new byte[n * 32]);
        long[] handles = new long[n];
        try (H2pBucket bucket = new H2pBucket(4095, SEED)) {
            for (int i = 0; i < n; i++) {
                Fingerprints.randomInBucket(random, fps, 32L * i, 4095);
                handles[i] = bucket.insert(fps, 32L * i, i, 0, 0);
                assertEquals(i >= 65_535, bucket.wideIndex(), "i=" + i);
            }
            for (int i = 0; i < n; i += 2) {
                assertEquals(0, bucket.addRef(handles[i], -1));
            }
            for (int i = 0; i < n; i++) {
                assertEquals(i % 2 == 0 ? H2pHandle.NONE : handles[i], bucket.lookup(fps, 32L * i), "i=" + i);
            }
            for (int i = 0; i < n; i += 2) { // reuse frees, some of them above slot 65535
                handles[i] = bucket.insert(fps, 32L * i, i, 0, 0);
            }
            assertTrue(bucket.wideIndex());
            for (int i = 0; i < n; i++) {
                assertEquals(handles[i], bucket.lookup(fps, 32L * i), "i=" + i);
                assertEquals(i, bucket.location(handles[i]));
            }
            assertEquals(n, bucket.uniqueBlocks());
        }
    }

    @Test
    void onlyThe228KeptBitsIdentifyAFingerprint() {
        SplittableRandom random = new SplittableRandom(SEED + 4);
        MemorySegment fp = Fingerprints.newSegment();
        Fingerprints.randomInBucket(random, fp, 0, 9);
        try (H2pBucket bucket = new H2pBucket(9, SEED)) {
            long h = bucket.insert(fp, 0, 1, 1, 0);
            MemorySegment probe = Fingerprints.newSegment();
            for (int byteIndex = 5; byteIndex < 32; byteIndex++) { // every kept byte, the overlapped tail too
                MemorySegment.copy(fp, 0, probe, 0, 32);
                probe.set(
                        ValueLayout.JAVA_BYTE, byteIndex, (byte) (probe.get(ValueLayout.JAVA_BYTE, byteIndex) ^ 0x80));
                assertEquals(H2pHandle.NONE, bucket.lookup(probe, 0), "byte=" + byteIndex);
                assertFalse(bucket.fingerprintMatches(h, probe, 0), "byte=" + byteIndex);
            }
            MemorySegment.copy(fp, 0, probe, 0, 32); // bytes 1 (low nibble) .. 4 are not kept, by design
            probe.set(ValueLayout.JAVA_BYTE, 3, (byte) ~probe.get(ValueLayout.JAVA_BYTE, 3));
            assertEquals(h, bucket.lookup(probe, 0));
            MemorySegment stored = MemorySegment.ofArray(new byte[27]);
            bucket.copyStoredFingerprint(h, stored, 0);
            assertEquals(-1, stored.mismatch(fp.asSlice(5, 27)));
        }
    }

    @Test
    void badArgumentsAreRefusedWithContext() {
        SplittableRandom random = new SplittableRandom(SEED + 5);
        MemorySegment fp = Fingerprints.newSegment();
        Fingerprints.randomInBucket(random, fp, 0, 3);
        try (H2pTable table = new H2pTable(SEED)) {
            assertMessage(() -> table.insert(fp, 0, H2pEntries.MAX_LOCATION + 1, 0, 0), "location=1099511627776");
            assertMessage(() -> table.insert(fp, 0, -1, 0, 0), "location=-1");
            assertMessage(() -> table.insert(fp, 0, 0, 512, 0), "length=512");
            assertMessage(() -> table.insert(fp, 0, 0, 0, 0x40), "flags=0x40");
            assertEquals(0, table.uniqueBlocks(), "refused inserts leave nothing behind");
            long h = table.insert(fp, 0, 0, 0, 0);
            assertMessage(() -> table.setLocation(h, 1L << 40, 0, 0), "location=");
            assertMessage(() -> table.refcount(h + 1), "slot=1");
            assertMessage(() -> table.refcount(H2pHandle.of(4, 0)), "handle_bucket=4");
            assertMessage(() -> table.refcount(1L << 48), "handle=0x1000000000000");
            assertMessage(() -> table.addRef(-1, 1), "handle=0xffffffffffffffff");
            MemorySegment elsewhere = Fingerprints.newSegment();
            Fingerprints.randomInBucket(random, elsewhere, 0, 5);
            assertMessage(() -> table.bucket(3).lookup(elsewhere, 0), "fingerprint_bucket=5");
            assertMessage(() -> table.bucket(4096), "bucket=4096");
        }
    }

    @Test
    void closeFreesEveryNativeByte() {
        long before = NativeMemory.liveBytes();
        SplittableRandom random = new SplittableRandom(SEED + 6);
        MemorySegment fp = Fingerprints.newSegment();
        H2pTable table = new H2pTable(SEED);
        for (int i = 0; i < 10_000; i++) {
            Fingerprints.random(random, fp, 0);
            table.insert(fp, 0, i, 0, 0);
        }
        assertEquals(table.nativeBytes(), NativeMemory.liveBytes() - before, "the counter matches the buckets' sizes");
        table.close();
        assertEquals(before, NativeMemory.liveBytes());
        assertEquals(0, table.nativeBytes());
        assertThrows(IllegalStateException.class, () -> table.insert(fp, 0, 0, 0, 0));
    }

    private static void assertMessage(org.junit.jupiter.api.function.Executable call, String expected) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().contains(expected), "message=" + e.getMessage() + " expected=" + expected);
    }

    /** Every slot H2P may hand out, in any bucket, is one an A2H cell can store (one limit for both). */
    @Test
    void everySlotH2pHandsOutFitsAnA2hCell() {
        long last = H2pEntries.MAX_SLOTS - 1;
        for (int b : new int[] {0, 1, H2pHandle.BUCKETS - 1}) {
            assertTrue(
                    io.hashbrick.node.volume.A2hMap.storable(H2pHandle.of(b, last)),
                    "bucket=" + b + " slot=" + last + " is not storable in A2H");
        }
    }

    /** A bucket full at its limit says so (slotsFree) before it is asked for a slot it cannot give. */
    @Test
    void aFullBucketReportsNoFreeSlotsAndFreedSlotsComeBack() {
        SplittableRandom random = new SplittableRandom(SEED + 9);
        MemorySegment fp = Fingerprints.newSegment();
        try (H2pBucket bucket = new H2pBucket(5, SEED, 3)) {
            long[] handles = new long[3];
            for (int i = 0; i < 3; i++) {
                assertEquals(3 - i, bucket.slotsFree());
                Fingerprints.randomInBucket(random, fp, 0, 5);
                handles[i] = bucket.insert(fp, 0, i, 1, 0);
            }
            assertEquals(0, bucket.slotsFree());
            Fingerprints.randomInBucket(random, fp, 0, 5);
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> bucket.insert(fp, 0, 9, 1, 0));
            assertTrue(e.getMessage().contains("max_slots=3"), e.getMessage());
            assertEquals(0, bucket.addRef(handles[1], -1));
            assertEquals(1, bucket.slotsFree());
            long reused = bucket.insert(fp, 0, 9, 1, 0);
            assertEquals(H2pHandle.slot(handles[1]), H2pHandle.slot(reused), "the freed slot, not a new one");
            assertEquals(H2pHandle.generation(handles[1]) + 1, H2pHandle.generation(reused), "its next generation");
        }
    }
}
