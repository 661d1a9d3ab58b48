package io.hashbrick.node.iscsi;

import io.hashbrick.node.Log;

/**
 * The threads that execute SCSI commands for every connection of the portal, fed by one FIFO queue
 * linked through the tasks themselves (no allocation per command; bounded by the tasks that exist,
 * at most {@code connections x commandWindow}).
 *
 * <p>Why a shared pool and not workers per connection: the thread count, and the per-thread state the
 * layers below keep (SCSI scratch buffers of 2 MiB, data-path contexts), stay bounded whatever the
 * number of connections (up to {@link IscsiServer#MAX_CONNECTIONS}); one busy connection can use every
 * worker when the others are idle. Why twice the cores ({@link #defaultCount()}, at least 4, at most
 * 64): writes are CPU work above the data path's locks (hashing, compression), so more workers than
 * cores only contend; reads that miss the cache wait on the SSDs (O_DIRECT), so some more keep the
 * cores busy meanwhile. Measured on 2 cores (README, step d): 2, 4 and 8 workers gave unique 4 KiB
 * writes at QD32 0.80x, 0.80x and 0.76x of the serial front end; 4 workers gave cache-missing 4 KiB
 * reads 1.74x. Since then commands that carry Data-Out, and a connection's lone command, run on the
 * connection's thread instead (CommandPath.progress): the workers are for commands that may wait.
 * A connection thread that runs commands holds the lower layers' per-thread state too, as every
 * connection thread of the serial front end did, so that bound is main's again, not the pool's.
 * {@code -Dhashbrick.iscsi.workers=N} overrides the count, for measurements.
 *
 * <p>Workers never wait for one another or for a connection's thread (ordering waits happen before a
 * task is queued, in {@link TaskSet}), so a full pool always drains. HEAD OF QUEUE tasks go to the
 * front of the queue (SAM-5 §8.6.4).
 */
final class CommandWorkers implements AutoCloseable {
    private final Thread[] threads;
    private IscsiTask head, tail;
    private int queued;
    private boolean closed;

    CommandWorkers(int count, String name) {
        if (count < 1 || count > 1024) {
            throw new IllegalArgumentException("worker count out of range count=" + count);
        }
        threads = new Thread[count];
        for (int i = 0; i < count; i++) {
            Thread t = new Thread(this::work, name + "-" + i);
            t.setDaemon(true);
            threads[i] = t;
        }
    }

    static int defaultCount() {
        int cores = Runtime.getRuntime().availableProcessors();
        return Integer.getInteger("hashbrick.iscsi.workers", Math.clamp(2L * cores, 4, 64));
    }

    void start() {
        for (Thread t : threads) {
            t.start();
        }
    }

    /** Queues {@code t}; at the front when {@code first}. */
    synchronized void submit(IscsiTask t, boolean first) {
        assert t.nextQueued == null && t != tail;
        if (head == null) {
            head = t;
            tail = t;
        } else if (first) {
            t.nextQueued = head;
            head = t;
        } else {
            tail.nextQueued = t;
            tail = t;
        }
        queued++;
        notify();
    }

    /** The next task, or null once closed and drained. */
    private synchronized IscsiTask take() {
        while (head == null) {
            if (closed) {
                return null;
            }
            try {
                wait();
            } catch (InterruptedException e) {
                return null;
            }
        }
        IscsiTask t = head;
        head = t.nextQueued;
        if (head == null) {
            tail = null;
        }
        t.nextQueued = null;
        queued--;
        return t;
    }

    private void work() {
        for (IscsiTask t = take(); t != null; t = take()) {
            try {
                t.path.run(t);
            } catch (RuntimeException | Error e) {
                // run() contains its own failures; reaching here is a bug in it, and the worker goes on
                Log.error("worker_failed", "error=" + Log.q(e));
            }
        }
    }

    synchronized int queued() {
        return queued;
    }

    int threadCount() {
        return threads.length;
    }

    /** Lets the queue drain, then stops the threads (waits up to 2 s for each). */
    @Override
    public void close() {
        synchronized (this) {
            closed = true;
            notifyAll();
        }
        for (Thread t : threads) {
            try {
                t.join(2000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }
}
