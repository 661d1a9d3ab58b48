package io.hashbrick.node.scsi;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.hashbrick.node.block.FileBlockDevice;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;

/** Drives a {@link ScsiDeviceServer} the way a transport would, over file-backed units. */
final class ScsiHarness implements AutoCloseable {
    static final ItNexus A = new ItNexus(1, "iqn.a", "iqn.a,i,0x1", "iqn.t,t,0x1", 1, 1);
    static final ItNexus B = new ItNexus(2, "iqn.b", "iqn.b,i,0x2", "iqn.t,t,0x1", 1, 1);

    final FileBlockDevice device;
    final ScsiDeviceServer server;
    final ScsiTask task = new ScsiTask();

    ScsiHarness(Path dir, int blockSize, long blocks) throws Exception {
        device = FileBlockDevice.open(dir.resolve("lun0.img"), blocks * blockSize, blockSize);
        server = new ScsiDeviceServer("HASHBRCK", "XtremeLUN", List.of(new LogicalUnit(0, device, "lun0")));
        task.dataIn = ByteBuffer.allocateDirect(server.maxTransferBytes());
    }

    /** Runs {@code cdb} from {@code nexus} on LUN {@code lun} with {@code out} as Data-Out; returns the task. */
    ScsiTask run(ItNexus nexus, int lun, byte[] out, int... cdb) {
        ScsiTask t = task;
        java.util.Arrays.fill(t.cdb, (byte) 0);
        for (int i = 0; i < cdb.length; i++) {
            t.cdb[i] = (byte) cdb[i];
        }
        t.cdbLength = cdb.length;
        t.lun = lun;
        t.nexus = nexus;
        t.dataIn.clear();
        int want = server.dataOutLength(t);
        t.expectedLength = out != null ? out.length : 0;
        if (out != null) {
            int n = Math.min(out.length, want);
            ByteBuffer b = ByteBuffer.allocateDirect(Math.max(n, 1));
            b.put(out, 0, n).flip();
            t.dataOut = b;
        } else {
            t.dataOut = null;
        }
        server.execute(t);
        return t;
    }

    ScsiTask run(int... cdb) {
        return run(A, 0, null, cdb);
    }

    byte[] dataIn() {
        ByteBuffer d = task.dataIn.duplicate().flip();
        byte[] b = new byte[d.remaining()];
        d.get(b);
        return b;
    }

    static void assertSense(ScsiTask t, int key, int asc, int ascq) {
        assertEquals(ScsiTask.CHECK_CONDITION, t.status, "status");
        int k, a, q;
        if ((t.sense[0] & 0x7f) == 0x72) {
            k = t.sense[1] & 0xf;
            a = t.sense[2] & 0xff;
            q = t.sense[3] & 0xff;
        } else {
            k = t.sense[2] & 0xf;
            a = t.sense[12] & 0xff;
            q = t.sense[13] & 0xff;
        }
        assertEquals(String.format("%X/%02X/%02X", key, asc, ascq), String.format("%X/%02X/%02X", k, a, q));
    }

    static void assertGood(ScsiTask t) {
        assertEquals(
                ScsiTask.GOOD,
                t.status,
                () -> String.format(
                        "status=0x%02x sense=%X/%02X/%02X",
                        t.status, t.sense[2] & 0xf, t.sense[12] & 0xff, t.sense[13] & 0xff));
    }

    static int[] rw10(int op, long lba, int blocks) {
        return new int[] {
            op,
            0,
            (int) (lba >>> 24) & 0xff,
            (int) (lba >>> 16) & 0xff,
            (int) (lba >>> 8) & 0xff,
            (int) lba & 0xff,
            0,
            blocks >>> 8,
            blocks & 0xff,
            0
        };
    }

    static int[] rw16(int op, long lba, int blocks) {
        int[] c = new int[16];
        c[0] = op;
        for (int i = 0; i < 8; i++) {
            c[2 + i] = (int) (lba >>> (56 - 8 * i)) & 0xff;
        }
        for (int i = 0; i < 4; i++) {
            c[10 + i] = (blocks >>> (24 - 8 * i)) & 0xff;
        }
        return c;
    }

    @Override
    public void close() {
        device.close();
    }
}
