package io.hashbrick.node.api.tcp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hashbrick.node.api.BlockCodec;
import io.hashbrick.node.api.Completion;
import io.hashbrick.node.api.DerefCall;
import io.hashbrick.node.api.FetchCall;
import io.hashbrick.node.api.MapCall;
import io.hashbrick.node.api.ProbeCall;
import io.hashbrick.node.api.PutCall;
import io.hashbrick.node.api.ResolveCall;
import io.hashbrick.node.api.RoleCall;
import io.hashbrick.node.api.Status;
import io.hashbrick.node.api.UnmapCall;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The TCP binding against a role whose replies are functions of the requests ({@link EchoRoles}):
 * every call type's request and reply fields, statuses, limits, deadlines, lost and corrupt
 * connections, many callers at once. Real sockets on 127.0.0.1. (The contracts over a real data path:
 * TcpRoleContractTest.)
 */
class TcpBindingTest {
    private static final int B = BlockCodec.BLOCK_BYTES;

    @FunctionalInterface
    interface Op<C extends RoleCall> {
        void call(C c, Completion<C> done);
    }

    /** Makes the call, waits for its completion, which must carry the call; returns the ms it took. */
    static <C extends RoleCall> long call(C c, Op<C> op) throws Exception {
        CompletableFuture<RoleCall> done = new CompletableFuture<>();
        long t0 = System.nanoTime();
        op.call(c, done::complete);
        assertSame(c, done.get(15, TimeUnit.SECONDS));
        return (System.nanoTime() - t0) / 1_000_000;
    }

    @Test
    void everyStatusHasItsOwnCodeAndUnknownCodesAreMediumErrors() {
        for (Status s : Status.values()) {
            assertEquals(s, Frame.status(Frame.code(s)));
        }
        assertEquals(Status.MEDIUM_ERROR, Frame.status(0), "unspecified");
        assertEquals(Status.MEDIUM_ERROR, Frame.status(255), "a status from a newer peer");
        assertEquals(Status.MEDIUM_ERROR, Frame.status(-1));
    }

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3})
    void everyCallTypeCarriesItsFieldsBothWays(long seed) throws Exception {
        EchoRoles roles = new EchoRoles();
        SplittableRandom rnd = new SplittableRandom(seed);
        try (TcpRoleServer server = new TcpRoleServer(roles, roles, 0);
                TcpRoleClient client = new TcpRoleClient("127.0.0.1", server.port(), 5_000)) {
            for (int round = 0; round < 20; round++) {
                String at = "seed=" + seed + " round=" + round;
                roundTrip(client, roles, rnd, at);
            }
        }
    }

    private static void roundTrip(TcpRoleClient client, EchoRoles roles, SplittableRandom rnd, String at)
            throws Exception {
        ProbeCall probe = new ProbeCall(64);
        byte[] fps = new byte[64 * 32];
        rnd.nextBytes(fps);
        probe.fingerprints = MemorySegment.ofArray(fps);
        probe.count = rnd.nextInt(65);
        probe.header(rnd.nextLong(), rnd.nextLong(), rnd.nextInt(2000));
        call(probe, client.data()::probe);
        UnmapCall h = roles.seen.take();
        assertEquals(probe.epoch, h.epoch, at);
        assertEquals(probe.operationId, h.operationId, at);
        assertEquals(probe.sender, h.sender, at);
        assertEquals(Status.OK, probe.status, at);
        for (int i = 0; i < probe.count; i++) {
            assertEquals((fps[i * 32 + 31] & 1) == 1, probe.known[i], at + " probe block " + i);
        }

        PutCall put = new PutCall(64);
        put.count = rnd.nextInt(65);
        rnd.nextBytes(put.fingerprintBytes);
        for (int i = 0; i < put.count; i++) {
            int len = rnd.nextInt(4) == 0 ? 0 : 1 + rnd.nextInt(B);
            put.lengths[i] = len;
            for (int j = 0; j < len; j++) {
                put.data.put(i * BlockCodec.MAX_COMPRESSED_BYTES + j, (byte) rnd.nextInt());
            }
        }
        put.header(rnd.nextBoolean() ? 99 : 5, rnd.nextLong(), 1);
        call(put, client.data()::put);
        roles.seen.take();
        if (put.epoch == 99) {
            assertEquals(Status.NEED_DATA, put.status, at);
            for (int i = 0; i < put.count; i++) {
                assertEquals(put.lengths[i] == 0 ? Status.NEED_DATA : Status.OK, put.blockStatus[i], at);
            }
        } else {
            assertEquals(Status.OK, put.status, at);
            for (int i = 0; i < put.count; i++) {
                int len = put.lengths[i];
                byte last = len > 0 ? put.data.get(i * BlockCodec.MAX_COMPRESSED_BYTES + len - 1) : 0;
                assertEquals(
                        EchoRoles.putHandle(EchoRoles.fpLong(put.fingerprintBytes, i), len, last),
                        put.handles[i],
                        at + " put block " + i);
            }
        }

        DerefCall deref = new DerefCall(4096);
        deref.count = rnd.nextInt(4097);
        deref.positioned = rnd.nextBoolean();
        for (int i = 0; i < deref.count; i++) {
            deref.handles[i] = rnd.nextLong();
            deref.positions[i] = rnd.nextLong();
        }
        deref.header(1, rnd.nextLong(), 1025);
        call(deref, client.data()::deref);
        roles.seen.take();
        assertEquals(Status.OK, deref.status, at);
        assertEquals(deref.positioned, deref.duplicate, at);
        assertEquals(EchoRoles.derefSum(deref), roles.lastDerefSum, at + " deref handles and positions");

        FetchCall fetch = new FetchCall(64);
        fetch.count = rnd.nextInt(65);
        fetch.dst = ByteBuffer.allocateDirect(65 * B);
        fetch.dstOffset = rnd.nextInt(B);
        boolean stale = false;
        for (int i = 0; i < fetch.count; i++) {
            fetch.handles[i] = rnd.nextInt(10) == 0 ? -1 - rnd.nextInt(5) : rnd.nextLong(1L << 40);
            stale |= fetch.handles[i] < 0;
        }
        fetch.header(1, rnd.nextLong(), 1);
        call(fetch, client.data()::fetch);
        roles.seen.take();
        while (roles.seen.poll() != null) {} // a fetch tried from memory first, then on a worker
        assertEquals(stale ? Status.STALE_HANDLE : Status.OK, fetch.status, at);
        for (int i = 0; i < fetch.count; i++) {
            long hd = fetch.handles[i];
            assertEquals(hd < 0 ? Status.STALE_HANDLE : Status.OK, fetch.blockStatus[i], at);
            if (hd >= 0) {
                for (int j = 0; j < B; j += 511) {
                    assertEquals((byte) (hd + j), fetch.dst.get(fetch.dstOffset + i * B + j), at + " fetch " + i);
                }
            }
        }

        MapCall map = new MapCall(64);
        map.volume = rnd.nextInt(1000);
        map.firstBlock = rnd.nextLong(1L << 40);
        map.count = rnd.nextInt(65);
        map.conditional = rnd.nextBoolean();
        for (int i = 0; i < map.count; i++) {
            map.handles[i] = rnd.nextLong();
            map.expected[i] = rnd.nextLong();
        }
        map.header(1, rnd.nextLong(), 1);
        call(map, client.maps()::map);
        roles.seen.take();
        assertEquals(Status.OK, map.status, at);
        for (int i = 0; i < map.count; i++) {
            assertEquals(EchoRoles.replaced(map, i), map.replaced[i], at + " map block " + i);
        }

        ResolveCall resolve = new ResolveCall(64);
        resolve.volume = rnd.nextInt(1000);
        resolve.firstBlock = rnd.nextLong(1L << 40);
        resolve.count = rnd.nextInt(65);
        resolve.header(1, rnd.nextLong(), 1);
        call(resolve, client.maps()::resolve);
        roles.seen.take();
        assertEquals(Status.OK, resolve.status, at);
        for (int i = 0; i < resolve.count; i++) {
            assertEquals(resolve.volume * 1_000_000L + resolve.firstBlock + i, resolve.handles[i], at);
        }

        UnmapCall unmap = new UnmapCall();
        unmap.volume = rnd.nextInt(1000);
        unmap.firstBlock = rnd.nextLong(1L << 40);
        unmap.count = rnd.nextLong(1L << 40);
        unmap.countRun = rnd.nextBoolean();
        unmap.header(1, rnd.nextLong(), 1);
        call(unmap, client.maps()::unmap);
        roles.seen.take();
        assertEquals(Status.OK, unmap.status, at);
        assertEquals(unmap.count + (unmap.countRun ? 1 : 0), unmap.unmapped, at);
        assertEquals(-unmap.firstBlock, unmap.run, at);
    }

    @Test
    void everyStatusIsPassedThroughForEveryCallType() throws Exception {
        EchoRoles roles = new EchoRoles();
        try (TcpRoleServer server = new TcpRoleServer(roles, roles, 0);
                TcpRoleClient client = new TcpRoleClient("127.0.0.1", server.port(), 5_000)) {
            for (Status s : Status.values()) {
                roles.answer = s;
                MapCall m = new MapCall(1);
                m.count = 1;
                call(m, client.maps()::map);
                assertEquals(s, m.status);
                UnmapCall u = new UnmapCall();
                call(u, client.maps()::unmap);
                assertEquals(s, u.status);
                DerefCall d = new DerefCall(1);
                call(d, client.data()::deref);
                assertEquals(s, d.status);
                ProbeCall p = new ProbeCall(1);
                p.fingerprints = MemorySegment.ofArray(new byte[32]);
                p.count = 1;
                call(p, client.data()::probe);
                assertEquals(s, p.status);
                ResolveCall r = new ResolveCall(1);
                r.count = 1;
                call(r, client.maps()::resolve);
                assertEquals(s, r.status);
            }
        }
    }

    /**
     * Put, map and deref run on the connection's reader thread (no hand-off to a worker: a thread
     * wake-up per call was the largest cost of a remote write), unless the server is told otherwise;
     * an unmap of a range still goes to a worker.
     */
    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void writesRunOnTheReaderThreadUnlessToldOtherwise(boolean inlineWrites) throws Exception {
        EchoRoles roles = new EchoRoles();
        roles.answer = Status.OK;
        try (TcpRoleServer server = new TcpRoleServer(roles, roles, 0, inlineWrites);
                TcpRoleClient client = new TcpRoleClient("127.0.0.1", server.port(), 5_000)) {
            String want = inlineWrites ? "tcp-role-server-" : "tcp-role-worker-";
            PutCall p = new PutCall(1);
            p.count = 1;
            call(p, client.data()::put);
            assertTrue(roles.threads.take().startsWith(want), "put");
            MapCall m = new MapCall(1);
            m.count = 1;
            call(m, client.maps()::map);
            assertTrue(roles.threads.take().startsWith(want), "map");
            DerefCall d = new DerefCall(1);
            d.count = 1;
            call(d, client.data()::deref);
            assertTrue(roles.threads.take().startsWith(want), "deref");
            UnmapCall u = new UnmapCall();
            u.count = 1;
            call(u, client.maps()::unmap);
            assertTrue(roles.threads.take().startsWith("tcp-role-worker-"), "unmap of a range");
            ResolveCall r = new ResolveCall(1);
            r.count = 1;
            call(r, client.maps()::resolve);
            assertTrue(roles.threads.take().startsWith("tcp-role-server-"), "resolve");
            assertEquals(Status.OK, p.status);
            assertEquals(Status.OK, m.status);
        }
    }

    /** A completion whose caller waits for it (as the front end's bridge does): records its thread. */
    static final class Waiting<C extends RoleCall> implements Completion<C> {
        final Thread owner = Thread.currentThread();
        volatile C call;
        volatile Thread ranOn;
        int completions;

        @Override
        public synchronized void complete(C c) {
            completions++;
            ranOn = Thread.currentThread();
            call = c;
            notifyAll();
        }

        @Override
        public boolean callerWaits() {
            return Thread.currentThread() == owner;
        }

        synchronized C await(long ms) throws InterruptedException {
            long end = System.nanoTime() + ms * 1_000_000L;
            while (call == null && System.nanoTime() < end) {
                wait(Math.max(1, (end - System.nanoTime()) / 1_000_000L));
            }
            return call;
        }
    }

    /**
     * A caller that waits for its call and finds nobody reading reads its own reply: the completion has
     * run on its thread when the call returns (no other thread woken). Calls sent by callers that do
     * not wait are read by the connection's reader thread, as before.
     */
    @Test
    void aWaitingCallerReadsItsOwnReply() throws Exception {
        EchoRoles roles = new EchoRoles();
        try (TcpRoleServer server = new TcpRoleServer(roles, roles, 0);
                TcpRoleClient client = new TcpRoleClient("127.0.0.1", server.port(), 5_000)) {
            for (int i = 0; i < 50; i++) {
                ResolveCall r = new ResolveCall(4);
                r.volume = 2;
                r.firstBlock = i;
                r.count = 4;
                Waiting<ResolveCall> w = new Waiting<>();
                client.maps().resolve(r, w);
                assertSame(r, w.call, "completed before the call returned, round " + i);
                assertSame(Thread.currentThread(), w.ranOn, "on the caller's thread, round " + i);
                assertEquals(Status.OK, r.status);
                assertEquals(2_000_000L + i + 3, r.handles[3]);
                MapCall m = new MapCall(1);
                m.count = 1;
                m.handles[0] = i;
                Waiting<MapCall> wm = new Waiting<>();
                client.maps().map(m, wm);
                assertSame(Thread.currentThread(), wm.ranOn, "a map too, round " + i);
                assertEquals(EchoRoles.replaced(m, 0), m.replaced[0]);
            }
            AtomicReference<Thread> ranOn = new AtomicReference<>();
            ResolveCall r = new ResolveCall(1);
            r.count = 1;
            call(r, (c, done) -> client.maps().resolve(c, x -> {
                ranOn.set(Thread.currentThread());
                done.complete(x);
            }));
            assertTrue(ranOn.get().getName().startsWith("tcp-role-client-"), "a caller that does not wait");
        }
        roles.seen.clear();
    }

    /**
     * A waiting caller reading for a reply that never comes: its call fails at its deadline, and the
     * connection closes (only a close ends its read); the next call connects again.
     */
    @Test
    void aWaitingCallerWhoseReplyNeverComesFailsAtItsDeadline() throws Exception {
        EchoRoles roles = new EchoRoles();
        try (TcpRoleServer server = new TcpRoleServer(roles, roles, 0);
                TcpRoleClient client = new TcpRoleClient("127.0.0.1", server.port(), 300)) {
            roles.hold = true;
            ResolveCall r = new ResolveCall(1);
            r.count = 1;
            Waiting<ResolveCall> w = new Waiting<>();
            long t0 = System.nanoTime();
            client.maps().resolve(r, w);
            assertSame(r, w.await(5_000));
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertEquals(Status.TIMED_OUT, r.status);
            assertEquals(1, w.completions);
            assertTrue(ms >= 290 && ms < 5_000, "ended by the 300 ms deadline: " + ms + " ms");
            roles.hold = false;
            roles.held.take().run(); // the late reply: its connection is gone
            ResolveCall again = new ResolveCall(1);
            again.count = 1;
            again.volume = 4;
            Waiting<ResolveCall> w2 = new Waiting<>();
            client.maps().resolve(again, w2);
            assertSame(again, w2.await(5_000));
            assertEquals(Status.OK, again.status, "a new connection");
            assertEquals(4_000_000L, again.handles[0]);
            assertEquals(1, w.completions, "the first call completed once");
        }
    }

    @Test
    void noWaitIsAnsweredWouldBlockAtOnceWithoutARoundTrip() throws Exception {
        EchoRoles roles = new EchoRoles();
        roles.hold = true; // a call that reached the server would never end
        try (TcpRoleServer server = new TcpRoleServer(roles, roles, 0);
                TcpRoleClient client = new TcpRoleClient("127.0.0.1", server.port(), 5_000)) {
            FetchCall f = new FetchCall(1);
            f.count = 1;
            f.noWait = true;
            call(f, client.data()::fetch);
            assertEquals(Status.WOULD_BLOCK, f.status);
            ResolveCall r = new ResolveCall(1);
            r.count = 1;
            r.noWait = true;
            call(r, client.maps()::resolve);
            assertEquals(Status.WOULD_BLOCK, r.status);
            assertTrue(roles.seen.isEmpty());
        }
    }

    @Test
    void oversizedRequestsAndRolesThatThrowFailTheCallNotTheServer() throws Exception {
        EchoRoles roles = new EchoRoles();
        try (TcpRoleServer server = new TcpRoleServer(roles, roles, 0);
                TcpRoleClient client = new TcpRoleClient("127.0.0.1", server.port(), 5_000)) {
            DerefCall big = new DerefCall(TcpRoleServer.MAX_DEREF_HANDLES + 1);
            big.count = TcpRoleServer.MAX_DEREF_HANDLES + 1;
            call(big, client.data()::deref);
            assertEquals(Status.MEDIUM_ERROR, big.status, "refused before the role");
            PutCall fat = new PutCall(TcpRoleServer.MAX_BLOCKS + 1);
            fat.count = 1;
            fat.lengths[0] = B + 1;
            call(fat, client.data()::put);
            assertEquals(Status.MEDIUM_ERROR, fat.status);
            fat.count = TcpRoleServer.MAX_BLOCKS + 1;
            fat.lengths[0] = 0;
            call(fat, client.data()::put);
            assertEquals(Status.MEDIUM_ERROR, fat.status);
            ResolveCall many = new ResolveCall(1);
            many.count = TcpRoleServer.MAX_BLOCKS + 1;
            call(many, client.maps()::resolve);
            assertEquals(Status.MEDIUM_ERROR, many.status);
            assertTrue(roles.seen.isEmpty());

            roles.fail = true;
            PutCall p = new PutCall(1);
            p.count = 1;
            call(p, client.data()::put);
            assertEquals(Status.MEDIUM_ERROR, p.status, "a worker's call");
            ResolveCall r = new ResolveCall(1);
            r.count = 1;
            call(r, client.maps()::resolve);
            assertEquals(Status.MEDIUM_ERROR, r.status, "an inline call");

            roles.fail = false;
            DerefCall ok = new DerefCall(1);
            ok.count = 1;
            call(ok, client.data()::deref);
            assertEquals(Status.OK, ok.status, "the server still serves");
        }
    }

    @Test
    void nobodyListeningIsUnreachableAtOnceAndNothingIsSent() throws Exception {
        int port;
        try (ServerSocketChannel gone = ServerSocketChannel.open()) {
            gone.bind(new InetSocketAddress("127.0.0.1", 0));
            port = gone.socket().getLocalPort();
        } // closed: connections to it are refused
        try (TcpRoleClient client = new TcpRoleClient("127.0.0.1", port, 10_000)) {
            MapCall m = new MapCall(1);
            m.count = 1;
            long ms = call(m, client.maps()::map);
            assertEquals(Status.UNREACHABLE, m.status, "not sent: the router may send it again");
            assertTrue(ms < 2_000, "refused at once, not at the deadline: " + ms + " ms");
        }
    }

    @Test
    void aMissedDeadlineIsNoReplyAndTheLateReplyIsDropped() throws Exception {
        EchoRoles roles = new EchoRoles();
        try (TcpRoleServer server = new TcpRoleServer(roles, roles, 0);
                TcpRoleClient client = new TcpRoleClient("127.0.0.1", server.port(), 300)) {
            roles.hold = true;
            ResolveCall r = new ResolveCall(1);
            r.count = 1;
            long ms = call(r, client.maps()::resolve);
            assertEquals(Status.TIMED_OUT, r.status, "sent, not answered by its deadline: it may still be applied");
            assertTrue(ms >= 290 && ms < 5_000, "ended by the 300 ms deadline: " + ms + " ms");
            PutCall p = new PutCall(1);
            p.count = 1;
            ms = call(p, client.data()::put);
            assertEquals(Status.TIMED_OUT, p.status);

            roles.hold = false;
            roles.held.take().run(); // the late replies come, find no call, and are dropped
            roles.held.take().run();
            ResolveCall again = new ResolveCall(2);
            again.count = 2;
            again.volume = 3;
            call(again, client.maps()::resolve);
            assertEquals(Status.OK, again.status, "the connection goes on");
            assertEquals(3_000_000L + 1, again.handles[1]);
            assertEquals(Status.TIMED_OUT, r.status, "the late reply changed nothing");
        }
    }

    /**
     * A peer that accepts and never reads: the socket buffers fill, a caller waiting for room gives up
     * at its call's deadline, and every call completes exactly once as TIMED_OUT; none is completed
     * while its thread is still encoding it into a frame (review: a completed call object reused by its
     * owner was then sent, a deref twice).
     */
    @Test
    void aPeerThatReadsNothingFailsEveryCallOnceAtItsDeadline() throws Exception {
        try (ServerSocketChannel silent = ServerSocketChannel.open()) {
            silent.bind(new InetSocketAddress("127.0.0.1", 0));
            List<SocketChannel> accepted = new ArrayList<>();
            Thread acceptor = Thread.ofPlatform().daemon().start(() -> {
                try {
                    while (true) {
                        accepted.add(silent.accept()); // and never read
                    }
                } catch (java.io.IOException e) {
                    // closed
                }
            });
            int calls = 60;
            int[] completions = new int[calls];
            Status[] statuses = new Status[calls];
            long t0 = System.nanoTime();
            try (TcpRoleClient client =
                    new TcpRoleClient("127.0.0.1", silent.socket().getLocalPort(), 300)) {
                PutCall[] puts = new PutCall[calls];
                for (int i = 0; i < calls; i++) {
                    PutCall p = new PutCall(64);
                    p.count = 64;
                    for (int j = 0; j < 64; j++) {
                        p.lengths[j] = BlockCodec.BLOCK_BYTES; // 264 KB a frame: the buffers fill fast
                    }
                    p.header(1, i + 1, 1);
                    puts[i] = p;
                    int k = i;
                    client.data().put(p, c -> {
                        synchronized (completions) {
                            completions[k]++;
                            statuses[k] = c.status;
                            completions.notifyAll();
                        }
                    });
                }
                long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                synchronized (completions) {
                    while (java.util.Arrays.stream(completions).anyMatch(n -> n == 0) && System.nanoTime() < end) {
                        completions.wait(100);
                    }
                }
            }
            for (int i = 0; i < calls; i++) {
                assertEquals(1, completions[i], "call " + i + " completed once");
                assertEquals(Status.TIMED_OUT, statuses[i], "call " + i);
            }
            assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(20), "bounded by the deadlines");
            for (SocketChannel c : accepted) {
                c.close();
            }
            acceptor.interrupt();
        }
    }

    @Test
    void aClosedServerFailsTheCallsInFlight() throws Exception {
        EchoRoles roles = new EchoRoles();
        TcpRoleServer server = new TcpRoleServer(roles, roles, 0);
        try (TcpRoleClient client = new TcpRoleClient("127.0.0.1", server.port(), 10_000)) {
            roles.hold = true;
            List<CompletableFuture<RoleCall>> pending = new ArrayList<>();
            List<RoleCall> calls = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                CompletableFuture<RoleCall> f = new CompletableFuture<>();
                if (i % 2 == 0) {
                    ResolveCall r = new ResolveCall(1);
                    r.count = 1;
                    calls.add(r);
                    client.maps().resolve(r, f::complete);
                } else {
                    MapCall m = new MapCall(1);
                    m.count = 1;
                    calls.add(m);
                    client.maps().map(m, f::complete);
                }
                pending.add(f);
            }
            for (int i = 0; i < 4; i++) {
                roles.seen.take(); // all four reached the role
            }
            long t0 = System.nanoTime();
            server.close();
            for (int i = 0; i < 4; i++) {
                assertSame(calls.get(i), pending.get(i).get(5, TimeUnit.SECONDS));
                assertEquals(Status.NO_REPLY, calls.get(i).status);
            }
            assertTrue(System.nanoTime() - t0 < 8_000_000_000L, "before any deadline");
            ResolveCall after = new ResolveCall(1);
            after.count = 1;
            call(after, client.maps()::resolve);
            assertEquals(Status.UNREACHABLE, after.status, "nothing listens: fails at once");
        }
    }

    /** A well-formed probe request frame of one fingerprint, as the client would send it. */
    private static ByteBuffer probeFrame(long requestId) {
        ByteBuffer b = ByteBuffer.allocate(256).order(ByteOrder.LITTLE_ENDIAN);
        Frame.putHeader(b, Frame.PROBE, requestId);
        b.putLong(1).putLong(2).putInt(3).putInt(1).put(new byte[32]);
        Frame.seal(b, 0, new CRC32C());
        return b.flip();
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 4, 6, 8, 12, 16, 24, 44, 60})
    void aCorruptFrameClosesTheConnectionAndTheServerGoesOn(int flipAt) throws Exception {
        EchoRoles roles = new EchoRoles();
        try (TcpRoleServer server = new TcpRoleServer(roles, roles, 0);
                SocketChannel raw = SocketChannel.open(new InetSocketAddress("127.0.0.1", server.port()))) {
            ByteBuffer good = probeFrame(77);
            raw.write(good);
            ByteBuffer reply = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
            while (reply.position() < Frame.HEADER_BYTES + 6) {
                assertTrue(raw.read(reply) > 0);
            }
            assertEquals(Frame.MAGIC, reply.getInt(0));
            assertEquals(Frame.PROBE | Frame.REPLY, reply.get(6) & 0xFF);
            assertEquals(77, reply.getLong(16));
            assertEquals(Frame.code(Status.OK), reply.get(24));

            ByteBuffer bad = probeFrame(78);
            bad.put(flipAt, (byte) (bad.get(flipAt) ^ 0x40));
            raw.write(bad);
            reply.clear();
            raw.socket().setSoTimeout(5_000);
            assertEquals(-1, readToEnd(raw), "flip at " + flipAt + ": the server closed the connection");
            assertEquals(1, roles.seen.size(), "the corrupt request never reached the role");

            try (TcpRoleClient client = new TcpRoleClient("127.0.0.1", server.port(), 5_000)) {
                DerefCall ok = new DerefCall(1);
                ok.count = 1;
                call(ok, client.data()::deref);
                assertEquals(Status.OK, ok.status, "the server still serves");
            }
        }
    }

    private static int readToEnd(SocketChannel ch) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(1024);
        long until = System.nanoTime() + 5_000_000_000L;
        while (System.nanoTime() < until) {
            b.clear();
            int n = ch.read(b);
            if (n < 0) {
                return n;
            }
        }
        return 0;
    }

    @Test
    void aCorruptReplyFailsTheCallsOnThatConnectionAndTheNextCallConnectsAgain() throws Exception {
        try (ServerSocketChannel fake = ServerSocketChannel.open()) {
            fake.bind(new InetSocketAddress("127.0.0.1", 0));
            int port = ((InetSocketAddress) fake.getLocalAddress()).getPort();
            Thread peer = Thread.ofPlatform().daemon().start(() -> {
                try (SocketChannel ch = fake.accept()) {
                    ByteBuffer in = ByteBuffer.allocate(4096).order(ByteOrder.LITTLE_ENDIAN);
                    while (in.position() < Frame.HEADER_BYTES) {
                        ch.read(in);
                    }
                    long id = in.getLong(16);
                    ByteBuffer r = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
                    Frame.putHeader(r, Frame.RESOLVE | Frame.REPLY, id);
                    r.put(Frame.code(Status.OK)).putInt(0);
                    Frame.seal(r, 0, new CRC32C());
                    r.put(25, (byte) 1); // after the CRC: corrupt
                    ch.write(r.flip());
                    Thread.sleep(10_000);
                } catch (Exception e) {
                    // the client closed
                }
            });
            try (TcpRoleClient client = new TcpRoleClient("127.0.0.1", port, 10_000)) {
                ResolveCall r = new ResolveCall(1);
                long ms = call(r, client.maps()::resolve);
                assertEquals(Status.NO_REPLY, r.status, "the connection ended with the corrupt frame");
                assertTrue(ms < 5_000, "failed by the corrupt frame, not the deadline: " + ms);
            }
            peer.interrupt();
        }
    }

    /**
     * Callers that wait for each call (reading their own replies when nobody else reads) alongside
     * callers with 16 calls in flight (read by the reader thread): every call gets its own reply once.
     */
    @ParameterizedTest
    @ValueSource(longs = {21, 22})
    void waitingCallersAndPipeliningCallersTogetherEachGetTheirOwnReply(long seed) throws Exception {
        EchoRoles roles = new EchoRoles();
        int calls = 1500;
        try (TcpRoleServer server = new TcpRoleServer(roles, roles, 0);
                TcpRoleClient client = new TcpRoleClient("127.0.0.1", server.port(), 10_000)) {
            List<Thread> ts = new ArrayList<>();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            for (int t = 0; t < 6; t++) {
                long s = seed * 1000 + t;
                boolean waits = t % 3 != 0;
                ts.add(Thread.ofPlatform().start(() -> {
                    try {
                        if (waits) {
                            waitingCaller(client, new SplittableRandom(s), calls, "seed=" + seed + " thread_seed=" + s);
                        } else {
                            caller(client, new SplittableRandom(s), calls, "seed=" + seed + " thread_seed=" + s);
                        }
                    } catch (Throwable e) {
                        failure.compareAndSet(null, e);
                    }
                }));
            }
            for (Thread t : ts) {
                t.join(60_000);
                assertFalse(t.isAlive(), "seed=" + seed + " a caller is stuck");
            }
            if (failure.get() != null) {
                throw new AssertionError("seed=" + seed, failure.get());
            }
        }
        roles.seen.clear();
    }

    /** One waiting caller's loop: one call at a time, each checked when it completes. */
    private static void waitingCaller(TcpRoleClient client, SplittableRandom rnd, int n, String at) throws Exception {
        for (int i = 0; i < n; i++) {
            if (rnd.nextBoolean()) {
                MapCall m = new MapCall(64);
                m.volume = rnd.nextInt(100);
                m.firstBlock = rnd.nextLong(1L << 30);
                m.count = 1 + rnd.nextInt(64);
                for (int k = 0; k < m.count; k++) {
                    m.handles[k] = rnd.nextLong();
                }
                Waiting<MapCall> w = new Waiting<>();
                client.maps().map(m, w);
                assertSame(m, w.await(15_000), at);
                assertEquals(Status.OK, m.status, at);
                assertEquals(1, w.completions, at);
                for (int b = 0; b < m.count; b++) {
                    assertEquals(EchoRoles.replaced(m, b), m.replaced[b], at);
                }
            } else {
                ResolveCall r = new ResolveCall(64);
                r.volume = rnd.nextInt(100);
                r.firstBlock = rnd.nextLong(1L << 30);
                r.count = 1 + rnd.nextInt(64);
                Waiting<ResolveCall> w = new Waiting<>();
                client.maps().resolve(r, w);
                assertSame(r, w.await(15_000), at);
                assertEquals(Status.OK, r.status, at);
                assertEquals(1, w.completions, at);
                for (int b = 0; b < r.count; b++) {
                    assertEquals(r.volume * 1_000_000L + r.firstBlock + b, r.handles[b], at);
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(longs = {11, 12})
    void manyCallersAtOnceEachGetTheirOwnReply(long seed) throws Exception {
        EchoRoles roles = new EchoRoles();
        int threads = 8;
        int calls = 1500;
        try (TcpRoleServer server = new TcpRoleServer(roles, roles, 0);
                TcpRoleClient client = new TcpRoleClient("127.0.0.1", server.port(), 10_000)) {
            List<Thread> ts = new ArrayList<>();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            for (int t = 0; t < threads; t++) {
                long s = seed * 1000 + t;
                ts.add(Thread.ofPlatform().start(() -> {
                    try {
                        caller(client, new SplittableRandom(s), calls, "seed=" + seed + " thread_seed=" + s);
                    } catch (Throwable e) {
                        failure.compareAndSet(null, e);
                    }
                }));
            }
            for (Thread t : ts) {
                t.join(60_000);
                assertFalse(t.isAlive(), "seed=" + seed + " a caller is stuck");
            }
            if (failure.get() != null) {
                throw new AssertionError("seed=" + seed, failure.get());
            }
        }
        roles.seen.clear();
    }

    /** One caller's loop: up to 16 calls in flight, each checked when it completes. */
    private static void caller(TcpRoleClient client, SplittableRandom rnd, int n, String at) throws Exception {
        List<CompletableFuture<RoleCall>> inFlight = new ArrayList<>();
        List<RoleCall> sent = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            CompletableFuture<RoleCall> f = new CompletableFuture<>();
            if (rnd.nextBoolean()) {
                MapCall m = new MapCall(64);
                m.volume = rnd.nextInt(100);
                m.firstBlock = rnd.nextLong(1L << 30);
                m.count = 1 + rnd.nextInt(64);
                for (int k = 0; k < m.count; k++) {
                    m.handles[k] = rnd.nextLong();
                }
                client.maps().map(m, f::complete);
                sent.add(m);
            } else {
                ResolveCall r = new ResolveCall(64);
                r.volume = rnd.nextInt(100);
                r.firstBlock = rnd.nextLong(1L << 30);
                r.count = 1 + rnd.nextInt(64);
                client.maps().resolve(r, f::complete);
                sent.add(r);
            }
            inFlight.add(f);
            if (inFlight.size() == 16 || i == n - 1) {
                for (int k = 0; k < inFlight.size(); k++) {
                    RoleCall c = inFlight.get(k).get(15, TimeUnit.SECONDS);
                    assertSame(sent.get(k), c, at);
                    assertEquals(Status.OK, c.status, at);
                    if (c instanceof MapCall m) {
                        for (int b = 0; b < m.count; b++) {
                            assertEquals(EchoRoles.replaced(m, b), m.replaced[b], at);
                        }
                    } else {
                        ResolveCall r = (ResolveCall) c;
                        for (int b = 0; b < r.count; b++) {
                            assertEquals(r.volume * 1_000_000L + r.firstBlock + b, r.handles[b], at);
                        }
                    }
                }
                inFlight.clear();
                sent.clear();
            }
        }
    }
}
