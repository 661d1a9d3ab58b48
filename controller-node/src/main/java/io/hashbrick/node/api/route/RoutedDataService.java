package io.hashbrick.node.api.route;

import io.hashbrick.node.Log;
import io.hashbrick.node.api.BlockCodec;
import io.hashbrick.node.api.Completion;
import io.hashbrick.node.api.DataService;
import io.hashbrick.node.api.DerefCall;
import io.hashbrick.node.api.FetchCall;
import io.hashbrick.node.api.Handles;
import io.hashbrick.node.api.ProbeCall;
import io.hashbrick.node.api.PutCall;
import io.hashbrick.node.api.RoleCall;
import io.hashbrick.node.api.Status;
import io.hashbrick.routing.placement.Placement;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.function.IntUnaryOperator;

/**
 * D as the front end and C's outbox see it in a cluster: each call goes to the owner of its buckets at
 * the newest map held here, split into one piece per owner when its blocks belong to several (pieces
 * run in parallel; their answers are merged into the caller's call), every piece stamped with the
 * map's epoch. A piece refused as STALE_EPOCH or NOT_OWNER did nothing and goes again at a newer map
 * ({@link Retry}); other answers go to the caller.
 *
 * <p>A put stays all or nothing, as D's own put is: when a piece fails, the references the other
 * pieces took are given back (a deref from {@code giveBackSender}, never de-duplicated) before the call
 * completes with the failure. A deref batch from a controller's outbox is split with each handle's
 * outbox position ({@link DerefCall#positioned}), so each owner applies every position once whatever
 * the other owners answered. A read that must not wait ({@link FetchCall#noWait}) is answered
 * WOULD_BLOCK when any of its blocks lives on another controller.
 *
 * <p>The single-owner case passes the caller's call object through; a split allocates (its pieces'
 * call objects are pooled).
 */
public final class RoutedDataService implements DataService {
    /** Blocks a probe, put or fetch piece holds at most (a remote owner takes 64 a call). */
    static final int PIECE_BLOCKS = 64;
    /** Handles a deref piece holds at most: one outbox batch. */
    static final int PIECE_HANDLES = 4096;

    /**
     * Whether probes go to other controllers too (-Dhashbrick.route.probe-remote=true): off by default,
     * so a write to another controller's bucket takes one hop (the put with its data) instead of two.
     */
    static final boolean PROBE_REMOTE = Boolean.getBoolean("hashbrick.route.probe-remote");

    private static final int FP = BlockCodec.FINGERPRINT_BYTES;
    private static final int B = BlockCodec.BLOCK_BYTES;
    private static final int MAXC = BlockCodec.MAX_COMPRESSED_BYTES;

    private final RouteSource routes;
    private final RolePeers peers;
    private final int giveBackSender;
    private final Pieces<ProbeCall> probes = new Pieces<>(() -> new ProbeCall(PIECE_BLOCKS));
    private final Pieces<PutCall> puts = new Pieces<>(() -> new PutCall(PIECE_BLOCKS));
    private final Pieces<FetchCall> fetches = new Pieces<>(() -> {
        FetchCall f = new FetchCall(PIECE_BLOCKS);
        f.dst = ByteBuffer.allocate(PIECE_BLOCKS * B);
        return f;
    });
    private final Pieces<DerefCall> derefs = new Pieces<>(() -> new DerefCall(PIECE_HANDLES));

    private final RouteCounts counts;

    public RoutedDataService(RouteSource routes, RolePeers peers, int giveBackSender, RouteCounts counts) {
        this.routes = routes;
        this.peers = peers;
        this.giveBackSender = giveBackSender;
        this.counts = counts;
    }

    // ---------------------------------------------------------------- probe

    @Override
    public void probe(ProbeCall call, Completion<? super ProbeCall> done) {
        call.routedSinceNs = System.nanoTime();
        probe(call, done, 1);
    }

    private void probe(ProbeCall call, Completion<? super ProbeCall> done, int attempt) {
        Routes r = routes.current();
        if (r == null) {
            noMap(call, done, attempt, () -> probe(call, done, attempt + 1));
            return;
        }
        int n = call.count;
        int owner = n == 0 ? r.self() : fpOwner(r, call.fingerprints, 0);
        for (int i = 1; i < n && owner >= 0; i++) {
            if (fpOwner(r, call.fingerprints, i) != owner) {
                owner = -1;
            }
        }
        if (owner >= 0 && owner != r.self() && !PROBE_REMOTE) {
            // A probe is a hint (which blocks to compress and send); a round trip to another controller
            // costs more than sending the compressed block with the put, whose owner dedups it anyway.
            for (int i = 0; i < n; i++) {
                call.known[i] = false;
            }
            call.status = Status.OK;
            counts.probesSkipped.add(n);
            done.complete(call);
            return;
        }
        if (owner >= 0) {
            call.epoch = r.epoch();
            counts.data(r, owner);
            try {
                peers.data(owner).probe(call, new Forward<ProbeCall>(done) {
                    @Override
                    public void complete(ProbeCall c) {
                        if (again(r, c, attempt, true)) {
                            Retry.later(attempt + 1, () -> probe(c, done, attempt + 1));
                        } else {
                            done.complete(c);
                        }
                    }
                });
            } catch (RuntimeException e) {
                failed("probe", owner, call, done, e);
            }
            return;
        }
        int[] own = owners(n, i -> fpOwner(r, call.fingerprints, i));
        int[][] groups = groups(own, n);
        Join join = new Join(groups.length);
        counts.splits.increment();
        call.status = Status.OK;
        for (int[] idx : groups) {
            ProbeCall p = probes.take();
            MemorySegment fps = MemorySegment.ofArray(new byte[idx.length * FP]);
            for (int j = 0; j < idx.length; j++) {
                MemorySegment.copy(call.fingerprints, (long) idx[j] * FP, fps, (long) j * FP, FP);
            }
            p.fingerprints = fps;
            p.count = idx.length;
            p.header(r.epoch(), call.operationId, call.sender);
            p.routedSinceNs = call.routedSinceNs;
            probe(
                    p,
                    pc -> {
                        for (int j = 0; j < idx.length; j++) {
                            call.known[idx[j]] = pc.known[j];
                        }
                        join.status(pc.status);
                        probes.give(pc);
                        if (join.arrive()) {
                            call.status = join.result();
                            done.complete(call);
                        }
                    },
                    attempt);
        }
    }

    // ---------------------------------------------------------------- put

    @Override
    public void put(PutCall call, Completion<? super PutCall> done) {
        call.routedSinceNs = System.nanoTime();
        put(call, done, 1);
    }

    private void put(PutCall call, Completion<? super PutCall> done, int attempt) {
        Routes r = routes.current();
        if (r == null) {
            noMap(call, done, attempt, () -> put(call, done, attempt + 1));
            return;
        }
        int n = call.count;
        int owner = n == 0 ? r.self() : fpOwner(r, call.fingerprints, 0);
        for (int i = 1; i < n && owner >= 0; i++) {
            if (fpOwner(r, call.fingerprints, i) != owner) {
                owner = -1;
            }
        }
        if (owner >= 0) {
            call.epoch = r.epoch();
            counts.data(r, owner);
            try {
                peers.data(owner).put(call, new Forward<PutCall>(done) {
                    @Override
                    public void complete(PutCall c) {
                        if (again(r, c, attempt, true)) { // a second reference can only leak
                            Retry.later(attempt + 1, () -> put(c, done, attempt + 1));
                        } else {
                            done.complete(c);
                        }
                    }
                });
            } catch (RuntimeException e) {
                failed("put", owner, call, done, e);
            }
            return;
        }
        int[] own = owners(n, i -> fpOwner(r, call.fingerprints, i));
        int[][] groups = groups(own, n);
        Join join = new Join(groups.length);
        counts.splits.increment();
        PutCall[] answered = new PutCall[groups.length];
        call.status = Status.OK;
        for (int g = 0; g < groups.length; g++) {
            int[] idx = groups[g];
            int slot = g;
            PutCall p = idx.length <= PIECE_BLOCKS ? puts.take() : new PutCall(idx.length);
            for (int j = 0; j < idx.length; j++) {
                int i = idx[j];
                MemorySegment.copy(call.fingerprints, (long) i * FP, p.fingerprints, (long) j * FP, FP);
                int len = call.lengths[i];
                p.lengths[j] = len;
                if (len > 0) {
                    MemorySegment.copy(call.dataSegment, (long) i * MAXC, p.dataSegment, (long) j * MAXC, len);
                }
            }
            p.count = idx.length;
            p.header(r.epoch(), call.operationId, call.sender);
            p.routedSinceNs = call.routedSinceNs;
            put(
                    p,
                    pc -> {
                        for (int j = 0; j < idx.length; j++) {
                            call.handles[idx[j]] = pc.handles[j];
                            call.blockStatus[idx[j]] = pc.blockStatus[j];
                        }
                        answered[slot] = pc;
                        join.status(pc.status);
                        if (join.arrive()) {
                            putJoined(call, done, answered, join.result());
                        }
                    },
                    attempt);
        }
    }

    /** Every piece answered: done if all took their references, else the ones that did give them back. */
    private void putJoined(PutCall call, Completion<? super PutCall> done, PutCall[] answered, Status result) {
        if (result == Status.OK) {
            for (PutCall p : answered) {
                release(p);
            }
            call.status = Status.OK;
            done.complete(call);
            return;
        }
        Status worst = Status.NEED_DATA;
        int back = 0;
        for (PutCall p : answered) {
            if (p.status == Status.OK) {
                back += p.count;
            } else if (p.status != Status.NEED_DATA) {
                worst = p.status;
            }
        }
        Status failed = worst;
        if (back == 0) {
            finishFailedPut(call, done, answered, failed);
            return;
        }
        DerefCall undo = new DerefCall(back);
        int k = 0;
        for (PutCall p : answered) {
            if (p.status == Status.OK) {
                System.arraycopy(p.handles, 0, undo.handles, k, p.count);
                k += p.count;
            }
        }
        undo.count = k;
        undo.header(0, call.operationId, giveBackSender);
        deref(undo, u -> {
            if (u.status != Status.OK) {
                Log.error(
                        "put_give_back_failed",
                        "status=" + u.status + " references=" + u.count + " operation_id=" + call.operationId
                                + " effect=references_leaked");
            }
            finishFailedPut(call, done, answered, failed);
        });
    }

    private void finishFailedPut(PutCall call, Completion<? super PutCall> done, PutCall[] answered, Status failed) {
        for (PutCall p : answered) {
            release(p);
        }
        call.status = failed;
        done.complete(call);
    }

    private void release(PutCall p) {
        if (p.maxBlocks == PIECE_BLOCKS) {
            puts.give(p);
        }
    }

    // ---------------------------------------------------------------- deref

    @Override
    public void deref(DerefCall call, Completion<? super DerefCall> done) {
        call.routedSinceNs = System.nanoTime();
        deref(call, done, 1);
    }

    private void deref(DerefCall call, Completion<? super DerefCall> done, int attempt) {
        Routes r = routes.current();
        if (r == null) {
            noMap(call, done, attempt, () -> deref(call, done, attempt + 1));
            return;
        }
        int n = call.count;
        int owner = n == 0 ? r.self() : r.handleOwner(call.handles[0]);
        for (int i = 1; i < n && owner >= 0; i++) {
            if (r.handleOwner(call.handles[i]) != owner) {
                owner = -1;
            }
        }
        if (owner >= 0) {
            call.epoch = r.epoch();
            counts.data(r, owner);
            try {
                peers.data(owner).deref(call, c -> {
                    if (again(r, c, attempt, c.sender > DerefCall.CONTROLLER_SENDER)) { // positioned: once per owner
                        Retry.later(attempt + 1, () -> deref(c, done, attempt + 1));
                    } else {
                        done.complete(c);
                    }
                });
            } catch (RuntimeException e) {
                failed("deref", owner, call, done, e);
            }
            return;
        }
        int[] own = owners(n, i -> r.handleOwner(call.handles[i]));
        int[][] groups = groups(own, n);
        boolean positioned = call.sender > DerefCall.CONTROLLER_SENDER; // a controller's outbox: de-duplicated
        Join join = new Join(groups.length);
        counts.splits.increment();
        boolean[] duplicate = {true};
        call.status = Status.OK;
        for (int[] idx : groups) {
            DerefCall p = idx.length <= PIECE_HANDLES ? derefs.take() : new DerefCall(idx.length);
            for (int j = 0; j < idx.length; j++) {
                int i = idx[j];
                p.handles[j] = call.handles[i];
                p.positions[j] = call.positioned ? call.positions[i] : call.operationId - n + i;
            }
            p.count = idx.length;
            p.positioned = positioned;
            p.duplicate = false;
            p.header(r.epoch(), call.operationId, call.sender);
            p.routedSinceNs = call.routedSinceNs;
            deref(
                    p,
                    pc -> {
                        join.status(pc.status);
                        boolean dup = pc.duplicate;
                        if (pc.handles.length == PIECE_HANDLES) {
                            derefs.give(pc);
                        }
                        synchronized (duplicate) {
                            duplicate[0] &= dup;
                        }
                        if (join.arrive()) {
                            call.status = join.result();
                            synchronized (duplicate) {
                                call.duplicate = duplicate[0] && n > 0;
                            }
                            done.complete(call);
                        }
                    },
                    attempt);
        }
    }

    // ---------------------------------------------------------------- fetch

    @Override
    public void fetch(FetchCall call, Completion<? super FetchCall> done) {
        call.routedSinceNs = System.nanoTime();
        fetch(call, done, 1);
    }

    private void fetch(FetchCall call, Completion<? super FetchCall> done, int attempt) {
        Routes r = routes.current();
        if (r == null && call.noWait) {
            call.status = Status.WOULD_BLOCK; // the caller must not wait, not even for a map
            done.complete(call);
            return;
        }
        if (r == null) {
            noMap(call, done, attempt, () -> fetch(call, done, attempt + 1));
            return;
        }
        int n = call.count;
        int owner = n == 0 ? r.self() : handleOrSelf(r, call.handles[0]);
        for (int i = 1; i < n && owner >= 0; i++) {
            if (handleOrSelf(r, call.handles[i]) != owner) {
                owner = -1;
            }
        }
        if (call.noWait && owner != r.self()) {
            call.status = Status.WOULD_BLOCK; // another controller holds a block: a round trip is a wait
            done.complete(call);
            return;
        }
        if (owner >= 0) {
            call.epoch = r.epoch();
            counts.data(r, owner);
            try {
                peers.data(owner).fetch(call, new Forward<FetchCall>(done) {
                    @Override
                    public void complete(FetchCall c) {
                        if (c.noWait && Retry.retryable(c.status)) {
                            c.status = Status.WOULD_BLOCK; // a map change: the caller goes again from a worker
                            done.complete(c);
                        } else if (again(r, c, attempt, true)) {
                            Retry.later(attempt + 1, () -> fetch(c, done, attempt + 1));
                        } else {
                            done.complete(c);
                        }
                    }
                });
            } catch (RuntimeException e) {
                failed("fetch", owner, call, done, e);
            }
            return;
        }
        int[] own = owners(n, i -> handleOrSelf(r, call.handles[i]));
        int[][] groups = groups(own, n);
        Join join = new Join(groups.length);
        counts.splits.increment();
        call.status = Status.OK;
        for (int[] idx : groups) {
            FetchCall p;
            if (idx.length <= PIECE_BLOCKS) {
                p = fetches.take();
            } else {
                p = new FetchCall(idx.length);
                p.dst = ByteBuffer.allocate(idx.length * B);
            }
            for (int j = 0; j < idx.length; j++) {
                p.handles[j] = call.handles[idx[j]];
            }
            p.count = idx.length;
            p.dstOffset = 0;
            p.noWait = false;
            p.header(r.epoch(), call.operationId, call.sender);
            p.routedSinceNs = call.routedSinceNs;
            fetch(
                    p,
                    pc -> {
                        for (int j = 0; j < idx.length; j++) {
                            call.blockStatus[idx[j]] = pc.blockStatus[j];
                            call.dst.put(call.dstOffset + idx[j] * B, pc.dst, j * B, B);
                        }
                        join.status(pc.status);
                        if (pc.handles.length == PIECE_BLOCKS) {
                            fetches.give(pc);
                        }
                        if (join.arrive()) {
                            call.status = join.result();
                            done.complete(call);
                        }
                    },
                    attempt);
        }
    }

    // ---------------------------------------------------------------- routing arithmetic

    private static int fpOwner(Routes r, MemorySegment fps, int i) {
        return r.bucketOwner(Placement.bucket(fps, (long) i * FP));
    }

    /** A handle's owner; "no block" (zeros) is served by this controller's D. */
    private static int handleOrSelf(Routes r, long handle) {
        return handle == Handles.NONE ? r.self() : r.handleOwner(handle);
    }

    static int[] owners(int n, IntUnaryOperator ownerOf) {
        int[] own = new int[n];
        for (int i = 0; i < n; i++) {
            own[i] = ownerOf.applyAsInt(i);
        }
        return own;
    }

    /** The indices of {@code own} grouped by owner, each group in ascending order (positions stay ascending). */
    static int[][] groups(int[] own, int n) {
        int[] distinct = new int[Math.min(n, 256)];
        int[] sizes = new int[distinct.length];
        int k = 0;
        for (int i = 0; i < n; i++) {
            int g = 0;
            while (g < k && distinct[g] != own[i]) {
                g++;
            }
            if (g == k) {
                if (k == distinct.length) {
                    distinct = java.util.Arrays.copyOf(distinct, k * 2);
                    sizes = java.util.Arrays.copyOf(sizes, k * 2);
                }
                distinct[k++] = own[i];
            }
            sizes[g]++;
        }
        int[][] groups = new int[k][];
        int[] fill = new int[k];
        for (int g = 0; g < k; g++) {
            groups[g] = new int[sizes[g]];
        }
        for (int i = 0; i < n; i++) {
            int g = 0;
            while (distinct[g] != own[i]) {
                g++;
            }
            groups[g][fill[g]++] = i;
        }
        return groups;
    }

    /**
     * Whether a piece's answer sends it again (asking for a newer map first): a refusal that did nothing,
     * or an owner not reached when the call is {@code repeatable} (see {@link Retry#again}).
     */
    private boolean again(Routes r, RoleCall c, int attempt, boolean repeatable) {
        Status s = c.status;
        if (!Retry.goesAgain(s, repeatable)) {
            return false;
        }
        routes.stale(r.epoch());
        counts.retries.increment();
        if (!Retry.again(s, repeatable, attempt, c.routedSinceNs)) {
            Log.warn("route_gave_up", "status=" + s + " epoch=" + r.epoch() + " attempts=" + attempt);
            return false;
        }
        return true;
    }

    /** A binding threw instead of answering: the call fails (MEDIUM_ERROR), once, with a log line. */
    static <C extends io.hashbrick.node.api.RoleCall> void failed(
            String rpc, int owner, C call, Completion<? super C> done, RuntimeException e) {
        Log.error(
                "route_call_failed",
                "rpc=" + rpc + " owner=c" + owner + " operation_id=" + call.operationId + " status=MEDIUM_ERROR error="
                        + Log.q(e));
        call.status = Status.MEDIUM_ERROR;
        done.complete(call);
    }

    /** No map yet (the placement is not committed here): retry later, then refuse as NOT_OWNER. */
    static <C extends io.hashbrick.node.api.RoleCall> void noMap(
            C call, Completion<? super C> done, int attempt, Runnable again) {
        if (attempt >= Retry.MAX_ATTEMPTS) {
            Log.warn("route_no_map", "attempts=" + attempt + " status=NOT_OWNER");
            call.status = Status.NOT_OWNER;
            done.complete(call);
        } else {
            Retry.later(Math.max(3, attempt + 1), again);
        }
    }
}
