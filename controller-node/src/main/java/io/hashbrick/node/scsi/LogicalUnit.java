package io.hashbrick.node.scsi;

import io.hashbrick.node.block.BlockDevice;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One SCSI logical unit (SAM-5 §4.6.4): a block device plus the state SPC-4 attaches to a logical unit
 * (mode pages, unit attentions per I_T nexus, reservations) and its stable identity: the unit serial
 * number (VPD 80h) and an NAA IEEE Registered Extended designator (VPD 83h, SPC-4 §7.8.6.6.5), both
 * derived from {@code name} so every controller of the cluster reports the same identity for a volume.
 */
public final class LogicalUnit {
    /** IEEE company id used in our NAA designators (a locally administered placeholder until we own an OUI). */
    static final int OUI = 0x0A4B42; // "HB"

    private final int lun;
    /** The catalog's volume id (keys the unit's state in a cluster), or -1 for a unit outside a catalog. */
    private final long volumeId;

    private final BlockDevice device;
    private final String name;
    private final String serial;
    private final long naaHigh;
    private final long naaLow;

    final ModePages modePages = new ModePages();
    /** The installed reservations: read by every command's access check without a lock. */
    private volatile Reservations reservations = Reservations.NONE;
    /** Held by the local authority while it computes and installs one change (never across I/O). */
    final Object changeLock = new Object();
    /**
     * The LBA ranges of the commands executing on the unit: reads and writes hold theirs shared, COMPARE
     * AND WRITE, ORWRITE and WRITE ATOMIC exclusively (SBC-4 §4.29 atomicity). No lock is held across
     * the device I/O: a command waits only for those on overlapping blocks.
     */
    final RangeLock ranges = new RangeLock();

    final ConcurrentHashMap<ItNexus, UnitAttentions> attentions = new ConcurrentHashMap<>();

    public LogicalUnit(int lun, BlockDevice device, String name) {
        this(lun, -1, device, name);
    }

    public LogicalUnit(int lun, long volumeId, BlockDevice device, String name) {
        if (lun < 0 || lun > 16383) {
            throw new IllegalArgumentException("lun out of flat-space range lun=" + lun);
        }
        if (name == null || name.isEmpty()) {
            throw new IllegalArgumentException("name must be non-empty lun=" + lun);
        }
        this.lun = lun;
        this.volumeId = volumeId;
        this.device = device;
        this.name = name;
        long h1 = fnv64(name.getBytes(StandardCharsets.UTF_8), 0xcbf29ce484222325L);
        long h2 = fnv64(name.getBytes(StandardCharsets.UTF_8), h1 ^ 0x9E3779B97F4A7C15L);
        this.serial = String.format("HB%016X", h1).substring(0, 18);
        // NAA 6: NAA(4) | IEEE company id (24) | vendor specific id (36) | vendor specific extension (64)
        this.naaHigh = 0x6L << 60 | (long) OUI << 36 | (h1 >>> 28);
        this.naaLow = h2;
    }

    private static long fnv64(byte[] data, long seed) {
        long h = seed;
        for (byte b : data) {
            h ^= b & 0xff;
            h *= 0x100000001b3L;
        }
        return h;
    }

    public int lun() {
        return lun;
    }

    public long volumeId() {
        return volumeId;
    }

    /** The reservations installed here (a value: read it once per decision). */
    public Reservations reservations() {
        return reservations;
    }

    /**
     * Installs {@code next} if it is newer than what is installed, raising the unit attentions of every
     * version in between on the nexuses of this unit that they name (a reset's on every nexus).
     *
     * @return whether it was newer
     */
    public synchronized boolean install(Reservations next) {
        Reservations cur = reservations;
        if (next.version() <= cur.version()) {
            return false;
        }
        for (Reservations.Attention a : next.attentions()) {
            if (a.version() <= cur.version()) {
                continue;
            }
            if (a.everyNexus()) {
                raiseReset(a.code());
                continue;
            }
            for (var e : attentions.entrySet()) {
                if (a.names(e.getKey())) {
                    e.getValue().add(a.code());
                }
            }
        }
        reservations = next;
        return true;
    }

    /**
     * Replaces what is installed by {@code value} even if older (the cluster's catalog holds the truth:
     * an installed version it does not know came from no committed change). Raises nothing.
     */
    public synchronized void replace(Reservations value) {
        reservations = value;
    }

    public BlockDevice device() {
        return device;
    }

    public String name() {
        return name;
    }

    /** VPD 80h unit serial number. */
    public String serial() {
        return serial;
    }

    long naaHigh() {
        return naaHigh;
    }

    long naaLow() {
        return naaLow;
    }

    /** The pending unit attentions of {@code nexus}, created empty on its first access. */
    UnitAttentions attentionsOf(ItNexus nexus) {
        UnitAttentions ua = attentions.get(nexus);
        return ua != null ? ua : attentions.computeIfAbsent(nexus, k -> new UnitAttentions());
    }

    /** Raises {@code code} for every nexus that has used this LU, except {@code except} (may be null). */
    void raise(int code, ItNexus except) {
        for (var e : attentions.entrySet()) {
            if (!e.getKey().equals(except)) {
                e.getValue().add(code);
            }
        }
    }

    /** A reset condition for every nexus: it replaces what was pending (SAM-5 §6.3). */
    void raiseReset(int code) {
        for (UnitAttentions ua : attentions.values()) {
            ua.replaceAll(code);
        }
    }

    boolean descriptorSense() {
        return modePages.descriptorSense;
    }
}
