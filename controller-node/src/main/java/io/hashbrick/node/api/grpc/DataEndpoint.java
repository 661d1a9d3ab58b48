package io.hashbrick.node.api.grpc;

import com.google.protobuf.ByteString;
import io.grpc.stub.StreamObserver;
import io.hashbrick.node.api.BlockCodec;
import io.hashbrick.node.api.DataService;
import io.hashbrick.node.api.DerefCall;
import io.hashbrick.node.api.FetchCall;
import io.hashbrick.node.api.ProbeCall;
import io.hashbrick.node.api.PutCall;
import io.hashbrick.node.api.Status;
import io.hashbrick.proto.roles.v1.DataServiceGrpc;
import io.hashbrick.proto.roles.v1.DerefReply;
import io.hashbrick.proto.roles.v1.DerefRequest;
import io.hashbrick.proto.roles.v1.FetchReply;
import io.hashbrick.proto.roles.v1.FetchRequest;
import io.hashbrick.proto.roles.v1.FetchedBlock;
import io.hashbrick.proto.roles.v1.ProbeReply;
import io.hashbrick.proto.roles.v1.ProbeRequest;
import io.hashbrick.proto.roles.v1.PutBlock;
import io.hashbrick.proto.roles.v1.PutReply;
import io.hashbrick.proto.roles.v1.PutRequest;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;

/**
 * The server side of D's gRPC binding: each request's fields go into a pooled call object (its
 * buffers allocated once), the call goes to the {@link DataService} behind, and its completion answers
 * the RPC. Requests are checked before anything reaches the role: at most
 * {@link GrpcRoleServer#MAX_BLOCKS} blocks, 32-byte fingerprints, stored blocks of 1..4096 bytes.
 */
final class DataEndpoint extends DataServiceGrpc.DataServiceImplBase {
    private static final int FP = BlockCodec.FINGERPRINT_BYTES;
    private static final int B = BlockCodec.BLOCK_BYTES;
    private static final int MAX = GrpcRoleServer.MAX_BLOCKS;
    private static final int MAX_DEREF = GrpcRoleServer.MAX_DEREF_HANDLES;

    private final DataService data;
    private final Pool<Exchange<ProbeCall, ProbeReply>> probes;
    private final Pool<Exchange<PutCall, PutReply>> puts;
    private final Pool<Exchange<DerefCall, DerefReply>> derefs;
    private final Pool<Exchange<FetchCall, FetchReply>> fetches;

    DataEndpoint(DataService data, int pooled) {
        this.data = data;
        probes = new Pool<>(pooled, this::newProbe);
        puts = new Pool<>(pooled, this::newPut);
        derefs = new Pool<>(pooled, this::newDeref);
        fetches = new Pool<>(pooled, this::newFetch);
    }

    @Override
    public void probe(ProbeRequest req, StreamObserver<ProbeReply> out) {
        ByteString fps = req.getFingerprints();
        int n = fps.size() / FP;
        if (fps.size() % FP != 0 || n > MAX) {
            Refuse.invalid(out, "probe", "fingerprint_bytes=" + fps.size() + " max_blocks=" + MAX);
            return;
        }
        Exchange<ProbeCall, ProbeReply> x = probes.take().start(out);
        ProbeCall c = x.call;
        Wire.header(req.getHeader(), c);
        c.count = n;
        MemorySegment.copy(MemorySegment.ofBuffer(fps.asReadOnlyByteBuffer()), 0, c.fingerprints, 0, fps.size());
        try {
            data.probe(c, x);
        } catch (RuntimeException e) {
            x.failed("probe", e);
        }
    }

    @Override
    public void put(PutRequest req, StreamObserver<PutReply> out) {
        int n = req.getBlocksCount();
        if (n > MAX) {
            Refuse.invalid(out, "put", "blocks=" + n + " max_blocks=" + MAX);
            return;
        }
        for (int i = 0; i < n; i++) {
            PutBlock b = req.getBlocks(i);
            if (b.getFingerprint().size() != FP || b.getData().size() > B) {
                Refuse.invalid(
                        out,
                        "put",
                        "block=" + i + " fingerprint_bytes="
                                + b.getFingerprint().size() + " data_bytes="
                                + b.getData().size() + " max_data_bytes=" + B);
                return;
            }
        }
        Exchange<PutCall, PutReply> x = puts.take().start(out);
        PutCall c = x.call;
        Wire.header(req.getHeader(), c);
        c.count = n;
        for (int i = 0; i < n; i++) {
            PutBlock b = req.getBlocks(i);
            b.getFingerprint().copyTo(c.fingerprintBytes, i * FP);
            int len = b.getData().size();
            c.lengths[i] = len;
            if (len > 0) {
                c.data.put(i * BlockCodec.MAX_COMPRESSED_BYTES, b.getData().asReadOnlyByteBuffer(), 0, len);
            }
        }
        try {
            data.put(c, x);
        } catch (RuntimeException e) {
            x.failed("put", e);
        }
    }

    @Override
    public void deref(DerefRequest req, StreamObserver<DerefReply> out) {
        int n = req.getHandlesCount();
        int positions = req.getPositionsCount();
        if (n > MAX_DEREF || (positions != 0 && positions != n)) {
            Refuse.invalid(out, "deref", "handles=" + n + " positions=" + positions + " max_handles=" + MAX_DEREF);
            return;
        }
        Exchange<DerefCall, DerefReply> x = derefs.take().start(out);
        DerefCall c = x.call;
        Wire.header(req.getHeader(), c);
        c.count = n;
        c.duplicate = false;
        c.positioned = positions > 0;
        for (int i = 0; i < n; i++) {
            c.handles[i] = req.getHandles(i);
        }
        for (int i = 0; i < positions; i++) {
            c.positions[i] = req.getPositions(i);
        }
        try {
            data.deref(c, x);
        } catch (RuntimeException e) {
            x.failed("deref", e);
        }
    }

    @Override
    public void fetch(FetchRequest req, StreamObserver<FetchReply> out) {
        int n = req.getHandlesCount();
        if (n > MAX) {
            Refuse.invalid(out, "fetch", "handles=" + n + " max_blocks=" + MAX);
            return;
        }
        Exchange<FetchCall, FetchReply> x = fetches.take().start(out);
        FetchCall c = x.call;
        Wire.header(req.getHeader(), c);
        c.count = n;
        for (int i = 0; i < n; i++) {
            c.handles[i] = req.getHandles(i);
            c.blockStatus[i] = null; // set by the role per block; unset ones are not answered as OK
        }
        try {
            data.fetch(c, x);
        } catch (RuntimeException e) {
            x.failed("fetch", e);
        }
    }

    private Exchange<ProbeCall, ProbeReply> newProbe() {
        ProbeCall c = new ProbeCall(MAX);
        c.fingerprints = MemorySegment.ofArray(new byte[MAX * FP]);
        return new Exchange<>(c, probes) {
            @Override
            ProbeReply reply(ProbeCall p) {
                byte[] known = new byte[(p.count + 7) / 8]; // bit i % 8 of byte i / 8
                for (int i = 0; i < p.count; i++) {
                    if (p.known[i]) {
                        known[i >>> 3] |= (byte) (1 << (i & 7));
                    }
                }
                return ProbeReply.newBuilder()
                        .setStatus(Wire.toWire(p.status))
                        .setKnown(ByteString.copyFrom(known))
                        .build();
            }
        };
    }

    private Exchange<PutCall, PutReply> newPut() {
        return new Exchange<>(new PutCall(MAX), puts) {
            @Override
            PutReply reply(PutCall p) {
                PutReply.Builder r = PutReply.newBuilder().setStatus(Wire.toWire(p.status));
                if (p.status == Status.OK) {
                    for (int i = 0; i < p.count; i++) {
                        r.addHandles(p.handles[i]);
                    }
                } else if (p.status == Status.NEED_DATA) {
                    for (int i = 0; i < p.count; i++) {
                        r.addBlockStatus(Wire.toWire(p.blockStatus[i] == null ? Status.OK : p.blockStatus[i]));
                    }
                }
                return r.build();
            }
        };
    }

    private Exchange<DerefCall, DerefReply> newDeref() {
        return new Exchange<>(new DerefCall(MAX_DEREF), derefs) {
            @Override
            DerefReply reply(DerefCall d) {
                return DerefReply.newBuilder()
                        .setStatus(Wire.toWire(d.status))
                        .setDuplicate(d.duplicate)
                        .build();
            }
        };
    }

    private Exchange<FetchCall, FetchReply> newFetch() {
        FetchCall c = new FetchCall(MAX);
        c.dst = ByteBuffer.allocateDirect(MAX * B);
        c.dstOffset = 0;
        return new Exchange<>(c, fetches) {
            @Override
            FetchReply reply(FetchCall f) {
                FetchReply.Builder r = FetchReply.newBuilder().setStatus(Wire.toWire(f.status));
                for (int i = 0; i < f.count; i++) {
                    Status s = f.blockStatus[i] == null ? Status.MEDIUM_ERROR : f.blockStatus[i];
                    FetchedBlock.Builder b = FetchedBlock.newBuilder().setStatus(Wire.toWire(s));
                    if (s == Status.OK) {
                        b.setData(ByteString.copyFrom(f.dst.slice(f.dstOffset + i * B, B)));
                    }
                    r.addBlocks(b);
                }
                return r.build();
            }
        };
    }
}
