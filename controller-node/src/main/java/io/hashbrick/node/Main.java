package io.hashbrick.node;

import io.hashbrick.node.block.BlockDevice;
import io.hashbrick.node.block.FileBlockDevice;
import io.hashbrick.node.iscsi.IscsiServer;
import io.hashbrick.node.iscsi.TargetConfig;
import io.hashbrick.node.iscsi.TargetConfig.ChapCredentials;
import io.hashbrick.node.scsi.LogicalUnit;
import io.hashbrick.node.scsi.ScsiDeviceServer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * A controller node: today one iSCSI portal serving file-backed LUNs from a data directory. When it
 * listens, it writes {@code <dir>/node.url} (the default LUN's iSCSI URL), which the launcher waits
 * for. SIGTERM flushes and closes every LUN.
 */
@Command(name = "hashbrick-node", mixinStandardHelpOptions = true, version = "hashbrick 0.1",
        description = "Runs one Hashbrick controller: an iSCSI target serving LUNs.")
public final class Main implements Callable<Integer> {
    @Option(names = "--dir", required = true, description = "Data directory (LUN files, node.url).")
    Path dir;

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Portal address (default ${DEFAULT-VALUE}).")
    String host;

    @Option(names = "--port", defaultValue = "3260", description = "Portal TCP port (default ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--target", defaultValue = "iqn.2026-11.io.hashbrick:xbrick1",
            description = "Target IQN (default ${DEFAULT-VALUE}).")
    String targetName;

    @Option(names = "--luns", defaultValue = "1", description = "Number of LUNs, 0..N-1 (default ${DEFAULT-VALUE}).")
    int luns;

    @Option(names = "--lun-size", defaultValue = "4G", description = "Size of each LUN: bytes or K/M/G/T (default ${DEFAULT-VALUE}).")
    String lunSize;

    @Option(names = "--block-size", defaultValue = "512", description = "Logical block size: 512 or 4096 (default ${DEFAULT-VALUE}).")
    int blockSize;

    @Option(names = "--chap-user", description = "Require one-way CHAP with this user (secret from $HASHBRICK_CHAP_SECRET).")
    String chapUser;

    @Option(names = "--mutual-user", description = "Target's user for mutual CHAP (secret from $HASHBRICK_MUTUAL_SECRET).")
    String mutualUser;

    @Option(names = "--nop-interval-ms", defaultValue = "5000", description = "Idle time before a NOP-In ping, 0 = off (default ${DEFAULT-VALUE}).")
    int nopIntervalMs;

    @Override
    public Integer call() throws Exception {
        long size = parseSize(lunSize);
        if (blockSize != 512 && blockSize != 4096) {
            throw new CommandLine.ParameterException(new CommandLine(this), "--block-size must be 512 or 4096: " + blockSize);
        }
        if (luns < 1 || luns > 256) {
            throw new CommandLine.ParameterException(new CommandLine(this), "--luns must be 1..256: " + luns);
        }
        Files.createDirectories(dir);
        List<LogicalUnit> units = new ArrayList<>();
        List<BlockDevice> devices = new ArrayList<>();
        for (int i = 0; i < luns; i++) {
            BlockDevice dev = FileBlockDevice.open(dir.resolve("lun" + i + ".img"), size, blockSize);
            devices.add(dev);
            units.add(new LogicalUnit(i, dev, targetName + "/lun" + i));
        }
        ScsiDeviceServer scsi = new ScsiDeviceServer("HASHBRCK", "XBRICK LUN", units);
        TargetConfig config = TargetConfig.defaults(targetName, host, port).withNop(nopIntervalMs, 15_000)
                .withChap(credentials(chapUser, "HASHBRICK_CHAP_SECRET"), credentials(mutualUser, "HASHBRICK_MUTUAL_SECRET"));
        IscsiServer server = new IscsiServer(config, scsi);
        int bound = server.start();
        String url = "iscsi://" + host + ":" + bound + "/" + targetName + "/0";
        Path tmp = dir.resolve("node.url.tmp");
        Files.writeString(tmp, url + "\n", StandardCharsets.UTF_8);
        Files.move(tmp, dir.resolve("node.url"), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        Log.info("node_ready", "url=" + url + " luns=" + luns + " lun_bytes=" + size + " block_size=" + blockSize
                + " dir=" + dir.toAbsolutePath() + " pid=" + ProcessHandle.current().pid());
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            Log.info("node_stopping", "reason=signal");
            server.close();
            for (BlockDevice d : devices) {
                try {
                    d.flush();
                    d.close();
                } catch (Exception e) {
                    Log.warn("lun_close_failed", "error=" + Log.q(e.getMessage()));
                }
            }
            try {
                Files.deleteIfExists(dir.resolve("node.url"));
            } catch (java.io.IOException ignored) {
                // best effort
            }
            Log.info("node_stopped", "");
            stopped.countDown();
        }, "shutdown"));
        stopped.await();
        return 0;
    }

    private static ChapCredentials credentials(String user, String secretVariable) {
        if (user == null) {
            return null;
        }
        String secret = System.getenv(secretVariable);
        if (secret == null) {
            throw new IllegalArgumentException("CHAP user given but $" + secretVariable + " is not set: user=" + user);
        }
        return new ChapCredentials(user, secret);
    }

    static long parseSize(String s) {
        String t = s.trim().toUpperCase(java.util.Locale.ROOT);
        long mult = 1;
        char last = t.isEmpty() ? ' ' : t.charAt(t.length() - 1);
        switch (last) {
            case 'K' -> mult = 1L << 10;
            case 'M' -> mult = 1L << 20;
            case 'G' -> mult = 1L << 30;
            case 'T' -> mult = 1L << 40;
            default -> mult = 1;
        }
        String num = mult == 1 ? t : t.substring(0, t.length() - 1);
        long v;
        try {
            v = Long.parseLong(num) * mult;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("bad size: " + s);
        }
        if (v < 1 << 20 || v % 4096 != 0) {
            throw new IllegalArgumentException("LUN size must be a multiple of 4096 and at least 1 MiB: size=" + s);
        }
        return v;
    }

    public static void main(String[] args) {
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            Log.error("node_failed", "error=" + Log.q(ex.getMessage()));
            return 1;
        });
        System.exit(cl.execute(args));
    }
}
