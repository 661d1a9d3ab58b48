package io.hashbrick.node.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hashbrick.node.mem.NativeMemory;
import java.io.IOException;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The RAM budget of DESIGN.md ("Metadata"): at most 48 bytes per unique block, all overhead included.
 * Fills a table with N random fingerprints (uniform over the 4096 buckets, as SHA-256 output is) and
 * checks (native bytes + Java heap) / N, the heap taken as the larger of the table's estimate and the
 * measured growth of used heap. The native figure is checked against the process too: resident set
 * growth (VmRSS) must stay within 1.2x the counted bytes + 16 MiB, so malloc's headers, rounding and
 * fragmentation cannot hide. RSS also moves with the JVM's own mallocs (JIT arenas, GC), so the insert
 * path is compiled on a throw-away table first and the bound is loose; {@code rss_bytes_per_block} in
 * the printed line is the process-side figure, {@code ram_bytes_per_block} the counted one. The figures
 * are printed for the README (target/surefire-reports/*H2pMemoryTest-output.txt).
 */
@SuppressWarnings("restricted") // raw native memory by design; the JVM runs with --enable-native-access
class H2pMemoryTest {
    private static final long BUDGET_BYTES_PER_BLOCK = 48;
    private static final long RSS_SLACK_BYTES = 16L << 20;

    @ParameterizedTest
    @ValueSource(ints = {1_000_000, 4_000_000})
    void staysWithin48BytesPerUniqueBlock(int n) throws Throwable {
        long seed = Long.getLong("seed", 0x48_48_48L) + n;
        warmUp(); // JIT compilation mallocs arenas of its own: done before measuring, not counted as ours
        mallocTrim(); // hand earlier tests' freed chunks back to the kernel so they cannot absorb our growth
        long heapBefore = usedHeapAfterGc();
        long nativeBefore = NativeMemory.liveBytes();
        long rssBefore = rssBytes();
        MemorySegment fp = MemorySegment.ofArray(new byte[32]);
        SplittableRandom random = new SplittableRandom(seed);
        H2pTable table = new H2pTable(seed);
        try {
            for (int i = 0; i < n; i++) {
                Fingerprints.random(random, fp, 0);
                if (!H2pHandle.inserted(table.addOrInsert(fp, 0, i, i & 511, H2pBucket.FLAG_IN_JOURNAL))) {
                    throw new AssertionError(
                            "duplicate random fingerprint: seed=" + seed + " i=" + i); // no garbage per op
                }
            }
            long rssAfter = rssBytes();
            long heapBytes = Math.max(table.heapBytesEstimate(), usedHeapAfterGc() - heapBefore);
            long nativeBytes = table.nativeBytes();
            long indexBytes = 0;
            for (int b = 0; b < H2pHandle.BUCKETS; b++) {
                indexBytes += table.bucket(b).indexNativeBytes();
            }
            double perBlock = (double) (nativeBytes + heapBytes) / n;
            long rssGrowth = rssAfter - rssBefore;
            System.out.printf(
                    "H2P memory: unique_blocks=%d native_bytes=%d entries_per_block=%.2f index_per_block=%.2f"
                            + " heap_bytes=%d heap_estimate=%d ram_bytes_per_block=%.2f rss_growth_bytes=%d"
                            + " rss_over_native=%.3f rss_bytes_per_block=%.2f"
                            + " table_says=%.2f%n",
                    n,
                    nativeBytes,
                    (double) (nativeBytes - indexBytes) / n,
                    (double) indexBytes / n,
                    heapBytes,
                    table.heapBytesEstimate(),
                    perBlock,
                    rssGrowth,
                    (double) rssGrowth / nativeBytes,
                    (double) (rssGrowth + heapBytes) / n,
                    table.ramBytesPerUniqueBlock());
            assertEquals(n, table.uniqueBlocks());
            assertEquals(nativeBytes, NativeMemory.liveBytes() - nativeBefore, "the counter and the buckets agree");
            assertTrue(
                    perBlock <= BUDGET_BYTES_PER_BLOCK,
                    "over budget: seed=" + seed + " ram_bytes_per_block=" + perBlock);
            assertTrue(
                    rssGrowth <= 1.2 * nativeBytes + RSS_SLACK_BYTES,
                    "native use hides from the counter: rss_growth_bytes=" + rssGrowth + " native_bytes="
                            + nativeBytes);
            verifySample(table, seed, n);
        } finally {
            table.close();
        }
        assertEquals(nativeBefore, NativeMemory.liveBytes(), "close frees everything");
    }

    /** Replays the fingerprints and looks up every 8th: all present, where they were put. */
    private static void verifySample(H2pTable table, long seed, int n) {
        MemorySegment fp = MemorySegment.ofArray(new byte[32]);
        SplittableRandom random = new SplittableRandom(seed);
        for (int i = 0; i < n; i++) {
            Fingerprints.random(random, fp, 0);
            if ((i & 7) == 0) {
                long h = table.lookup(fp, 0);
                if (h == H2pHandle.NONE || table.location(h) != i) {
                    throw new AssertionError("lost: seed=" + seed + " i=" + i + " handle=" + h);
                }
            }
        }
    }

    /** Runs the insert path long enough for C2 to compile it, then frees everything. */
    private static void warmUp() {
        SplittableRandom random = new SplittableRandom(7);
        MemorySegment fp = MemorySegment.ofArray(new byte[32]);
        try (H2pTable table = new H2pTable(7)) {
            for (int i = 0; i < 300_000; i++) {
                Fingerprints.random(random, fp, 0);
                table.addOrInsert(fp, 0, i, 0, 0);
                table.lookup(fp, 0);
            }
        }
    }

    private static long usedHeapAfterGc() {
        System.gc(); // a full collection under the build's -XX:+UseParallelGC, so "used" is live data
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    private static long rssBytes() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) { // "VmRSS:   123456 kB" (proc(5))
                return Long.parseLong(line.substring(6).replace("kB", "").trim()) * 1024;
            }
        }
        throw new IllegalStateException("no VmRSS in /proc/self/status");
    }

    private static void mallocTrim() throws Throwable {
        Linker linker = Linker.nativeLinker();
        MethodHandle trim = linker.downcallHandle(
                linker.defaultLookup().findOrThrow("malloc_trim"),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
        int released = (int) trim.invokeExact(0L);
        assert released == 0 || released == 1;
    }
}
