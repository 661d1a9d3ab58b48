package io.hashbrick.node.api.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hashbrick.node.api.Completion;
import io.hashbrick.node.api.DataService;
import io.hashbrick.node.api.DerefCall;
import io.hashbrick.node.api.FetchCall;
import io.hashbrick.node.api.MapCall;
import io.hashbrick.node.api.MapService;
import io.hashbrick.node.api.ProbeCall;
import io.hashbrick.node.api.PutCall;
import io.hashbrick.node.api.ResolveCall;
import io.hashbrick.node.api.RoleCall;
import io.hashbrick.node.api.Status;
import io.hashbrick.node.api.UnmapCall;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * What the gRPC binding adds to the contracts (the contracts themselves: GrpcRoleContractTest): status
 * mapping, the header on the wire, deadlines, requests refused, a role that throws. Real sockets on
 * 127.0.0.1, against a small hand-written role that answers what the test sets.
 */
class GrpcBindingTest {
    /** A D and C that record each call's header and answer {@code answer}, or keep the call unanswered. */
    static final class ScriptedRoles implements DataService, MapService {
        volatile Status answer = Status.OK;
        volatile boolean hold;
        volatile boolean fail;
        final LinkedBlockingQueue<RoleCall> seen = new LinkedBlockingQueue<>();

        private <C extends RoleCall> void answer(C c, Completion<? super C> done) {
            seen.add(copyHeader(c));
            if (fail) {
                throw new IllegalStateException("scripted failure");
            }
            if (!hold) {
                c.status = answer;
                done.complete(c);
            }
        }

        private static RoleCall copyHeader(RoleCall c) {
            UnmapCall h = new UnmapCall();
            h.header(c.epoch, c.operationId, c.sender);
            return h;
        }

        @Override
        public void probe(ProbeCall call, Completion<? super ProbeCall> done) {
            answer(call, done);
        }

        @Override
        public void put(PutCall call, Completion<? super PutCall> done) {
            answer(call, done);
        }

        @Override
        public void deref(DerefCall call, Completion<? super DerefCall> done) {
            answer(call, done);
        }

        @Override
        public void fetch(FetchCall call, Completion<? super FetchCall> done) {
            answer(call, done);
        }

        @Override
        public void map(MapCall call, Completion<? super MapCall> done) {
            answer(call, done);
        }

        @Override
        public void resolve(ResolveCall call, Completion<? super ResolveCall> done) {
            answer(call, done);
        }

        @Override
        public void unmap(UnmapCall call, Completion<? super UnmapCall> done) {
            answer(call, done);
        }
    }

    @FunctionalInterface
    interface Op<C extends RoleCall> {
        void call(C c, Completion<C> done);
    }

    private static <C extends RoleCall> long callMs(C c, Op<C> op) throws Exception {
        CompletableFuture<RoleCall> done = new CompletableFuture<>();
        long t0 = System.nanoTime();
        op.call(c, done::complete);
        assertSame(c, done.get(15, TimeUnit.SECONDS));
        return (System.nanoTime() - t0) / 1_000_000;
    }

    @Test
    void everyStatusCrossesTheWireByNameAndUnknownOnesAreMediumErrors() {
        for (Status s : Status.values()) {
            assertEquals(s.name(), Wire.toWire(s).name());
            assertEquals(s, Wire.fromWire(Wire.toWire(s).getNumber()));
        }
        assertEquals(Status.MEDIUM_ERROR, Wire.fromWire(0), "STATUS_UNSPECIFIED");
        assertEquals(Status.MEDIUM_ERROR, Wire.fromWire(999), "a status from a newer peer");
        assertEquals(Status.MEDIUM_ERROR, Wire.fromWire(-1));
    }

    @Test
    void headerAndStatusTravelAndAMissedDeadlineIsNoReply() throws Exception {
        ScriptedRoles roles = new ScriptedRoles();
        try (GrpcRoleServer server = new GrpcRoleServer(roles, roles, 0, GrpcRoleServer.Dispatch.SPLIT);
                GrpcRoleClient client = new GrpcRoleClient(server.port(), 300)) {
            MapCall m = new MapCall(1);
            m.header(7, 1234567890123L, 3);
            roles.answer = Status.NOT_OWNER;
            // The first calls of a cold JVM on a loaded machine may pass the 300 ms deadline: warm up.
            for (int i = 0; i < 5; i++) {
                callMs(m, client.maps()::map);
                if (m.status != Status.TIMED_OUT) {
                    break;
                }
                m.header(7, 1234567890123L, 3);
            }
            assertEquals(Status.NOT_OWNER, m.status);
            RoleCall h = roles.seen.take();
            while (!roles.seen.isEmpty()) {
                h = roles.seen.take(); // the header of the call that was answered
            }
            assertEquals(7, h.epoch);
            assertEquals(1234567890123L, h.operationId);
            assertEquals(3, h.sender);

            roles.hold = true; // D never answers: the deadline ends the call
            ResolveCall r = new ResolveCall(1);
            r.header(0, 2, 1);
            r.count = 1;
            long ms = callMs(r, client.maps()::resolve);
            assertEquals(Status.TIMED_OUT, r.status, "sent, not answered by its deadline: it may still be applied");
            assertTrue(ms >= 250 && ms < 5_000, "ended by the 300 ms deadline: " + ms + " ms");
        }
    }

    @Test
    void oversizedRequestsAndRolesThatThrowFailTheCallNotTheServer() throws Exception {
        ScriptedRoles roles = new ScriptedRoles();
        try (GrpcRoleServer server = new GrpcRoleServer(roles, roles, 0, GrpcRoleServer.Dispatch.INLINE);
                GrpcRoleClient client = new GrpcRoleClient(server.port(), 5_000)) {
            DerefCall big = new DerefCall(GrpcRoleServer.MAX_DEREF_HANDLES + 1);
            big.header(0, 1, 1);
            big.count = GrpcRoleServer.MAX_DEREF_HANDLES + 1;
            callMs(big, client.data()::deref);
            assertEquals(Status.MEDIUM_ERROR, big.status, "refused before the role");
            assertTrue(roles.seen.isEmpty());

            roles.fail = true;
            PutCall p = new PutCall(1);
            p.header(0, 2, 1);
            p.count = 1;
            callMs(p, client.data()::put);
            assertEquals(Status.MEDIUM_ERROR, p.status);

            roles.fail = false;
            DerefCall ok = new DerefCall(1);
            ok.header(0, 3, 1);
            ok.count = 1;
            callMs(ok, client.data()::deref);
            assertEquals(Status.OK, ok.status, "the server still serves");
        }
    }
}
