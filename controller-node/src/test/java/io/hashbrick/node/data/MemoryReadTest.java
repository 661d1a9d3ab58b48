package io.hashbrick.node.data;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.hashbrick.node.Controller;
import io.hashbrick.node.block.BlockDevice;
import io.hashbrick.node.block.IoStatus;
import io.hashbrick.node.volume.VolumeRef;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Reads that must not wait (the front end's connection thread tries a read among others from memory
 * first, BlockDevice.readIfInMemory): served from D's journal copy, its read cache and unmapped zeros,
 * WOULD_BLOCK for a block that lives on the SSDs only, having read nothing; the read cache counts each
 * miss once, when the full read that follows goes to the SSDs.
 */
class MemoryReadTest {
    @TempDir
    Path dir;

    @Test
    void readsFromMemoryServeJournalCacheAndZerosAndRefuseWhatIsOnTheSsdsOnly() throws Exception {
        Random r = new Random(16);
        DataPath.Config cfg = new DataPath.Config(6, 32L << 20, 4L << 20, 60_000, 8L << 20);
        try (Controller dp = Controller.open(dir, cfg, List.of(new VolumeRef(1, 64)))) {
            dp.data().setScrubRate(0);
            BlockDevice dev = Host.device(dp, 1);
            ByteBuffer a = DataPathTest.random(r, 1, false);
            ByteBuffer b = DataPathTest.random(r, 1, true);
            assertEquals(IoStatus.OK, Host.write(dp, 1, 0, 1, a.duplicate()));
            ByteBuffer out = ByteBuffer.allocateDirect(2 * 4096);

            assertEquals(IoStatus.OK, dev.readIfInMemory(0, 1, out.clear()), "in the journal");
            assertEquals(a.duplicate().rewind(), out.flip());
            assertEquals(IoStatus.OK, dev.readIfInMemory(10, 2, out.clear()), "unmapped: zeros");
            assertEquals(ByteBuffer.allocate(2 * 4096), out.flip());

            dp.checkpoint(); // destaged; the destage put the block in the read cache
            dp.data().dropReadCache();
            assertEquals(IoStatus.OK, Host.write(dp, 1, 1, 1, b.duplicate()));
            long misses = (Long) dp.stats().get("read_cache_misses");
            out.clear().position(100);
            assertEquals(IoStatus.WOULD_BLOCK, dev.readIfInMemory(0, 2, out), "block 0 is on the SSDs only");
            assertEquals(100, out.position(), "nothing consumed");
            assertEquals(misses, dp.stats().get("read_cache_misses"), "the attempt counts no miss");

            assertEquals(IoStatus.OK, dev.read(0, 2, out.clear()), "the full read goes to the SSDs");
            assertEquals(misses + 1, dp.stats().get("read_cache_misses"), "and counts the miss, once");
            long hits = (Long) dp.stats().get("read_cache_hits");
            assertEquals(IoStatus.OK, dev.readIfInMemory(0, 2, out.clear()), "now cached (0) and journalled (1)");
            assertEquals(hits + 1, dp.stats().get("read_cache_hits"));
            out.flip();
            assertEquals(a.duplicate().rewind(), out.slice(0, 4096));
            assertEquals(b.duplicate().rewind(), out.slice(4096, 4096));
        }
    }
}
