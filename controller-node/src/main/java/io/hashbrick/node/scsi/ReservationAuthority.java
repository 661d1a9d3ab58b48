package io.hashbrick.node.scsi;

/**
 * Where a unit's reservations change. {@link #LOCAL}: in this process only (a single controller).
 * A cluster's ({@code node.ClusterReservations}) commits each change to the catalog, compare-and-set on
 * the version the unit holds, and returns only once every running controller installed it, so that a
 * command through any port after the answer sees the change.
 */
public interface ReservationAuthority {
    /**
     * Applies {@code request} to {@code lu}'s reservations and installs the result on {@code lu}. May
     * wait (the cluster's catalog): called on a command's worker thread, never with a lock held.
     *
     * @return what the command reports
     */
    ReservationRules.Outcome change(LogicalUnit lu, ReservationRules.Request request);

    ReservationAuthority LOCAL = (lu, request) -> {
        synchronized (lu.changeLock) {
            ReservationRules.Result r = ReservationRules.evaluate(lu.reservations(), request);
            lu.install(r.next());
            return r.outcome();
        }
    };
}
