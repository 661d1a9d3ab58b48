package io.hashbrick.sim;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.zip.CRC32C;

/**
 * One controller's battery-backed memory (the journal lives here, DESIGN.md "Vocabulary"): a file
 * mapped {@code MAP_SHARED} into the process, with a 4 KiB header page and a data region the journal
 * writes records into directly.
 *
 * <pre>
 *   0: magic "HBRKNVR1" (8)   8: version (4)   12: owner id (4) - the controller this memory belongs to
 *  16: data bytes (8)        24: CRC32C of [0, 24) (4)      28: zero up to 4096
 *  4096: data region, {@code dataBytes} long, handed out by {@link #data()}
 * </pre>
 *
 * <b>What survives what.</b> Stores into the mapping land in the kernel's page cache, which belongs to
 * the kernel, not to the process:
 * <ul>
 *   <li><i>process crash</i> (SIGKILL, OOM kill, JVM abort): everything stored survives, vaulted or not.
 *       Reopening the file shows every store that completed before the crash.
 *   <li><i>power loss</i>: only what the last {@link #vault()} wrote survives. In an XtremIO the battery
 *       keeps the controller alive long enough to dump ("vault") its memory to flash when power fails;
 *       here {@link #vault()} is that dump ({@code msync(MS_SYNC)} of the mapping) and the controller's
 *       power-fail handling, or a planned shutdown, must call it.
 * </ul>
 * A page cache does not forget on command, so a power loss is simulated deterministically: every
 * {@link #vault()} also writes the whole image to {@code <file>.vault} (write, fsync, atomic rename),
 * and {@link #simulatePowerLoss()} (or {@link #revertToVault(Path)}, for a process that is gone) copies
 * that image back over the memory. Creating the memory vaults once, so a power loss before any vault
 * yields an empty, valid region. A vault copies the whole region: fine for a simulator whose regions
 * are megabytes, and the cost lands where a real vault's does, at power-fail time, not per write.
 *
 * <p>Stores from several threads to disjoint ranges are fine (a shared arena). {@link #vault()} copies
 * what is there at that moment; call it with writers quiesced if the image must be a consistent cut.
 */
public final class BatteryBackedMemory implements AutoCloseable {
    public static final int HEADER_BYTES = 4096;
    /** Bounded so the whole mapping fits one {@code ByteBuffer} for the vault copy. */
    public static final long DATA_BYTES_MAX = 1L << 30;

    static final long MAGIC = 0x3152_564E_4B52_4248L; // "HBRKNVR1" little-endian
    static final int VERSION = 1;
    static final int OWNER_OFFSET = 12;
    static final int SIZE_OFFSET = 16;
    static final int CRC_OFFSET = 24;

    private final Path file;
    private final Path vaultFile;
    private final int ownerId;
    private final long dataBytes;
    private final SimClock clock;
    private final EventSink events;
    private final Arena arena = Arena.ofShared();
    private final FileChannel channel;
    private final MemorySegment mapping;
    private final MemorySegment data;
    private long vaults; // guarded by this

    private BatteryBackedMemory(Path file, int ownerId, long dataBytes, SimClock clock, EventSink events)
            throws IOException {
        this.file = file;
        this.vaultFile = vaultFileOf(file);
        this.ownerId = ownerId;
        this.dataBytes = dataBytes;
        this.clock = clock;
        this.events = events;
        this.channel =
                FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
        boolean fresh = channel.size() == 0;
        try {
            if (fresh) {
                Ssd.writeFully(channel, 0, header(ownerId, dataBytes));
                Ssd.writeFully(channel, HEADER_BYTES + dataBytes - 1, ByteBuffer.allocate(1)); // full size, sparse
                channel.force(true);
            } else {
                checkHeader();
            }
            this.mapping = channel.map(FileChannel.MapMode.READ_WRITE, 0, HEADER_BYTES + dataBytes, arena);
            this.data = mapping.asSlice(HEADER_BYTES, dataBytes);
        } catch (IOException | RuntimeException e) {
            arena.close();
            channel.close();
            throw e;
        }
    }

    /** Opens (creating if absent) the memory of controller {@code ownerId}: a real controller's defaults. */
    public static BatteryBackedMemory open(Path file, int ownerId, long dataBytes) throws IOException {
        return open(file, ownerId, dataBytes, SimClock.SYSTEM, EventSink.STDERR);
    }

    public static BatteryBackedMemory open(Path file, int ownerId, long dataBytes, SimClock clock, EventSink events)
            throws IOException {
        if (dataBytes < HEADER_BYTES || dataBytes % HEADER_BYTES != 0 || dataBytes > DATA_BYTES_MAX) {
            throw new IllegalArgumentException("nvram size must be a multiple of 4096 in [4096, " + DATA_BYTES_MAX
                    + "] data_bytes=" + dataBytes + " file=" + file);
        }
        BatteryBackedMemory m = new BatteryBackedMemory(file, ownerId, dataBytes, clock, events);
        if (!Files.exists(m.vaultFile)) {
            m.vault(); // the image a power loss before the first vault returns to
        }
        EventSink.emit(
                events,
                clock,
                "nvram_opened",
                "file=" + file.getFileName() + " owner=" + ownerId + " data_bytes=" + dataBytes);
        return m;
    }

    static Path vaultFileOf(Path file) {
        return file.resolveSibling(file.getFileName() + ".vault");
    }

    private static ByteBuffer header(int ownerId, long dataBytes) {
        ByteBuffer b = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(0, MAGIC).putInt(8, VERSION).putInt(OWNER_OFFSET, ownerId).putLong(SIZE_OFFSET, dataBytes);
        b.putInt(CRC_OFFSET, crc(b));
        return b;
    }

    private static int crc(ByteBuffer b) {
        CRC32C crc = new CRC32C();
        crc.update(b.duplicate().position(0).limit(CRC_OFFSET));
        return (int) crc.getValue();
    }

    private void checkHeader() throws IOException {
        ByteBuffer b = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        if (channel.size() < HEADER_BYTES) {
            throw new CorruptHeaderException("nvram shorter than its header file=" + file + " size=" + channel.size());
        }
        Ssd.readFully(channel, 0, b);
        if (b.getLong(0) != MAGIC) {
            throw new CorruptHeaderException("nvram header magic mismatch file=" + file + " expected=0x"
                    + Long.toHexString(MAGIC) + " found=0x" + Long.toHexString(b.getLong(0)));
        }
        if (b.getInt(8) != VERSION) {
            throw new CorruptHeaderException("nvram header version unsupported file=" + file + " supported=" + VERSION
                    + " found=" + b.getInt(8));
        }
        if (b.getInt(CRC_OFFSET) != crc(b)) {
            throw new CorruptHeaderException("nvram header crc mismatch file=" + file + " stored=0x"
                    + Integer.toHexString(b.getInt(CRC_OFFSET)) + " computed=0x" + Integer.toHexString(crc(b)));
        }
        if (b.getInt(OWNER_OFFSET) != ownerId
                || b.getLong(SIZE_OFFSET) != dataBytes
                || channel.size() != HEADER_BYTES + dataBytes) {
            throw new IllegalArgumentException("nvram belongs to another controller or size file=" + file + " owner="
                    + ownerId + " found_owner=" + b.getInt(OWNER_OFFSET) + " data_bytes=" + dataBytes
                    + " found_data_bytes=" + b.getLong(SIZE_OFFSET) + " size=" + channel.size());
        }
    }

    /** The data region: the journal's to lay out. Valid until {@link #close()}. */
    public MemorySegment data() {
        return data;
    }

    /**
     * The power-fail dump: {@code msync} the mapping, then record the image a simulated power loss
     * returns to. When this returns, everything stored before it survives a power loss.
     */
    public synchronized void vault() throws IOException {
        mapping.force();
        Path tmp = vaultFile.resolveSibling(vaultFile.getFileName() + ".tmp");
        try (FileChannel v = FileChannel.open(
                tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
            Ssd.writeFully(v, 0, mapping.asByteBuffer());
            v.force(true);
        }
        Files.move(tmp, vaultFile, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        Ssd.syncDirectory(file.toAbsolutePath().getParent());
        vaults++;
        EventSink.emit(
                events,
                clock,
                "nvram_vaulted",
                "file=" + file.getFileName() + " owner=" + ownerId + " vaults=" + vaults);
    }

    /** Power fails now: the memory reverts to the last vaulted image, stores since then are gone. */
    public synchronized void simulatePowerLoss() throws IOException {
        try (FileChannel v = FileChannel.open(vaultFile, StandardOpenOption.READ)) {
            checkVaultSize(v, vaultFile, mapping.byteSize());
            Ssd.readFully(v, 0, mapping.asByteBuffer());
        }
        mapping.force();
        EventSink.emit(
                events,
                clock,
                "nvram_power_lost",
                "file=" + file.getFileName() + " owner=" + ownerId + " reverted_to_vault=" + vaults);
    }

    /**
     * A power loss for a memory no process holds open (its controller was killed first): the file
     * reverts to its last vaulted image.
     */
    public static void revertToVault(Path file) throws IOException {
        Path vault = vaultFileOf(file);
        try (FileChannel v = FileChannel.open(vault, StandardOpenOption.READ);
                FileChannel f = FileChannel.open(file, StandardOpenOption.WRITE)) {
            checkVaultSize(v, vault, f.size());
            long size = v.size();
            for (long done = 0; done < size; ) { // bounded: each turn copies at least one byte or throws
                long n = f.transferFrom(v, done, size - done);
                if (n <= 0) {
                    throw new IOException("vault copy made no progress file=" + file + " done=" + done);
                }
                done += n;
            }
            f.force(true);
        }
    }

    private static void checkVaultSize(FileChannel v, Path vault, long expected) throws IOException {
        if (v.size() != expected) {
            throw new CorruptHeaderException("nvram vault image has the wrong size file=" + vault + " size=" + v.size()
                    + " expected=" + expected);
        }
    }

    public int ownerId() {
        return ownerId;
    }

    public long dataBytes() {
        return dataBytes;
    }

    public Path file() {
        return file;
    }

    public synchronized long vaults() {
        return vaults;
    }

    /** Unmaps without a vault: to the file, indistinguishable from a process crash. */
    @Override
    public void close() throws IOException {
        arena.close();
        channel.close();
    }
}
