package io.hashbrick.node.api.tcp;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.function.Supplier;

/**
 * A bounded free list of reusable objects (the server's call objects with their buffers): taken per
 * request, given back when the request is answered. Empty: a new one is made (more requests in flight
 * than ever before); full: the one given back is dropped. Neither blocks.
 */
final class Pool<T> {
    private final ArrayBlockingQueue<T> free;
    private final Supplier<T> make;

    Pool(int capacity, Supplier<T> make) {
        this.free = new ArrayBlockingQueue<>(capacity);
        this.make = make;
    }

    T take() {
        T t = free.poll();
        return t != null ? t : make.get();
    }

    void give(T t) {
        free.offer(t);
    }
}
