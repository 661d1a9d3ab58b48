package io.hashbrick.node.api.tcp;

import io.hashbrick.node.Log;
import io.hashbrick.node.api.RoleCall;
import io.hashbrick.node.api.Status;
import java.nio.ByteBuffer;

/**
 * The client's side of one call type: checks a call before it is sent (the server's limits: a call
 * the server would refuse fails here, without closing the connection), encodes the request, decodes
 * the reply into the caller's call object. One stateless instance per type ({@link ClientCodecs}).
 */
abstract class ClientCodec {
    final int type;

    ClientCodec(int type) {
        this.type = type;
    }

    /** Null if the call may be sent, else the reason, as {@code key=value} fields. */
    abstract String check(RoleCall c);

    /** The request frame's size at most, header included. */
    abstract int requestBytes(RoleCall c);

    abstract void encode(RoleCall c, ByteBuffer out);

    /** Reads the reply's payload into {@code c}, its status included. */
    abstract void decode(ByteBuffer in, RoleCall c) throws CorruptFrameException;

    /** A reply that does not fit its request (a protocol error of the peer): the call fails. */
    static Status mismatch(int type, String what, int got, int want) {
        Log.warn(
                "role_reply_invalid",
                "transport=tcp rpc=" + Frame.typeName(type) + " field=" + what + " got=" + got + " want=" + want
                        + " status=MEDIUM_ERROR");
        return Status.MEDIUM_ERROR;
    }
}
