package io.hashbrick.node.api.route;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * A bounded pool of the call objects a split call's pieces use (a put's piece holds a direct buffer for
 * its blocks: allocating one per write would cost more than the hop).
 */
final class Pieces<T> {
    private static final int KEEP = 64;

    private final ConcurrentLinkedQueue<T> free = new ConcurrentLinkedQueue<>();
    private final AtomicInteger kept = new AtomicInteger();
    private final Supplier<T> make;

    Pieces(Supplier<T> make) {
        this.make = make;
    }

    T take() {
        T t = free.poll();
        if (t == null) {
            return make.get();
        }
        kept.decrementAndGet();
        return t;
    }

    void give(T t) {
        if (kept.incrementAndGet() <= KEEP) {
            free.offer(t);
        } else {
            kept.decrementAndGet();
        }
    }
}
