package io.hashbrick.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.hashbrick.node.catalog.Volume;
import io.hashbrick.node.catalog.VolumeService;
import io.hashbrick.node.scsi.ScsiDeviceServer;
import io.hashbrick.proto.cluster.v1.Catalog;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a committed but possibly old catalog may do to a controller's volumes: create and grow, delete
 * only what the log deleted (an id below next_volume_id that the catalog no longer holds), never shrink,
 * never re-create an id used here, and leave a disagreement alone.
 */
class CatalogReconcilerTest {
    private static final String TARGET = "iqn.2026-11.io.hashbrick:test";
    private static final long MIB = 1L << 20;

    @TempDir
    Path dir;

    @Test
    void anOldOrEmptyCatalogDeletesNothingAndShrinksNothing() throws Exception {
        try (VolumeService volumes =
                VolumeService.open(dir, new ScsiDeviceServer("HASHBRCK", "TEST", List.of()), TARGET)) {
            CatalogReconciler r = new CatalogReconciler(volumes, TARGET, "c9");
            CatalogReconciler.Outcome o = r.apply(catalog(3, volume(1, "a", 0, 8), volume(2, "b", 1, 4)), "test");
            assertEquals(2, o.created());
            assertEquals(0, o.unapplied());

            // an empty catalog from before any volume (a replica not caught up, a failed read's default)
            o = r.apply(Catalog.getDefaultInstance(), "test");
            assertEquals(0, o.deleted());
            assertEquals(2, volumes.list().size());
            // an older catalog: a is smaller there, b not created yet (next_volume_id 2)
            o = r.apply(catalog(2, volume(1, "a", 0, 4)), "test");
            assertEquals(0, o.deleted() + o.resized());
            assertEquals(8 * MIB, find(volumes, "a").sizeBytes());
            assertNotNull(find(volumes, "b"));

            // a newer one: b deleted (its id is below next_volume_id and the catalog lacks it), a grown
            o = r.apply(catalog(4, volume(1, "a", 0, 16), volume(3, "c", 1, 4)), "test");
            assertEquals(1, o.deleted());
            assertEquals(1, o.resized());
            assertEquals(1, o.created());
            assertNull(find(volumes, "b"));
            assertEquals(16 * MIB, find(volumes, "a").sizeBytes());

            // b's id shows up again in an old catalog: ids are never reused, it is not made again
            o = r.apply(catalog(3, volume(1, "a", 0, 16), volume(2, "b", 1, 4)), "test");
            assertEquals(0, o.created());
            assertNull(find(volumes, "b"));
        }
    }

    @Test
    void aDisagreementIsLeftAloneAndAVolumeFromBeforeIdsIsKept() throws Exception {
        try (VolumeService volumes =
                VolumeService.open(dir, new ScsiDeviceServer("HASHBRCK", "TEST", List.of()), TARGET)) {
            Volume local = volumes.create("mine", 4 * MIB, 512, TARGET); // id 1, LUN 0, not from the catalog
            CatalogReconciler r = new CatalogReconciler(volumes, TARGET, "c9");
            // the catalog's id 1 is another volume; its "mine" is id 2 at LUN 0
            CatalogReconciler.Outcome o =
                    r.apply(catalog(3, volume(1, "other", 1, 4), volume(2, "mine", 0, 4)), "test");
            assertEquals(0, o.created() + o.deleted());
            assertEquals(2, o.unapplied());
            assertEquals(List.of(local), volumes.list());
            assertNotNull(r.failure(1));
            assertNotNull(r.failure(2));
        }
    }

    private static Catalog catalog(long next, io.hashbrick.proto.cluster.v1.Volume... vs) {
        return Catalog.newBuilder()
                .addAllVolumes(List.of(vs))
                .setNextVolumeId(next)
                .build();
    }

    private static io.hashbrick.proto.cluster.v1.Volume volume(long id, String name, int lun, long mib) {
        return io.hashbrick.proto.cluster.v1.Volume.newBuilder()
                .setId(id)
                .setName(name)
                .setLun(lun)
                .setSizeBytes(mib * MIB)
                .setBlockSize(512)
                .build();
    }

    private static Volume find(VolumeService volumes, String name) {
        for (Volume v : volumes.list()) {
            if (v.name().equals(name)) {
                return v;
            }
        }
        return null;
    }
}
