package io.hashbrick.node.iscsi;

import io.hashbrick.node.Controller;
import io.hashbrick.node.RoleTransport;
import io.hashbrick.node.block.BlockDevice;
import io.hashbrick.node.block.FileBlockDevice;
import io.hashbrick.node.data.DataPath;
import io.hashbrick.node.scsi.LogicalUnit;
import io.hashbrick.node.scsi.ScsiDeviceServer;
import io.hashbrick.node.volume.VolumeRef;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * A real target (iSCSI server + SCSI device server + one LUN) on an ephemeral loopback port: a file
 * LUN, or with {@link #contentAddressed} a volume on the content-addressed data path (DAE of sparse
 * files and NVRAM journal in {@code dir}).
 */
final class TargetFixture implements AutoCloseable {
    static final String TARGET = "iqn.2026-11.io.hashbrick:test";
    final IscsiServer server;
    final BlockDevice device;
    final Controller data;
    final int port;
    private final AutoCloseable roles;

    TargetFixture(Path dir, TargetConfig config) throws IOException {
        this(dir, config, 64L << 20);
    }

    TargetFixture(Path dir, TargetConfig config, long lunBytes) throws IOException {
        this(config, FileBlockDevice.open(dir.resolve("lun0.img"), lunBytes, 512), null, null);
    }

    /** A target over {@code device} (a test's own, e.g. a {@link GatedDevice}). */
    TargetFixture(TargetConfig config, BlockDevice device) throws IOException {
        this(config, device, null, null);
    }

    private TargetFixture(TargetConfig config, BlockDevice device, Controller data, AutoCloseable roles)
            throws IOException {
        this.device = device;
        this.data = data;
        this.roles = roles;
        ScsiDeviceServer scsi =
                new ScsiDeviceServer("HASHBRCK", "TEST LUN", List.of(new LogicalUnit(0, device, "test/lun0")));
        server = new IscsiServer(config, scsi);
        port = server.start();
    }

    /** A 512-byte-sector LUN of {@code lunBytes} on the content-addressed data path. */
    static TargetFixture contentAddressed(Path dir, TargetConfig config, long lunBytes) throws IOException {
        return contentAddressed(dir, config, lunBytes, "local");
    }

    /**
     * The same, with the front end reaching the roles over {@code transport} ({@code local}, or
     * {@code grpc}: every D and C call through a gRPC server on 127.0.0.1, as {@code --role-transport
     * grpc} runs the node).
     */
    static TargetFixture contentAddressed(Path dir, TargetConfig config, long lunBytes, String transport)
            throws IOException {
        Controller data = Controller.open(
                dir,
                new DataPath.Config(8, 256L << 20, 16L << 20, 60_000, 8L << 20),
                List.of(new VolumeRef(1, lunBytes / 4096)));
        RoleTransport roles = RoleTransport.of(transport);
        return new TargetFixture(config, roles.open(data, 1, lunBytes, 512), data, roles);
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
        if (roles != null) {
            roles.close();
        }
        if (data != null) {
            data.close();
        }
    }
}
