package io.hashbrick.node.iscsi;

import io.hashbrick.node.Log;
import io.hashbrick.node.scsi.ScsiTarget;
import io.hashbrick.node.scsi.ScsiTask;

/**
 * The tasks of one connection (one session here: MaxConnections=1), from the command PDU to the last
 * response: the pool they come from, their order, when each may run, and how they end.
 *
 * <p>Order. Commands join in arrival order, which is CmdSN order (one connection per session, so the
 * connection's thread delivers them to SCSI in that order, RFC 7143 §3.2.2.1). A task whose data is
 * complete is enabled by the SAM-5 §8.6 task attribute rules: HEAD OF QUEUE at once; ORDERED when
 * every older task has ended; SIMPLE (and untagged and ACA, which we treat as SIMPLE) when no older
 * ORDERED or HEAD OF QUEUE task is left. Enabled tasks run on {@link CommandWorkers}, so SIMPLE tasks
 * overlap and complete out of order. The rules are applied across the connection's LUNs, which orders
 * more than SAM asks (one task set per logical unit) and never less.
 *
 * <p>Aborts (SAM-5 §7, RFC 7143 §4.2.3). A task still receiving data or waiting for older ones ends at
 * once. A queued or running one is marked: it ends without a response (TAS=0) at its next step, and
 * the abort waits for that, so no aborted write reaches the medium after the function's response and
 * no buffer returns to the pool while a worker holds it. A task already sending its status completes.
 * Tasks that receive data belong to their connection's thread: another connection's reset only marks
 * them, and their own thread drops them when their data is in.
 *
 * <p>One monitor guards everything here; waits are on it too (no allocation, unlike a contended
 * {@code ReentrantLock}). Every loop is bounded by the pool size.
 */
final class TaskSet {
    private final CommandWorkers workers;
    private final IscsiTask[] free;
    private int freeCount;
    private IscsiTask oldest, newest;
    /** Tasks sending their status: their slots count as free for MaxCmdSN (see {@link #acquire()}). */
    private int responding;
    /** Tasks in the worker queue, not yet taken (see {@link #noneQueued()}). */
    private int queued;
    /** BLOCKED tasks: {@link #dispatch()} has nothing to enable while there are none. */
    private int blocked;
    /** Linked tasks whose attribute is ORDERED or HEAD OF QUEUE (SIMPLE ones wait while any is left). */
    private int barriers;

    TaskSet(CommandPath path, int size, CommandWorkers workers) {
        this.workers = workers;
        this.free = new IscsiTask[size];
        for (int i = 0; i < size; i++) {
            free[freeCount++] = new IscsiTask(path);
        }
    }

    /**
     * Slots a new command may take, for the MaxCmdSN the connection advertises: free ones plus those of
     * tasks sending their status (they are back once the send returns).
     */
    synchronized int available() {
        return freeCount + responding;
    }

    /**
     * A task for a new command, in state RECEIVING, or null when every slot is taken (TASK SET FULL).
     * When the only slots left are of tasks sending their status, waits for one: the window advertised
     * to the initiator already counted it. The caller fills the task in, then {@link #join}s it.
     */
    synchronized IscsiTask acquire() {
        while (freeCount == 0 && responding > 0) {
            waitQuietly();
        }
        if (freeCount == 0) {
            return null;
        }
        IscsiTask t = free[--freeCount];
        assert t.state == IscsiTask.FREE && t.older == null && t.newer == null;
        t.state = IscsiTask.RECEIVING;
        return t;
    }

    /** Adds a filled-in task at the newest end of the task set (CmdSN order). Connection thread. */
    synchronized void join(IscsiTask t) {
        assert t.state == IscsiTask.RECEIVING && !linked(t);
        if (barrier(t)) {
            barriers++;
        }
        t.older = newest;
        if (newest != null) {
            newest.newer = t;
        } else {
            oldest = t;
        }
        newest = t;
    }

    private boolean linked(IscsiTask t) {
        return oldest == t || t.older != null;
    }

    /** ORDERED and HEAD OF QUEUE hold back the SIMPLE tasks that join after them (SAM-5 §8.6). */
    private static boolean barrier(IscsiTask t) {
        int a = t.scsi.taskAttribute;
        return a == ScsiTask.ATTR_ORDERED || a == ScsiTask.ATTR_HEAD_OF_QUEUE;
    }

    /** The task receiving Data-Out under {@code itt}, or null. Connection thread. */
    synchronized IscsiTask receiving(int itt) {
        for (IscsiTask t = oldest; t != null; t = t.newer) {
            if (t.itt == itt && t.state == IscsiTask.RECEIVING) {
                return t;
            }
        }
        return null;
    }

    /** {@link #dataComplete}: the task was aborted from another session meanwhile and has ended. */
    static final int ABORTED = 0;
    /** {@link #dataComplete}: the task waits for its turn or is queued for a worker. */
    static final int HANDED_OFF = 1;
    /** {@link #dataComplete}: the task is RUNNING and the caller (the connection thread) executes it. */
    static final int RUN_HERE = 2;

    /**
     * Whether {@code t} is the connection's only task: nothing older waits, queues, runs or answers, and
     * nothing newer has joined. Only the connection thread adds tasks, so on that thread a true answer
     * stays true until it adds one.
     */
    synchronized boolean alone(IscsiTask t) {
        return oldest == t && newest == t;
    }

    /** {@link #dataComplete} modes: to a worker (or wait) whatever the set holds. */
    static final int TO_WORKER = 0;
    /** Run here when the task is the set's only one. */
    static final int HERE_IF_ALONE = 1;
    /** Run here as soon as the task attributes allow it to run (SAM-5 §8.6), other tasks or not. */
    static final int HERE_IF_ENABLED = 2;

    /**
     * The task has all its data. When {@code mode} allows (with {@link #HERE_IF_ALONE}: no other task
     * is in the set, so every task attribute lets it run at once; with {@link #HERE_IF_ENABLED}: its
     * attribute lets it run now, as {@link #dispatch()} decides), it becomes RUNNING for the caller to
     * execute; else it waits for its turn or goes to a worker. Connection thread, on the newest task.
     *
     * @return {@link #RUN_HERE}, {@link #HANDED_OFF}, or {@link #ABORTED} when it had been aborted from
     *     another session meanwhile (it has ended, silently)
     */
    synchronized int dataComplete(IscsiTask t, int mode) {
        assert t.state == IscsiTask.RECEIVING : "state=" + t.state;
        if (t.aborted) {
            end0(t);
            return ABORTED;
        }
        boolean here =
                switch (mode) {
                    case HERE_IF_ALONE -> oldest == t && newest == t;
                    case HERE_IF_ENABLED -> enabledNow(t);
                    default -> false;
                };
        if (here) {
            t.state = IscsiTask.RUNNING;
            return RUN_HERE;
        }
        t.state = IscsiTask.BLOCKED;
        blocked++;
        dispatch();
        return HANDED_OFF;
    }

    /**
     * A task the connection thread ran from memory only ({@link #dataComplete} gave {@link #RUN_HERE})
     * would have had to wait: it goes to a worker as it is, RUNNING to QUEUED. It was enabled and stays
     * so (only the connection thread adds tasks, and it is here), so no rule of SAM-5 §8.6 is passed
     * by. False if it was aborted meanwhile by another session's reset (it has ended, silently).
     */
    synchronized boolean toWorker(IscsiTask t) {
        assert t.state == IscsiTask.RUNNING : "state=" + t.state;
        if (t.aborted) {
            end0(t);
            return false;
        }
        t.state = IscsiTask.QUEUED;
        queued++;
        workers.submit(t, t.scsi.taskAttribute == ScsiTask.ATTR_HEAD_OF_QUEUE);
        return true;
    }

    /** Whether {@code t}, the newest task, may run now: the rule of {@link #dispatch()} for it. */
    private boolean enabledNow(IscsiTask t) {
        assert newest == t;
        int attribute = t.scsi.taskAttribute;
        if (attribute == ScsiTask.ATTR_HEAD_OF_QUEUE || t.older == null) {
            return true;
        }
        if (attribute == ScsiTask.ATTR_ORDERED) {
            return false; // older tasks are left
        }
        assert barriers == countBarriers() : "barriers=" + barriers;
        return barriers == 0; // t is SIMPLE and newest: every barrier left is older than t
    }

    private int countBarriers() {
        int n = 0;
        for (IscsiTask o = oldest; o != null; o = o.newer) {
            n += barrier(o) ? 1 : 0;
        }
        return n;
    }

    /** A worker takes the task: false if it was aborted while queued (it has ended). */
    synchronized boolean start(IscsiTask t) {
        assert t.state == IscsiTask.QUEUED : "state=" + t.state;
        if (t.aborted) {
            end0(t);
            return false;
        }
        queued--;
        t.state = IscsiTask.RUNNING;
        return true;
    }

    /**
     * The task's status is ready (after execution, on a worker or the connection thread, or on the
     * connection thread for a transport error): from here it answers and cannot be aborted. False if aborted (it has ended, no answer).
     */
    synchronized boolean beginResponse(IscsiTask t) {
        assert t.state == IscsiTask.RUNNING || t.state == IscsiTask.RECEIVING : "state=" + t.state;
        if (t.aborted) {
            end0(t);
            return false;
        }
        t.state = IscsiTask.RESPONDING;
        responding++;
        return true;
    }

    /** The task is over (answered, or dropped by its owner): back to the pool. */
    synchronized void end(IscsiTask t) {
        end0(t);
    }

    private void end0(IscsiTask t) {
        assert t.state != IscsiTask.FREE;
        if (t.state == IscsiTask.RESPONDING) {
            responding--;
        } else if (t.state == IscsiTask.QUEUED) {
            queued--;
        } else if (t.state == IscsiTask.BLOCKED) {
            blocked--;
        }
        if (linked(t)) {
            if (barrier(t)) {
                barriers--;
            }
            if (t.older != null) {
                t.older.newer = t.newer;
            } else {
                oldest = t.newer;
            }
            if (t.newer != null) {
                t.newer.older = t.older;
            } else {
                newest = t.older;
            }
        }
        t.older = null;
        t.newer = null;
        t.reset();
        free[freeCount++] = t;
        dispatch();
        notifyAll();
    }

    /** Enables what the task attributes allow (SAM-5 §8.6), oldest first; one pass over the set. */
    private void dispatch() {
        if (blocked == 0) {
            return; // nothing waits to be enabled: no pass over the set
        }
        boolean olderAny = false;
        boolean olderBarrier = false;
        for (IscsiTask t = oldest; t != null; t = t.newer) {
            int attribute = t.scsi.taskAttribute;
            if (t.state == IscsiTask.BLOCKED) {
                boolean enabled =
                        switch (attribute) {
                            case ScsiTask.ATTR_HEAD_OF_QUEUE -> true;
                            case ScsiTask.ATTR_ORDERED -> !olderAny;
                            default -> !olderBarrier;
                        };
                if (enabled) {
                    t.state = IscsiTask.QUEUED;
                    blocked--;
                    queued++;
                    workers.submit(t, attribute == ScsiTask.ATTR_HEAD_OF_QUEUE);
                }
            }
            olderAny = true;
            olderBarrier |= attribute == ScsiTask.ATTR_ORDERED || attribute == ScsiTask.ATTR_HEAD_OF_QUEUE;
        }
    }

    // ------------------------------------------------------------------ task management

    /**
     * ABORT TASK (RFC 7143 §11.5.1): the task with {@code itt} on {@code lunField}. Connection thread.
     *
     * @return {@link ScsiTarget#TMF_COMPLETE} once it has ended unanswered, or {@link
     *     ScsiTarget#TMF_NO_TASK} when there is no such task or its status was already on its way
     */
    synchronized int abortTask(int itt, long lunField) {
        IscsiTask t = oldest;
        while (t != null && t.itt != itt) {
            t = t.newer;
        }
        if (t == null || t.lunField != lunField) {
            return ScsiTarget.TMF_NO_TASK;
        }
        if (t.state == IscsiTask.RESPONDING) {
            awaitFree(t); // its response goes first (RFC 7143 §4.2.3.3), then "does not exist"
            return ScsiTarget.TMF_NO_TASK;
        }
        if (t.state == IscsiTask.RECEIVING || t.state == IscsiTask.BLOCKED) {
            end0(t);
            return ScsiTarget.TMF_COMPLETE;
        }
        t.aborted = true;
        awaitFree(t);
        return ScsiTarget.TMF_COMPLETE;
    }

    /** Waits until {@code t} is back in the pool; only the connection thread takes it out again. */
    private void awaitFree(IscsiTask t) {
        while (t.state != IscsiTask.FREE) {
            waitQuietly();
        }
    }

    /**
     * Aborts every task of {@code lun} (-1: all) and waits until none of them can still touch the
     * medium or answer. {@code owner}: called on this connection's thread, which may end tasks that
     * receive data (another thread only marks them). The owner also waits for tasks sending their
     * status, so the caller's response follows theirs (RFC 7143 §4.2.3.3).
     */
    synchronized void abort(int lun, boolean owner) {
        IscsiTask t = oldest;
        while (t != null) {
            IscsiTask next = t.newer;
            if (lun == -1 || t.scsi.lun == lun) {
                if (t.state == IscsiTask.BLOCKED || (owner && t.state == IscsiTask.RECEIVING)) {
                    end0(t);
                } else if (t.state != IscsiTask.RESPONDING) {
                    t.aborted = true;
                }
            }
            t = next;
        }
        for (int waits = 1; busy(lun, owner); waits++) {
            if (waits == 5) { // each wait is at most a second: say why a task management function is slow
                Log.warn("abort_waiting", "lun=" + lun + " reason=tasks_still_running");
            }
            waitQuietly();
        }
    }

    private boolean busy(int lun, boolean owner) {
        for (IscsiTask t = oldest; t != null; t = t.newer) {
            if (lun != -1 && t.scsi.lun != lun) {
                continue;
            }
            boolean executing = t.aborted && (t.state == IscsiTask.QUEUED || t.state == IscsiTask.RUNNING);
            if (executing || (owner && t.state == IscsiTask.RESPONDING)) {
                return true;
            }
        }
        return false;
    }

    /**
     * Logout (RFC 7143 §11.14): tasks still waiting for Data-Out end (the initiator sends none after a
     * logout), the others run to completion and answer; returns when the set is empty. Owner only.
     */
    synchronized void drain() {
        for (IscsiTask t = oldest; t != null; ) {
            IscsiTask next = t.newer;
            if (t.state == IscsiTask.RECEIVING) {
                end0(t);
            }
            t = next;
        }
        while (oldest != null) {
            waitQuietly();
        }
    }

    /**
     * Whether no task of this connection waits in the worker queue: then a worker that has answered
     * flushes the answers staged so far, else it leaves them to the queued tasks' answers (a burst of
     * commands costs few writes, and a slow running task holds no one's answer back).
     */
    synchronized boolean noneQueued() {
        return queued == 0;
    }

    /** Tasks in the set, for tests and logs. */
    synchronized int active() {
        return free.length - freeCount;
    }

    private void waitQuietly() {
        try {
            wait(1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for tasks", e);
        }
    }
}
