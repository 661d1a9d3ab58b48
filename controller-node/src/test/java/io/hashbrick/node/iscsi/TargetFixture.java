package io.hashbrick.node.iscsi;

import io.hashbrick.node.block.FileBlockDevice;
import io.hashbrick.node.scsi.LogicalUnit;
import io.hashbrick.node.scsi.ScsiDeviceServer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/** A real target (iSCSI server + SCSI device server + file LUN) on an ephemeral loopback port. */
final class TargetFixture implements AutoCloseable {
    static final String TARGET = "iqn.2026-11.io.hashbrick:test";
    final IscsiServer server;
    final FileBlockDevice device;
    final int port;

    TargetFixture(Path dir, TargetConfig config) throws IOException {
        this(dir, config, 64L << 20);
    }

    TargetFixture(Path dir, TargetConfig config, long lunBytes) throws IOException {
        device = FileBlockDevice.open(dir.resolve("lun0.img"), lunBytes, 512);
        ScsiDeviceServer scsi =
                new ScsiDeviceServer("HASHBRCK", "TEST LUN", List.of(new LogicalUnit(0, device, "test/lun0")));
        server = new IscsiServer(config, scsi);
        port = server.start();
    }

    TargetFixture(Path dir) throws IOException {
        this(dir, config());
    }

    /** Test defaults: ephemeral port, no NOP pings (tests that want them set their own). */
    static TargetConfig config() {
        return new TargetConfig(TARGET, "test", "127.0.0.1", 0, 1, null, null, 262_144, 1_048_576, 64, 0, 2_000, 5_000);
    }

    String url() {
        return "iscsi://127.0.0.1:" + port + "/" + TARGET + "/0";
    }

    @Override
    public void close() throws Exception {
        server.close();
        device.close();
    }
}
