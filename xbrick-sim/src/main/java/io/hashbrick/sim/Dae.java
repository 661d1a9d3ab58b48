package io.hashbrick.sim;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.zip.CRC32C;

/**
 * The disk shelf of one X-Brick: {@link #SLOTS_DEFAULT} drive slots ({@code ssd-00.img} ...) in one
 * directory, reachable by both controllers of the brick, as SAS dual-ported drives are in the real thing.
 *
 * <p><b>Two processes, one shelf.</b> Each controller process opens the directory with its own
 * {@code Dae}. Nothing that both must agree on lives only in one process's heap:
 * <ul>
 *   <li>drive contents and labels are the files themselves (a replace rewrites the file in place, so the
 *       other process's open descriptor sees the new drive);
 *   <li>slot health and generation are words in {@code dae.state}, mapped {@code MAP_SHARED} by both and
 *       updated by compare-and-set, so a pull by one is refused by the other's next command;
 *   <li>creating the shelf and replacing a drive take an exclusive {@link FileLock} on {@code dae.state}
 *       (plus a JVM-wide monitor, since file locks are per process and two controllers may share a JVM
 *       in tests), so two controllers starting at once create each drive once.
 * </ul>
 * Per process, and so not shared: I/O counters and the media faults a controller's {@link FaultInjector}
 * arms (latent errors, torn writes, latency). A command the other process admitted just before a
 * replace may still land on the new drive; real shelves close that window with SCSI reservations,
 * which the controller layer owns.
 *
 * <p>{@code dae.state} layout (little-endian):
 *
 * <pre>
 *   0: magic "HBRKDAE1" (8)   8: version (4)   12: slot count (4)
 *  16: drive capacity bytes (8)                24: drive UUID seed (8)
 *  32: CRC32C of [0, 32) (4)   36: zero up to 64
 *  64 + 16 * slot: {@link SlotState} (health word, generation, reserved)
 *  file size: 4096
 * </pre>
 *
 * The header is written once at creation and checked on every open; the slot words are live and
 * carry no CRC (each is one aligned 4-byte store, which cannot tear).
 */
public final class Dae implements AutoCloseable {
    public static final int SLOTS_DEFAULT = 25;
    public static final int SLOTS_MAX = 64;
    static final String STATE_FILE = "dae.state";
    static final long MAGIC = 0x3145_4144_4B52_4248L; // "HBRKDAE1" little-endian
    static final int VERSION = 1;
    private static final int SLOT_COUNT_OFFSET = 12;
    private static final int CAPACITY_OFFSET = 16;
    private static final int SEED_OFFSET = 24;
    private static final int CRC_OFFSET = 32;
    private static final int SLOTS_OFFSET = 64;
    private static final int STATE_FILE_BYTES = 4096;
    /** File locks belong to a process; this serialises the controllers that share one JVM (tests). */
    private static final Object JVM_LOCK = new Object();

    private final Path directory;
    private final long uuidSeed;
    private final SsdOptions options;
    private final FileChannel stateChannel;
    private final Arena arena;
    private final SlotState[] states;
    private final Ssd[] drives;

    private Dae(
            Path directory, long uuidSeed, SsdOptions options, FileChannel stateChannel, Arena arena, int slotCount) {
        this.directory = directory;
        this.uuidSeed = uuidSeed;
        this.options = options;
        this.stateChannel = stateChannel;
        this.arena = arena;
        this.states = new SlotState[slotCount];
        this.drives = new Ssd[slotCount];
    }

    /**
     * Opens the shelf in {@code directory}, creating the state file and any missing drive (empty, with a
     * UUID derived from {@code uuidSeed}, the slot and its generation, so a simulation replays exactly).
     * An existing shelf must match the slot count, capacity and seed asked for.
     */
    public static Dae open(Path directory, int slotCount, long driveCapacityBytes, long uuidSeed, SsdOptions options)
            throws IOException {
        if (slotCount < 1 || slotCount > SLOTS_MAX) {
            throw new IllegalArgumentException("slot count out of range slots=" + slotCount + " max=" + SLOTS_MAX);
        }
        Files.createDirectories(directory);
        FileChannel ch = FileChannel.open(
                directory.resolve(STATE_FILE),
                StandardOpenOption.CREATE,
                StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        Arena arena = Arena.ofShared();
        Dae dae = new Dae(directory, uuidSeed, options, ch, arena, slotCount);
        try {
            synchronized (JVM_LOCK) {
                try (FileLock lock = ch.lock()) {
                    dae.initialiseLocked(driveCapacityBytes);
                }
            }
        } catch (IOException | RuntimeException e) {
            dae.close();
            throw e;
        }
        return dae;
    }

    private void initialiseLocked(long capacityBytes) throws IOException {
        if (stateChannel.size() == 0) {
            writeStateHeader(capacityBytes);
        } else {
            checkStateHeader(capacityBytes);
        }
        MemorySegment map = stateChannel.map(FileChannel.MapMode.READ_WRITE, 0, STATE_FILE_BYTES, arena);
        for (int i = 0; i < states.length; i++) {
            SlotState state = new SlotState(map.asSlice(SLOTS_OFFSET + (long) i * SlotState.BYTES, SlotState.BYTES));
            states[i] = state;
            Path file = driveFile(i);
            if (!Files.exists(file)) {
                int generation = state.unset() ? 0 : state.generation() + 1; // a vanished drive: a new one
                Ssd.format(file, new SsdHeader(i, capacityBytes, driveUuid(uuidSeed, i, generation)));
                state.initialise(generation);
            } else if (state.unset()) {
                state.initialise(0);
            }
            Ssd ssd = Ssd.open(file, state, options);
            drives[i] = ssd;
            if (ssd.slot() != i || ssd.capacityBytes() != capacityBytes) {
                throw new CorruptHeaderException("drive does not belong in this slot file=" + file + " slot=" + i
                        + " label_slot=" + ssd.slot() + " capacity_bytes=" + capacityBytes
                        + " label_capacity_bytes=" + ssd.capacityBytes());
            }
        }
        EventSink.emit(
                options.events(),
                options.clock(),
                "dae_opened",
                "dir=" + directory + " slots=" + states.length + " capacity_bytes=" + capacityBytes + " "
                        + healthSummary());
    }

    private void writeStateHeader(long capacityBytes) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(STATE_FILE_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(0, MAGIC).putInt(8, VERSION).putInt(SLOT_COUNT_OFFSET, states.length);
        b.putLong(CAPACITY_OFFSET, capacityBytes).putLong(SEED_OFFSET, uuidSeed);
        b.putInt(CRC_OFFSET, crc(b));
        Ssd.writeFully(stateChannel, 0, b);
        stateChannel.force(true);
        Ssd.syncDirectory(directory);
    }

    private void checkStateHeader(long capacityBytes) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(SLOTS_OFFSET).order(ByteOrder.LITTLE_ENDIAN);
        Path file = directory.resolve(STATE_FILE);
        if (stateChannel.size() != STATE_FILE_BYTES) {
            throw new CorruptHeaderException(
                    "dae state file has the wrong size file=" + file + " size=" + stateChannel.size());
        }
        Ssd.readFully(stateChannel, 0, b);
        if (b.getLong(0) != MAGIC || b.getInt(8) != VERSION || b.getInt(CRC_OFFSET) != crc(b)) {
            throw new CorruptHeaderException("dae state header invalid file=" + file + " magic=0x"
                    + Long.toHexString(b.getLong(0)) + " version=" + b.getInt(8) + " crc_ok="
                    + (b.getInt(CRC_OFFSET) == crc(b)));
        }
        if (b.getInt(SLOT_COUNT_OFFSET) != states.length
                || b.getLong(CAPACITY_OFFSET) != capacityBytes
                || b.getLong(SEED_OFFSET) != uuidSeed) {
            throw new IllegalArgumentException("dae directory holds another shelf dir=" + directory + " slots="
                    + states.length + " found_slots=" + b.getInt(SLOT_COUNT_OFFSET) + " capacity_bytes="
                    + capacityBytes + " found_capacity_bytes=" + b.getLong(CAPACITY_OFFSET) + " uuid_seed="
                    + uuidSeed + " found_uuid_seed=" + b.getLong(SEED_OFFSET));
        }
    }

    private static int crc(ByteBuffer b) {
        CRC32C crc = new CRC32C();
        crc.update(b.duplicate().position(0).limit(CRC_OFFSET));
        return (int) crc.getValue();
    }

    /** Version 4 (random) UUID bits, drawn from a generator keyed by seed, slot and generation. */
    static UUID driveUuid(long seed, int slot, int generation) {
        long key = ((long) slot << 32) | (generation & 0xFFFF_FFFFL);
        SplittableRandom random = new SplittableRandom(seed ^ (0x9E37_79B9_7F4A_7C15L * (key + 1)));
        long msb = (random.nextLong() & ~0xF000L) | 0x4000L;
        long lsb = (random.nextLong() & ~(3L << 62)) | (2L << 62);
        return new UUID(msb, lsb);
    }

    Path driveFile(int slot) {
        return directory.resolve(String.format("ssd-%02d.img", slot));
    }

    public Ssd slot(int slot) {
        checkSlot(slot);
        return drives[slot];
    }

    public int slotCount() {
        return drives.length;
    }

    public Path directory() {
        return directory;
    }

    public Health health(int slot) {
        return slot(slot).health();
    }

    public void fail(int slot) {
        slot(slot).fail();
    }

    public void pull(int slot) {
        slot(slot).pull();
    }

    public Health reinsert(int slot) throws IOException {
        return slot(slot).reinsert();
    }

    /** A new, empty drive in the slot; its UUID follows from the shelf's seed and the next generation. */
    public void replace(int slot) throws IOException {
        Ssd ssd = slot(slot);
        synchronized (JVM_LOCK) {
            try (FileLock lock = stateChannel.lock()) {
                int generation = states[slot].generation() + 1;
                ssd.replace(driveUuid(uuidSeed, slot, generation));
            }
        }
    }

    /**
     * Power fails for the whole shelf: {@link Ssd#powerCut} on every drive, in slot order, each with its
     * own seed, {@link #powerCutSeed}{@code (seed, slot)}, so one drive's decisions do not shift when
     * another has more or fewer unflushed writes. Failed and pulled drives are cut too (see
     * {@link Ssd#powerCut}). Returns the sum over the drives; with the model off, {@link
     * PowerCutSummary#NONE}.
     *
     * <p>Per process, like the record behind it: each controller's {@code Dae} holds the writes that
     * controller issued, so a brick-wide cut calls this on both. Writes of the two controllers to the
     * same cell since the last flush are not ordered against each other by the model.
     */
    public PowerCutSummary powerCut(long seed) throws IOException {
        PowerCutSummary total = PowerCutSummary.NONE;
        for (int i = 0; i < drives.length; i++) {
            total = total.plus(drives[i].powerCut(powerCutSeed(seed, i)));
        }
        EventSink.emit(options.events(), options.clock(), "dae_power_cut", "seed=" + seed + " " + total);
        return total;
    }

    /** The seed of one drive's cut: the shelf's cut seed and the slot, mixed as {@link #driveUuid} does. */
    static long powerCutSeed(long seed, int slot) {
        return new SplittableRandom(seed ^ (0xBF58_476D_1CE4_E5B9L * (slot + 1L))).nextLong();
    }

    public int count(Health health) {
        int n = 0;
        for (SlotState s : states) {
            if (s != null && s.health() == health) {
                n++;
            }
        }
        return n;
    }

    /** One line: {@code slots=25 ok=23 failed=1 pulled=1 health=OK,OK,FAILED,...}. */
    public String healthSummary() {
        StringBuilder each = new StringBuilder();
        for (int i = 0; i < states.length; i++) {
            each.append(i == 0 ? "" : ",")
                    .append(states[i] == null ? "-" : states[i].health().name());
        }
        return "slots=" + states.length + " ok=" + count(Health.OK) + " failed=" + count(Health.FAILED) + " pulled="
                + count(Health.PULLED) + " health=" + each;
    }

    /**
     * The drives a {@link FaultInjector#slow} made slow in this process, with the latency each command
     * gets, in milliseconds: {@code 3=100,7=0.25} ("" when none).
     */
    public String injectedLatencySummary() {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < drives.length; i++) {
            long ns = drives[i] == null ? 0 : drives[i].injectedLatencyNs();
            if (ns > 0) {
                b.append(b.isEmpty() ? "" : ",").append(i).append('=');
                if (ns % 1_000_000L == 0) {
                    b.append(ns / 1_000_000L);
                } else {
                    b.append(java.math.BigDecimal.valueOf(ns, 6)
                            .stripTrailingZeros()
                            .toPlainString());
                }
            }
        }
        return b.toString();
    }

    private void checkSlot(int slot) {
        if (slot < 0 || slot >= drives.length) {
            throw new IllegalArgumentException("no such slot slot=" + slot + " slots=" + drives.length);
        }
    }

    /** Closes this process's view; the shelf (files, slot health) stays as it is for the other controller. */
    @Override
    public void close() throws IOException {
        for (Ssd ssd : drives) {
            if (ssd != null) {
                ssd.close();
            }
        }
        arena.close();
        stateChannel.close();
    }
}
