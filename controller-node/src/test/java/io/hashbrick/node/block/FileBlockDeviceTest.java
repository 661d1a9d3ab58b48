package io.hashbrick.node.block;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileBlockDeviceTest {
    @TempDir
    Path dir;

    @Test
    void writeReadRoundTripAndUnmapReadsZeros() throws Exception {
        try (FileBlockDevice dev = FileBlockDevice.open(dir.resolve("lun0"), 1 << 20, 512)) {
            assertEquals(2048, dev.blockCount());
            ByteBuffer src = ByteBuffer.allocateDirect(16 * 512);
            for (int i = 0; i < src.capacity(); i++) {
                src.put(i, (byte) (i * 7 + 1));
            }
            assertEquals(IoStatus.OK, dev.write(8, 16, src, true));
            assertEquals(16 * 512, src.position());
            ByteBuffer dst = ByteBuffer.allocateDirect(16 * 512);
            assertEquals(IoStatus.OK, dev.read(8, 16, dst));
            dst.flip();
            src.flip();
            assertEquals(src, dst);

            assertEquals(IoStatus.OK, dev.unmap(8, 16));
            dst.clear();
            assertEquals(IoStatus.OK, dev.read(8, 16, dst));
            for (int i = 0; i < dst.capacity(); i++) {
                assertEquals(0, dst.get(i), "byte " + i);
            }
        }
    }

    @Test
    void provisioningRunsFollowHoles() throws Exception {
        try (FileBlockDevice dev = FileBlockDevice.open(dir.resolve("lun1"), 1 << 20, 512)) {
            if (!dev.thin()) {
                return; // no FFM or no hole support on this file system: covered by the zero fallback
            }
            assertEquals(-2048, dev.provisioningRun(0));
            ByteBuffer src = ByteBuffer.allocateDirect(8 * 512);
            src.put(0, (byte) 1);
            assertEquals(IoStatus.OK, dev.write(16, 8, src, false));
            assertEquals(-16, dev.provisioningRun(0));
            assertTrue(dev.provisioningRun(16) >= 8);
            assertEquals(IoStatus.OK, dev.unmap(16, 8));
            assertEquals(-2048, dev.provisioningRun(0));
        }
    }

    @Test
    void rejectsBadArgumentsWithContext() throws Exception {
        try (FileBlockDevice dev = FileBlockDevice.open(dir.resolve("lun2"), 4096 * 4, 4096)) {
            var e = assertThrows(IllegalArgumentException.class, () -> dev.read(3, 2, ByteBuffer.allocateDirect(8192)));
            assertTrue(e.getMessage().contains("lba=3"), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> FileBlockDevice.open(dir.resolve("x"), 1000, 512));
    }
}
