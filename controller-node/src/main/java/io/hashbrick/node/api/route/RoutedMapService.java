package io.hashbrick.node.api.route;

import io.hashbrick.node.api.Completion;
import io.hashbrick.node.api.MapCall;
import io.hashbrick.node.api.MapService;
import io.hashbrick.node.api.ResolveCall;
import io.hashbrick.node.api.RoleCall;
import io.hashbrick.node.api.Status;
import io.hashbrick.node.api.UnmapCall;

/**
 * C as the front end sees it in a cluster: a call goes to the owner of its (volume, region) at the
 * newest map held here, stamped with that map's epoch, and goes again at a newer map when refused as
 * STALE_EPOCH or NOT_OWNER. A call never spans two regions (the front end cuts its batches at region
 * ends), so a map is never half done on two owners; one that does is a bug and is refused loudly. A
 * provisioning run is cut at its region's end (the owner knows only its regions' blocks), which SCSI
 * allows (GET LBA STATUS answers a shorter run and the host asks again).
 */
public final class RoutedMapService implements MapService {
    private final RouteSource routes;
    private final RolePeers peers;

    private final RouteCounts counts;

    public RoutedMapService(RouteSource routes, RolePeers peers, RouteCounts counts) {
        this.routes = routes;
        this.peers = peers;
        this.counts = counts;
    }

    @Override
    public void map(MapCall call, Completion<? super MapCall> done) {
        call.routedSinceNs = System.nanoTime();
        map(call, done, 1);
    }

    private void map(MapCall call, Completion<? super MapCall> done, int attempt) {
        Routes r = routes.current();
        if (r == null) {
            RoutedDataService.noMap(call, done, attempt, () -> map(call, done, attempt + 1));
            return;
        }
        oneRegion("map", call.firstBlock, call.count);
        call.epoch = r.epoch();
        int owner = r.regionOwner(call.volume, call.firstBlock);
        counts.map(r, owner);
        try {
            peers.maps(owner).map(call, new Forward<MapCall>(done) {
                @Override
                public void complete(MapCall c) {
                    if (again(r, c, attempt, false)) { // a map applied twice would drop a reference: R redoes the write
                        Retry.later(attempt + 1, () -> map(c, done, attempt + 1));
                    } else {
                        done.complete(c);
                    }
                }
            });
        } catch (RuntimeException e) {
            RoutedDataService.failed("map", owner, call, done, e);
        }
    }

    @Override
    public void resolve(ResolveCall call, Completion<? super ResolveCall> done) {
        call.routedSinceNs = System.nanoTime();
        resolve(call, done, 1);
    }

    private void resolve(ResolveCall call, Completion<? super ResolveCall> done, int attempt) {
        Routes r = routes.current();
        if (r == null && call.noWait) {
            call.status = Status.WOULD_BLOCK; // the caller must not wait, not even for a map
            done.complete(call);
            return;
        }
        if (r == null) {
            RoutedDataService.noMap(call, done, attempt, () -> resolve(call, done, attempt + 1));
            return;
        }
        oneRegion("resolve", call.firstBlock, call.count);
        int owner = r.regionOwner(call.volume, call.firstBlock);
        if (call.noWait && owner != r.self()) {
            call.status = Status.WOULD_BLOCK;
            done.complete(call);
            return;
        }
        call.epoch = r.epoch();
        counts.map(r, owner);
        try {
            peers.maps(owner).resolve(call, new Forward<ResolveCall>(done) {
                @Override
                public void complete(ResolveCall c) {
                    if (c.noWait && Retry.retryable(c.status)) {
                        c.status = Status.WOULD_BLOCK; // a map change: the caller goes again from a worker
                        done.complete(c);
                    } else if (again(r, c, attempt, true)) {
                        Retry.later(attempt + 1, () -> resolve(c, done, attempt + 1));
                    } else {
                        done.complete(c);
                    }
                }
            });
        } catch (RuntimeException e) {
            RoutedDataService.failed("resolve", owner, call, done, e);
        }
    }

    @Override
    public void unmap(UnmapCall call, Completion<? super UnmapCall> done) {
        call.routedSinceNs = System.nanoTime();
        unmap(call, done, 1);
    }

    private void unmap(UnmapCall call, Completion<? super UnmapCall> done, int attempt) {
        Routes r = routes.current();
        if (r == null) {
            RoutedDataService.noMap(call, done, attempt, () -> unmap(call, done, attempt + 1));
            return;
        }
        if (!call.countRun) {
            oneRegion("unmap", call.firstBlock, call.count);
        }
        call.epoch = r.epoch();
        int owner = r.regionOwner(call.volume, call.firstBlock);
        counts.map(r, owner);
        try {
            peers.maps(owner).unmap(call, c -> {
                if (again(r, c, attempt, true)) { // a block unmapped twice is unmapped once
                    Retry.later(attempt + 1, () -> unmap(c, done, attempt + 1));
                    return;
                }
                if (c.countRun && c.status == Status.OK) {
                    long room = Routes.toRegionEnd(c.firstBlock);
                    if (Math.abs(c.run) > room) {
                        c.run = c.run > 0 ? room : -room;
                    }
                }
                done.complete(c);
            });
        } catch (RuntimeException e) {
            RoutedDataService.failed("unmap", owner, call, done, e);
        }
    }

    private static void oneRegion(String what, long firstBlock, long count) {
        if (count > 0 && count > Routes.toRegionEnd(firstBlock)) {
            throw new IllegalArgumentException(what + " spans a region end: first_block=" + firstBlock + " count="
                    + count + " to_region_end=" + Routes.toRegionEnd(firstBlock));
        }
    }

    private boolean again(Routes r, RoleCall c, int attempt, boolean repeatable) {
        if (!Retry.goesAgain(c.status, repeatable)) {
            return false;
        }
        routes.stale(r.epoch());
        counts.retries.increment();
        return Retry.again(c.status, repeatable, attempt, c.routedSinceNs);
    }
}
