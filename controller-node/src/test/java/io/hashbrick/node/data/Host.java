package io.hashbrick.node.data;

import io.hashbrick.node.Controller;
import io.hashbrick.node.Main;
import io.hashbrick.node.block.BlockDevice;
import io.hashbrick.node.block.IoStatus;
import java.nio.ByteBuffer;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * What a host does to a volume of a {@link Controller}, in 4 KiB blocks, through the front end's device
 * over the roles' in-process bindings (exactly what the iSCSI target serves).
 */
final class Host {
    private static final Map<Controller, Map<Integer, BlockDevice>> DEVICES = new IdentityHashMap<>();

    private Host() {}

    static synchronized BlockDevice device(Controller dp, int volume) {
        return DEVICES.computeIfAbsent(dp, d -> new java.util.HashMap<>())
                .computeIfAbsent(volume, v -> Main.LOCAL_ROLES.open(dp, v, 1L << 40, 4096));
    }

    static IoStatus write(Controller dp, int volume, long block, int count, ByteBuffer src) {
        return device(dp, volume).write(block, count, src, false);
    }

    static IoStatus read(Controller dp, int volume, long block, int count, ByteBuffer dst) {
        return device(dp, volume).read(block, count, dst);
    }

    /** {@code length} bytes (a multiple of 512) at {@code offsetInBlock} of one 4 KiB block: a read-modify-write. */
    static synchronized IoStatus writePartial(
            Controller dp, int volume, long block, int offsetInBlock, int length, ByteBuffer src) {
        BlockDevice d = DEVICES.computeIfAbsent(dp, x -> new java.util.HashMap<>())
                .computeIfAbsent(-volume - 1, v -> Main.LOCAL_ROLES.open(dp, volume, 1L << 40, 512));
        return d.write(block * 8 + offsetInBlock / 512, length / 512, src, false);
    }

    static IoStatus unmap(Controller dp, int volume, long block, long count) {
        return device(dp, volume).unmap(block, count);
    }
}
