package io.hashbrick.node.api.tcp;

import static io.hashbrick.node.api.tcp.Frame.CALL_HEADER_BYTES;
import static io.hashbrick.node.api.tcp.Frame.HEADER_BYTES;

import io.hashbrick.node.api.BlockCodec;
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
import java.nio.ByteBuffer;

/**
 * The request encoders and reply decoders of the seven calls ({@link Frame} has the layouts), copying
 * the same fields in each direction as the gRPC binding's clients (GrpcDataService, GrpcMapService).
 */
final class ClientCodecs {
    private static final int FP = BlockCodec.FINGERPRINT_BYTES;
    private static final int B = BlockCodec.BLOCK_BYTES;
    private static final int MAX = TcpRoleServer.MAX_BLOCKS;
    private static final int MAX_DEREF = TcpRoleServer.MAX_DEREF_HANDLES;
    private static final int REQ = HEADER_BYTES + CALL_HEADER_BYTES;

    static final ClientCodec PROBE = new ClientCodec(Frame.PROBE) {
        @Override
        String check(RoleCall c) {
            int n = ((ProbeCall) c).count;
            return n < 0 || n > MAX ? "blocks=" + n + " max_blocks=" + MAX : null;
        }

        @Override
        int requestBytes(RoleCall c) {
            return REQ + 4 + ((ProbeCall) c).count * FP;
        }

        @Override
        void encode(RoleCall c, ByteBuffer out) {
            ProbeCall p = (ProbeCall) c;
            out.putInt(p.count);
            int at = out.position();
            long bytes = (long) p.count * FP;
            // the buffer's segment starts at its position
            MemorySegment.copy(p.fingerprints, 0, MemorySegment.ofBuffer(out), 0, bytes);
            out.position(at + (int) bytes);
        }

        @Override
        void decode(ByteBuffer in, RoleCall c) throws CorruptFrameException {
            ProbeCall p = (ProbeCall) c;
            Status s = Frame.getStatus(in);
            int n = Frame.count(in, MAX, "known");
            int bytes = (n + 7) >>> 3;
            if (s == Status.OK && n != p.count) {
                s = mismatch(type, "known", n, p.count);
            }
            if (s == Status.OK) {
                int at = in.position();
                for (int i = 0; i < n; i++) {
                    p.known[i] = (in.get(at + (i >>> 3)) & (1 << (i & 7))) != 0;
                }
            }
            in.position(in.position() + bytes);
            p.status = s;
        }
    };

    static final ClientCodec PUT = new ClientCodec(Frame.PUT) {
        @Override
        String check(RoleCall c) {
            PutCall p = (PutCall) c;
            if (p.count < 0 || p.count > MAX) {
                return "blocks=" + p.count + " max_blocks=" + MAX;
            }
            for (int i = 0; i < p.count; i++) {
                if (p.lengths[i] < 0 || p.lengths[i] > B) {
                    return "block=" + i + " data_bytes=" + p.lengths[i] + " max_data_bytes=" + B;
                }
            }
            return null;
        }

        @Override
        int requestBytes(RoleCall c) {
            PutCall p = (PutCall) c;
            int n = REQ + 4;
            for (int i = 0; i < p.count; i++) {
                n += FP + 4 + p.lengths[i];
            }
            return n;
        }

        @Override
        void encode(RoleCall c, ByteBuffer out) {
            PutCall p = (PutCall) c;
            out.putInt(p.count);
            for (int i = 0; i < p.count; i++) {
                out.put(p.fingerprintBytes, i * FP, FP);
                int len = p.lengths[i];
                out.putInt(len);
                if (len > 0) {
                    out.put(out.position(), p.data, i * BlockCodec.MAX_COMPRESSED_BYTES, len);
                    out.position(out.position() + len);
                }
            }
        }

        @Override
        void decode(ByteBuffer in, RoleCall c) throws CorruptFrameException {
            PutCall p = (PutCall) c;
            Status s = Frame.getStatus(in);
            int m = Frame.count(in, MAX, "handles");
            if (s == Status.OK) {
                if (m != p.count) {
                    s = mismatch(type, "handles", m, p.count);
                    in.position(in.position() + m * 8);
                } else {
                    for (int i = 0; i < m; i++) {
                        p.handles[i] = in.getLong();
                    }
                }
            } else if (s == Status.NEED_DATA) {
                if (m != p.count) {
                    s = mismatch(type, "block_status", m, p.count);
                    in.position(in.position() + m);
                } else {
                    for (int i = 0; i < m; i++) {
                        p.blockStatus[i] = Frame.getStatus(in);
                    }
                }
            } else if (m != 0) {
                throw new CorruptFrameException("reason=bad_payload type=put status=" + s + " entries=" + m);
            }
            p.status = s;
        }
    };

    static final ClientCodec DEREF = new ClientCodec(Frame.DEREF) {
        @Override
        String check(RoleCall c) {
            int n = ((DerefCall) c).count;
            return n < 0 || n > MAX_DEREF ? "handles=" + n + " max_handles=" + MAX_DEREF : null;
        }

        @Override
        int requestBytes(RoleCall c) {
            DerefCall d = (DerefCall) c;
            return REQ + 5 + d.count * (d.positioned ? 16 : 8);
        }

        @Override
        void encode(RoleCall c, ByteBuffer out) {
            DerefCall d = (DerefCall) c;
            out.putInt(d.count).put((byte) (d.positioned ? 1 : 0));
            for (int i = 0; i < d.count; i++) {
                out.putLong(d.handles[i]);
            }
            if (d.positioned) {
                for (int i = 0; i < d.count; i++) {
                    out.putLong(d.positions[i]);
                }
            }
        }

        @Override
        void decode(ByteBuffer in, RoleCall c) {
            DerefCall d = (DerefCall) c;
            Status s = Frame.getStatus(in);
            d.duplicate = in.get() != 0;
            d.status = s;
        }
    };

    static final ClientCodec FETCH = new ClientCodec(Frame.FETCH) {
        @Override
        String check(RoleCall c) {
            int n = ((FetchCall) c).count;
            return n < 0 || n > MAX ? "handles=" + n + " max_blocks=" + MAX : null;
        }

        @Override
        int requestBytes(RoleCall c) {
            return REQ + 4 + ((FetchCall) c).count * 8;
        }

        @Override
        void encode(RoleCall c, ByteBuffer out) {
            FetchCall f = (FetchCall) c;
            out.putInt(f.count);
            for (int i = 0; i < f.count; i++) {
                out.putLong(f.handles[i]);
            }
        }

        @Override
        void decode(ByteBuffer in, RoleCall c) throws CorruptFrameException {
            FetchCall f = (FetchCall) c;
            Status s = Frame.getStatus(in);
            int n = Frame.count(in, MAX, "blocks");
            boolean fits = n == f.count;
            if (!fits && s == Status.OK) {
                s = mismatch(type, "blocks", n, f.count);
            }
            for (int i = 0; i < n; i++) { // block i lands at dst[dstOffset + i * 4096]
                Status bs = Frame.getStatus(in);
                if (bs == Status.OK) {
                    if (fits) {
                        f.dst.put(f.dstOffset + i * B, in, in.position(), B);
                    }
                    in.position(in.position() + B);
                } else if (s == Status.OK) {
                    s = bs;
                }
                if (fits) {
                    f.blockStatus[i] = bs;
                }
            }
            f.status = s;
        }
    };

    static final ClientCodec MAP = new ClientCodec(Frame.MAP) {
        @Override
        String check(RoleCall c) {
            int n = ((MapCall) c).count;
            return n < 0 || n > MAX ? "handles=" + n + " max_blocks=" + MAX : null;
        }

        @Override
        int requestBytes(RoleCall c) {
            MapCall m = (MapCall) c;
            return REQ + 17 + m.count * (m.conditional ? 16 : 8);
        }

        @Override
        void encode(RoleCall c, ByteBuffer out) {
            MapCall m = (MapCall) c;
            out.putInt(m.volume).putLong(m.firstBlock).putInt(m.count).put((byte) (m.conditional ? 1 : 0));
            for (int i = 0; i < m.count; i++) {
                out.putLong(m.handles[i]);
            }
            if (m.conditional) {
                for (int i = 0; i < m.count; i++) {
                    out.putLong(m.expected[i]);
                }
            }
        }

        @Override
        void decode(ByteBuffer in, RoleCall c) throws CorruptFrameException {
            MapCall m = (MapCall) c;
            m.status = handles(in, m.count, m.replaced, type, "replaced");
        }
    };

    static final ClientCodec RESOLVE = new ClientCodec(Frame.RESOLVE) {
        @Override
        String check(RoleCall c) {
            int n = ((ResolveCall) c).count;
            return n < 0 || n > MAX ? "count=" + n + " max_blocks=" + MAX : null;
        }

        @Override
        int requestBytes(RoleCall c) {
            return REQ + 16;
        }

        @Override
        void encode(RoleCall c, ByteBuffer out) {
            ResolveCall r = (ResolveCall) c;
            out.putInt(r.volume).putLong(r.firstBlock).putInt(r.count);
        }

        @Override
        void decode(ByteBuffer in, RoleCall c) throws CorruptFrameException {
            ResolveCall r = (ResolveCall) c;
            r.status = handles(in, r.count, r.handles, type, "handles");
        }
    };

    static final ClientCodec UNMAP = new ClientCodec(Frame.UNMAP) {
        @Override
        String check(RoleCall c) {
            return null;
        }

        @Override
        int requestBytes(RoleCall c) {
            return REQ + 21;
        }

        @Override
        void encode(RoleCall c, ByteBuffer out) {
            UnmapCall u = (UnmapCall) c;
            out.putInt(u.volume).putLong(u.firstBlock).putLong(u.count).put((byte) (u.countRun ? 1 : 0));
        }

        @Override
        void decode(ByteBuffer in, RoleCall c) {
            UnmapCall u = (UnmapCall) c;
            Status s = Frame.getStatus(in);
            u.unmapped = in.getLong();
            u.run = in.getLong();
            u.status = s;
        }
    };

    private ClientCodecs() {}

    /** A status, then m handles (m = want when OK): into {@code into} when they fit. */
    private static Status handles(ByteBuffer in, int want, long[] into, int type, String what)
            throws CorruptFrameException {
        Status s = Frame.getStatus(in);
        int m = Frame.count(in, MAX, what);
        if (s == Status.OK && m != want) {
            s = ClientCodec.mismatch(type, what, m, want);
        }
        if (s == Status.OK) {
            for (int i = 0; i < m; i++) {
                into[i] = in.getLong();
            }
        } else {
            in.position(in.position() + m * 8);
        }
        return s;
    }
}
