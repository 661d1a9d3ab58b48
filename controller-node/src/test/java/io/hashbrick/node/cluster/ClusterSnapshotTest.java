package io.hashbrick.node.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hashbrick.node.CorruptCheckpointException;
import io.hashbrick.proto.cluster.v1.Command;
import io.hashbrick.proto.cluster.v1.StateImage;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The snapshot file: written and read back whole, and refused whole when any check fails. */
class ClusterSnapshotTest {
    @TempDir
    Path dir;

    private static byte[] someState() {
        ClusterState s = new ClusterState();
        long client = s.apply(Commands.register(), 1).getClientId();
        long index = 2;
        long op = 1;
        for (Command.Builder c : new Command.Builder[] {
            Commands.addMember(0, 1, 1),
            Commands.addMember(1, 2, 1),
            Commands.assign(2, 256, 1, 2),
            Commands.createVolume("vol-a", 1L << 30),
            Commands.group("hosts", "iqn.2026-01.host:a"),
            Commands.mapLun("hosts", 0, 1),
            Commands.chap("iqn.2026-01.host:a", "alice", "a-secret-of-16b"),
        }) {
            s.apply(c.setClientId(client).setOperationId(op++).build(), index++);
        }
        return s.image().toByteArray();
    }

    @Test
    void aSnapshotReadsBackAsItWasWritten() throws Exception {
        byte[] image = someState();
        Path file = dir.resolve("snapshot.3_17");
        SnapshotFile.write(file, 3, 17, image);
        assertEquals(SnapshotFile.HEADER_BYTES + image.length, Files.size(file));
        assertEquals("HBCS", new String(Files.readAllBytes(file), 0, 4, java.nio.charset.StandardCharsets.US_ASCII));
        SnapshotFile.Contents c = SnapshotFile.read(file);
        assertEquals(3, c.term());
        assertEquals(17, c.index());
        assertArrayEquals(image, c.payload());
        ClusterState loaded = ClusterState.fromImage(StateImage.parseFrom(c.payload()));
        assertArrayEquals(image, loaded.image().toByteArray());
        assertTrue(Files.notExists(dir.resolve("snapshot.3_17.tmp")), "the temporary file was renamed");
    }

    @Test
    void aFlippedBitTruncationOrForeignHeaderIsRefused() throws Exception {
        Path file = dir.resolve("snapshot.1_5");
        SnapshotFile.write(file, 1, 5, someState());
        byte[] good = Files.readAllBytes(file);

        byte[] flipped = good.clone();
        flipped[good.length / 2] ^= 0x10;
        assertRefused(file, flipped, "crc32c=");

        byte[] index = good.clone();
        ByteBuffer.wrap(index).order(ByteOrder.LITTLE_ENDIAN).putLong(16, 6); // the header is summed too
        assertRefused(file, index, "crc32c=");

        assertRefused(file, Arrays.copyOf(good, good.length - 1), "payload_bytes=");
        assertRefused(file, Arrays.copyOf(good, 20), "file_bytes=20");

        byte[] magic = good.clone();
        magic[0] = 'X';
        assertRefused(file, magic, "magic=");

        byte[] version = good.clone();
        ByteBuffer.wrap(version).order(ByteOrder.LITTLE_ENDIAN).putShort(4, (short) 9);
        assertRefused(file, version, "version=9 supported=1");
    }

    private static void assertRefused(Path file, byte[] bytes, String expected) throws Exception {
        Files.write(file, bytes);
        CorruptCheckpointException e = assertThrows(CorruptCheckpointException.class, () -> SnapshotFile.read(file));
        assertTrue(e.getMessage().contains(expected), e.getMessage());
        assertTrue(e.getMessage().contains("file=" + file), e.getMessage());
    }
}
