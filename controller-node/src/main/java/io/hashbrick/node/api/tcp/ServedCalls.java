package io.hashbrick.node.api.tcp;

import static io.hashbrick.node.api.tcp.Frame.HEADER_BYTES;

import io.hashbrick.node.api.BlockCodec;
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
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.concurrent.Executor;

/**
 * The server side of the seven calls ({@link Frame} has the layouts): what each request copies into
 * its call object and each reply copies out, the same fields as the gRPC binding's DataEndpoint and
 * MapEndpoint, with the same limits checked before a call reaches the role.
 */
final class ServedCalls {
    private static final int FP = BlockCodec.FINGERPRINT_BYTES;
    private static final int B = BlockCodec.BLOCK_BYTES;
    private static final int MAX = TcpRoleServer.MAX_BLOCKS;
    private static final int MAX_DEREF = TcpRoleServer.MAX_DEREF_HANDLES;

    private ServedCalls() {}

    static final class Probe extends Served<ProbeCall> {
        private final DataService data;

        Probe(DataService data, Pool<Served<?>> home) {
            super(newProbe(), Frame.PROBE, home);
            this.data = data;
        }

        private static ProbeCall newProbe() {
            ProbeCall c = new ProbeCall(MAX);
            c.fingerprints = MemorySegment.ofArray(new byte[MAX * FP]);
            return c;
        }

        @Override
        void decode(ByteBuffer in) throws CorruptFrameException {
            int n = Frame.count(in, MAX, "fingerprints");
            call.count = n;
            MemorySegment.copy(MemorySegment.ofBuffer(in), 0, call.fingerprints, 0, (long) n * FP);
            in.position(in.position() + n * FP);
        }

        @Override
        void invoke() {
            data.probe(call, this);
        }

        @Override
        boolean inline() {
            return true;
        }

        @Override
        int replyBytes() {
            return HEADER_BYTES + 5 + (call.count + 7) / 8;
        }

        @Override
        void encodeReply(ByteBuffer out) {
            out.put(Frame.code(call.status)).putInt(call.count);
            int at = out.position();
            for (int i = 0; i < call.count; i += 8) {
                int bits = 0;
                for (int j = i; j < Math.min(call.count, i + 8); j++) {
                    bits |= call.known[j] ? 1 << (j & 7) : 0;
                }
                out.put(at + (i >>> 3), (byte) bits);
            }
            out.position(at + (call.count + 7) / 8);
        }
    }

    static final class Put extends Served<PutCall> {
        private final DataService data;
        private final boolean inline;

        Put(DataService data, boolean inline, Pool<Served<?>> home) {
            super(new PutCall(MAX), Frame.PUT, home);
            this.data = data;
            this.inline = inline;
        }

        @Override
        void decode(ByteBuffer in) throws CorruptFrameException {
            int n = Frame.count(in, MAX, "blocks");
            call.count = n;
            for (int i = 0; i < n; i++) {
                in.get(call.fingerprintBytes, i * FP, FP);
                int len = in.getInt();
                if (len < 0 || len > B) {
                    throw new CorruptFrameException("reason=bad_block block=" + i + " data_bytes="
                            + Integer.toUnsignedString(len) + " max_data_bytes=" + B);
                }
                call.lengths[i] = len;
                if (len > 0) {
                    call.data.put(i * BlockCodec.MAX_COMPRESSED_BYTES, in, in.position(), len);
                    in.position(in.position() + len);
                }
            }
        }

        @Override
        void invoke() {
            data.put(call, this);
        }

        @Override
        boolean inline() {
            return inline;
        }

        @Override
        int replyBytes() {
            return HEADER_BYTES + 5 + call.count * 8;
        }

        @Override
        void encodeReply(ByteBuffer out) {
            Status s = call.status;
            out.put(Frame.code(s));
            if (s == Status.OK) {
                out.putInt(call.count);
                for (int i = 0; i < call.count; i++) {
                    out.putLong(call.handles[i]);
                }
            } else if (s == Status.NEED_DATA) {
                out.putInt(call.count);
                for (int i = 0; i < call.count; i++) {
                    Status b = call.blockStatus[i];
                    out.put(Frame.code(b == null ? Status.OK : b));
                }
            } else {
                out.putInt(0);
            }
        }
    }

    static final class Deref extends Served<DerefCall> {
        private final DataService data;
        private final boolean inline;

        Deref(DataService data, boolean inline, Pool<Served<?>> home) {
            super(new DerefCall(MAX_DEREF), Frame.DEREF, home);
            this.data = data;
            this.inline = inline;
        }

        @Override
        void decode(ByteBuffer in) throws CorruptFrameException {
            int n = Frame.count(in, MAX_DEREF, "handles");
            call.count = n;
            call.duplicate = false;
            call.positioned = in.get() != 0;
            for (int i = 0; i < n; i++) {
                call.handles[i] = in.getLong();
            }
            if (call.positioned) {
                for (int i = 0; i < n; i++) {
                    call.positions[i] = in.getLong();
                }
            }
        }

        @Override
        void invoke() {
            data.deref(call, this);
        }

        @Override
        boolean inline() {
            return inline;
        }

        @Override
        int replyBytes() {
            return HEADER_BYTES + 2;
        }

        @Override
        void encodeReply(ByteBuffer out) {
            out.put(Frame.code(call.status)).put((byte) (call.duplicate ? 1 : 0));
        }
    }

    /**
     * A fetch is tried inline first with {@code noWait} (blocks in D's memory are answered without a
     * hand-off); only one that would need an SSD read goes to the workers, without it.
     */
    static final class Fetch extends Served<FetchCall> {
        private final DataService data;
        private final Executor workers;

        Fetch(DataService data, Executor workers, Pool<Served<?>> home) {
            super(newFetch(), Frame.FETCH, home);
            this.data = data;
            this.workers = workers;
        }

        private static FetchCall newFetch() {
            FetchCall c = new FetchCall(MAX);
            c.dst = ByteBuffer.allocateDirect(MAX * B);
            c.dstOffset = 0;
            return c;
        }

        @Override
        void decode(ByteBuffer in) throws CorruptFrameException {
            int n = Frame.count(in, MAX, "handles");
            call.count = n;
            call.noWait = true;
            for (int i = 0; i < n; i++) {
                call.handles[i] = in.getLong();
                call.blockStatus[i] = null; // set by the role per block; unset ones are not answered as OK
            }
        }

        @Override
        void invoke() {
            data.fetch(call, this);
        }

        @Override
        boolean inline() {
            return true;
        }

        @Override
        public void complete(FetchCall c) {
            if (c.noWait && c.status == Status.WOULD_BLOCK) { // needs an SSD: again on a worker, may wait
                c.noWait = false;
                c.status = Status.OK;
                for (int i = 0; i < c.count; i++) {
                    c.blockStatus[i] = null;
                }
                TcpRoleServer.submit(workers, this);
                return;
            }
            super.complete(c);
        }

        @Override
        int replyBytes() {
            return HEADER_BYTES + 5 + call.count * (1 + B);
        }

        @Override
        void encodeReply(ByteBuffer out) {
            out.put(Frame.code(call.status)).putInt(call.count);
            for (int i = 0; i < call.count; i++) {
                Status s = call.blockStatus[i] == null ? Status.MEDIUM_ERROR : call.blockStatus[i];
                out.put(Frame.code(s));
                if (s == Status.OK) {
                    out.put(out.position(), call.dst, call.dstOffset + i * B, B);
                    out.position(out.position() + B);
                }
            }
        }
    }

    static final class Map extends Served<MapCall> {
        private final MapService maps;
        private final boolean inline;

        Map(MapService maps, boolean inline, Pool<Served<?>> home) {
            super(new MapCall(MAX), Frame.MAP, home);
            this.maps = maps;
            this.inline = inline;
        }

        @Override
        void decode(ByteBuffer in) throws CorruptFrameException {
            call.volume = in.getInt();
            call.firstBlock = in.getLong();
            int n = Frame.count(in, MAX, "handles");
            call.count = n;
            call.conditional = in.get() != 0;
            for (int i = 0; i < n; i++) {
                call.handles[i] = in.getLong();
            }
            for (int i = 0; i < n; i++) {
                call.expected[i] = call.conditional ? in.getLong() : 0;
            }
        }

        @Override
        void invoke() {
            maps.map(call, this);
        }

        @Override
        boolean inline() {
            return inline;
        }

        @Override
        int replyBytes() {
            return HEADER_BYTES + 5 + call.count * 8;
        }

        @Override
        void encodeReply(ByteBuffer out) {
            handles(out, call.status, call.count, call.replaced);
        }
    }

    static final class Resolve extends Served<ResolveCall> {
        private final MapService maps;

        Resolve(MapService maps, Pool<Served<?>> home) {
            super(new ResolveCall(MAX), Frame.RESOLVE, home);
            this.maps = maps;
        }

        @Override
        void decode(ByteBuffer in) throws CorruptFrameException {
            call.volume = in.getInt();
            call.firstBlock = in.getLong();
            call.count = Frame.count(in, MAX, "count");
            call.noWait = false;
        }

        @Override
        void invoke() {
            maps.resolve(call, this);
        }

        @Override
        boolean inline() {
            return true; // C's map is memory, under a lock never held across I/O
        }

        @Override
        int replyBytes() {
            return HEADER_BYTES + 5 + call.count * 8;
        }

        @Override
        void encodeReply(ByteBuffer out) {
            handles(out, call.status, call.count, call.handles);
        }
    }

    static final class Unmap extends Served<UnmapCall> {
        private final MapService maps;

        Unmap(MapService maps, Pool<Served<?>> home) {
            super(new UnmapCall(), Frame.UNMAP, home);
            this.maps = maps;
        }

        @Override
        void decode(ByteBuffer in) {
            call.volume = in.getInt();
            call.firstBlock = in.getLong();
            call.count = in.getLong();
            call.countRun = in.get() != 0;
            call.unmapped = 0;
            call.run = 0;
        }

        @Override
        void invoke() {
            maps.unmap(call, this);
        }

        @Override
        boolean inline() {
            return call.countRun; // a query of the map changes nothing and waits for no journal
        }

        @Override
        int replyBytes() {
            return HEADER_BYTES + 17;
        }

        @Override
        void encodeReply(ByteBuffer out) {
            out.put(Frame.code(call.status)).putLong(call.unmapped).putLong(call.run);
        }
    }

    private static void handles(ByteBuffer out, Status s, int n, long[] handles) {
        out.put(Frame.code(s));
        if (s == Status.OK) {
            out.putInt(n);
            for (int i = 0; i < n; i++) {
                out.putLong(handles[i]);
            }
        } else {
            out.putInt(0);
        }
    }
}
