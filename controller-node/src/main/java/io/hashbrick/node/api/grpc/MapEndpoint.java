package io.hashbrick.node.api.grpc;

import io.grpc.stub.StreamObserver;
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

/** The server side of C's gRPC binding (see {@link DataEndpoint}). */
final class MapEndpoint extends MapServiceGrpc.MapServiceImplBase {
    private static final int MAX = GrpcRoleServer.MAX_BLOCKS;

    private final MapService maps;
    private final Pool<Exchange<MapCall, MapReply>> mapCalls;
    private final Pool<Exchange<ResolveCall, ResolveReply>> resolves;
    private final Pool<Exchange<UnmapCall, UnmapReply>> unmaps;

    MapEndpoint(MapService maps, int pooled) {
        this.maps = maps;
        mapCalls = new Pool<>(pooled, this::newMap);
        resolves = new Pool<>(pooled, this::newResolve);
        unmaps = new Pool<>(pooled, this::newUnmap);
    }

    @Override
    public void map(MapRequest req, StreamObserver<MapReply> out) {
        int n = req.getHandlesCount();
        if (n > MAX || (req.getConditional() && req.getExpectedCount() != n)) {
            Refuse.invalid(
                    out,
                    "map",
                    "handles=" + n + " conditional=" + req.getConditional() + " expected=" + req.getExpectedCount()
                            + " max_blocks=" + MAX);
            return;
        }
        Exchange<MapCall, MapReply> x = mapCalls.take().start(out);
        MapCall c = x.call;
        Wire.header(req.getHeader(), c);
        c.volume = req.getVolume();
        c.firstBlock = req.getFirstBlock();
        c.count = n;
        c.conditional = req.getConditional();
        for (int i = 0; i < n; i++) {
            c.handles[i] = req.getHandles(i);
            c.expected[i] = c.conditional ? req.getExpected(i) : 0;
        }
        try {
            maps.map(c, x);
        } catch (RuntimeException e) {
            x.failed("map", e);
        }
    }

    @Override
    public void resolve(ResolveRequest req, StreamObserver<ResolveReply> out) {
        int n = req.getCount();
        if (n < 0 || n > MAX) { // uint32 on the wire: a count past 2^31 reads negative
            Refuse.invalid(out, "resolve", "count=" + Integer.toUnsignedString(n) + " max_blocks=" + MAX);
            return;
        }
        Exchange<ResolveCall, ResolveReply> x = resolves.take().start(out);
        ResolveCall c = x.call;
        Wire.header(req.getHeader(), c);
        c.volume = req.getVolume();
        c.firstBlock = req.getFirstBlock();
        c.count = n;
        try {
            maps.resolve(c, x);
        } catch (RuntimeException e) {
            x.failed("resolve", e);
        }
    }

    @Override
    public void unmap(UnmapRequest req, StreamObserver<UnmapReply> out) {
        Exchange<UnmapCall, UnmapReply> x = unmaps.take().start(out);
        UnmapCall c = x.call;
        Wire.header(req.getHeader(), c);
        c.volume = req.getVolume();
        c.firstBlock = req.getFirstBlock();
        c.count = req.getCount();
        c.countRun = req.getCountRun();
        c.unmapped = 0;
        c.run = 0;
        try {
            maps.unmap(c, x);
        } catch (RuntimeException e) {
            x.failed("unmap", e);
        }
    }

    private Exchange<MapCall, MapReply> newMap() {
        return new Exchange<>(new MapCall(MAX), mapCalls) {
            @Override
            MapReply reply(MapCall m) {
                MapReply.Builder r = MapReply.newBuilder().setStatus(Wire.toWire(m.status));
                if (m.status == Status.OK) {
                    for (int i = 0; i < m.count; i++) {
                        r.addReplaced(m.replaced[i]);
                    }
                }
                return r.build();
            }
        };
    }

    private Exchange<ResolveCall, ResolveReply> newResolve() {
        return new Exchange<>(new ResolveCall(MAX), resolves) {
            @Override
            ResolveReply reply(ResolveCall r) {
                ResolveReply.Builder b = ResolveReply.newBuilder().setStatus(Wire.toWire(r.status));
                if (r.status == Status.OK) {
                    for (int i = 0; i < r.count; i++) {
                        b.addHandles(r.handles[i]);
                    }
                }
                return b.build();
            }
        };
    }

    private Exchange<UnmapCall, UnmapReply> newUnmap() {
        return new Exchange<>(new UnmapCall(), unmaps) {
            @Override
            UnmapReply reply(UnmapCall u) {
                return UnmapReply.newBuilder()
                        .setStatus(Wire.toWire(u.status))
                        .setUnmapped(u.unmapped)
                        .setRun(u.run)
                        .build();
            }
        };
    }
}
