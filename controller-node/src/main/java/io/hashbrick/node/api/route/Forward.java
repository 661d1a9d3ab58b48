package io.hashbrick.node.api.route;

import io.hashbrick.node.api.Completion;
import io.hashbrick.node.api.RoleCall;

/**
 * The completion a router hands a binding for one hop: it ends in the caller's {@link #done}, so it
 * says what the caller's says about waiting ({@link Completion#callerWaits}), which a lambda could
 * not (the TCP binding reads a waiting caller's reply on its own thread).
 */
abstract class Forward<C extends RoleCall> implements Completion<C> {
    final Completion<? super C> done;

    Forward(Completion<? super C> done) {
        this.done = done;
    }

    @Override
    public final boolean callerWaits() {
        return done.callerWaits();
    }
}
