package io.hashbrick.journal;

import java.util.concurrent.locks.LockSupport;

/**
 * Runs a {@link JournalWriter} on its own platform thread: {@code doWork()} in a loop, parking when
 * idle. This shell is the only place the journal parks a thread; deterministic code drives
 * {@link JournalWriter#doWork()} itself. Appenders unpark it (see {@link #wake}).
 */
final class JournalWriterThread {
    /** Longest park when idle: a safety net only, since appends and releases unpark the writer. */
    private static final long MAX_PARK_NS = 1_000_000;

    private final Thread thread;
    private final JournalWriter writer;
    private final AppendQueue queue;
    private volatile boolean running = true;
    private volatile boolean sleeping;

    JournalWriterThread(String name, JournalWriter writer, AppendQueue queue) {
        this.writer = writer;
        this.queue = queue;
        this.thread = Thread.ofPlatform().name(name).daemon(true).unstarted(this::run);
    }

    void start() {
        thread.start();
    }

    private void run() {
        while (running) {
            if (writer.doWork() == 0) {
                idle();
            }
        }
        writer.handOver(); // happens-before the join in shutdown(): close() drains on its own thread
    }

    /**
     * Dekker-style handshake with {@link #wake}: the writer announces {@code sleeping}, then looks at
     * the queue's tail; an appender advances the tail (a CAS), then looks at {@code sleeping}. Both
     * are sequentially consistent, so at least one of them sees the other and no append sleeps.
     */
    private void idle() {
        long parkNs = Math.min(MAX_PARK_NS, writer.nanosUntilWaitTrigger());
        if (parkNs <= 0) {
            return;
        }
        sleeping = true;
        if (queue.tail() == queue.head() && !writer.releasePending() && running) {
            LockSupport.parkNanos(this, parkNs);
        }
        sleeping = false;
    }

    void wake() {
        if (sleeping) {
            LockSupport.unpark(thread);
        }
    }

    void shutdown() {
        running = false;
        LockSupport.unpark(thread);
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted waiting for the journal writer name=" + thread.getName(), e);
        }
    }
}
