package io.hashbrick.node.catalog;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hashbrick.node.block.IoStatus;
import io.hashbrick.node.catalog.VolumeException.Kind;
import io.hashbrick.node.data.DataPath;
import io.hashbrick.node.scsi.ScsiDeviceServer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VolumeServiceTest {
    static final String TARGET = "iqn.2026-11.io.hashbrick:test";

    @TempDir
    Path dir;

    private VolumeService open() throws IOException {
        return VolumeService.open(dir, new ScsiDeviceServer("HASHBRCK", "TEST", List.of()), TARGET);
    }

    @Test
    void createGrowDeleteAndSurviveRestart() throws Exception {
        try (VolumeService s = open()) {
            Volume a = s.create("a", 16L << 20, 512, TARGET);
            Volume b = s.create("b", 8L << 20, 4096, TARGET);
            assertEquals(0, a.lun());
            assertEquals(1, b.lun());
            assertEquals(32L << 20, s.resize("b", 32L << 20).sizeBytes());
            s.delete("a");
            assertFalse(Files.exists(dir.resolve("a.img")), "the deleted volume's data is gone");
            assertEquals(0, s.create("c", 4L << 20, 512, TARGET).lun(), "the lowest free LUN is reused");
        }
        try (VolumeService s = open()) {
            assertEquals(
                    List.of(
                            new Volume("b", 1, 32L << 20, 4096, "b.img", 2, Volume.FILE),
                            new Volume("c", 0, 4L << 20, 512, "c.img", 3, Volume.FILE)),
                    s.list());
        }
    }

    private VolumeService openCa() throws IOException {
        return VolumeService.open(
                dir,
                new ScsiDeviceServer("HASHBRCK", "TEST", List.of()),
                TARGET,
                new DataPath.Config(6, 32L << 20, 4L << 20, 60_000, 8L << 20),
                io.hashbrick.node.Main.LOCAL_ROLES);
    }

    @Test
    void contentAddressedVolumesKeepDataAcrossRestartAndDeleteDropsMappings() throws Exception {
        ByteBuffer block = ByteBuffer.allocateDirect(4096);
        for (int i = 0; i < 4096; i++) {
            block.put(i, (byte) (i * 31));
        }
        try (VolumeService s = openCa()) {
            Volume a = s.create("a", 16L << 20, 512, TARGET);
            Volume b = s.create("b", 8L << 20, 4096, TARGET);
            assertEquals(Volume.CA, a.backend());
            assertEquals(IoStatus.OK, s.device("a").write(8, 8, block.duplicate(), false));
            assertEquals(IoStatus.OK, s.device("b").write(3, 1, block.duplicate(), false));
            assertEquals(2L, s.roles().stats().get("mapped_blocks"));
            assertEquals(1L, s.roles().stats().get("unique_blocks"), "the same 4 KiB in two volumes is stored once");
            s.resize("b", 16L << 20);
            assertEquals(4096, s.device("b").blockCount());
            s.delete("a");
            assertEquals(1L, s.roles().stats().get("mapped_blocks"));
            Volume c = s.create("c", 4L << 20, 512, TARGET);
            assertTrue(c.id() > b.id(), "volume ids are never reused");
        }
        try (VolumeService s = openCa()) {
            ByteBuffer out = ByteBuffer.allocateDirect(4096);
            assertEquals(IoStatus.OK, s.device("b").read(3, 1, out));
            assertEquals(block.rewind(), out.flip());
            assertEquals(0, s.roles().audit(true).discrepancies());
            assertEquals(16L << 20, s.list().get(0).sizeBytes());
        }
    }

    @Test
    void badRequestsSayWhy() throws Exception {
        try (VolumeService s = open()) {
            s.create("a", 16L << 20, 512, TARGET);
            assertKind(Kind.CONFLICT, () -> s.create("a", 16L << 20, 512, TARGET));
            assertKind(Kind.INVALID, () -> s.create("../etc", 16L << 20, 512, TARGET));
            assertKind(Kind.INVALID, () -> s.create("x", 1000, 512, TARGET));
            assertKind(Kind.INVALID, () -> s.create("x", 16L << 20, 1024, TARGET));
            assertKind(Kind.CONFLICT, () -> s.resize("a", 8L << 20));
            assertKind(Kind.NOT_FOUND, () -> s.delete("nope"));
            assertKind(Kind.NOT_FOUND, () -> s.resize("nope", 64L << 20));
        }
    }

    @Test
    void aDamagedCatalogStopsTheNodeInsteadOfLosingVolumes() throws Exception {
        try (VolumeService s = open()) {
            s.create("a", 16L << 20, 512, TARGET);
        }
        Path catalog = dir.resolve(VolumeCatalog.FILE);
        Files.writeString(catalog, Files.readString(catalog).replace("16777216", "16777217"));
        IOException e = assertThrows(IOException.class, this::open);
        assertTrue(e.getMessage().contains("checksum mismatch"), e.getMessage());
        Files.writeString(catalog, "{\"format\":\"something-else\",\"version\":1}");
        assertThrows(IOException.class, this::open);
    }

    @Test
    void aMissingVolumeFileIsReportedNotRecreatedEmpty() throws Exception {
        try (VolumeService s = open()) {
            s.create("a", 16L << 20, 512, TARGET);
        }
        Files.delete(dir.resolve("a.img"));
        IOException e = assertThrows(IOException.class, this::open);
        assertTrue(e.getMessage().contains("volume file missing"), e.getMessage());
    }

    @Test
    void sizesParseAsAdminsWriteThem() {
        assertEquals(4L << 30, Sizes.parse("4G"));
        assertEquals(512L << 20, Sizes.parse("512m"));
        assertEquals(1L << 40, Sizes.parse("1TB"));
        assertEquals(1234, Sizes.parse("1234"));
        assertThrows(IllegalArgumentException.class, () -> Sizes.parse("lots"));
        assertThrows(IllegalArgumentException.class, () -> Sizes.parse("-1G"));
    }

    interface Call {
        void run() throws Exception;
    }

    static void assertKind(Kind kind, Call c) {
        VolumeException e = assertThrows(VolumeException.class, c::run);
        assertEquals(kind, e.kind(), e.getMessage());
    }
}
