package io.hashbrick.node.front;

import io.hashbrick.node.Log;
import io.hashbrick.node.api.BlockCodec;
import io.hashbrick.node.api.DataService;
import io.hashbrick.node.api.DerefCall;
import io.hashbrick.node.api.Handles;
import io.hashbrick.node.api.MapCall;
import io.hashbrick.node.api.MapService;
import io.hashbrick.node.api.ProbeCall;
import io.hashbrick.node.api.PutCall;
import io.hashbrick.node.api.Status;
import java.nio.ByteBuffer;

/**
 * R's write path for up to {@link Pipelines#BATCH} whole 4 KiB blocks (DESIGN.md "Write path"):
 *
 * <ol>
 *   <li>zero detection and SHA-256 of each block (zeros are never stored: they unmap);
 *   <li>D {@code probe}: which fingerprints are held (a duplicate is sent without its data);
 *   <li>LZ4 of the others, D {@code put}: one reference per block, durable when answered (again with
 *       data when D lost a block since the probe);
 *   <li>C {@code map}: durable when answered; C queues the replaced handles in its deref outbox;
 *   <li>only then may the host be answered.
 * </ol>
 *
 * A map that fails (volume deleted, a conditional map that lost a race) gives the put's references
 * back at once. One pipeline per thread; it allocates nothing per I/O.
 */
final class WritePipeline {
    /** R's sender id for the derefs it makes itself (C's outbox is sender 0). */
    static final int SENDER = 1;

    private static final int B = BlockCodec.BLOCK_BYTES;
    private static final int PUT_RETRIES = 3;
    /** A write whose map went unanswered is redone this many times (each map waits ~10 s at most). */
    private static final int REDOS = 2;
    /**
     * Only a map whose connection ended soon after it was sent (its owner died) is redone; one that ran
     * into its deadline (an owner alive but stalled) answers NOT READY, and the host decides.
     */
    private static final long REDO_WITHIN_NS = 5_000_000_000L;

    private final DataService data;
    private final MapService maps;
    private final long epoch;
    private final BlockCodec codec = new BlockCodec();
    private final Await await = new Await();
    private final ProbeCall probe = new ProbeCall(Pipelines.BATCH);
    private final PutCall put = new PutCall(Pipelines.BATCH);
    private final MapCall map = new MapCall(Pipelines.BATCH);
    private final DerefCall undo = new DerefCall(Pipelines.BATCH);
    private final int[] putIndex = new int[Pipelines.BATCH];
    private final int[] srcAt = new int[Pipelines.BATCH];
    private long operations;

    WritePipeline(DataService data, MapService maps, long epoch) {
        this.data = data;
        this.maps = maps;
        this.epoch = epoch;
        probe.fingerprints = put.fingerprints;
    }

    /**
     * Writes blocks {@code [block, block + n)} of {@code volume} from {@code src[off ..]}. With {@code
     * expected} non-null, only if the blocks still map {@code expected[0 .. n)} (else MAP_CONFLICT).
     */
    Status write(int volume, long block, int n, ByteBuffer src, int off, long[] expected) {
        return write(volume, block, n, src, off, expected, true);
    }

    /**
     * {@link #write}; with {@code redo} false, a map that got no reply is not redone (NO_REPLY): a
     * COMPARE AND WRITE's redone conditional map would find its own first attempt and report a
     * miscompare for a write that happened. The host gets NOT READY (an undetermined outcome) instead.
     */
    Status write(int volume, long block, int n, ByteBuffer src, int off, long[] expected, boolean redo) {
        int k = 0;
        for (int i = 0; i < n; i++) {
            int at = off + i * B;
            if (BlockCodec.isZero(src, at)) {
                putIndex[i] = -1;
                continue;
            }
            codec.fingerprint(src, at, put.fingerprintBytes, k * BlockCodec.FINGERPRINT_BYTES);
            putIndex[i] = k;
            srcAt[k++] = at;
        }
        for (int attempt = 0; ; attempt++) {
            Status s = putAndMap(volume, block, n, src, k, expected);
            if (s != Status.NO_REPLY
                    || !redo
                    || attempt == REDOS
                    || System.nanoTime() - map.routedSinceNs > REDO_WITHIN_NS) {
                return s; // a map unanswered after a deadline may still be pending at a live owner: not redone
            }
            // The map was sent but not answered (its owner died, say): it may be durable or not. Mapping
            // again alone could replace a handle with itself and drop the put's only reference; the whole
            // write goes again instead (its put takes a reference that the map gives back if the first
            // map held), at the newest map: a reference may leak, no mapped block is ever freed.
            Log.warn(
                    "write_redone",
                    "volume=" + volume + " block=" + block + " blocks=" + n + " redo=" + (attempt + 1)
                            + " reason=map_not_answered");
        }
    }

    private Status putAndMap(int volume, long block, int n, ByteBuffer src, int k, long[] expected) {
        if (k > 0) {
            Status s = put(k, src);
            if (s != Status.OK) {
                return s;
            }
        }
        map.header(epoch, ++operations, SENDER);
        map.volume = volume;
        map.firstBlock = block;
        map.count = n;
        map.conditional = expected != null;
        for (int i = 0; i < n; i++) {
            map.handles[i] = putIndex[i] < 0 ? Handles.NONE : put.handles[putIndex[i]];
            if (expected != null) {
                map.expected[i] = expected[i];
            }
        }
        maps.map(map, await.arm());
        await.await();
        if (k > 0 && refusedUndone(map.status)) {
            giveBack(k);
        } else if (k > 0 && map.status != Status.OK) {
            Log.warn(
                    "map_outcome_unknown",
                    "volume=" + volume + " block=" + block + " blocks=" + n + " status=" + map.status
                            + " effect=references_kept_may_leak");
        }
        return map.status;
    }

    /**
     * A map answered with a refusal C makes before it changes anything: the put's references can go
     * back. Any other failure (MEDIUM_ERROR: a lost reply, a missed deadline, a journal error) may have
     * left the mapping durable: its references stay (a leak at worst, never a mapped block freed).
     */
    static boolean refusedUndone(Status s) {
        return switch (s) {
            case MAP_CONFLICT,
                    UNKNOWN_VOLUME,
                    OUT_OF_RANGE,
                    READ_ONLY,
                    POOL_FULL,
                    BACK_PRESSURE,
                    STALE_EPOCH,
                    NOT_OWNER,
                    UNREACHABLE -> true; // never sent
            default -> false;
        };
    }

    /** Probe, compress what D lacks, put. */
    private Status put(int k, ByteBuffer src) {
        probe.header(epoch, ++operations, SENDER);
        probe.count = k;
        data.probe(probe, await.arm());
        await.await();
        if (probe.status != Status.OK) {
            return probe.status;
        }
        for (int j = 0; j < k; j++) {
            put.lengths[j] = probe.known[j] ? 0 : compress(src, j);
        }
        put.header(epoch, ++operations, SENDER);
        put.count = k;
        for (int attempt = 0; ; attempt++) {
            data.put(put, await.arm());
            await.await();
            if (put.status != Status.NEED_DATA || attempt == PUT_RETRIES) {
                return put.status;
            }
            for (int j = 0; j < k; j++) { // D dropped these since the probe: send their data
                if (put.blockStatus[j] == Status.NEED_DATA) {
                    put.lengths[j] = compress(src, j);
                }
            }
        }
    }

    private int compress(ByteBuffer src, int j) {
        return codec.compress(src, srcAt[j], put.data, j * BlockCodec.MAX_COMPRESSED_BYTES);
    }

    /** The map failed: drop the references the put took. */
    private void giveBack(int k) {
        undo.header(epoch, ++operations, SENDER);
        System.arraycopy(put.handles, 0, undo.handles, 0, k);
        undo.count = k;
        data.deref(undo, await.arm());
        await.await();
    }
}
