package io.hashbrick.node.api.grpc;

import com.google.protobuf.ByteString;
import io.grpc.Channel;
import io.hashbrick.node.api.BlockCodec;
import io.hashbrick.node.api.Completion;
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
import java.util.concurrent.TimeUnit;

/**
 * D over gRPC: each call is one unary RPC on an async stub (a bidirectional stream would save gRPC's
 * per-call set-up; unary is this step's choice), bounded by a deadline. The caller's call object is
 * encoded into the request, the reply decoded into it, and the caller's {@link Completion} runs on the
 * gRPC thread. Unlike the in-process binding this binding allocates per call (messages, byte strings):
 * the price of the wire format, paid only by nodes that choose this transport.
 */
public final class GrpcDataService implements DataService {
    private static final int FP = BlockCodec.FINGERPRINT_BYTES;
    private static final int B = BlockCodec.BLOCK_BYTES;

    private final DataServiceGrpc.DataServiceStub stub;
    private final long deadlineMs;

    public GrpcDataService(Channel channel, long deadlineMs) {
        this.stub = DataServiceGrpc.newStub(channel);
        this.deadlineMs = deadlineMs;
    }

    private DataServiceGrpc.DataServiceStub stub() {
        return stub.withDeadlineAfter(deadlineMs, TimeUnit.MILLISECONDS);
    }

    @Override
    public void probe(ProbeCall call, Completion<? super ProbeCall> done) {
        ProbeRequest req = ProbeRequest.newBuilder()
                .setHeader(Wire.header(call))
                .setFingerprints(ByteString.copyFrom(
                        call.fingerprints.asSlice(0, (long) call.count * FP).asByteBuffer()))
                .build();
        stub().probe(req, new Reply<ProbeCall, ProbeReply>("probe", call, done, deadlineMs) {
            @Override
            void fill(ProbeReply r, ProbeCall c) {
                ByteString known = r.getKnown();
                Status s = Wire.fromWire(r.getStatusValue());
                if (s == Status.OK && known.size() != (c.count + 7) / 8) {
                    s = mismatch("probe", "known_bytes", known.size(), (c.count + 7) / 8);
                }
                if (s == Status.OK) {
                    for (int i = 0; i < c.count; i++) {
                        c.known[i] = (known.byteAt(i >>> 3) & (1 << (i & 7))) != 0;
                    }
                }
                c.status = s;
            }
        });
    }

    @Override
    public void put(PutCall call, Completion<? super PutCall> done) {
        PutRequest.Builder req = PutRequest.newBuilder().setHeader(Wire.header(call));
        for (int i = 0; i < call.count; i++) {
            PutBlock.Builder b =
                    PutBlock.newBuilder().setFingerprint(ByteString.copyFrom(call.fingerprintBytes, i * FP, FP));
            if (call.lengths[i] > 0) {
                b.setData(ByteString.copyFrom(call.data.slice(i * BlockCodec.MAX_COMPRESSED_BYTES, call.lengths[i])));
            }
            req.addBlocks(b);
        }
        stub().put(req.build(), new Reply<PutCall, PutReply>("put", call, done, deadlineMs) {
            @Override
            void fill(PutReply r, PutCall c) {
                Status s = Wire.fromWire(r.getStatusValue());
                if (s == Status.OK && r.getHandlesCount() != c.count) {
                    s = mismatch("put", "handles", r.getHandlesCount(), c.count);
                } else if (s == Status.NEED_DATA && r.getBlockStatusCount() != c.count) {
                    s = mismatch("put", "block_status", r.getBlockStatusCount(), c.count);
                }
                if (s == Status.OK) {
                    for (int i = 0; i < c.count; i++) {
                        c.handles[i] = r.getHandles(i);
                    }
                } else if (s == Status.NEED_DATA) {
                    for (int i = 0; i < c.count; i++) {
                        c.blockStatus[i] = Wire.fromWire(r.getBlockStatusValue(i));
                    }
                }
                c.status = s;
            }
        });
    }

    @Override
    public void deref(DerefCall call, Completion<? super DerefCall> done) {
        DerefRequest.Builder req = DerefRequest.newBuilder().setHeader(Wire.header(call));
        for (int i = 0; i < call.count; i++) {
            req.addHandles(call.handles[i]);
        }
        if (call.positioned) {
            for (int i = 0; i < call.count; i++) {
                req.addPositions(call.positions[i]);
            }
        }
        stub().deref(req.build(), new Reply<DerefCall, DerefReply>("deref", call, done, deadlineMs) {
            @Override
            void fill(DerefReply r, DerefCall c) {
                c.duplicate = r.getDuplicate();
                c.status = Wire.fromWire(r.getStatusValue());
            }
        });
    }

    @Override
    public void fetch(FetchCall call, Completion<? super FetchCall> done) {
        if (call.noWait) { // a round trip is a wait: the caller goes again from a thread that may wait
            call.status = Status.WOULD_BLOCK;
            done.complete(call);
            return;
        }
        FetchRequest.Builder req = FetchRequest.newBuilder().setHeader(Wire.header(call));
        for (int i = 0; i < call.count; i++) {
            req.addHandles(call.handles[i]);
        }
        stub().fetch(req.build(), new Reply<FetchCall, FetchReply>("fetch", call, done, deadlineMs) {
            @Override
            void fill(FetchReply r, FetchCall c) {
                Status s = Wire.fromWire(r.getStatusValue());
                if (r.getBlocksCount() != c.count) {
                    c.status = s == Status.OK ? mismatch("fetch", "blocks", r.getBlocksCount(), c.count) : s;
                    return;
                }
                for (int i = 0; i < c.count; i++) { // block i lands at dst[dstOffset + i * 4096]
                    FetchedBlock b = r.getBlocks(i);
                    Status bs = Wire.fromWire(b.getStatusValue());
                    if (bs == Status.OK && b.getData().size() != B) {
                        bs = mismatch("fetch", "data_bytes", b.getData().size(), B);
                    }
                    if (bs == Status.OK) {
                        c.dst.put(c.dstOffset + i * B, b.getData().asReadOnlyByteBuffer(), 0, B);
                    } else if (s == Status.OK) {
                        s = bs;
                    }
                    c.blockStatus[i] = bs;
                }
                c.status = s;
            }
        });
    }
}
