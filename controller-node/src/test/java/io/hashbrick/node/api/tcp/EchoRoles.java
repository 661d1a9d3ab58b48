package io.hashbrick.node.api.tcp;

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
import io.hashbrick.node.api.RoleCall;
import io.hashbrick.node.api.Status;
import io.hashbrick.node.api.UnmapCall;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * A D and C whose every reply field is a function of the request's fields ({@code expect*} computes
 * the same in the test), so a field lost or garbled on the wire shows; or that answers {@link #answer}
 * as the status, holds calls unanswered ({@link #hold}), or throws ({@link #fail}).
 */
final class EchoRoles implements DataService, MapService {
    static final int B = BlockCodec.BLOCK_BYTES;

    volatile Status answer;
    volatile boolean hold;
    volatile boolean fail;
    final LinkedBlockingQueue<UnmapCall> seen = new LinkedBlockingQueue<>();
    final LinkedBlockingQueue<Runnable> held = new LinkedBlockingQueue<>();
    /** The name of the server thread each call reached the role on, in order. */
    final LinkedBlockingQueue<String> threads = new LinkedBlockingQueue<>();

    private <C extends RoleCall> boolean scripted(C c, Completion<? super C> done) {
        UnmapCall h = new UnmapCall();
        h.header(c.epoch, c.operationId, c.sender);
        seen.add(h);
        threads.add(Thread.currentThread().getName());
        if (fail) {
            throw new IllegalStateException("scripted failure");
        }
        if (hold) {
            held.add(() -> done.complete(c));
            return true;
        }
        if (answer != null) {
            c.status = answer;
            done.complete(c);
            return true;
        }
        return false;
    }

    static long fpLong(byte[] fps, int i) {
        long v = 0;
        for (int k = 0; k < 8; k++) {
            v = v << 8 | (fps[i * 32 + k] & 0xFF);
        }
        return v;
    }

    static long putHandle(long fp, int len, byte last) {
        return fp ^ ((long) len << 20) ^ last;
    }

    static long derefSum(DerefCall d) {
        long s = d.count * 7L + (d.positioned ? 1 : 0);
        for (int i = 0; i < d.count; i++) {
            s = s * 31 + d.handles[i] + (d.positioned ? d.positions[i] * 17 : 0);
        }
        return s;
    }

    volatile long lastDerefSum;

    @Override
    public void probe(ProbeCall c, Completion<? super ProbeCall> done) {
        if (!scripted(c, done)) {
            for (int i = 0; i < c.count; i++) {
                c.known[i] = (c.fingerprints.get(ValueLayout.JAVA_BYTE, i * 32L + 31) & 1) == 1;
            }
            done.complete(c);
        }
    }

    @Override
    public void put(PutCall c, Completion<? super PutCall> done) {
        if (scripted(c, done)) {
            return;
        }
        boolean needData = c.epoch == 99;
        for (int i = 0; i < c.count; i++) {
            int len = c.lengths[i];
            byte last = len > 0 ? c.data.get(i * BlockCodec.MAX_COMPRESSED_BYTES + len - 1) : 0;
            c.handles[i] = putHandle(fpLong(c.fingerprintBytes, i), len, last);
            c.blockStatus[i] = needData && len == 0 ? Status.NEED_DATA : null;
        }
        c.status = needData ? Status.NEED_DATA : Status.OK;
        done.complete(c);
    }

    @Override
    public void deref(DerefCall c, Completion<? super DerefCall> done) {
        if (!scripted(c, done)) {
            lastDerefSum = derefSum(c);
            c.duplicate = c.positioned;
            done.complete(c);
        }
    }

    @Override
    public void fetch(FetchCall c, Completion<? super FetchCall> done) {
        if (scripted(c, done)) {
            return;
        }
        c.status = Status.OK;
        for (int i = 0; i < c.count; i++) {
            long h = c.handles[i];
            if (h < 0) {
                c.blockStatus[i] = Status.STALE_HANDLE;
                c.status = Status.STALE_HANDLE;
            } else {
                for (int j = 0; j < B; j++) {
                    c.dst.put(c.dstOffset + i * B + j, (byte) (h + j));
                }
                c.blockStatus[i] = Status.OK;
            }
        }
        done.complete(c);
    }

    static long replaced(MapCall m, int i) {
        return m.handles[i] * 3 + (m.conditional ? m.expected[i] : 0) + m.volume + m.firstBlock;
    }

    @Override
    public void map(MapCall c, Completion<? super MapCall> done) {
        if (!scripted(c, done)) {
            for (int i = 0; i < c.count; i++) {
                c.replaced[i] = replaced(c, i);
            }
            done.complete(c);
        }
    }

    @Override
    public void resolve(ResolveCall c, Completion<? super ResolveCall> done) {
        if (!scripted(c, done)) {
            for (int i = 0; i < c.count; i++) {
                c.handles[i] = c.volume * 1_000_000L + c.firstBlock + i;
            }
            done.complete(c);
        }
    }

    @Override
    public void unmap(UnmapCall c, Completion<? super UnmapCall> done) {
        if (!scripted(c, done)) {
            c.unmapped = c.count + (c.countRun ? 1 : 0);
            c.run = -c.firstBlock;
            done.complete(c);
        }
    }
}
