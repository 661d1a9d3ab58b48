package io.hashbrick.node.scsi;

import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * A per-thread scratch area in which the non-data commands (INQUIRY, MODE SENSE, REPORT LUNS, ...) build
 * their parameter data before it is truncated to the allocation length (SPC-4 §4.2.5.6) and copied to
 * {@link ScsiTask#dataIn}. Reused: nothing is allocated per command after warm-up.
 */
final class Out {
    static final int CAPACITY = 64 * 1024;
    private static final ThreadLocal<Out> PER_THREAD = ThreadLocal.withInitial(Out::new);

    final byte[] b = new byte[CAPACITY];
    int length;

    /** The calling thread's scratch, cleared to {@code zeroBytes} zeros. */
    static Out get(int zeroBytes) {
        Out o = PER_THREAD.get();
        Arrays.fill(o.b, 0, zeroBytes, (byte) 0);
        o.length = 0;
        return o;
    }

    Out u8(int off, int v) {
        b[off] = (byte) v;
        return this;
    }

    Out ascii(int off, String s, int width) {
        for (int i = 0; i < width; i++) {
            b[off + i] = (byte) (i < s.length() ? s.charAt(i) : ' ');
        }
        return this;
    }

    /**
     * Copies {@code min(length, allocationLength)} bytes to the task's Data-In buffer and records the
     * transfer length.
     */
    void sendTo(ScsiTask t, int allocationLength) {
        int n = Math.min(Math.min(length, allocationLength), t.dataIn.remaining());
        t.dataIn.put(b, 0, n);
        t.transferLength = n;
    }

    static void sendEmpty(ScsiTask t) {
        t.transferLength = 0;
    }

    static void put(ByteBuffer dst, byte[] src, int n) {
        dst.put(src, 0, n);
    }
}
