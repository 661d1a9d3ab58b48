package io.hashbrick.node;

import io.hashbrick.journal.Journal;
import io.hashbrick.journal.JournalEntry;
import io.hashbrick.journal.JournalMirror;
import io.hashbrick.node.api.RoleCall;
import io.hashbrick.node.api.Status;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/**
 * What C and D do after appending a role call's record (their lock released): wait until the record
 * is durable, or say why the call is over, or ask to try again while the journal is back-pressured
 * (until a checkpoint releases it, for at most the caller's deadline).
 */
public final class JournalSettle {
    /** An append's result meaning nothing was appended and the call's status is final. */
    public static final long DONE = -200;

    private JournalSettle() {}

    /**
     * @param entry the journal entry the record was appended with
     * @param seq what the append returned: a sequence, {@link #DONE}, or the journal's refusal
     * @param readOnly whether the pool refuses writes (then a back-pressured journal will not drain)
     * @param timeoutEvent the log event for a journal that stayed full past {@code deadline}
     * @return true with {@code x.status} set when the call is over, false to append again
     */
    public static boolean settle(
            JournalEntry entry, RoleCall x, long seq, long deadline, BooleanSupplier readOnly, String timeoutEvent) {
        return settle(entry, x, seq, deadline, readOnly, timeoutEvent, JournalMirror.NONE);
    }

    /**
     * As above, and a durable record counts once {@code mirror} says the brick peer holds it too (or
     * that it need not: no peer running).
     */
    public static boolean settle(
            JournalEntry entry,
            RoleCall x,
            long seq,
            long deadline,
            BooleanSupplier readOnly,
            String timeoutEvent,
            JournalMirror mirror) {
        if (seq > 0) {
            while (entry.status() == JournalEntry.QUEUED) {
                LockSupport.parkNanos(entry, 1_000_000);
            }
            boolean durable = entry.status() == JournalEntry.DURABLE;
            x.status = durable && mirror.awaitMirrored(seq) ? Status.OK : Status.MEDIUM_ERROR;
            return true;
        }
        if (seq == DONE) {
            return true; // the status says why nothing was appended
        }
        if (seq == Journal.CLOSED) {
            x.status = Status.MEDIUM_ERROR;
            return true;
        }
        if (readOnly.getAsBoolean()) {
            x.status = Status.READ_ONLY; // the journal waited on will not drain
            return true;
        }
        if (x.applyByNs != 0 && System.nanoTime() - x.applyByNs > 0) {
            x.status = Status.BACK_PRESSURE; // nothing appended, and its sender is about to give up on it
            Log.warn(
                    "role_call_refused_late",
                    "call=" + x.getClass().getSimpleName() + " op=" + x.operationId + " status=BACK_PRESSURE"
                            + " reason=journal_full_past_the_senders_budget");
            return true;
        }
        if (System.nanoTime() > deadline) {
            Log.error(timeoutEvent, "call=" + x.getClass().getSimpleName() + " op=" + x.operationId);
            x.status = Status.MEDIUM_ERROR;
            return true;
        }
        LockSupport.parkNanos(200_000);
        return false;
    }
}
