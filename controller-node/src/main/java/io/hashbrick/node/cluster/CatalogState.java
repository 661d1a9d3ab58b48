package io.hashbrick.node.cluster;

import io.hashbrick.node.CorruptCheckpointException;
import io.hashbrick.node.Log;
import io.hashbrick.proto.cluster.v1.Catalog;
import io.hashbrick.proto.cluster.v1.ChapSecret;
import io.hashbrick.proto.cluster.v1.CommandResult;
import io.hashbrick.proto.cluster.v1.CreateVolume;
import io.hashbrick.proto.cluster.v1.InitiatorGroup;
import io.hashbrick.proto.cluster.v1.LunMap;
import io.hashbrick.proto.cluster.v1.Reservation;
import io.hashbrick.proto.cluster.v1.ResizeVolume;
import io.hashbrick.proto.cluster.v1.SetReservation;
import io.hashbrick.proto.cluster.v1.Status;
import io.hashbrick.proto.cluster.v1.Volume;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The catalog: volumes (id, name, size, block size, LUN), initiator groups, LUN maps and CHAP secrets. Catalog
 * commands do not change the map's epoch (I/O routing does not depend on them); results carry the
 * epoch for the caller's information. One writer; sorted maps only, so its image is deterministic.
 *
 * <p>CHAP secrets sit here, in the Raft log and in snapshots, in the clear, as in any iSCSI target's
 * configuration: the state directory must be private to the cluster's processes.
 */
final class CatalogState {
    static final int MAX_NAME_CHARS = 64;
    /** RFC 7143 §4.2.7.1: an iSCSI name is at most 223 bytes. */
    static final int MAX_ISCSI_NAME_BYTES = 223;
    /** SAM-5 flat space addressing: a 14-bit LUN. */
    static final int MAX_LUN = (1 << 14) - 1;
    /**
     * Volumes get LUNs 0..255 ({@code Volume.lun}): a controller's VolumeService serves at most 256
     * volumes, each at one LUN of its portal, the same on every controller.
     */
    static final int MAX_VOLUME_LUNS = 256;

    static final int MAX_INITIATORS_PER_GROUP = 256;
    static final int MAX_ENTRIES = 1 << 16;
    static final long MAX_VOLUME_BYTES = 1L << 50;
    /** RFC 7143 §9.2.1: at least 96 bits of secret; 255 bytes is the longest a CHAP value carries here. */
    static final int MIN_SECRET_BYTES = 12;

    static final int MAX_SECRET_BYTES = 255;

    private final TreeMap<Long, Volume> volumes = new TreeMap<>();
    private final TreeMap<String, Long> volumeIdsByName = new TreeMap<>();
    private final TreeMap<String, InitiatorGroup> groups = new TreeMap<>();
    /** Initiator group -> LUN -> map entry. */
    private final TreeMap<String, TreeMap<Integer, LunMap>> luns = new TreeMap<>();

    private final TreeMap<String, ChapSecret> chap = new TreeMap<>();
    /** Volume id -> its reservations (only volumes whose reservations ever changed). */
    private final TreeMap<Long, Reservation> reservations = new TreeMap<>();

    private long nextVolumeId = 1;

    /** Bounds of a volume's reservations (scsi.Reservations): registrations and kept unit attentions. */
    static final int MAX_REGISTRATIONS = 256, MAX_ATTENTIONS = 32 + MAX_REGISTRATIONS;

    CommandResult createVolume(CreateVolume c, long epoch) {
        String bad = badName(c.getName());
        if (bad == null) {
            bad = badSize(c.getSizeBytes());
        }
        if (bad == null && c.getBlockSize() != 512 && c.getBlockSize() != 4096) {
            bad = "block_size=" + c.getBlockSize() + " expected=512|4096";
        }
        if (bad == null && volumes.size() >= MAX_ENTRIES) {
            bad = "volumes=" + volumes.size() + " max=" + MAX_ENTRIES;
        }
        if (bad != null) {
            return Results.refused(Status.INVALID_ARGUMENT, epoch, bad);
        }
        if (volumeIdsByName.containsKey(c.getName())) {
            return Results.refused(
                    Status.ALREADY_EXISTS,
                    epoch,
                    "volume_name=" + c.getName() + " volume=" + volumeIdsByName.get(c.getName()));
        }
        int lun = lowestFreeLun(volumes.values());
        if (lun < 0) {
            return Results.refused(
                    Status.IN_USE,
                    epoch,
                    "volume_name=" + c.getName() + " volumes=" + volumes.size() + " luns=" + MAX_VOLUME_LUNS
                            + " reason=every_lun_in_use");
        }
        long id = nextVolumeId++;
        volumes.put(
                id,
                Volume.newBuilder()
                        .setId(id)
                        .setName(c.getName())
                        .setSizeBytes(c.getSizeBytes())
                        .setBlockSize(c.getBlockSize())
                        .setLun(lun)
                        .build());
        volumeIdsByName.put(c.getName(), id);
        return Results.ok(epoch).toBuilder().setVolumeId(id).build();
    }

    /** The lowest LUN below {@link #MAX_VOLUME_LUNS} none of {@code held} has, or -1. Deterministic. */
    private static int lowestFreeLun(Iterable<Volume> held) {
        boolean[] used = new boolean[MAX_VOLUME_LUNS];
        for (Volume v : held) {
            if (v.getLun() < MAX_VOLUME_LUNS) {
                used[v.getLun()] = true;
            }
        }
        for (int lun = 0; lun < MAX_VOLUME_LUNS; lun++) {
            if (!used[lun]) {
                return lun;
            }
        }
        return -1;
    }

    CommandResult resizeVolume(ResizeVolume c, long epoch) {
        Volume v = volumes.get(c.getVolumeId());
        if (v == null) {
            return Results.refused(Status.NOT_FOUND, epoch, "volume=" + c.getVolumeId());
        }
        String bad = badSize(c.getSizeBytes());
        if (bad == null && c.getSizeBytes() < v.getSizeBytes()) {
            bad = "volume=" + v.getId() + " size_bytes=" + c.getSizeBytes() + " current=" + v.getSizeBytes()
                    + " reason=shrink";
        }
        if (bad != null) {
            return Results.refused(Status.INVALID_ARGUMENT, epoch, bad);
        }
        volumes.put(v.getId(), v.toBuilder().setSizeBytes(c.getSizeBytes()).build());
        return Results.ok(epoch).toBuilder().setVolumeId(v.getId()).build();
    }

    CommandResult deleteVolume(long volumeId, long epoch) {
        Volume v = volumes.get(volumeId);
        if (v == null) {
            return Results.refused(Status.NOT_FOUND, epoch, "volume=" + volumeId);
        }
        for (TreeMap<Integer, LunMap> group : luns.values()) {
            for (LunMap m : group.values()) {
                if (m.getVolumeId() == volumeId) {
                    return Results.refused(
                            Status.IN_USE,
                            epoch,
                            "volume=" + volumeId + " initiator_group=" + m.getInitiatorGroup() + " lun=" + m.getLun());
                }
            }
        }
        volumes.remove(volumeId);
        volumeIdsByName.remove(v.getName());
        reservations.remove(volumeId);
        return Results.ok(epoch).toBuilder().setVolumeId(volumeId).build();
    }

    /**
     * Replaces a volume's reservations if they are still at {@code expected_version} (compare-and-set):
     * the controller computed the new value from that version (scsi.ReservationRules).
     */
    CommandResult setReservation(SetReservation c, long epoch) {
        Reservation r = c.getReservation();
        long id = r.getVolumeId();
        if (!volumes.containsKey(id)) {
            return Results.refused(Status.NOT_FOUND, epoch, "volume=" + id);
        }
        String bad = badReservation(r);
        if (bad == null && r.getVersion() != c.getExpectedVersion() + 1) {
            bad = "volume=" + id + " version=" + r.getVersion() + " expected_version=" + c.getExpectedVersion();
        }
        if (bad != null) {
            return Results.refused(Status.INVALID_ARGUMENT, epoch, bad);
        }
        Reservation cur = reservations.get(id);
        long held = cur == null ? 0 : cur.getVersion();
        if (held != c.getExpectedVersion()) {
            return Results.refused(
                    Status.IN_USE,
                    epoch,
                    "volume=" + id + " version=" + held + " expected_version=" + c.getExpectedVersion()
                            + " reason=changed_meanwhile");
        }
        reservations.put(id, r);
        return Results.ok(epoch).toBuilder().setVolumeId(id).build();
    }

    private static String badReservation(Reservation r) {
        if (r.getRegistrationsCount() > MAX_REGISTRATIONS || r.getAttentionsCount() > MAX_ATTENTIONS) {
            return "volume=" + r.getVolumeId() + " registrations=" + r.getRegistrationsCount() + " attentions="
                    + r.getAttentionsCount() + " max=" + MAX_REGISTRATIONS + "/" + MAX_ATTENTIONS;
        }
        if (r.getHolder() < -1 || r.getHolder() >= r.getRegistrationsCount()) {
            return "volume=" + r.getVolumeId() + " holder=" + r.getHolder() + " registrations="
                    + r.getRegistrationsCount();
        }
        return null;
    }

    CommandResult putInitiatorGroup(InitiatorGroup g, long epoch) {
        String bad = badName(g.getName());
        if (bad == null && g.getInitiatorsCount() > MAX_INITIATORS_PER_GROUP) {
            bad = "initiator_group=" + g.getName() + " initiators=" + g.getInitiatorsCount() + " max="
                    + MAX_INITIATORS_PER_GROUP;
        }
        TreeSet<String> initiators = new TreeSet<>();
        for (int i = 0; bad == null && i < g.getInitiatorsCount(); i++) {
            bad = badIscsiName(g.getInitiators(i));
            initiators.add(g.getInitiators(i));
        }
        if (bad == null && !groups.containsKey(g.getName()) && groups.size() >= MAX_ENTRIES) {
            bad = "initiator_groups=" + groups.size() + " max=" + MAX_ENTRIES;
        }
        if (bad != null) {
            return Results.refused(Status.INVALID_ARGUMENT, epoch, bad);
        }
        groups.put(
                g.getName(),
                InitiatorGroup.newBuilder()
                        .setName(g.getName())
                        .addAllInitiators(initiators)
                        .build());
        return Results.ok(epoch);
    }

    CommandResult deleteInitiatorGroup(String name, long epoch) {
        if (!groups.containsKey(name)) {
            return Results.refused(Status.NOT_FOUND, epoch, "initiator_group=" + Log.q(name));
        }
        TreeMap<Integer, LunMap> mapped = luns.get(name);
        if (mapped != null && !mapped.isEmpty()) {
            return Results.refused(Status.IN_USE, epoch, "initiator_group=" + name + " luns=" + mapped.size());
        }
        groups.remove(name);
        return Results.ok(epoch);
    }

    CommandResult mapLun(LunMap m, long epoch) {
        if (!groups.containsKey(m.getInitiatorGroup())) {
            return Results.refused(Status.NOT_FOUND, epoch, "initiator_group=" + Log.q(m.getInitiatorGroup()));
        }
        if (!volumes.containsKey(m.getVolumeId())) {
            return Results.refused(Status.NOT_FOUND, epoch, "volume=" + m.getVolumeId());
        }
        if (m.getLun() > MAX_LUN) {
            return Results.refused(Status.INVALID_ARGUMENT, epoch, "lun=" + m.getLun() + " max=" + MAX_LUN);
        }
        TreeMap<Integer, LunMap> group = luns.computeIfAbsent(m.getInitiatorGroup(), g -> new TreeMap<>());
        LunMap present = group.get(m.getLun());
        if (present != null) {
            return Results.refused(
                    Status.ALREADY_EXISTS,
                    epoch,
                    "initiator_group=" + m.getInitiatorGroup() + " lun=" + m.getLun() + " volume="
                            + present.getVolumeId());
        }
        group.put(m.getLun(), m);
        return Results.ok(epoch).toBuilder().setVolumeId(m.getVolumeId()).build();
    }

    CommandResult unmapLun(String groupName, int lun, long epoch) {
        TreeMap<Integer, LunMap> group = luns.get(groupName);
        if (group == null || group.remove(lun) == null) {
            return Results.refused(Status.NOT_FOUND, epoch, "initiator_group=" + Log.q(groupName) + " lun=" + lun);
        }
        if (group.isEmpty()) {
            luns.remove(groupName);
        }
        return Results.ok(epoch);
    }

    CommandResult putChapSecret(ChapSecret s, long epoch) {
        String bad = badIscsiName(s.getInitiator());
        if (bad == null) {
            bad = badCredentials("user", s.getUser(), s.getSecret());
        }
        boolean mutual = !s.getMutualUser().isEmpty() || !s.getMutualSecret().isEmpty();
        if (bad == null && mutual) {
            bad = badCredentials("mutual_user", s.getMutualUser(), s.getMutualSecret());
        }
        if (bad == null && mutual && s.getMutualSecret().equals(s.getSecret())) {
            bad = "initiator=" + s.getInitiator() + " reason=mutual_secret_equals_secret"; // one secret per direction
        }
        if (bad == null && !chap.containsKey(s.getInitiator()) && chap.size() >= MAX_ENTRIES) {
            bad = "chap_secrets=" + chap.size() + " max=" + MAX_ENTRIES;
        }
        if (bad != null) {
            return Results.refused(Status.INVALID_ARGUMENT, epoch, bad);
        }
        chap.put(s.getInitiator(), s);
        return Results.ok(epoch);
    }

    CommandResult deleteChapSecret(String initiator, long epoch) {
        if (chap.remove(initiator) == null) {
            return Results.refused(Status.NOT_FOUND, epoch, "initiator=" + Log.q(initiator));
        }
        return Results.ok(epoch);
    }

    private static String badName(String name) {
        if (name.isEmpty() || name.length() > MAX_NAME_CHARS) {
            return "name_chars=" + name.length() + " range=1.." + MAX_NAME_CHARS;
        }
        for (int i = 0; i < name.length(); i++) {
            char ch = name.charAt(i);
            boolean ok = (ch >= 'a' && ch <= 'z')
                    || (ch >= 'A' && ch <= 'Z')
                    || (ch >= '0' && ch <= '9')
                    || ch == '-'
                    || ch == '_'
                    || ch == '.'
                    || ch == ':';
            if (!ok) {
                return "name=" + Log.q(name) + " reason=characters_allowed_are_letters_digits_-_.:";
            }
        }
        return null;
    }

    private static String badSize(long sizeBytes) {
        if (sizeBytes <= 0 || sizeBytes > MAX_VOLUME_BYTES || sizeBytes % 4096 != 0) {
            return "size_bytes=" + sizeBytes + " expected=multiple_of_4096_up_to_" + MAX_VOLUME_BYTES;
        }
        return null;
    }

    private static String badIscsiName(String name) {
        int bytes = name.getBytes(StandardCharsets.UTF_8).length;
        boolean prefix = name.startsWith("iqn.") || name.startsWith("eui.") || name.startsWith("naa.");
        if (!prefix || bytes > MAX_ISCSI_NAME_BYTES || name.indexOf(' ') >= 0) {
            return "iscsi_name=" + Log.q(name) + " expected=iqn.|eui.|naa._at_most_223_bytes";
        }
        return null;
    }

    private static String badCredentials(String what, String user, String secret) {
        int secretBytes = secret.getBytes(StandardCharsets.UTF_8).length;
        if (user.isEmpty() || user.length() > MAX_SECRET_BYTES) {
            return what + "_chars=" + user.length() + " range=1.." + MAX_SECRET_BYTES;
        }
        if (secretBytes < MIN_SECRET_BYTES || secretBytes > MAX_SECRET_BYTES) { // never the secret itself
            return what + "=" + Log.q(user) + " secret_bytes=" + secretBytes + " range=" + MIN_SECRET_BYTES + ".."
                    + MAX_SECRET_BYTES;
        }
        return null;
    }

    Catalog toProto() {
        Catalog.Builder b = Catalog.newBuilder()
                .addAllVolumes(volumes.values())
                .addAllInitiatorGroups(groups.values())
                .addAllChapSecrets(chap.values())
                .setNextVolumeId(nextVolumeId)
                .addAllReservations(reservations.values());
        for (TreeMap<Integer, LunMap> group : luns.values()) {
            b.addAllLunMaps(group.values());
        }
        return b.build();
    }

    /** Rebuilds the catalog from its image, checking the references apply keeps true. */
    static CatalogState fromProto(Catalog p) throws CorruptCheckpointException {
        CatalogState s = new CatalogState();
        s.nextVolumeId = p.getNextVolumeId();
        boolean[] lunHeld = new boolean[MAX_VOLUME_LUNS];
        for (Volume given : p.getVolumesList()) {
            Volume v = given;
            if (v.getLun() >= MAX_VOLUME_LUNS || lunHeld[v.getLun()]) {
                // An image from before volumes had LUNs (every lun 0): the lowest free one, in id order, the
                // same rule on every replica.
                int lun = lowestFreeLun(s.volumes.values());
                if (lun < 0) {
                    throw corrupt("volume=" + v.getId() + " luns=" + MAX_VOLUME_LUNS + " reason=every_lun_in_use");
                }
                v = v.toBuilder().setLun(lun).build();
            }
            if (v.getId() == 0 || v.getId() >= s.nextVolumeId || s.volumes.put(v.getId(), v) != null) {
                throw corrupt("volume=" + v.getId() + " next_volume_id=" + s.nextVolumeId);
            }
            lunHeld[v.getLun()] = true;
            if (s.volumeIdsByName.put(v.getName(), v.getId()) != null) {
                throw corrupt("volume_name=" + Log.q(v.getName()) + " reason=repeated");
            }
        }
        for (InitiatorGroup g : p.getInitiatorGroupsList()) {
            s.groups.put(g.getName(), g);
        }
        for (LunMap m : p.getLunMapsList()) {
            if (!s.groups.containsKey(m.getInitiatorGroup()) || !s.volumes.containsKey(m.getVolumeId())) {
                throw corrupt("lun_map_group=" + Log.q(m.getInitiatorGroup()) + " volume=" + m.getVolumeId());
            }
            s.luns.computeIfAbsent(m.getInitiatorGroup(), g -> new TreeMap<>()).put(m.getLun(), m);
        }
        for (ChapSecret c : p.getChapSecretsList()) {
            s.chap.put(c.getInitiator(), c);
        }
        for (Reservation r : p.getReservationsList()) {
            String bad = badReservation(r);
            if (bad != null || !s.volumes.containsKey(r.getVolumeId())) {
                throw corrupt(bad != null ? bad : "reservation_volume=" + r.getVolumeId() + " reason=no_such_volume");
            }
            s.reservations.put(r.getVolumeId(), r);
        }
        return s;
    }

    private static CorruptCheckpointException corrupt(String detail) {
        return new CorruptCheckpointException("catalog image: " + detail);
    }

    /** For tests: how many LUNs are mapped, over all groups. */
    int lunCount() {
        int n = 0;
        for (Map<Integer, LunMap> group : luns.values()) {
            n += group.size();
        }
        return n;
    }
}
