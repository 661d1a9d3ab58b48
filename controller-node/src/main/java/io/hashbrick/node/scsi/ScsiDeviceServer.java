package io.hashbrick.node.scsi;

import io.hashbrick.node.Log;
import io.hashbrick.node.block.IoStatus;
import java.util.List;
import java.util.function.Supplier;

/**
 * The SCSI device server of this target (SAM-5 §4.6.2): routes each command to its logical unit, reports
 * unit attentions and reservation conflicts, and runs the SPC-4 / SBC-4 command set. Thread-safe: the
 * logical unit table is copy-on-write, per-unit state guards itself.
 *
 * <p>Order of checks for a command (SAM-5 §5.14, SPC-4 §5.14): INQUIRY, REPORT LUNS and REQUEST SENSE
 * work on any LUN and are never blocked by a unit attention; for everything else an unknown LUN is
 * LOGICAL UNIT NOT SUPPORTED, then a pending unit attention is reported (and cleared), then reservations
 * are checked, then the CDB.
 */
public final class ScsiDeviceServer implements ScsiTarget {
    static final int MAX_TRANSFER_BYTES = 1 << 20;

    private final String vendor;
    private final String product;
    private volatile LogicalUnit[] luns = new LogicalUnit[0];
    private final IoCounters io = new IoCounters();
    /** The array's target ports for REPORT TARGET PORT GROUPS; null: this target's own port only. */
    private volatile Supplier<List<TargetPort>> targetPorts;
    /** Where reservations change: this process (a single controller) or the cluster's catalog. */
    private volatile ReservationAuthority reservationAuthority = ReservationAuthority.LOCAL;

    public ScsiDeviceServer(String vendor, String product, List<LogicalUnit> luns) {
        this.vendor = vendor;
        this.product = product;
        for (LogicalUnit lu : luns) {
            addLogicalUnit(lu);
        }
    }

    /** Reads and writes served, over every LUN (the metrics' IOPS). */
    public IoCounters io() {
        return io;
    }

    /**
     * Where REPORT TARGET PORT GROUPS takes the array's ports from (a cluster: every controller's, from
     * the cluster map), in group order; read at each command, so a port added later shows at once.
     */
    public void targetPorts(Supplier<List<TargetPort>> ports) {
        this.targetPorts = ports;
    }

    /**
     * Where reservations change from now on (a cluster: its catalog, so that every controller's port
     * sees one set per volume). Set before the portal opens.
     */
    public void reservationAuthority(ReservationAuthority authority) {
        this.reservationAuthority = authority;
    }

    /** Every logical unit, in LUN order. */
    public List<LogicalUnit> units() {
        List<LogicalUnit> all = new java.util.ArrayList<>();
        for (LogicalUnit lu : luns) {
            if (lu != null) {
                all.add(lu);
            }
        }
        return all;
    }

    /** The unit of catalog volume {@code volumeId}, or null. */
    public LogicalUnit unitOfVolume(long volumeId) {
        for (LogicalUnit lu : luns) {
            if (lu != null && lu.volumeId() == volumeId) {
                return lu;
            }
        }
        return null;
    }

    // ---- logical unit table

    public synchronized void addLogicalUnit(LogicalUnit lu) {
        LogicalUnit[] cur = luns;
        if (lu.lun() < cur.length && cur[lu.lun()] != null) {
            throw new IllegalArgumentException("lun already present lun=" + lu.lun() + " name=" + cur[lu.lun()].name());
        }
        LogicalUnit[] next = java.util.Arrays.copyOf(cur, Math.max(cur.length, lu.lun() + 1));
        next[lu.lun()] = lu;
        raiseEverywhere(cur, Sense.REPORTED_LUNS_CHANGED, lu); // SPC-4 §6.33: the inventory changed
        luns = next;
    }

    public synchronized LogicalUnit removeLogicalUnit(int lun) {
        LogicalUnit[] cur = luns;
        if (lun < 0 || lun >= cur.length || cur[lun] == null) {
            return null;
        }
        LogicalUnit gone = cur[lun];
        LogicalUnit[] next = cur.clone();
        next[lun] = null;
        luns = next;
        raiseEverywhere(next, Sense.REPORTED_LUNS_CHANGED, null);
        return gone;
    }

    /** The device behind {@code lun} changed size: CAPACITY DATA HAS CHANGED for every nexus (SBC-4 §4.6). */
    public void capacityChanged(int lun) {
        LogicalUnit lu = lookup(lun);
        if (lu != null) {
            lu.raise(Sense.CAPACITY_DATA_CHANGED, null);
        }
    }

    /** Raises {@code code} on every unit for every nexus known to any unit (and pre-seeds {@code fresh}). */
    private static void raiseEverywhere(LogicalUnit[] table, int code, LogicalUnit fresh) {
        for (LogicalUnit lu : table) {
            if (lu == null) {
                continue;
            }
            lu.raise(code, null);
            if (fresh != null) {
                for (ItNexus n : lu.attentions.keySet()) {
                    fresh.attentionsOf(n).add(code);
                }
            }
        }
    }

    LogicalUnit lookup(int lun) {
        LogicalUnit[] t = luns;
        return lun >= 0 && lun < t.length ? t[lun] : null;
    }

    @Override
    public int maxTransferBytes() {
        return MAX_TRANSFER_BYTES;
    }

    // ---- commands

    @Override
    public int dataOutLength(ScsiTask t) {
        LogicalUnit lu = lookup(t.lun);
        if (lu == null) {
            return 0;
        }
        long n = DataOut.length(t.cdb, lu);
        return n < 0 || n > MAX_TRANSFER_BYTES ? 0 : (int) n;
    }

    @Override
    public int dataInLength(ScsiTask t) {
        LogicalUnit lu = lookup(t.lun);
        int op = t.cdb[0] & 0xff;
        if (lu != null && isRead(op)) {
            long n = ReadWrite.blocks(t.cdb) * lu.device().blockSize();
            return (int) Math.min(n, MAX_TRANSFER_BYTES); // a longer read is refused before any data
        }
        return Out.CAPACITY; // parameter data is built in Out (and REQUEST SENSE's fits too)
    }

    @Override
    public void execute(ScsiTask t) {
        t.resetResult();
        int op = t.cdb[0] & 0xff;
        if (t.memoryOnly && !isRead(op)) {
            t.wouldBlock = true; // only reads have a way to finish from memory (ReadWrite.read)
            return;
        }
        LogicalUnit lu = lookup(t.lun);
        switch (op) {
            case 0x12 -> {
                Inquiry.execute(t, lu, vendor, product, lu != null && lu.descriptorSense());
                return;
            }
            case 0xA0 -> {
                InfoCommands.reportLuns(t, luns, lu);
                return;
            }
            case 0x03 -> {
                requestSense(t, lu);
                return;
            }
            default -> {}
        }
        if (lu == null) {
            Sense.check(t, false, Sense.ILLEGAL_REQUEST, Sense.LU_NOT_SUPPORTED);
            return;
        }
        int ua = lu.attentionsOf(t.nexus).poll();
        if (ua >= 0) {
            Sense.check(t, lu.descriptorSense(), Sense.UNIT_ATTENTION, ua);
            return;
        }
        if (lu.reservations().conflicts(t.nexus, OpcodeTable.access(t.cdb), op)) {
            t.status = ScsiTask.RESERVATION_CONFLICT;
            return;
        }
        dispatch(t, lu, op);
    }

    /** READ (6), (10), (12), (16). */
    private static boolean isRead(int op) {
        return op == 0x08 || op == 0x28 || op == 0xA8 || op == 0x88;
    }

    private void dispatch(ScsiTask t, LogicalUnit lu, int op) {
        switch (op) {
            case 0x08, 0x28, 0xA8, 0x88 -> {
                ReadWrite.read(t, lu);
                io.read(t);
            }
            case 0x0A, 0x2A, 0xAA, 0x8A, 0x2E, 0xAE, 0x8E -> {
                ReadWrite.write(t, lu);
                io.write(t);
            }
            case 0x2F, 0xAF, 0x8F -> ReadWrite.verify(t, lu);
            case 0x00 -> {} // TEST UNIT READY: always ready
            case 0x25 -> InfoCommands.readCapacity10(t, lu);
            case 0x9E -> serviceActionIn(t, lu);
            case 0x1A, 0x5A -> ModeCommands.sense(t, lu);
            case 0x15, 0x55 -> ModeCommands.select(t, lu);
            case 0x35, 0x91 -> synchronizeCache(t, lu);
            case 0x34, 0x90 -> preFetch(t, lu);
            case 0x1B -> startStop(t, lu);
            case 0x1E -> preventAllow(t, lu);
            case 0x37, 0xB7 -> InfoCommands.readDefectData(t, lu);
            case 0xA3 -> maintenanceIn(t, lu);
            case 0x41, 0x93 -> Provisioning.writeSame(t, lu);
            case 0x42 -> Provisioning.unmap(t, lu);
            case 0x89 -> AtomicWrites.compareAndWrite(t, lu);
            case 0x8B -> AtomicWrites.orWrite(t, lu);
            case 0x9C -> AtomicWrites.writeAtomic(t, lu);
            case 0x16 -> reserve6(t, lu);
            case 0x17 -> release6(t, lu);
            case 0x5E -> PersistentReserveCommands.in(t, lu);
            case 0x5F -> PersistentReserveCommands.out(t, lu, reservationAuthority);
            default -> Sense.check(t, lu.descriptorSense(), Sense.ILLEGAL_REQUEST, Sense.INVALID_COMMAND_OPCODE);
        }
    }

    private static void serviceActionIn(ScsiTask t, LogicalUnit lu) {
        switch (t.cdb[1] & 0x1f) {
            case 0x10 -> InfoCommands.readCapacity16(t, lu);
            case 0x12 -> Provisioning.getLbaStatus(t, lu);
            default -> Sense.invalidField(t, lu.descriptorSense(), true, 1);
        }
    }

    private List<TargetPort> ports() {
        Supplier<List<TargetPort>> s = targetPorts;
        return s == null ? null : s.get();
    }

    private void maintenanceIn(ScsiTask t, LogicalUnit lu) {
        switch (t.cdb[1] & 0x1f) {
            case 0x0A -> InfoCommands.reportTargetPortGroups(t, lu, ports());
            case 0x0C -> InfoCommands.reportSupportedOpcodes(t, lu);
            default -> Sense.invalidField(t, lu.descriptorSense(), true, 1);
        }
    }

    /** REQUEST SENSE (SPC-4 §6.39): reports and clears a pending unit attention, else NO SENSE. */
    private static void requestSense(ScsiTask t, LogicalUnit lu) {
        boolean desc = (t.cdb[1] & 0x01) != 0;
        int alloc = t.cdb[4] & 0xff;
        int ua = lu == null ? -1 : lu.attentionsOf(t.nexus).poll();
        if (lu == null) { // SPC-4 §6.39: LOGICAL UNIT NOT SUPPORTED as parameter data, status GOOD
            Sense.check(t, desc, Sense.ILLEGAL_REQUEST, Sense.LU_NOT_SUPPORTED);
        } else if (ua >= 0) {
            Sense.check(t, desc, Sense.UNIT_ATTENTION, ua);
        } else {
            Sense.check(t, desc, Sense.NO_SENSE, 0);
        }
        int n = Math.min(Math.min(t.senseLength, alloc), t.dataIn.remaining());
        t.dataIn.put(t.sense, 0, n);
        t.transferLength = n;
        t.status = ScsiTask.GOOD;
        t.senseLength = 0;
    }

    private static void synchronizeCache(ScsiTask t, LogicalUnit lu) {
        byte[] c = t.cdb;
        long lba = ReadWrite.lba(c);
        long blocks = ReadWrite.blocks(c);
        if (blocks == 0) { // SBC-4 §5.24: 0 means "to the end of the medium"
            blocks = Math.max(0, lu.device().blockCount() - lba);
        }
        if (BlockIo.inRange(t, lu, lba, blocks)) {
            BlockIo.done(t, lu, lu.device().flush(), true);
        }
    }

    /**
     * PRE-FETCH (SBC-4 §5.9): we do not stage data, so GOOD (not CONDITION MET, which promises the range is
     * now cached; libiscsi's Prefetch tests also expect GOOD).
     */
    private static void preFetch(ScsiTask t, LogicalUnit lu) {
        BlockIo.inRange(t, lu, ReadWrite.lba(t.cdb), ReadWrite.blocks(t.cdb));
    }

    /** START STOP UNIT (SBC-4 §5.25): the medium is not removable, so LOEJ is accepted and ignored. */
    private static void startStop(ScsiTask t, LogicalUnit lu) {
        // POWER CONDITION values other than START_VALID (0) / ACTIVE (1) / IDLE (2) / STANDBY (3)
        int pc = (t.cdb[4] & 0xff) >>> 4;
        if (pc != 0 && pc != 1 && pc != 2 && pc != 3 && pc != 7 && pc != 0xA && pc != 0xB) {
            Sense.invalidField(t, lu.descriptorSense(), true, 4);
        }
    }

    /** PREVENT ALLOW MEDIUM REMOVAL (SBC-4 §5.10): accepted (RMB=0, nothing to lock). */
    private static void preventAllow(ScsiTask t, LogicalUnit lu) {
        if ((t.cdb[4] & 0xFC) != 0) {
            Sense.invalidField(t, lu.descriptorSense(), true, 4);
        }
    }

    private void reserve6(ScsiTask t, LogicalUnit lu) {
        if ((t.cdb[1] & 0x01) != 0) { // LongID / extents (SPC-2 §7.21) are not supported
            Sense.invalidField(t, lu.descriptorSense(), true, 1);
            return;
        }
        Reservations r = lu.reservations();
        if (r.reserve6HeldByThisSession(t.nexus)) {
            return; // already this session's: nothing changes
        }
        // held by an older session of the same ports: this one takes it over (a change, below)
        if (!r.reserve6HeldBy(t.nexus) && (r.reserve6Held() || r.holder() >= 0)) {
            t.status = ScsiTask.RESERVATION_CONFLICT; // decided on the installed value: no change to make
            return;
        }
        reservationAuthority
                .change(lu, ReservationRules.Request.of(ReservationRules.RESERVE6, t.nexus))
                .reportTo(t, lu.descriptorSense());
    }

    private void release6(ScsiTask t, LogicalUnit lu) {
        if (lu.reservations().reserve6HeldBy(t.nexus)) { // else a no-op that completes GOOD (SPC-2 §7.21)
            reservationAuthority
                    .change(lu, ReservationRules.Request.of(ReservationRules.RELEASE6, t.nexus))
                    .reportTo(t, lu.descriptorSense());
        }
    }

    // ---- task management and nexus loss

    @Override
    public int taskManagement(ItNexus nexus, int function, int lun) {
        switch (function) {
            case TMF_ABORT_TASK_SET, TMF_CLEAR_TASK_SET, TMF_CLEAR_ACA -> {
                return lookup(lun) == null ? TMF_NO_LUN : TMF_COMPLETE; // the transport aborts its tasks
            }
            case TMF_LUN_RESET -> {
                LogicalUnit lu = lookup(lun);
                if (lu == null) {
                    return TMF_NO_LUN;
                }
                boolean reset = resetUnit(lu, Sense.BUS_DEVICE_RESET_OCCURRED); // SAM-5 §6.3.3
                log(reset ? "lun_reset" : "lun_reset_rejected", nexus, lun);
                return reset ? TMF_COMPLETE : TMF_REJECTED;
            }
            case TMF_TARGET_WARM_RESET, TMF_TARGET_COLD_RESET -> {
                // SAM-5 §6.3.2 hard reset: warm -> SCSI BUS RESET OCCURRED, cold -> POWER ON OCCURRED
                int code = function == TMF_TARGET_COLD_RESET ? Sense.POWER_ON_OCCURRED : Sense.SCSI_BUS_RESET_OCCURRED;
                boolean reset = true;
                for (LogicalUnit lu : luns) {
                    if (lu != null && reset) { // the cluster unavailable: the rest would wait as long each
                        reset = resetUnit(lu, code);
                    }
                }
                log(reset ? "target_reset" : "target_reset_rejected", nexus, function);
                return reset ? TMF_COMPLETE : TMF_REJECTED;
            }
            default -> {
                return TMF_NOT_SUPPORTED;
            }
        }
    }

    /**
     * A reset keeps persistent reservations (SPC-4 §5.13.1) but drops RESERVE(6) and mode changes; its unit
     * attention reaches every nexus, through every controller's port in a cluster (a change of the unit's
     * reservations that carries it). @return false when the change could not be made (the cluster's
     * catalog unavailable): the function is rejected, the host escalates
     */
    private boolean resetUnit(LogicalUnit lu, int code) {
        lu.modePages.reset();
        ReservationRules.Outcome o = reservationAuthority.change(lu, ReservationRules.Request.reset(code));
        if (!o.good()) {
            lu.raiseReset(code); // this port's nexuses at least learn of the reset
        }
        return o.good();
    }

    @Override
    public void nexusLost(ItNexus nexus) {
        for (LogicalUnit lu : luns) {
            if (lu != null) {
                if (lu.reservations().reserve6HeldByThisSession(nexus)) {
                    reservationAuthority.change(lu, ReservationRules.Request.of(ReservationRules.NEXUS_LOST, nexus));
                }
                lu.attentions.remove(nexus);
            }
        }
        log("nexus_lost", nexus, 0);
    }

    private static void log(String event, ItNexus nexus, int arg) {
        Log.info(event, "initiator_port=" + (nexus == null ? "-" : nexus.initiatorPort()) + " arg=" + arg);
    }

    static boolean ok(IoStatus s) {
        return s == IoStatus.OK;
    }
}
