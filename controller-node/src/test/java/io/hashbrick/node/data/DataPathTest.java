package io.hashbrick.node.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hashbrick.node.Controller;
import io.hashbrick.node.block.IoStatus;
import io.hashbrick.node.volume.VolumeRef;
import io.hashbrick.node.xdp.StripeLayout;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DataPathTest {
    static final DataPath.Config SMALL = new DataPath.Config(6, 32L << 20, 4L << 20, 60_000, 8L << 20);

    @TempDir
    Path dir;

    static ByteBuffer random(Random r, int blocks, boolean compressible) {
        byte[] b = new byte[blocks * 4096];
        r.nextBytes(b);
        if (compressible) {
            for (int i = 0; i < b.length; i++) {
                if ((i & 3) != 0) {
                    b[i] = 'a';
                }
            }
        }
        return ByteBuffer.allocateDirect(b.length).put(b).flip();
    }

    @Test
    void writesReadBackBeforeAndAfterDestageAndRestart() throws Exception {
        long seed = Long.getLong("seed", System.nanoTime());
        Random r = new Random(seed);
        ByteBuffer[] data = new ByteBuffer[200];
        try (Controller dp = Controller.open(dir, SMALL, List.of(new VolumeRef(1, 1024)))) {
            for (int i = 0; i < data.length; i++) {
                data[i] = random(r, 1, i % 2 == 0);
                assertEquals(IoStatus.OK, Host.write(dp, 1, i, 1, data[i].duplicate()), "seed=" + seed);
            }
            verify(dp, data, seed);
            dp.checkpoint();
            verify(dp, data, seed);
            assertEquals(0, dp.audit(true).discrepancies(), "seed=" + seed);
        }
        try (Controller dp = Controller.open(dir, SMALL, List.of(new VolumeRef(1, 1024)))) {
            verify(dp, data, seed);
            assertEquals(0, dp.audit(true).discrepancies(), "seed=" + seed);
        }
    }

    @Test
    void manyRawBlocksAcrossStripes() throws Exception {
        long seed = Long.getLong("seed", System.nanoTime());
        Random r = new Random(seed);
        int n = 20000;
        DataPath.Config cfg = new DataPath.Config(8, 256L << 20, 32L << 20, 60_000, 8L << 20);
        ByteBuffer[] data = new ByteBuffer[n];
        try (Controller dp = Controller.open(dir, cfg, List.of(new VolumeRef(1, n)))) {
            for (int i = 0; i < n; i++) {
                data[i] = random(r, 1, false);
                assertEquals(IoStatus.OK, Host.write(dp, 1, i, 1, data[i].duplicate()), "seed=" + seed);
            }
            verify(dp, data, seed);
            assertEquals(0, dp.audit(true).discrepancies(), "seed=" + seed);
        }
    }

    @Test
    void fullPoolRefusesNewBlocksButServesReadsDuplicatesAndUnmapThenRecovers() throws Exception {
        long seed = Long.getLong("seed", System.nanoTime());
        Random r = new Random(seed);
        DataPath.Config tiny = new DataPath.Config(6, 32L << 20, 4L << 20, 60_000, 8L << 20);
        int n = 32768;
        ByteBuffer[] data = new ByteBuffer[n];
        int written = 0;
        try (Controller dp = Controller.open(dir, tiny, List.of(new VolumeRef(1, n)))) {
            for (; written < n; written++) {
                ByteBuffer b = random(r, 1, false);
                IoStatus s = Host.write(dp, 1, written, 1, b.duplicate());
                if (s == IoStatus.NO_SPACE) {
                    break;
                }
                assertEquals(IoStatus.OK, s, "seed=" + seed);
                data[written] = b;
            }
            assertTrue(written > 1000 && written < n, "the pool filled: written=" + written + " seed=" + seed);
            assertEquals(IoStatus.NO_SPACE, Host.write(dp, 1, written, 1, random(r, 1, false)), "seed=" + seed);
            ByteBuffer[] before = Arrays.copyOf(data, written);
            verify(dp, before, seed);
            // a duplicate needs no space
            assertEquals(IoStatus.OK, Host.write(dp, 1, written, 1, data[0].duplicate()), "seed=" + seed);
            data[written] = data[0];
            // unmap every other block: half the space is garbage scattered over every stripe
            for (int b = 0; b < written; b += 2) {
                assertEquals(IoStatus.OK, Host.unmap(dp, 1, b, 1), "seed=" + seed);
                data[b] = ZERO;
            }
            // new unique blocks fit again: compaction and checkpoints give the stripes back
            int more = written / 3;
            for (int i = 0; i < more; i++) {
                ByteBuffer b = random(r, 1, false);
                assertEquals(
                        IoStatus.OK, Host.write(dp, 1, written + 1 + i, 1, b.duplicate()), "i=" + i + " seed=" + seed);
                data[written + 1 + i] = b;
            }
            ByteBuffer[] now = Arrays.copyOf(data, written + 1 + more);
            verify(dp, now, seed);
            assertEquals(0, dp.audit(true).discrepancies(), "seed=" + seed);
            data = now;
        }
        try (Controller dp = Controller.open(dir, tiny, List.of(new VolumeRef(1, n)))) {
            verify(dp, data, seed);
            assertEquals(0, dp.audit(true).discrepancies(), "seed=" + seed);
        }
    }

    static final ByteBuffer ZERO = ByteBuffer.allocateDirect(4096);

    /**
     * Silent corruption on the SSDs (every data cell's bytes flipped): no read returns wrong data —
     * each is a medium error, counted — and the auditor finds every damaged block.
     */
    @Test
    void corruptedCellsAreDetectedOnReadAndByTheAuditor() throws Exception {
        long seed = Long.getLong("seed", System.nanoTime());
        Random r = new Random(seed);
        DataPath.Config noCache = new DataPath.Config(6, 32L << 20, 4L << 20, 60_000, 0);
        int n = 100;
        ByteBuffer[] data = new ByteBuffer[n];
        try (Controller dp = Controller.open(dir, noCache, List.of(new VolumeRef(1, n)))) {
            // Scrub off: its repairs race the reads below (flipping the same bytes of every column
            // cancels out of an even number of XORed columns, so some blocks are repaired from parity
            // and written back by whichever gets there first), and the counts compared would differ.
            dp.data().setScrubRate(0);
            for (int i = 0; i < n; i++) {
                data[i] = random(r, 1, i % 2 == 0);
                assertEquals(IoStatus.OK, Host.write(dp, 1, i, 1, data[i].duplicate()), "seed=" + seed);
            }
            dp.checkpoint(); // destaged: the blocks now live on the SSDs only
            long meta = StripeLayout.forDae(6, 32L << 20, 4L << 20).metadataBytes();
            for (int slot = 0; slot < 6; slot++) { // flip the first stripe's cells on every SSD
                Path f = dir.resolve("dae").resolve(String.format("ssd-%02d.img", slot));
                try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(
                        f, java.nio.file.StandardOpenOption.READ, java.nio.file.StandardOpenOption.WRITE)) {
                    long at = 4096 + meta; // after the label and the metadata area
                    ByteBuffer cells = ByteBuffer.allocate(StripeLayout.COLUMN_BYTES);
                    ch.read(cells, at);
                    for (int i = 0; i < cells.capacity(); i += 97) {
                        cells.put(i, (byte) ~cells.get(i));
                    }
                    ch.write(cells.flip(), at);
                }
            }
            ByteBuffer out = ByteBuffer.allocateDirect(4096);
            int errors = 0;
            for (int i = 0; i < n; i++) {
                IoStatus s = Host.read(dp, 1, i, 1, out.clear());
                if (s == IoStatus.OK) {
                    assertEquals(
                            data[i].duplicate().rewind(),
                            out.flip(),
                            "wrong data returned: block=" + i + " seed=" + seed);
                } else {
                    assertEquals(IoStatus.MEDIUM_ERROR, s);
                    errors++;
                }
            }
            assertTrue(errors > 0, "the corruption hit stored blocks: seed=" + seed);
            assertEquals((long) errors, dp.stats().get("read_verify_errors"), "seed=" + seed);
            DataPath.AuditReport audit = dp.audit(true);
            assertEquals(errors, audit.fingerprintErrors(), "seed=" + seed);
            assertEquals(0, audit.refcountMismatches() + audit.danglingReferences() + audit.unreferencedEntries());
        }
    }

    static void verify(Controller dp, ByteBuffer[] data, long seed) {
        ByteBuffer out = ByteBuffer.allocateDirect(4096);
        for (int i = 0; i < data.length; i++) {
            out.clear();
            assertEquals(IoStatus.OK, Host.read(dp, 1, i, 1, out), "block=" + i + " seed=" + seed);
            out.flip();
            assertEquals(data[i].duplicate().rewind(), out, "block=" + i + " seed=" + seed);
        }
    }

    /**
     * A destage round that keeps throwing is retried a bounded number of times with a doubling backoff,
     * then the pool goes read-only: writes, partial writes and unmaps answer READ_ONLY, reads still work.
     */
    @Test
    void destageThatKeepsFailingTurnsThePoolReadOnlyAfterBoundedRetries() throws Exception {
        Random r = new Random(7);
        List<Long> sleeps = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
        try (Controller dp = Controller.open(dir, SMALL, List.of(new VolumeRef(1, 1024)))) {
            ByteBuffer data = random(r, 4, true);
            assertEquals(IoStatus.OK, Host.write(dp, 1, 0, 4, data.duplicate()));
            dp.data().pool().sleeper(sleeps::add);
            dp.data().failDestageWith(new IllegalStateException("injected destage failure"));
            long deadline = System.nanoTime() + 20_000_000_000L;
            while (!"read_only".equals(dp.stats().get("pool_state"))) {
                assertTrue(System.nanoTime() < deadline, "not read-only after 20 s: sleeps=" + sleeps);
                Thread.sleep(5);
            }
            assertEquals(PoolState.RETRIES_MAX, sleeps.size(), "sleeps=" + sleeps);
            assertEquals(PoolState.BACKOFF_NS_MIN, sleeps.get(0));
            assertEquals(2 * PoolState.BACKOFF_NS_MIN, sleeps.get(1));
            assertEquals(PoolState.BACKOFF_NS_MAX, sleeps.get(sleeps.size() - 1));
            assertEquals("destage_failed", dp.stats().get("pool_read_only_reason"));
            assertTrue(String.valueOf(dp.stats().get("pool_read_only_error")).contains("injected destage failure"));
            assertEquals(IoStatus.READ_ONLY, Host.write(dp, 1, 8, 1, random(r, 1, false)));
            assertEquals(IoStatus.READ_ONLY, Host.writePartial(dp, 1, 0, 512, 512, random(r, 1, false)));
            assertEquals(IoStatus.READ_ONLY, Host.unmap(dp, 1, 0, 1));
            ByteBuffer back = ByteBuffer.allocateDirect(4 * 4096);
            assertEquals(IoStatus.OK, Host.read(dp, 1, 0, 4, back));
            assertEquals(data.duplicate().rewind(), back.flip(), "reads are served");
            dp.data().failDestageWith(null);
        }
    }

    /**
     * An H2P bucket without a free slot refuses the write as NO_SPACE before anything is journalled
     * (was: the record went durable, then apply threw in H2P). Buckets limited to 2 entries: with 4096
     * buckets, one fills after a few hundred random blocks.
     */
    @Test
    void fullH2pBucketRefusesTheWriteBeforeTheJournal() throws Exception {
        Random r = new Random(11);
        int n = 4096;
        ByteBuffer[] data = new ByteBuffer[n];
        int refused = -1;
        try (Controller dp = Controller.open(dir, SMALL, List.of(new VolumeRef(1, n)), 2)) {
            for (int i = 0; i < n && refused < 0; i++) {
                data[i] = random(r, 1, false);
                IoStatus s = Host.write(dp, 1, i, 1, data[i].duplicate());
                if (s == IoStatus.NO_SPACE) {
                    refused = i;
                } else {
                    assertEquals(IoStatus.OK, s, "block=" + i);
                }
            }
            assertTrue(refused > 0, "no bucket filled in " + n + " blocks");
            assertEquals(refused, ((Number) dp.stats().get("unique_blocks")).intValue());
            assertEquals(0, dp.audit(true).discrepancies());
        }
        try (Controller dp = Controller.open(dir, SMALL, List.of(new VolumeRef(1, n)))) {
            ByteBuffer back = ByteBuffer.allocateDirect(4096);
            assertEquals(IoStatus.OK, Host.read(dp, 1, refused, 1, back));
            assertEquals(ByteBuffer.allocateDirect(4096), back.flip(), "the refused block was never mapped");
            data[refused] = null;
            for (int i = 0; i < refused; i++) {
                back.clear();
                assertEquals(IoStatus.OK, Host.read(dp, 1, i, 1, back));
                assertEquals(data[i].duplicate().rewind(), back.flip(), "block=" + i);
            }
            assertEquals(0, dp.audit(true).discrepancies());
        }
    }

    /**
     * The checkpoint request protocol: a request made outside the destage thread is served by it and
     * cleared; with nothing requested and nothing changed no checkpoint follows, and a change brings one
     * once the interval has passed.
     */
    @Test
    void checkpointRequestIsServedAndClearedAndChangesBringOneAfterTheInterval() throws Exception {
        DataPath.Config cfg = new DataPath.Config(6, 32L << 20, 4L << 20, 100, 0);
        try (Controller dp = Controller.open(dir, cfg, List.of(new VolumeRef(1, 64)))) {
            long before = checkpoints(dp);
            dp.data().requestCheckpoint();
            long after = awaitCheckpointAfter(dp, before);
            assertTrue(!dp.data().checkpointRequested(), "a served request is cleared");
            Thread.sleep(400); // four intervals, nothing changed, nothing requested
            assertEquals(after, checkpoints(dp), "no checkpoint without a change or a request");
            assertEquals(IoStatus.OK, Host.write(dp, 1, 3, 1, random(new Random(5), 1, false)));
            awaitCheckpointAfter(dp, after);
        }
    }

    private static long checkpoints(Controller dp) {
        return ((Number) dp.stats().get("checkpoints")).longValue();
    }

    private static long awaitCheckpointAfter(Controller dp, long count) throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (checkpoints(dp) <= count) {
            assertTrue(System.nanoTime() < deadline, "no checkpoint in 10 s: checkpoints=" + count);
            Thread.sleep(5);
        }
        return checkpoints(dp);
    }

    /**
     * The metadata area's table of contents holds 384 sections (2 + one per volume + pending): a checkpoint
     * of 256 volumes (the catalog's limit) works; one of 400 is refused with the counts before anything is
     * written (was: IllegalStateException from the middle of the write), and what was acknowledged still
     * comes back from the journal after a restart.
     */
    @Test
    void checkpointOfManyVolumesWorksUpToTheTableAndFailsClearlyBeyondIt() throws Exception {
        assertTrue(io.hashbrick.node.catalog.VolumeService.MAX_VOLUMES + 5 <= MetadataArea.MAX_SECTIONS);
        List<VolumeRef> many = new java.util.ArrayList<>();
        for (int id = 1; id <= 400; id++) {
            many.add(new VolumeRef(id, 64));
        }
        ByteBuffer data = random(new Random(3), 1, false);
        try (Controller dp = Controller.open(dir.resolve("fits"), SMALL, many.subList(0, 256))) {
            for (int id = 1; id <= 256; id++) {
                assertEquals(IoStatus.OK, Host.write(dp, id, 1, 1, data.duplicate()));
            }
            dp.checkpoint();
            assertEquals(1L, ((Number) dp.stats().get("checkpoints")).longValue());
        }
        try (Controller dp = Controller.open(dir.resolve("many"), SMALL, many)) {
            assertEquals(IoStatus.OK, Host.write(dp, 400, 7, 1, data.duplicate()));
            java.io.IOException e =
                    org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class, dp::checkpoint);
            assertTrue(e.getMessage().contains("sections=404 max_sections=384"), e.getMessage());
            assertTrue(e.getMessage().contains("nothing written"), e.getMessage());
            assertEquals(0L, ((Number) dp.stats().get("checkpoints")).longValue());
        }
        try (Controller dp = Controller.open(dir.resolve("many"), SMALL, many)) {
            ByteBuffer back = ByteBuffer.allocateDirect(4096);
            assertEquals(IoStatus.OK, Host.read(dp, 400, 7, 1, back));
            assertEquals(data.duplicate().rewind(), back.flip());
        }
    }

    /**
     * Incremental checkpoints: a base, then deltas of what changed (far smaller), through a restart (the
     * chain goes on), a crash (the journal replays over the chain), a volume deleted (gone after the
     * reload) and a failed SSD (the chain's drive: the next checkpoint is a base). Data and the census
     * stay right at every step.
     */
    @Test
    void incrementalCheckpointsChainThroughRestartsCrashesAndAFailedDrive() throws Exception {
        long seed = Long.getLong("seed", System.nanoTime());
        Random r = new Random(seed);
        DataPath.Config cfg = new DataPath.Config(8, 64L << 20, 8L << 20, 60_000, 8L << 20);
        int n = 3000;
        ByteBuffer[] data = new ByteBuffer[n];
        List<VolumeRef> two = List.of(new VolumeRef(1, n), new VolumeRef(2, 512));
        try (Controller dp = Controller.open(dir, cfg, two)) {
            for (int i = 0; i < n; i++) {
                data[i] = random(r, 1, i % 3 == 0);
                assertEquals(IoStatus.OK, Host.write(dp, 1, i, 1, data[i].duplicate()), "seed=" + seed);
            }
            assertEquals(IoStatus.OK, Host.write(dp, 2, 5, 1, random(r, 1, false)));
            dp.checkpoint();
            for (int round = 0; round < 4; round++) {
                for (int k = 0; k < 20; k++) {
                    int i = r.nextInt(n);
                    data[i] = random(r, 1, false);
                    assertEquals(IoStatus.OK, Host.write(dp, 1, i, 1, data[i].duplicate()), "seed=" + seed);
                }
                int i = r.nextInt(n);
                assertEquals(IoStatus.OK, Host.unmap(dp, 1, i, 1));
                data[i] = ByteBuffer.allocateDirect(4096);
                dp.checkpoint();
            }
            Map<String, Object> s = dp.stats();
            // five here, and those the destage thread takes when the journal fills
            assertTrue(((Number) s.get("checkpoints")).longValue() >= 5, "seed=" + seed);
            assertEquals(1L, ((Number) s.get("checkpoint_bases")).longValue(), "four deltas after the base");
            verify(dp, data, seed);
        }
        Controller dp = Controller.open(dir, cfg, List.of(new VolumeRef(1, n))); // volume 2 deleted
        try {
            verify(dp, data, seed);
            assertEquals(0, dp.audit(true).discrepancies(), "seed=" + seed);
            for (int k = 0; k < 30; k++) {
                int i = r.nextInt(n);
                data[i] = random(r, 1, false);
                assertEquals(IoStatus.OK, Host.write(dp, 1, i, 1, data[i].duplicate()), "seed=" + seed);
            }
            dp.checkpoint(); // the first after a start is a base (in the other slot), then deltas again
            assertEquals(1L, ((Number) dp.stats().get("checkpoint_bases")).longValue(), "seed=" + seed);
            dp.checkpoint();
            assertEquals(1L, ((Number) dp.stats().get("checkpoint_bases")).longValue(), "a delta after it");
            for (int k = 0; k < 30; k++) { // acknowledged, then the process dies: the journal holds them
                int i = r.nextInt(n);
                data[i] = random(r, 1, false);
                assertEquals(IoStatus.OK, Host.write(dp, 1, i, 1, data[i].duplicate()), "seed=" + seed);
            }
        } finally {
            dp.crashForTest();
        }
        try (Controller again = Controller.open(dir, cfg, List.of(new VolumeRef(1, n)))) {
            dp = again;
            verify(dp, data, seed);
            assertEquals(0, dp.audit(true).discrepancies(), "seed=" + seed);
            long unmapped = Arrays.stream(data)
                    .filter(b -> b.duplicate().rewind().equals(ByteBuffer.allocateDirect(4096)))
                    .count();
            assertEquals(n - unmapped, ((Number) dp.stats().get("mapped_blocks")).longValue(), "volume 2 is gone");
            dp.checkpoint(); // the first after a start: a base
            dp.checkpoint(); // a delta
            long bases = ((Number) dp.stats().get("checkpoint_bases")).longValue();
            dp.data().dae().fail(3); // a drive of the chain: the next checkpoint is a base on the others
            for (int k = 0; k < 30; k++) {
                int i = r.nextInt(n);
                data[i] = random(r, 1, false);
                assertEquals(IoStatus.OK, Host.write(dp, 1, i, 1, data[i].duplicate()), "seed=" + seed);
            }
            dp.checkpoint();
            assertEquals(bases + 1, ((Number) dp.stats().get("checkpoint_bases")).longValue(), "seed=" + seed);
            dp.checkpoint();
            assertEquals(bases + 1, ((Number) dp.stats().get("checkpoint_bases")).longValue(), "a delta after it");
        }
        try (Controller last = Controller.open(dir, cfg, List.of(new VolumeRef(1, n)))) {
            verify(last, data, seed);
            assertEquals(0, last.audit(true).discrepancies(), "seed=" + seed);
        }
    }

    /**
     * The newest checkpoint lost (its header wiped on every copy) after the journal was released up to
     * it: the start is refused with the reason rather than coming up on the older state.
     */
    @Test
    void aStartOnACheckpointOlderThanTheJournalIsRefused() throws Exception {
        DataPath.Config cfg = SMALL;
        ByteBuffer data = random(new Random(5), 1, false);
        Controller dp = Controller.open(dir, cfg, List.of(new VolumeRef(1, 1024)));
        try {
            for (int i = 0; i < 50; i++) {
                assertEquals(IoStatus.OK, Host.write(dp, 1, i, 1, data.duplicate()));
            }
            dp.checkpoint();
            for (int i = 50; i < 100; i++) {
                assertEquals(IoStatus.OK, Host.write(dp, 1, i, 1, random(new Random(i), 1, false)));
            }
            dp.checkpoint(); // a delta: the journal is released up to it
        } finally {
            dp.crashForTest(); // no checkpoint at close: the delta above is the newest
        }
        try (io.hashbrick.sim.Dae dae = io.hashbrick.sim.Dae.open(
                dir.resolve("dae"), cfg.ssds(), cfg.ssdBytes(), 0x4842L, io.hashbrick.sim.SsdOptions.defaults())) {
            StripeLayout layout = StripeLayout.forDae(cfg.ssds(), cfg.ssdBytes(), cfg.nvramBytes());
            MetadataArea area = new MetadataArea(dae, layout);
            List<MetadataArea.Checkpoint> chain = area.latestChain();
            assertTrue(chain.size() >= 2, "a chain with deltas: " + chain.size());
            MetadataArea.Checkpoint last = chain.get(chain.size() - 1);
            for (int copy = 0; copy < 3; copy++) { // the delta's header, every copy
                long[] at = MetadataAreaTest.place(last, last.firstChunk(), copy, layout);
                dae.slot((int) at[0]).write(at[1], io.hashbrick.sim.Ssd.allocateAligned(MetadataArea.HEADER_AREA));
            }
        }
        java.io.IOException e = org.junit.jupiter.api.Assertions.assertThrows(
                java.io.IOException.class, () -> Controller.open(dir, cfg, List.of(new VolumeRef(1, 1024))));
        assertTrue(e.getMessage().contains("released past the checkpoint loaded"), e.getMessage());
    }
}
