package io.hashbrick.node.catalog;

import io.hashbrick.node.Controller;
import io.hashbrick.node.Log;
import io.hashbrick.node.api.BlockCodec;
import io.hashbrick.node.block.BlockDevice;
import io.hashbrick.node.block.FileBlockDevice;
import io.hashbrick.node.block.GrowableDevice;
import io.hashbrick.node.catalog.VolumeException.Kind;
import io.hashbrick.node.data.DataPath;
import io.hashbrick.node.scsi.LogicalUnit;
import io.hashbrick.node.scsi.ScsiDeviceServer;
import io.hashbrick.node.volume.VolumeRef;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Volumes of this controller: create, delete, grow and list, each mapped at a LUN of the target and
 * recorded in the {@link VolumeCatalog}. Volumes are sparse files for now (FileBlockDevice); the
 * content-addressed data path replaces the backing, not this service.
 *
 * <p>Order of steps, so a crash leaves no catalog entry without its data: create writes the file,
 * then the catalog, then maps the LUN; delete unmaps the LUN, rewrites the catalog, and only then
 * removes the file (a crash in between leaves an orphan file, reported at start-up).
 */
public final class VolumeService implements AutoCloseable {
    public static final int MAX_VOLUMES = 256;
    static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
    static final long MIN_BYTES = 1L << 20;
    /** C keeps its maps in an array by volume id and refuses ids from here (VolumeMaps.MAX_ID). */
    static final int MAX_ID = 1 << 24;

    private final Path dir;
    private final ScsiDeviceServer scsi;
    private final List<Volume> volumes = new ArrayList<>();
    private final Map<String, BlockDevice> devices = new HashMap<>();
    private final Controller data;
    private int nextId;

    /**
     * Makes the device the front end (R) serves for a content-addressed volume; {@code Main} wires the
     * front end's, over the roles' bindings.
     */
    @FunctionalInterface
    public interface Devices {
        BlockDevice open(Controller roles, int volumeId, long sizeBytes, int blockSize);
    }

    private final Devices devicesFactory;

    private VolumeService(Path dir, ScsiDeviceServer scsi, Controller data, int nextId, Devices devicesFactory) {
        this.devicesFactory = devicesFactory;
        this.dir = dir;
        this.scsi = scsi;
        this.data = data;
        this.nextId = nextId;
    }

    /** Opens the catalog of {@code dir} and maps every volume on {@code scsi}; new volumes are file-backed. */
    public static VolumeService open(Path dir, ScsiDeviceServer scsi, String targetName) throws IOException {
        return open(dir, scsi, targetName, null, null);
    }

    /**
     * Opens the catalog of {@code dir}, and the content-addressed data path in {@code dir} when
     * {@code dataConfig} is given (new volumes then use it; recovery replays its journal now), and
     * maps every volume on {@code scsi}.
     */
    public static VolumeService open(
            Path dir, ScsiDeviceServer scsi, String targetName, DataPath.Config dataConfig, Devices devices)
            throws IOException {
        return open(dir, scsi, targetName, dataConfig, devices, Controller::open);
    }

    /** How the roles open: {@link Controller#open}, or a cluster's controller. */
    @FunctionalInterface
    public interface Opener {
        Controller open(Path dir, DataPath.Config config, List<VolumeRef> catalog) throws IOException;
    }

    /**
     * The content-addressed volumes a pool's directory holds as C knows them (its applied catalog): what
     * a brick peer that takes the pool over opens its C with.
     */
    public static List<VolumeRef> refs(Path dir) throws IOException {
        List<VolumeRef> refs = new ArrayList<>();
        for (Volume v : VolumeCatalog.load(dir)) {
            if (v.contentAddressed()) {
                refs.add(new VolumeRef(v.id(), v.sizeBytes() / BlockCodec.BLOCK_BYTES));
            }
        }
        return refs;
    }

    /** As {@link #open(Path, ScsiDeviceServer, String, DataPath.Config, Devices)}, the roles opened by {@code opener}. */
    public static VolumeService open(
            Path dir,
            ScsiDeviceServer scsi,
            String targetName,
            DataPath.Config dataConfig,
            Devices devices,
            Opener opener)
            throws IOException {
        List<Volume> catalog = VolumeCatalog.load(dir);
        Controller data = null;
        boolean anyCa = catalog.stream().anyMatch(Volume::contentAddressed);
        if (anyCa && dataConfig == null) {
            throw new IOException("the catalog has content-addressed volumes but the data path is off: dir=" + dir);
        }
        if (dataConfig != null) {
            List<VolumeRef> refs = new ArrayList<>();
            for (Volume v : catalog) {
                if (v.contentAddressed()) {
                    refs.add(new VolumeRef(v.id(), v.sizeBytes() / BlockCodec.BLOCK_BYTES));
                }
            }
            data = opener.open(dir, dataConfig, refs);
        }
        VolumeService s = new VolumeService(dir, scsi, data, VolumeCatalog.nextId(dir), devices);
        for (Volume v : catalog) {
            BlockDevice dev;
            if (v.contentAddressed()) {
                dev = devices.open(data, v.id(), v.sizeBytes(), v.blockSize());
            } else {
                Path file = dir.resolve(v.file());
                if (!Files.exists(file)) {
                    throw new IOException("volume file missing: volume=" + v.name() + " file=" + file
                            + " (restore it, or remove the volume from " + VolumeCatalog.FILE + ")");
                }
                dev = FileBlockDevice.open(file, v.sizeBytes(), v.blockSize());
            }
            s.devices.put(v.name(), dev);
            s.volumes.add(v);
            scsi.addLogicalUnit(new LogicalUnit(v.lun(), v.id(), dev, targetName + "/" + v.name()));
        }
        Log.info("volumes_loaded", "count=" + s.volumes.size() + " dir=" + dir + " data_path=" + (data != null));
        return s;
    }

    /** The device behind volume {@code name}, or null. */
    public synchronized BlockDevice device(String name) {
        return devices.get(name);
    }

    /** The content-addressed controller's roles (C and D), or null when volumes are file-backed. */
    public Controller roles() {
        return data;
    }

    /** The lowest volume id this controller has never used. */
    public synchronized int nextId() {
        return nextId;
    }

    public synchronized List<Volume> list() {
        return List.copyOf(volumes);
    }

    public synchronized Volume create(String name, long sizeBytes, int blockSize, String targetName)
            throws VolumeException, IOException {
        validate(name, sizeBytes, blockSize);
        if (find(name) != null) {
            throw new VolumeException(Kind.CONFLICT, "volume exists: name=" + name);
        }
        int lun = freeLun();
        if (lun < 0) {
            throw new VolumeException(Kind.CONFLICT, "no free LUN: volumes=" + volumes.size() + " max=" + MAX_VOLUMES);
        }
        return createAt(name, sizeBytes, blockSize, targetName, nextId, lun);
    }

    /**
     * Creates a volume whose id and LUN were chosen elsewhere: in cluster mode, by the cluster's Raft
     * catalog, so that every controller holds it under the same id (D's and C's journals and checkpoints
     * are keyed by it) and serves it at the same LUN.
     *
     * @param id at least every id this controller has used: ids are never reused (a deleted volume's
     *     journal records may still be replayed), so a lower one is refused
     */
    public synchronized Volume create(String name, long sizeBytes, int blockSize, String targetName, int id, int lun)
            throws VolumeException, IOException {
        validate(name, sizeBytes, blockSize);
        if (find(name) != null) {
            throw new VolumeException(Kind.CONFLICT, "volume exists: name=" + name);
        }
        if (id < nextId) {
            throw new VolumeException(
                    Kind.CONFLICT, "volume id used before here: name=" + name + " id=" + id + " next_id=" + nextId);
        }
        if (id >= MAX_ID) {
            throw new VolumeException(
                    Kind.INVALID, "volume id out of range: name=" + name + " id=" + id + " max=" + (MAX_ID - 1));
        }
        if (lun < 0 || lun >= MAX_VOLUMES) {
            throw new VolumeException(
                    Kind.INVALID, "LUN out of range: name=" + name + " lun=" + lun + " range=0.." + (MAX_VOLUMES - 1));
        }
        Volume holder = lunHeld(lun);
        if (holder != null) {
            throw new VolumeException(
                    Kind.CONFLICT, "LUN not free: name=" + name + " lun=" + lun + " held_by=" + holder.name());
        }
        if (volumes.size() >= MAX_VOLUMES) {
            throw new VolumeException(Kind.CONFLICT, "volumes=" + volumes.size() + " max=" + MAX_VOLUMES);
        }
        return createAt(name, sizeBytes, blockSize, targetName, id, lun);
    }

    /** Refuses a name, size or block size this service cannot hold (the same rules on every controller). */
    public static void validate(String name, long sizeBytes, int blockSize) throws VolumeException {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new VolumeException(
                    Kind.INVALID, "volume name must be 1-64 of [A-Za-z0-9._-], starting alphanumeric: name=" + name);
        }
        if (blockSize != 512 && blockSize != 4096) {
            throw new VolumeException(Kind.INVALID, "block size must be 512 or 4096: block_size=" + blockSize);
        }
        if (sizeBytes < MIN_BYTES || sizeBytes % 4096 != 0) {
            throw new VolumeException(
                    Kind.INVALID, "size must be a multiple of 4096 and at least 1 MiB: size_bytes=" + sizeBytes);
        }
    }

    private Volume lunHeld(int lun) {
        for (Volume v : volumes) {
            if (v.lun() == lun) {
                return v;
            }
        }
        return null;
    }

    private Volume createAt(String name, long sizeBytes, int blockSize, String targetName, int id, int lun)
            throws VolumeException, IOException {
        Volume v;
        BlockDevice dev;
        if (data != null) {
            v = new Volume(name, lun, sizeBytes, blockSize, "", id, Volume.CA);
            dev = devicesFactory.open(data, id, sizeBytes, blockSize);
        } else {
            String file = name + ".img";
            if (Files.exists(dir.resolve(file))) {
                throw new VolumeException(
                        Kind.CONFLICT,
                        "a file of that name is in the data directory (an orphan?): file=" + dir.resolve(file));
            }
            dev = FileBlockDevice.open(dir.resolve(file), sizeBytes, blockSize);
            v = new Volume(name, lun, sizeBytes, blockSize, file, id, Volume.FILE);
        }
        volumes.add(v);
        try {
            VolumeCatalog.store(dir, volumes, id + 1);
        } catch (IOException e) {
            volumes.remove(v);
            dev.close();
            if (!v.contentAddressed()) {
                Files.deleteIfExists(dir.resolve(v.file()));
            }
            throw e;
        }
        nextId = id + 1;
        if (data != null) {
            data.maps().addVolume(id, sizeBytes / BlockCodec.BLOCK_BYTES);
        }
        devices.put(name, dev);
        scsi.addLogicalUnit(new LogicalUnit(lun, id, dev, targetName + "/" + name));
        Log.info(
                "volume_created",
                "name=" + name + " id=" + id + " lun=" + lun + " size_bytes=" + sizeBytes + " block_size=" + blockSize);
        return v;
    }

    public synchronized void delete(String name) throws VolumeException, IOException {
        Volume v = require(name);
        scsi.removeLogicalUnit(v.lun());
        volumes.remove(v);
        VolumeCatalog.store(dir, volumes, nextId);
        BlockDevice dev = devices.remove(name);
        dev.close();
        if (v.contentAddressed()) {
            data.maps().dropVolume(v.id());
        } else {
            Files.deleteIfExists(dir.resolve(v.file()));
        }
        Log.info("volume_deleted", "name=" + name + " lun=" + v.lun());
    }

    public synchronized Volume resize(String name, long newSizeBytes) throws VolumeException, IOException {
        Volume v = require(name);
        if (newSizeBytes % 4096 != 0 || newSizeBytes < v.sizeBytes()) {
            throw new VolumeException(
                    newSizeBytes < v.sizeBytes() ? Kind.CONFLICT : Kind.INVALID,
                    "a volume only grows, in multiples of 4096: name=" + name + " size_bytes=" + v.sizeBytes()
                            + " new_size_bytes=" + newSizeBytes);
        }
        Volume grown = new Volume(v.name(), v.lun(), newSizeBytes, v.blockSize(), v.file(), v.id(), v.backend());
        BlockDevice dev = devices.get(name);
        if (dev instanceof GrowableDevice ca) {
            volumes.set(volumes.indexOf(v), grown);
            VolumeCatalog.store(dir, volumes, nextId);
            data.maps().growVolume(v.id(), newSizeBytes / BlockCodec.BLOCK_BYTES);
            ca.grow(newSizeBytes);
        } else {
            ((FileBlockDevice) dev).grow(newSizeBytes);
            volumes.set(volumes.indexOf(v), grown);
            VolumeCatalog.store(dir, volumes, nextId);
        }
        scsi.capacityChanged(v.lun());
        Log.info(
                "volume_resized",
                "name=" + name + " lun=" + v.lun() + " old_size_bytes=" + v.sizeBytes() + " size_bytes="
                        + newSizeBytes);
        return grown;
    }

    private Volume require(String name) throws VolumeException {
        Volume v = find(name);
        if (v == null) {
            throw new VolumeException(Kind.NOT_FOUND, "no such volume: name=" + name);
        }
        return v;
    }

    private Volume find(String name) {
        for (Volume v : volumes) {
            if (v.name().equals(name)) {
                return v;
            }
        }
        return null;
    }

    private int freeLun() {
        boolean[] used = new boolean[MAX_VOLUMES];
        for (Volume v : volumes) {
            used[v.lun()] = true;
        }
        for (int i = 0; i < MAX_VOLUMES; i++) {
            if (!used[i]) {
                return i;
            }
        }
        return -1;
    }

    /** Flushes and closes every volume (shutdown). */
    @Override
    public synchronized void close() {
        for (Map.Entry<String, BlockDevice> e : devices.entrySet()) {
            e.getValue().flush();
            e.getValue().close();
        }
        devices.clear();
        if (data != null) {
            data.close();
        }
    }
}
