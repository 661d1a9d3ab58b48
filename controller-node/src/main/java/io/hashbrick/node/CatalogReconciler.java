package io.hashbrick.node;

import io.hashbrick.node.catalog.Volume;
import io.hashbrick.node.catalog.VolumeException;
import io.hashbrick.node.catalog.VolumeService;
import io.hashbrick.proto.cluster.v1.Catalog;
import java.io.IOException;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Makes a controller's {@link VolumeService} hold the volumes of a committed cluster catalog: the
 * same id, name, LUN, size and block size on every controller.
 *
 * <p>The catalog it is given is committed but may be old (a voter's replica that is catching up), so
 * it only ever moves forward:
 *
 * <ul>
 *   <li>A local volume is deleted only when the catalog's {@code next_volume_id} is above its id and
 *       the catalog does not hold it: ids are given out in order and never reused, so that catalog was
 *       taken after the volume's creation, and its absence is a committed deletion. A catalog that is
 *       empty because it is older (or a volume with id 0, from before ids) deletes nothing.
 *   <li>A volume only grows: a catalog size below the local one is an old catalog, ignored.
 *   <li>A catalog volume whose id this controller has already used (created and deleted since) is not
 *       created again: that catalog is older than one applied before.
 * </ul>
 *
 * A volume the catalog and this controller disagree on (same id under another name, LUN or block size;
 * a name or LUN held here by another id) is left alone and logged once as {@code
 * cluster_catalog_mismatch}: nothing is deleted to make room.
 */
final class CatalogReconciler {
    static final int MAX_REPORTED = 1024;

    private final VolumeService volumes;
    private final String targetName;
    private final String member;
    /** Mismatches already logged (volume id + reason), so a pass every 200 ms logs each once. */
    private final Set<String> reported = new HashSet<>();
    /** Volume id -> why the last pass could not apply it. */
    private final Map<Long, String> failures = new HashMap<>();

    private Catalog lastClean;

    CatalogReconciler(VolumeService volumes, String targetName, String member) {
        this.volumes = volumes;
        this.targetName = targetName;
        this.member = member;
    }

    /** What one pass changed. */
    record Outcome(int created, int resized, int deleted, int unapplied) {
        boolean changed() {
            return created + resized + deleted > 0;
        }
    }

    /** Applies {@code catalog}; @return what changed and how many catalog volumes are not applied here */
    synchronized Outcome apply(Catalog catalog, String source) {
        if (catalog.equals(lastClean)) {
            return new Outcome(0, 0, 0, 0);
        }
        failures.clear();
        TreeMap<Long, io.hashbrick.proto.cluster.v1.Volume> want = new TreeMap<>();
        for (io.hashbrick.proto.cluster.v1.Volume v : catalog.getVolumesList()) {
            want.put(v.getId(), v);
        }
        int deleted = 0;
        int resized = 0;
        List<Volume> local = volumes.list();
        for (Volume v : local) {
            io.hashbrick.proto.cluster.v1.Volume c = want.get((long) v.id());
            if (c == null) {
                if (v.id() >= 1 && v.id() < catalog.getNextVolumeId() && delete(v, catalog, source)) {
                    deleted++;
                }
            } else if (!c.getName().equals(v.name()) || c.getLun() != v.lun() || c.getBlockSize() != v.blockSize()) {
                mismatch(
                        c.getId(),
                        "id_names_another_volume",
                        "local_name=" + v.name() + " local_lun=" + v.lun() + " local_block_size=" + v.blockSize()
                                + " catalog_name=" + c.getName() + " catalog_lun=" + c.getLun()
                                + " catalog_block_size=" + c.getBlockSize());
            } else if (c.getSizeBytes() > v.sizeBytes() && resize(v, c.getSizeBytes(), source)) {
                resized++;
            }
        }
        int created = 0;
        for (io.hashbrick.proto.cluster.v1.Volume c : want.values()) {
            if (byId(volumes.list(), c.getId()) != null) {
                continue;
            }
            if (c.getId() < volumes.nextId()) {
                // Created and deleted here already: this catalog is older than one applied before (a
                // replica catching up). Ids are never reused, so it is not created again.
                continue;
            }
            if (create(c, source)) {
                created++;
            }
        }
        int unapplied = failures.size();
        lastClean = unapplied == 0 ? catalog : null;
        Outcome o = new Outcome(created, resized, deleted, unapplied);
        if (o.changed()) {
            Log.info(
                    "cluster_catalog_applied",
                    "member=" + member + " source=" + source + " created=" + created + " resized=" + resized
                            + " deleted=" + deleted + " unapplied=" + unapplied + " volumes="
                            + volumes.list().size() + " next_volume_id=" + catalog.getNextVolumeId());
        }
        return o;
    }

    /** Why volume {@code id} of the catalog is not applied here after the last pass, or null. */
    synchronized String failure(long id) {
        return failures.get(id);
    }

    private boolean delete(Volume v, Catalog catalog, String source) {
        try {
            volumes.delete(v.name());
            Log.info(
                    "cluster_catalog_volume_deleted",
                    "member=" + member + " source=" + source + " name=" + v.name() + " id=" + v.id() + " lun=" + v.lun()
                            + " next_volume_id=" + catalog.getNextVolumeId());
            return true;
        } catch (VolumeException | IOException e) {
            mismatch(v.id(), "delete_failed", "name=" + v.name() + " error=" + Log.q(e.getMessage()));
            return false;
        }
    }

    private boolean resize(Volume v, long sizeBytes, String source) {
        try {
            volumes.resize(v.name(), sizeBytes);
            Log.info(
                    "cluster_catalog_volume_resized",
                    "member=" + member + " source=" + source + " name=" + v.name() + " id=" + v.id() + " size_bytes="
                            + sizeBytes);
            return true;
        } catch (VolumeException | IOException e) {
            mismatch(v.id(), "resize_failed", "name=" + v.name() + " error=" + Log.q(e.getMessage()));
            return false;
        }
    }

    private boolean create(io.hashbrick.proto.cluster.v1.Volume c, String source) {
        if (c.getId() > Integer.MAX_VALUE) {
            mismatch(c.getId(), "id_out_of_range", "name=" + c.getName());
            return false;
        }
        try {
            volumes.create(c.getName(), c.getSizeBytes(), c.getBlockSize(), targetName, (int) c.getId(), c.getLun());
            Log.info(
                    "cluster_catalog_volume_created",
                    "member=" + member + " source=" + source + " name=" + c.getName() + " id=" + c.getId() + " lun="
                            + c.getLun() + " size_bytes=" + c.getSizeBytes() + " block_size=" + c.getBlockSize());
            return true;
        } catch (VolumeException | IOException e) {
            mismatch(c.getId(), "create_failed", "name=" + c.getName() + " error=" + Log.q(e.getMessage()));
            return false;
        }
    }

    private void mismatch(long id, String reason, String detail) {
        failures.put(id, reason + ": " + detail);
        if (reported.size() >= MAX_REPORTED) {
            reported.clear();
        }
        if (reported.add(id + "/" + reason + "/" + detail)) {
            Log.warn(
                    "cluster_catalog_mismatch",
                    "member=" + member + " volume=" + id + " reason=" + reason + " " + detail + " action=left_alone");
        }
    }

    static Volume byId(List<Volume> list, long id) {
        for (Volume v : list) {
            if (v.id() == id) {
                return v;
            }
        }
        return null;
    }
}
