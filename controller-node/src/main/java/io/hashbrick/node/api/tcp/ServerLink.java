package io.hashbrick.node.api.tcp;

import io.hashbrick.node.Log;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;

/**
 * One client's connection at the server: its reader thread decodes each request into a pooled call
 * object and runs it inline (probe, resolve, fetch from memory, countRun, put, map, deref) or hands it
 * to the workers (unmap, a fetch that needs an SSD); replies go out through one {@link FrameWriter}.
 * A frame that breaks the format closes the connection, with one log line.
 */
final class ServerLink {
    private final TcpRoleServer server;
    private final SocketChannel channel;
    private final FrameWriter out;
    private final FrameReader in;
    private final String peer;
    private volatile boolean closed;

    ServerLink(TcpRoleServer server, SocketChannel channel, String peer) {
        this.server = server;
        this.channel = channel;
        this.peer = peer;
        this.out = new FrameWriter(channel);
        this.in = new FrameReader(channel, false);
    }

    void readLoop() {
        try {
            while (!closed) {
                ByteBuffer b = in.next();
                Served<?> x = server.take(in.type);
                try {
                    x.start(this, in.requestId, b);
                    in.end();
                } catch (CorruptFrameException | RuntimeException e) {
                    x.drop();
                    throw e;
                }
                if (x.inline()) {
                    x.run();
                } else {
                    server.submit(x);
                }
            }
        } catch (CorruptFrameException e) {
            Log.error("role_frame_invalid", "transport=tcp side=server peer=" + peer + " " + e.getMessage());
            close();
        } catch (IOException e) {
            if (!closed) {
                Log.info(
                        "role_connection_closed",
                        "transport=tcp side=server peer=" + peer + " reason=" + Log.q(e.toString()));
            }
            close();
        } catch (RuntimeException e) { // a payload shorter than its counts (underflow)
            Log.error(
                    "role_frame_invalid",
                    "transport=tcp side=server peer=" + peer + " reason=bad_payload error=" + Log.q(e.toString()));
            close();
        } catch (Error e) { // out of (direct) memory, say: the reader is gone, so is the connection
            Log.error(
                    "role_connection_closed",
                    "transport=tcp side=server peer=" + peer + " reason=reader_died error=" + Log.q(e.toString()));
            close();
            throw e;
        } finally {
            server.forget(this);
        }
    }

    /** Answers a call (from any thread); a connection gone by now drops the answer. */
    void reply(Served<?> x, long requestId) {
        if (closed) {
            return;
        }
        try {
            ByteBuffer b = out.open(x.type | Frame.REPLY, requestId, x.replyBytes());
            try {
                x.encodeReply(b);
            } catch (RuntimeException e) {
                out.abort();
                throw e;
            }
            out.send();
        } catch (IOException e) {
            if (!closed) {
                Log.warn("role_reply_failed", "transport=tcp peer=" + peer + " error=" + Log.q(e.toString()));
            }
            close();
        }
    }

    void close() {
        closed = true;
        out.kill();
        try {
            channel.close();
        } catch (IOException e) {
            // closing anyway
        }
    }
}
