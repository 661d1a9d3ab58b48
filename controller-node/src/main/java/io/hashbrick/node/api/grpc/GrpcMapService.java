package io.hashbrick.node.api.grpc;

import io.grpc.Channel;
import io.hashbrick.node.api.Completion;
import io.hashbrick.node.api.MapCall;
import io.hashbrick.node.api.MapService;
import io.hashbrick.node.api.ResolveCall;
import io.hashbrick.node.api.Status;
import io.hashbrick.node.api.UnmapCall;
import io.hashbrick.proto.roles.v1.MapReply;
import io.hashbrick.proto.roles.v1.MapRequest;
import io.hashbrick.proto.roles.v1.MapServiceGrpc;
import io.hashbrick.proto.roles.v1.ResolveReply;
import io.hashbrick.proto.roles.v1.ResolveRequest;
import io.hashbrick.proto.roles.v1.UnmapReply;
import io.hashbrick.proto.roles.v1.UnmapRequest;
import java.util.concurrent.TimeUnit;

/** C over gRPC: unary RPCs on an async stub with a deadline (see {@link GrpcDataService}). */
public final class GrpcMapService implements MapService {
    private final MapServiceGrpc.MapServiceStub stub;
    private final long deadlineMs;

    public GrpcMapService(Channel channel, long deadlineMs) {
        this.stub = MapServiceGrpc.newStub(channel);
        this.deadlineMs = deadlineMs;
    }

    private MapServiceGrpc.MapServiceStub stub() {
        return stub.withDeadlineAfter(deadlineMs, TimeUnit.MILLISECONDS);
    }

    @Override
    public void map(MapCall call, Completion<? super MapCall> done) {
        MapRequest.Builder req = MapRequest.newBuilder()
                .setHeader(Wire.header(call))
                .setVolume(call.volume)
                .setFirstBlock(call.firstBlock)
                .setConditional(call.conditional);
        for (int i = 0; i < call.count; i++) {
            req.addHandles(call.handles[i]);
            if (call.conditional) {
                req.addExpected(call.expected[i]);
            }
        }
        stub().map(req.build(), new Reply<MapCall, MapReply>("map", call, done, deadlineMs) {
            @Override
            void fill(MapReply r, MapCall c) {
                Status s = Wire.fromWire(r.getStatusValue());
                if (s == Status.OK && r.getReplacedCount() != c.count) {
                    s = mismatch("map", "replaced", r.getReplacedCount(), c.count);
                }
                if (s == Status.OK) {
                    for (int i = 0; i < c.count; i++) {
                        c.replaced[i] = r.getReplaced(i);
                    }
                }
                c.status = s;
            }
        });
    }

    @Override
    public void resolve(ResolveCall call, Completion<? super ResolveCall> done) {
        if (call.noWait) { // a round trip is a wait: the caller goes again from a thread that may wait
            call.status = Status.WOULD_BLOCK;
            done.complete(call);
            return;
        }
        ResolveRequest req = ResolveRequest.newBuilder()
                .setHeader(Wire.header(call))
                .setVolume(call.volume)
                .setFirstBlock(call.firstBlock)
                .setCount(call.count)
                .build();
        stub().resolve(req, new Reply<ResolveCall, ResolveReply>("resolve", call, done, deadlineMs) {
            @Override
            void fill(ResolveReply r, ResolveCall c) {
                Status s = Wire.fromWire(r.getStatusValue());
                if (s == Status.OK && r.getHandlesCount() != c.count) {
                    s = mismatch("resolve", "handles", r.getHandlesCount(), c.count);
                }
                if (s == Status.OK) {
                    for (int i = 0; i < c.count; i++) {
                        c.handles[i] = r.getHandles(i);
                    }
                }
                c.status = s;
            }
        });
    }

    @Override
    public void unmap(UnmapCall call, Completion<? super UnmapCall> done) {
        UnmapRequest req = UnmapRequest.newBuilder()
                .setHeader(Wire.header(call))
                .setVolume(call.volume)
                .setFirstBlock(call.firstBlock)
                .setCount(call.count)
                .setCountRun(call.countRun)
                .build();
        stub().unmap(req, new Reply<UnmapCall, UnmapReply>("unmap", call, done, deadlineMs) {
            @Override
            void fill(UnmapReply r, UnmapCall c) {
                c.unmapped = r.getUnmapped();
                c.run = r.getRun();
                c.status = Wire.fromWire(r.getStatusValue());
            }
        });
    }
}
