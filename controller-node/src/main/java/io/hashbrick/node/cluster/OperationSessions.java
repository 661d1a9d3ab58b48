package io.hashbrick.node.cluster;

import io.hashbrick.node.CorruptCheckpointException;
import io.hashbrick.proto.cluster.v1.CachedResult;
import io.hashbrick.proto.cluster.v1.ClientSession;
import io.hashbrick.proto.cluster.v1.Command;
import io.hashbrick.proto.cluster.v1.CommandResult;
import io.hashbrick.proto.cluster.v1.Status;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * Client sessions (Ongaro's thesis, §6.3): each client's recent results by operation id, so a command
 * applied twice (a retry after a lost answer) is answered with its first result instead of applied
 * again. Part of the replicated state and of its snapshots: every replica answers a retry the same.
 *
 * <p>Bounded: at most {@link #MAX_CLIENTS} sessions (the one whose last command is oldest in the log
 * goes first) and {@link #MAX_RESULTS_PER_CLIENT} results each (the lowest operation id goes first, and
 * the session's acknowledged mark rises past it). A retry that can no longer be told apart from a new
 * command is refused (OPERATION_EXPIRED, SESSION_EXPIRED), never applied a second time.
 */
final class OperationSessions {
    static final int MAX_CLIENTS = 256;
    static final int MAX_RESULTS_PER_CLIENT = 1024;

    private static final class Session {
        /** Operations below this were answered (or forgotten): their ids are never applied again. */
        long acknowledgedBelow;
        /** Log index of the newest command: the least recently used session is evicted first. */
        long lastIndex;

        final TreeMap<Long, CommandResult> results = new TreeMap<>();
    }

    private final TreeMap<Long, Session> sessions = new TreeMap<>();

    /** Opens a session named by the log index of its registration. */
    CommandResult register(long index, long epoch) {
        if (sessions.size() >= MAX_CLIENTS) {
            long oldest = 0;
            long oldestIndex = Long.MAX_VALUE;
            for (Map.Entry<Long, Session> e : sessions.entrySet()) {
                if (e.getValue().lastIndex < oldestIndex) {
                    oldestIndex = e.getValue().lastIndex;
                    oldest = e.getKey();
                }
            }
            sessions.remove(oldest);
        }
        Session s = new Session();
        s.acknowledgedBelow = 1;
        s.lastIndex = index;
        sessions.put(index, s);
        return Results.ok(epoch).toBuilder().setClientId(index).build();
    }

    /**
     * Before a command is applied: raises the client's acknowledged mark.
     *
     * @return the first result when this operation was applied before, a refusal when it cannot be told,
     *     or null when it is new and must be applied
     */
    CommandResult before(Command c, long epoch) {
        Session s = sessions.get(c.getClientId());
        if (s == null) {
            return Results.refused(Status.SESSION_EXPIRED, epoch, "client=" + c.getClientId());
        }
        CommandResult first = s.results.get(c.getOperationId());
        if (first != null) {
            return first;
        }
        acknowledge(s, c.getAcknowledgedBelow());
        if (c.getOperationId() < s.acknowledgedBelow) {
            return Results.refused(
                    Status.OPERATION_EXPIRED,
                    epoch,
                    "client=" + c.getClientId() + " operation=" + c.getOperationId() + " acknowledged_below="
                            + s.acknowledgedBelow);
        }
        return null;
    }

    /** After a new command was applied: keeps its result for retries. */
    void after(Command c, CommandResult result, long index) {
        Session s = sessions.get(c.getClientId());
        s.lastIndex = index;
        s.results.put(c.getOperationId(), result);
        if (s.results.size() > MAX_RESULTS_PER_CLIENT) {
            acknowledge(s, s.results.firstKey() + 1);
        }
    }

    private static void acknowledge(Session s, long below) {
        if (below > s.acknowledgedBelow) {
            s.acknowledgedBelow = below;
            s.results.headMap(below).clear();
        }
    }

    void toProto(Consumer<ClientSession> out) {
        for (Map.Entry<Long, Session> e : sessions.entrySet()) {
            Session s = e.getValue();
            ClientSession.Builder b = ClientSession.newBuilder()
                    .setClientId(e.getKey())
                    .setAcknowledgedBelow(s.acknowledgedBelow)
                    .setLastIndex(s.lastIndex);
            for (Map.Entry<Long, CommandResult> r : s.results.entrySet()) {
                b.addResults(
                        CachedResult.newBuilder().setOperationId(r.getKey()).setResult(r.getValue()));
            }
            out.accept(b.build());
        }
    }

    static OperationSessions fromProto(Iterable<ClientSession> image) throws CorruptCheckpointException {
        OperationSessions o = new OperationSessions();
        for (ClientSession p : image) {
            Session s = new Session();
            s.acknowledgedBelow = p.getAcknowledgedBelow();
            s.lastIndex = p.getLastIndex();
            for (CachedResult r : p.getResultsList()) {
                s.results.put(r.getOperationId(), r.getResult());
            }
            if (o.sessions.put(p.getClientId(), s) != null
                    || o.sessions.size() > MAX_CLIENTS
                    || s.results.size() > MAX_RESULTS_PER_CLIENT) {
                throw new CorruptCheckpointException("sessions image: client=" + p.getClientId() + " sessions="
                        + o.sessions.size() + " results=" + s.results.size());
            }
        }
        return o;
    }

    int size() {
        return sessions.size();
    }
}
