package io.hashbrick.node.api.route;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.hashbrick.node.api.BlockCodec;
import io.hashbrick.node.api.Completion;
import io.hashbrick.node.api.DataService;
import io.hashbrick.node.api.DerefCall;
import io.hashbrick.node.api.FetchCall;
import io.hashbrick.node.api.MapCall;
import io.hashbrick.node.api.MapService;
import io.hashbrick.node.api.ProbeCall;
import io.hashbrick.node.api.PutCall;
import io.hashbrick.node.api.ResolveCall;
import io.hashbrick.node.api.Status;
import io.hashbrick.node.api.UnmapCall;
import io.hashbrick.node.block.IoStatus;
import io.hashbrick.node.front.VolumeDevice;
import io.hashbrick.routing.placement.Placement;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * The routed services against scripted owners (two controllers, odd buckets on c1, even on c2): a put
 * split over owners stays all or nothing, a fetch's pieces land in place, a memory-only read never
 * waits, a refusal that did nothing is retried, a deref batch keeps its outbox positions; and the write
 * pipeline gives a put's references back only when the map surely did nothing.
 */
class RoutedServicesTest {
    private static final int B = BlockCodec.BLOCK_BYTES;

    /** A scripted D: answers each call with the next scripted status (OK when none left). */
    static final class FakeD implements DataService {
        final int id;
        final List<Status> script = new ArrayList<>();
        final List<long[]> derefs = new ArrayList<>();
        final List<long[]> derefPositions = new ArrayList<>();
        final List<Integer> derefSenders = new ArrayList<>();
        int calls;
        long next = 1;

        FakeD(int id) {
            this.id = id;
        }

        private Status next() {
            calls++;
            return script.isEmpty() ? Status.OK : script.remove(0);
        }

        @Override
        public void probe(ProbeCall call, Completion<? super ProbeCall> done) {
            call.status = next();
            done.complete(call);
        }

        @Override
        public void put(PutCall call, Completion<? super PutCall> done) {
            call.status = next();
            for (int i = 0; i < call.count; i++) {
                int bucket = Placement.bucket(call.fingerprints, (long) i * 32);
                call.handles[i] = Placement.handle(bucket, next++);
                call.blockStatus[i] = Status.OK;
            }
            done.complete(call);
        }

        @Override
        public void deref(DerefCall call, Completion<? super DerefCall> done) {
            call.status = next();
            derefs.add(java.util.Arrays.copyOf(call.handles, call.count));
            derefPositions.add(call.positioned ? java.util.Arrays.copyOf(call.positions, call.count) : null);
            derefSenders.add(call.sender);
            done.complete(call);
        }

        @Override
        public void fetch(FetchCall call, Completion<? super FetchCall> done) {
            call.status = next();
            for (int i = 0; i < call.count; i++) {
                for (int j = 0; j < B; j++) {
                    call.dst.put(call.dstOffset + i * B + j, (byte) call.handles[i]);
                }
                call.blockStatus[i] = Status.OK;
            }
            done.complete(call);
        }
    }

    private final FakeD[] d = {null, new FakeD(1), new FakeD(2)};
    private final AtomicReference<Routes> routes = new AtomicReference<>(routes());
    private final RouteCounts counts = new RouteCounts();
    private final RouteSource source = new RouteSource() {
        @Override
        public Routes current() {
            return routes.get();
        }

        @Override
        public void stale(long epoch) {}
    };
    private final RolePeers peers = new RolePeers() {
        @Override
        public DataService data(int controller) {
            return d[controller];
        }

        @Override
        public MapService maps(int controller) {
            throw new UnsupportedOperationException();
        }
    };
    private final RoutedDataService routed = new RoutedDataService(source, peers, 1, counts);

    private static Routes routes() {
        int[] buckets = new int[Placement.BUCKETS];
        int[] partitions = new int[Placement.REGION_PARTITIONS];
        for (int b = 0; b < buckets.length; b++) {
            buckets[b] = b % 2 == 1 ? 1 : 2;
        }
        java.util.Arrays.fill(partitions, 1);
        return new Routes(9, 1, buckets, partitions);
    }

    /** Fingerprint i in bucket {@code 0x100 + i}: odd ones c1's, even ones c2's. */
    private static void fingerprints(byte[] into, int n) {
        for (int i = 0; i < n; i++) {
            int bucket = 0x100 + i;
            into[i * 32] = (byte) (bucket >>> 4);
            into[i * 32 + 1] = (byte) ((bucket & 0xf) << 4);
        }
    }

    @Test
    void aSplitPutThatFailsOnOneOwnerGivesTheOthersReferencesBack() {
        PutCall put = new PutCall(4);
        fingerprints(put.fingerprintBytes, 4);
        put.count = 4;
        put.header(0, 77, 1);
        d[2].script.add(Status.POOL_FULL);
        routed.put(put, c -> {});
        assertEquals(Status.POOL_FULL, put.status);
        assertEquals(1, d[1].derefs.size(), "c1's two references given back");
        assertEquals(2, d[1].derefs.get(0).length);
        assertEquals(1, d[1].derefSenders.get(0), "as the give-back sender, never de-duplicated");
        assertEquals(null, d[1].derefPositions.get(0));
        assertEquals(0, d[2].derefs.size(), "c2 took nothing");
        assertEquals(1, counts.snapshot().get("role_calls_split"));
    }

    @Test
    void aSplitFetchPutsEachBlockInItsPlace() {
        FetchCall f = new FetchCall(4);
        f.dst = ByteBuffer.allocate(6 * B);
        f.dstOffset = 2 * B;
        for (int i = 0; i < 4; i++) {
            f.handles[i] = Placement.handle(0x100 + i, 10 + i);
        }
        f.count = 4;
        f.header(0, 1, 1);
        routed.fetch(f, c -> {});
        assertEquals(Status.OK, f.status);
        for (int i = 0; i < 4; i++) {
            assertEquals((byte) (10 + i), f.dst.get(2 * B + i * B + 100), "block " + i);
        }
        assertEquals(0, f.dst.get(0));
        assertEquals(1, d[1].calls);
        assertEquals(1, d[2].calls);
    }

    @Test
    void aMemoryOnlyReadNeverWaits() {
        FetchCall f = new FetchCall(2);
        f.dst = ByteBuffer.allocate(2 * B);
        f.handles[0] = Placement.handle(0x101, 1); // c1: local
        f.handles[1] = Placement.handle(0x102, 1); // c2: remote
        f.count = 2;
        f.noWait = true;
        routed.fetch(f, c -> {});
        assertEquals(Status.WOULD_BLOCK, f.status);
        assertEquals(0, d[1].calls + d[2].calls, "no call made");
        routes.set(null); // no map yet: still answered at once
        f.count = 1;
        routed.fetch(f, c -> {});
        assertEquals(Status.WOULD_BLOCK, f.status);
        routes.set(routes());
        d[1].script.add(Status.STALE_EPOCH); // a map change under a memory-only read: not retried
        routed.fetch(f, c -> {});
        assertEquals(Status.WOULD_BLOCK, f.status);
        assertEquals(1, d[1].calls);
    }

    @Test
    void aRefusalThatDidNothingGoesAgain() {
        PutCall p = new PutCall(1);
        fingerprints(p.fingerprintBytes, 1); // bucket 0x100: c2
        p.count = 1;
        p.header(0, 5, 1);
        d[2].script.add(Status.NOT_OWNER);
        routed.put(p, c -> {});
        assertEquals(Status.OK, p.status);
        assertEquals(2, d[2].calls);
        assertEquals(9, p.epoch, "stamped with the map's epoch");
        assertEquals(1, counts.snapshot().get("role_calls_retried"));
        assertEquals(2, counts.snapshot().get("role_calls_d_remote"));
    }

    @Test
    void aProbeGoesOnlyToThisControllersBuckets() {
        ProbeCall p = new ProbeCall(4);
        byte[] fp = new byte[4 * 32];
        fingerprints(fp, 4); // c2, c1, c2, c1
        p.fingerprints = java.lang.foreign.MemorySegment.ofArray(fp);
        p.count = 4;
        p.header(0, 6, 1);
        java.util.Arrays.fill(p.known, true);
        routed.probe(p, c -> {});
        assertEquals(Status.OK, p.status);
        assertEquals(1, d[1].calls, "the local probe");
        assertEquals(0, d[2].calls, "no round trip for a hint: the put carries the data");
        assertFalse(p.known[0] || p.known[2], "remote blocks: unknown, so sent with their data");
        assertEquals(2, counts.snapshot().get("role_probe_blocks_not_sent"));
    }

    @Test
    void anOutboxBatchSplitByOwnerKeepsItsPositions() {
        DerefCall x = new DerefCall(4);
        for (int i = 0; i < 4; i++) {
            x.handles[i] = Placement.handle(0x100 + i, 1);
        }
        x.count = 4;
        x.header(0, 10, DerefCall.CONTROLLER_SENDER + 1); // positions 6..9
        routed.deref(x, c -> {});
        assertEquals(Status.OK, x.status);
        assertArrayEquals(new long[] {7, 9}, d[1].derefPositions.get(0));
        assertArrayEquals(new long[] {6, 8}, d[2].derefPositions.get(0));
        assertFalse(x.duplicate);
    }

    /** A single-owner C and D for the write pipeline: map answers the scripted status. */
    @Test
    void theWritePipelineGivesReferencesBackOnlyWhenTheMapSurelyDidNothing() {
        FakeD data = new FakeD(1);
        List<Status> mapScript = new ArrayList<>();
        MapService maps = new MapService() {
            @Override
            public void map(MapCall call, Completion<? super MapCall> done) {
                call.status = mapScript.remove(0);
                done.complete(call);
            }

            @Override
            public void resolve(ResolveCall call, Completion<? super ResolveCall> done) {
                throw new UnsupportedOperationException();
            }

            @Override
            public void unmap(UnmapCall call, Completion<? super UnmapCall> done) {
                throw new UnsupportedOperationException();
            }
        };
        VolumeDevice dev = new VolumeDevice(data, maps, 0, 1, 1 << 20, B);
        byte[] block = new byte[B];
        new Random(3).nextBytes(block);
        mapScript.add(Status.MEDIUM_ERROR); // a lost reply: the map may be durable
        assertEquals(IoStatus.MEDIUM_ERROR, dev.write(0, 1, ByteBuffer.wrap(block), false));
        assertEquals(0, data.derefs.size(), "references kept: a leak at worst, never a mapped block freed");
        mapScript.add(Status.UNKNOWN_VOLUME); // refused before anything changed
        dev.write(0, 1, ByteBuffer.wrap(block), false);
        assertEquals(1, data.derefs.size(), "given back");
    }

    /** A failover: a write whose map got no reply goes again whole, a map never goes again alone. */
    @Test
    void aWriteWhoseMapGotNoReplyIsRedoneWholeWithItsPut() {
        FakeD data = new FakeD(1);
        List<Status> mapScript = new ArrayList<>();
        List<long[]> mapped = new ArrayList<>();
        long[] sentAgo = {0};
        MapService maps = new MapService() {
            @Override
            public void map(MapCall call, Completion<? super MapCall> done) {
                mapped.add(java.util.Arrays.copyOf(call.handles, call.count));
                call.routedSinceNs = System.nanoTime() - sentAgo[0]; // as a router stamps it
                call.status = mapScript.isEmpty() ? Status.OK : mapScript.remove(0);
                done.complete(call);
            }

            @Override
            public void resolve(ResolveCall call, Completion<? super ResolveCall> done) {
                throw new UnsupportedOperationException();
            }

            @Override
            public void unmap(UnmapCall call, Completion<? super UnmapCall> done) {
                throw new UnsupportedOperationException();
            }
        };
        VolumeDevice dev = new VolumeDevice(data, maps, 0, 1, 1 << 20, B);
        byte[] block = new byte[B];
        new Random(4).nextBytes(block);
        mapScript.add(Status.NO_REPLY); // its owner died with the map sent: maybe durable
        assertEquals(IoStatus.OK, dev.write(0, 1, ByteBuffer.wrap(block), false));
        assertEquals(2, mapped.size(), "mapped again");
        assertEquals(4, data.calls, "probe and put, twice: the second put's reference pays for the map's");
        assertEquals(0, data.derefs.size(), "nothing given back: a leak at worst");
        mapScript.add(Status.NO_REPLY);
        mapScript.add(Status.NO_REPLY);
        mapScript.add(Status.NO_REPLY);
        assertEquals(IoStatus.UNAVAILABLE, dev.write(0, 1, ByteBuffer.wrap(block), false), "NOT READY 04/0A");
        assertEquals(5, mapped.size(), "redone twice, then the host retries");
        sentAgo[0] = 6_000_000_000L; // unanswered at its deadline: the owner may be alive and the map pending
        mapScript.add(Status.NO_REPLY);
        assertEquals(IoStatus.UNAVAILABLE, dev.write(0, 1, ByteBuffer.wrap(block), false));
        assertEquals(6, mapped.size(), "not redone: a late map must not land after a newer write");
    }

    @Test
    void anOwnerNotReachedIsTriedAgainAndAGiveBackWithoutReplyIsNot() throws Exception {
        PutCall p = new PutCall(1);
        fingerprints(p.fingerprintBytes, 1); // bucket 0x100: c2
        p.count = 1;
        p.header(0, 5, 1);
        d[2].script.add(Status.UNREACHABLE);
        d[2].script.add(Status.NO_REPLY); // a second reference at worst
        java.util.concurrent.CompletableFuture<PutCall> put = new java.util.concurrent.CompletableFuture<>();
        routed.put(p, put::complete);
        assertEquals(Status.OK, put.get(5, java.util.concurrent.TimeUnit.SECONDS).status);
        assertEquals(3, d[2].calls);

        DerefCall back = new DerefCall(1);
        back.handles[0] = Placement.handle(0x100, 1);
        back.count = 1;
        back.header(0, 6, 1); // a give-back: applied as sent, so never twice
        d[2].script.add(Status.NO_REPLY);
        routed.deref(back, c -> {});
        assertEquals(Status.NO_REPLY, back.status);
        assertEquals(4, d[2].calls, "not sent again");
        d[2].script.add(Status.UNREACHABLE); // but one never sent goes again
        java.util.concurrent.CompletableFuture<DerefCall> again = new java.util.concurrent.CompletableFuture<>();
        routed.deref(back, again::complete);
        assertEquals(Status.OK, again.get(5, java.util.concurrent.TimeUnit.SECONDS).status);
        assertEquals(6, d[2].calls);
    }
}
