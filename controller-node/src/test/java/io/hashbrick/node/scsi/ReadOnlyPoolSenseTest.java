package io.hashbrick.node.scsi;

import static io.hashbrick.node.scsi.ScsiHarness.assertGood;
import static io.hashbrick.node.scsi.ScsiHarness.assertSense;
import static io.hashbrick.node.scsi.ScsiHarness.rw10;

import io.hashbrick.node.block.BlockDevice;
import io.hashbrick.node.block.FileBlockDevice;
import io.hashbrick.node.block.IoStatus;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A device whose pool went read-only: writes answer DATA PROTECT / WRITE PROTECTED (7/27/00), reads work. */
class ReadOnlyPoolSenseTest {
    @TempDir
    Path dir;

    @Test
    void writesToAReadOnlyPoolAnswerWriteProtectedAndReadsWork() throws Exception {
        try (FileBlockDevice file = FileBlockDevice.open(dir.resolve("ro.img"), 4096L * 512, 512);
                ScsiHarness h = new ScsiHarness(dir, 512, 16)) {
            ScsiDeviceServer server = new ScsiDeviceServer(
                    "HASHBRCK", "XtremeLUN", List.of(new LogicalUnit(0, new ReadOnly(file), "lun0")));
            h.task.dataIn = ByteBuffer.allocateDirect(server.maxTransferBytes());
            assertSense(runOn(server, h, new byte[512], rw10(0x2A, 0, 1)), 0x7, 0x27, 0x00);
            assertGood(runOn(server, h, null, rw10(0x28, 0, 1)));
        }
    }

    /** Runs {@code cdb} on {@code server} with the harness's task and nexus A. */
    private static ScsiTask runOn(ScsiDeviceServer server, ScsiHarness h, byte[] out, int... cdb) {
        ScsiTask t = h.task;
        java.util.Arrays.fill(t.cdb, (byte) 0);
        for (int i = 0; i < cdb.length; i++) {
            t.cdb[i] = (byte) cdb[i];
        }
        t.cdbLength = cdb.length;
        t.lun = 0;
        t.nexus = ScsiHarness.A;
        t.dataIn.clear();
        t.expectedLength = out != null ? out.length : 0;
        t.dataOut = out == null
                ? null
                : ByteBuffer.allocateDirect(out.length).put(out).flip();
        server.execute(t);
        return t;
    }

    /** A file-backed device that refuses writes and unmaps as a read-only pool does. */
    private record ReadOnly(FileBlockDevice d) implements BlockDevice {
        @Override
        public int blockSize() {
            return d.blockSize();
        }

        @Override
        public long blockCount() {
            return d.blockCount();
        }

        @Override
        public IoStatus read(long lba, int blocks, ByteBuffer dst) {
            return d.read(lba, blocks, dst);
        }

        @Override
        public IoStatus write(long lba, int blocks, ByteBuffer src, boolean fua) {
            return IoStatus.READ_ONLY;
        }

        @Override
        public IoStatus flush() {
            return d.flush();
        }

        @Override
        public IoStatus unmap(long lba, long blocks) {
            return IoStatus.READ_ONLY;
        }

        @Override
        public long provisioningRun(long lba) {
            return d.provisioningRun(lba);
        }

        @Override
        public boolean thin() {
            return d.thin();
        }

        @Override
        public void close() {
            d.close();
        }
    }
}
