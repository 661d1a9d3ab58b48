package io.hashbrick.node.front;

import io.hashbrick.node.api.DataService;
import io.hashbrick.node.api.FetchCall;
import io.hashbrick.node.api.MapService;
import io.hashbrick.node.api.ResolveCall;
import io.hashbrick.node.api.Status;
import java.nio.ByteBuffer;

/**
 * R's read path for up to {@link Pipelines#BATCH} blocks (DESIGN.md "Read path"): C {@code resolve}
 * gives the handles (unmapped blocks read as zeros), D {@code fetch} reads them, verified against
 * their fingerprints, straight into the caller's buffer. A handle that went stale in between (an
 * overwrite freed it) is resolved again: the read returns what the block held at the resolve or what
 * a concurrent write put there, never another block's data (handles carry a generation).
 */
final class ReadPipeline {
    private static final int STALE_RETRIES = 8;

    private final DataService data;
    private final MapService maps;
    private final long epoch;
    private final Await await = new Await();
    private final ResolveCall resolve = new ResolveCall(Pipelines.BATCH);
    private final FetchCall fetch = new FetchCall(Pipelines.BATCH);
    private long operations;

    ReadPipeline(DataService data, MapService maps, long epoch) {
        this.data = data;
        this.maps = maps;
        this.epoch = epoch;
    }

    /**
     * Reads blocks {@code [block, block + n)} into {@code dst[off ..]}; the handles read are left in
     * {@link #handles()} (a read-modify-write maps on condition of them).
     */
    Status read(int volume, long block, int n, ByteBuffer dst, int off) {
        return read(volume, block, n, dst, off, false);
    }

    /**
     * {@link #read}; with {@code noWait}, only from memory: {@link Status#WOULD_BLOCK} when a block is
     * not in D's memory or a role is remote (see {@link FetchCall#noWait}).
     */
    Status read(int volume, long block, int n, ByteBuffer dst, int off, boolean noWait) {
        for (int attempt = 0; ; attempt++) {
            resolve.header(epoch, ++operations, WritePipeline.SENDER);
            resolve.volume = volume;
            resolve.firstBlock = block;
            resolve.count = n;
            resolve.noWait = noWait;
            maps.resolve(resolve, await.arm());
            await.await();
            if (resolve.status != Status.OK) {
                return resolve.status;
            }
            fetch.header(epoch, ++operations, WritePipeline.SENDER);
            System.arraycopy(resolve.handles, 0, fetch.handles, 0, n);
            fetch.count = n;
            fetch.dst = dst;
            fetch.dstOffset = off;
            fetch.noWait = noWait;
            data.fetch(fetch, await.arm());
            await.await();
            if (fetch.status != Status.STALE_HANDLE || attempt == STALE_RETRIES) {
                return fetch.status;
            }
        }
    }

    /** The handles the last successful {@link #read} returned data for. */
    long[] handles() {
        return resolve.handles;
    }
}
