package io.hashbrick.node;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hashbrick.node.api.BlockCodec;
import io.hashbrick.node.api.DerefCall;
import io.hashbrick.node.api.FetchCall;
import io.hashbrick.node.api.ProbeCall;
import io.hashbrick.node.api.PutCall;
import io.hashbrick.node.api.ResolveCall;
import io.hashbrick.node.api.Status;
import io.hashbrick.node.api.local.LocalDataService;
import io.hashbrick.node.api.local.LocalMapService;
import io.hashbrick.node.block.BlockDevice;
import io.hashbrick.node.block.IoStatus;
import io.hashbrick.node.data.DataPath;
import io.hashbrick.node.volume.VolumeRef;
import io.hashbrick.proto.cluster.v1.ClusterMap;
import io.hashbrick.proto.cluster.v1.Member;
import io.hashbrick.routing.placement.Placement;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two controllers' roles, each in its own directory with its own pool, serving each other over gRPC on
 * 127.0.0.1 by a two-controller map (odd buckets and partitions on c1, even on c2): a write through
 * either front end lands its blocks on their buckets' owners and its mapping on its region's owner,
 * and reads back through the other; dedup is global; overwrites drop references on the right owner;
 * a call at another epoch or to a non-owner is refused; a positioned deref applies once.
 */
class ClusterRolesTest {
    private static final DataPath.Config CONFIG = new DataPath.Config(6, 64L << 20, 8L << 20, 60_000, 0);
    private static final int VOLUME = 1;
    private static final long BLOCKS = 3 * Placement.BLOCKS_PER_REGION; // 3 GiB: regions on both owners
    private static final int B = BlockCodec.BLOCK_BYTES;

    @TempDir
    Path tmp;

    private final AtomicReference<ClusterMap> map = new AtomicReference<>();
    private final ClusterRoles[] roles = new ClusterRoles[3];
    private final Controller[] controllers = new Controller[3];

    @AfterEach
    void close() {
        for (int k = 1; k <= 2; k++) {
            if (controllers[k] != null) {
                controllers[k].close();
            }
            if (roles[k] != null) {
                roles[k].close();
            }
        }
    }

    private void open(long epoch) throws Exception {
        for (int k = 1; k <= 2; k++) {
            roles[k] = new ClusterRoles(map::get, k, 0);
            ClusterRoles cr = roles[k];
            controllers[k] =
                    Controller.openInCluster(tmp.resolve("c" + k), CONFIG, List.of(new VolumeRef(VOLUME, BLOCKS)), cr);
        }
        setMap(epoch);
    }

    private void setMap(long epoch) {
        ClusterMap.Builder m = ClusterMap.newBuilder().setEpoch(epoch);
        for (int k = 1; k <= 2; k++) {
            m.addMembers(Member.newBuilder().setId(k).setBrick(1).setAddress("127.0.0.1:" + roles[k].port()));
        }
        for (int b = 0; b < Placement.BUCKETS; b++) {
            m.addBuckets(b % 2 == 1 ? 1 : 2);
        }
        for (int p = 0; p < Placement.REGION_PARTITIONS; p++) {
            m.addRegionPartitions(p % 2 == 1 ? 1 : 2);
        }
        map.set(m.build());
    }

    private BlockDevice device(int k) {
        return roles[k].open(controllers[k], VOLUME, BLOCKS * B, B);
    }

    private long total(String stat) {
        long n = 0;
        for (int k = 1; k <= 2; k++) {
            n += (Long) controllers[k].data().stats().get(stat);
        }
        return n;
    }

    private static ByteBuffer random(Random r, int blocks) {
        byte[] b = new byte[blocks * B];
        r.nextBytes(b);
        return ByteBuffer.wrap(b);
    }

    @Test
    void writesThroughOneControllerReadBackThroughTheOtherWithGlobalDedup() throws Exception {
        long seed = System.nanoTime();
        Random r = new Random(seed);
        open(7);
        BlockDevice d1 = device(1);
        BlockDevice d2 = device(2);
        // 64 blocks at the end of region 0 and the start of region 1 (two owners of C), 16 in region 2
        long[] lbas = {Placement.BLOCKS_PER_REGION - 40, 2 * Placement.BLOCKS_PER_REGION + 5};
        int[] counts = {64, 16};
        ByteBuffer[] written = new ByteBuffer[2];
        for (int i = 0; i < 2; i++) {
            written[i] = random(r, counts[i]);
            assertEquals(IoStatus.OK, d1.write(lbas[i], counts[i], written[i].duplicate(), false), "seed=" + seed);
        }
        assertEquals(80, total("unique_blocks"), "seed=" + seed);
        assertTrue((Long) controllers[1].data().stats().get("unique_blocks") > 10, "both D owners hold blocks");
        assertTrue((Long) controllers[2].data().stats().get("unique_blocks") > 10, "both D owners hold blocks");
        for (int i = 0; i < 2; i++) {
            ByteBuffer back = ByteBuffer.allocate(counts[i] * B);
            assertEquals(IoStatus.OK, d2.read(lbas[i], counts[i], back), "seed=" + seed);
            assertArrayEquals(written[i].array(), back.array(), "seed=" + seed + " range=" + i);
        }
        // The same data through c2 at other blocks: stored once in the cluster
        assertEquals(IoStatus.OK, d2.write(1000, 16, ByteBuffer.wrap(written[1].array()), false));
        assertEquals(80, total("unique_blocks"), "global dedup, seed=" + seed);
        // Overwrite the 16 blocks of region 2 with new data: the old blocks still have c2's copy at 1000
        ByteBuffer fresh = random(r, 16);
        assertEquals(IoStatus.OK, d1.write(lbas[1], 16, fresh.duplicate(), false));
        // ... and overwrite c2's copy too: now the first 16 lose their last reference once the outboxes drain
        assertEquals(IoStatus.OK, d2.write(1000, 16, random(r, 16), false));
        for (int k = 1; k <= 2; k++) { // the drainer thread sends it; or this thread does
            long end = System.nanoTime() + 10_000_000_000L;
            while (controllers[k].maps().outboxSize() > 0 && System.nanoTime() < end) {
                controllers[k].maps().drainOutbox();
                Thread.sleep(5);
            }
            assertEquals(0, controllers[k].maps().outboxSize(), "outbox of c" + k + " drains, seed=" + seed);
        }
        assertEquals(80 + 16, total("unique_blocks"), "old blocks freed on their owners, seed=" + seed);
        ByteBuffer back = ByteBuffer.allocate(16 * B);
        assertEquals(IoStatus.OK, d2.read(lbas[1], 16, back));
        assertArrayEquals(fresh.array(), back.array(), "seed=" + seed);

        // Restart both: everything reads back, through either
        for (int k = 1; k <= 2; k++) {
            controllers[k].close();
            roles[k].close();
        }
        open(8);
        back = ByteBuffer.allocate(64 * B);
        assertEquals(IoStatus.OK, device(2).read(lbas[0], 64, back));
        assertArrayEquals(written[0].array(), back.array(), "after restart, seed=" + seed);
        assertEquals(80 + 16, total("unique_blocks"), "seed=" + seed);
    }

    @Test
    void ownersRefuseOtherEpochsAndOthersShares() throws Exception {
        open(5);
        LocalDataService d1 = new LocalDataService(controllers[1].data(), roles[1]);
        LocalMapService m1 = new LocalMapService(controllers[1].maps(), roles[1]);
        ProbeCall probe = new ProbeCall(1);
        byte[] fp = new byte[32];
        fp[0] = 0; // bucket 0: even, c2's
        probe.fingerprints = java.lang.foreign.MemorySegment.ofArray(fp);
        probe.count = 1;
        probe.header(5, 1, 2);
        d1.probe(probe, c -> {});
        assertEquals(Status.NOT_OWNER, probe.status);
        fp[0] = 0x10; // bucket 0x100: even too
        fp[1] = 0x10; // bucket 0x101: odd, c1's
        probe.header(5, 2, 2);
        d1.probe(probe, c -> {});
        assertEquals(Status.OK, probe.status);
        probe.header(4, 3, 2);
        d1.probe(probe, c -> {});
        assertEquals(Status.STALE_EPOCH, probe.status);
        ResolveCall resolve = new ResolveCall(1);
        resolve.volume = VOLUME;
        resolve.count = 1;
        for (long block = 0; block < 3 * Placement.BLOCKS_PER_REGION; block += Placement.BLOCKS_PER_REGION) {
            resolve.firstBlock = block;
            resolve.header(5, 4, 2);
            m1.resolve(resolve, c -> {});
            int partition = Placement.regionPartition(VOLUME, Placement.region(block));
            assertEquals(partition % 2 == 1 ? Status.OK : Status.NOT_OWNER, resolve.status, "block=" + block);
        }
    }

    @Test
    void aPositionedDerefAppliesOnceAndItsHandleGoesStale() throws Exception {
        open(3);
        Random r = new Random(11);
        // A put through the router: one reference per block, on the blocks' owners
        PutCall put = new PutCall(8);
        BlockCodec codec = new BlockCodec();
        ByteBuffer src = random(r, 8);
        for (int i = 0; i < 8; i++) {
            codec.fingerprint(src, i * B, put.fingerprintBytes, i * 32);
            put.lengths[i] = codec.compress(src, i * B, put.data, i * BlockCodec.MAX_COMPRESSED_BYTES);
        }
        put.count = 8;
        put.header(0, 1, ClusterRoles.GIVE_BACK_SENDER);
        Await<PutCall> putDone = new Await<>();
        roles[1].outbox().put(put, putDone);
        assertEquals(Status.OK, putDone.get().status);
        assertEquals(8, total("unique_blocks"));
        // C's outbox of c1 drops them: positions 0..7, split by owner; then the same batch again
        DerefCall deref = new DerefCall(8);
        System.arraycopy(put.handles, 0, deref.handles, 0, 8);
        deref.count = 8;
        for (int attempt = 0; attempt < 2; attempt++) {
            deref.header(0, 8, DerefCall.CONTROLLER_SENDER + 1);
            Await<DerefCall> done = new Await<>();
            roles[1].outbox().deref(deref, done);
            assertEquals(Status.OK, done.get().status);
            assertEquals(attempt == 1, deref.duplicate, "attempt " + attempt);
            assertEquals(0, total("unique_blocks"), "applied once, attempt " + attempt);
        }
        // The marks survive a crash (rebuilt from D's journal) and a clean restart (D's checkpoint)
        for (boolean crash : new boolean[] {true, false}) {
            for (int k = 1; k <= 2; k++) {
                if (crash) {
                    controllers[k].crashForTest();
                } else {
                    controllers[k].close();
                }
                roles[k].close();
            }
            open(crash ? 4 : 5);
            deref.header(0, 8, DerefCall.CONTROLLER_SENDER + 1);
            Await<DerefCall> done = new Await<>();
            roles[1].outbox().deref(deref, done);
            assertEquals(Status.OK, done.get().status);
            assertTrue(deref.duplicate, "still applied once after " + (crash ? "a crash" : "a restart"));
        }
        FetchCall fetch = new FetchCall(8);
        System.arraycopy(put.handles, 0, fetch.handles, 0, 8);
        fetch.count = 8;
        fetch.dst = ByteBuffer.allocate(8 * B);
        fetch.header(0, 9, 1);
        Await<FetchCall> fetched = new Await<>();
        roles[2].outbox().fetch(fetch, fetched);
        fetched.get();
        for (int i = 0; i < 8; i++) {
            assertEquals(Status.STALE_HANDLE, fetch.blockStatus[i], "block " + i);
        }
    }

    /** Waits (bounded) for one completion. */
    private static final class Await<C> implements io.hashbrick.node.api.Completion<io.hashbrick.node.api.RoleCall> {
        private final java.util.concurrent.CompletableFuture<C> f = new java.util.concurrent.CompletableFuture<>();

        @SuppressWarnings("unchecked")
        @Override
        public void complete(io.hashbrick.node.api.RoleCall call) {
            f.complete((C) call);
        }

        C get() throws Exception {
            return f.get(30, java.util.concurrent.TimeUnit.SECONDS);
        }
    }
}
