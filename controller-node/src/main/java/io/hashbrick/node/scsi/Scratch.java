package io.hashbrick.node.scsi;

import java.nio.ByteBuffer;

/**
 * Per-thread direct buffers for the commands that must read before they answer (VERIFY, COMPARE AND
 * WRITE, ORWRITE, WRITE SAME patterns): allocated once per device-server thread, then reused.
 */
final class Scratch {
    private static final ThreadLocal<Scratch> PER_THREAD = new ThreadLocal<>();

    final ByteBuffer a;
    final ByteBuffer b;

    private Scratch(int bytes) {
        a = ByteBuffer.allocateDirect(bytes);
        b = ByteBuffer.allocateDirect(bytes);
    }

    static Scratch get(int bytes) {
        Scratch s = PER_THREAD.get();
        if (s == null || s.a.capacity() < bytes) {
            s = new Scratch(bytes);
            PER_THREAD.set(s);
        }
        s.a.clear();
        s.b.clear();
        return s;
    }
}
