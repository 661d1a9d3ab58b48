package io.hashbrick.node.mirror;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hashbrick.journal.Journal;
import io.hashbrick.journal.JournalCompletion;
import io.hashbrick.journal.JournalConfig;
import io.hashbrick.journal.JournalEntry;
import io.hashbrick.journal.MemoryJournalRegion;
import io.hashbrick.journal.NanoClock;
import io.hashbrick.journal.RecordType;
import io.hashbrick.journal.ReplayHandler;
import io.hashbrick.node.NvramRegion;
import io.hashbrick.sim.BatteryBackedMemory;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Journal mirroring over real sockets on 127.0.0.1: an owner's two journals streamed into a peer's
 * {@link MirrorServer}, the copy installed as a failover would, and replayed: every record the owner
 * was told is mirrored comes back, byte for byte.
 */
class JournalMirrorTest {
    private static final long REGION = 1 << 20;
    private static final JournalConfig CONFIG = JournalConfig.defaults().withMaxPayloadBytes(16 << 10);

    @TempDir
    Path tmp;

    private record Rec(long sequence, byte type, byte[] payload) {}

    private static List<Rec> replay(MemorySegment region) {
        List<Rec> out = new ArrayList<>();
        MemoryJournalRegion copy = new MemoryJournalRegion(region.byteSize());
        MemorySegment.copy(region, 0, copy.segment(), 0, region.byteSize());
        Journal.open(
                        copy,
                        CONFIG,
                        NanoClock.SYSTEM,
                        io.hashbrick.journal.JournalMirror.NONE,
                        (t, s, e, r, off, len) ->
                                out.add(new Rec(s, t, r.asSlice(off, len).toArray(ValueLayout.JAVA_BYTE))))
                .close();
        return out;
    }

    private static long append(Journal j, byte[] payload) {
        JournalEntry e =
                new JournalEntry().set(RecordType.BLOCK_PUT, 1, MemorySegment.ofArray(payload), JournalCompletion.NONE);
        long seq = j.append(e);
        assertTrue(seq > 0, "appended: " + seq);
        j.writeInline();
        assertEquals(JournalEntry.DURABLE, e.status());
        return seq;
    }

    private static void await(java.util.function.BooleanSupplier condition, String what) throws InterruptedException {
        long end = System.nanoTime() + 10_000_000_000L;
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < end, "timed out waiting for " + what);
            Thread.sleep(5);
        }
    }

    private final class Owner implements AutoCloseable {
        final Path dir;
        final MirrorSender sender;
        final Journal[] journals = new Journal[2];
        final MemoryJournalRegion[] regions = {new MemoryJournalRegion(REGION), new MemoryJournalRegion(REGION)};

        Owner(Path dir, InetSocketAddress peer, AtomicBoolean peerDown) throws IOException {
            this.dir = dir;
            Files.createDirectories(dir);
            sender = new MirrorSender(1, "c1", dir, () -> peer, peerDown::get, () -> !peerDown.get());
            sender.settleNs = 0;
            sender.startAlone();
            for (int j = 0; j < 2; j++) {
                Journal.format(regions[j]);
                journals[j] = Journal.open(regions[j], CONFIG, NanoClock.SYSTEM, sender.view(j), ReplayHandler.NONE);
            }
            sender.attach(0, journals[0]);
            sender.attach(1, journals[1]);
        }

        @Override
        public void close() {
            sender.close(); // as the process's death: the stream just ends
        }
    }

    @Test
    void everyRecordTheOwnerWasToldIsMirroredComesBackAfterAnInstall() throws Exception {
        long seed = Long.getLong("seed", System.nanoTime());
        SplittableRandom random = new SplittableRandom(seed);
        try (MirrorServer server = new MirrorServer("c2", new InetSocketAddress("127.0.0.1", 0), pool -> pool == 1)) {
            InetSocketAddress at = new InetSocketAddress("127.0.0.1", server.port());
            Owner owner = new Owner(tmp.resolve("c1"), at, new AtomicBoolean());
            // Records before the stream is up go in the image.
            for (int i = 0; i < 20; i++) {
                append(owner.journals[i % 2], new byte[1 + random.nextInt(5000)]);
            }
            await(() -> "mirrored".equals(owner.sender.status().get("state")), "the copy trusted (seed=" + seed + ")");
            assertFalse(Files.exists(owner.dir.resolve(MirrorSender.ALONE_FILE)), "trusted: no longer alone");
            // Then batches, releases (header frames) and wraps of the 1 MiB regions.
            for (int i = 0; i < 600; i++) {
                int j = random.nextInt(2);
                byte[] p = new byte[1 + random.nextInt(8000)];
                random.nextBytes(p);
                long seq = append(owner.journals[j], p);
                assertTrue(owner.sender.view(j).awaitMirrored(seq), "mirrored seq=" + seq + " seed=" + seed);
                if (random.nextInt(10) == 0) {
                    owner.journals[j].release(seq - random.nextInt(3));
                    owner.journals[j].writeInline();
                }
            }
            List<List<Rec>> expected = List.of(replay(owner.regions[0].segment()), replay(owner.regions[1].segment()));
            owner.close();
            Path installed = tmp.resolve("installed");
            Files.createDirectories(installed);
            // D's file exists, full of what the dead controller's memory held otherwise (written through
            // the file); C's does not (made, then filled through a mapping)
            try (BatteryBackedMemory m = BatteryBackedMemory.open(installed.resolve("d.bbm"), 0, REGION)) {
                byte[] junk = new byte[(int) REGION];
                random.nextBytes(junk);
                MemorySegment.copy(MemorySegment.ofArray(junk), 0, m.data(), 0, REGION);
            }
            assertTrue(server.install(1, installed, "d.bbm", "c.bbm"), "installed (seed=" + seed + ")");
            String[] files = {"d.bbm", "c.bbm"};
            for (int j = 0; j < 2; j++) {
                try (BatteryBackedMemory m = BatteryBackedMemory.open(installed.resolve(files[j]), 0, REGION)) {
                    List<Rec> got = replay(new NvramRegion(m).segment());
                    assertEquals(expected.get(j).size(), got.size(), "records of journal " + j + " seed=" + seed);
                    for (int i = 0; i < got.size(); i++) {
                        assertEquals(
                                expected.get(j).get(i).sequence(), got.get(i).sequence(), "seed=" + seed);
                        assertTrue(
                                Arrays.equals(
                                        expected.get(j).get(i).payload(),
                                        got.get(i).payload()),
                                "payload of sequence " + got.get(i).sequence() + " seed=" + seed);
                    }
                }
            }
            assertFalse(server.install(1, installed, "d.bbm", "c.bbm"), "a copy is installed once");
        }
    }

    @Test
    void anOwnerWhosePeerIsGoneAcknowledgesAloneAndItsCopyIsNeverInstalled() throws Exception {
        try (MirrorServer server = new MirrorServer("c2", new InetSocketAddress("127.0.0.1", 0), pool -> pool == 1)) {
            InetSocketAddress at = new InetSocketAddress("127.0.0.1", server.port());
            AtomicBoolean down = new AtomicBoolean();
            Owner owner = new Owner(tmp.resolve("c1"), at, down);
            await(() -> "mirrored".equals(owner.sender.status().get("state")), "the copy trusted");
            long seq = append(owner.journals[0], new byte[100]);
            assertTrue(owner.sender.view(0).awaitMirrored(seq));
            down.set(true); // the peer's pool lock is free: its process is gone
            await(() -> "alone".equals(owner.sender.status().get("state")), "alone");
            assertTrue(Files.exists(owner.dir.resolve(MirrorSender.ALONE_FILE)), "alone is recorded first");
            seq = append(owner.journals[0], new byte[100]);
            long t0 = System.nanoTime();
            assertTrue(owner.sender.view(0).awaitMirrored(seq));
            assertTrue(System.nanoTime() - t0 < 1_000_000_000L, "alone: no wait");
            owner.close();
            assertFalse(server.install(1, owner.dir, "d.bbm", "c.bbm"), "the owner went alone: its file says so");
            assertFalse(Files.exists(owner.dir.resolve("d.bbm")), "nothing written");
        }
    }

    /** A peer that takes the image, acknowledges it, then reads and answers nothing more. */
    private static void takeTheImageThenHang(SocketChannel ch) throws IOException {
        ByteBuffer h = ByteBuffer.allocate(MirrorWire.HEADER_BYTES);
        long frames = -1; // HELLO is not counted
        while (true) {
            h.clear();
            while (h.hasRemaining()) {
                if (ch.read(h) < 0) {
                    throw new IOException("closed");
                }
            }
            ByteBuffer payload = ByteBuffer.allocate(h.getInt(8));
            while (payload.hasRemaining()) {
                ch.read(payload);
            }
            frames++;
            if (h.get(5) == MirrorWire.IMAGE_END && h.get(6) == 1) {
                break;
            }
        }
        ByteBuffer ack = ByteBuffer.allocate(MirrorWire.HEADER_BYTES);
        MirrorWire.header(ack, 0, MirrorWire.ACK, 0, 0, frames, 0, 0);
        MirrorWire.seal(ack, 0, new java.util.zip.CRC32C());
        ch.write(ack);
    }

    @Test
    void aPeerThatStopsAnsweringIsGivenUpAfterTheBudgetAndThatIsRecorded() throws Exception {
        try (var hung = java.nio.channels.ServerSocketChannel.open()) {
            hung.bind(new InetSocketAddress("127.0.0.1", 0));
            InetSocketAddress at = (InetSocketAddress) hung.getLocalAddress();
            Owner owner = new Owner(tmp.resolve("c1"), at, new AtomicBoolean());
            try (SocketChannel accepted = hung.accept()) {
                takeTheImageThenHang(accepted);
                await(() -> Boolean.TRUE.equals(owner.sender.status().get("waits_for_peer")), "waiting for the peer");
                long seq = append(owner.journals[1], new byte[64]);
                long t0 = System.nanoTime();
                assertTrue(owner.sender.view(1).awaitMirrored(seq), "given up, then alone");
                long waited = System.nanoTime() - t0;
                assertTrue(waited >= MirrorSender.ACK_BUDGET_NS, "waited its budget: " + waited);
                assertTrue(Files.exists(owner.dir.resolve(MirrorSender.ALONE_FILE)), "recorded before going alone");
                assertEquals(1L, owner.sender.status().get("degraded"));
            }
            owner.close();
        }
    }

    @Test
    void aPeerThatDoesNotServeItsOwnPoolYetIsNotWaitedFor() throws Exception {
        try (MirrorServer server = new MirrorServer("c2", new InetSocketAddress("127.0.0.1", 0), pool -> pool == 1)) {
            InetSocketAddress at = new InetSocketAddress("127.0.0.1", server.port());
            Path dir = tmp.resolve("c1");
            Files.createDirectories(dir);
            AtomicBoolean ready = new AtomicBoolean();
            MirrorSender sender = new MirrorSender(1, "c1", dir, () -> at, () -> false, ready::get);
            sender.settleNs = 300_000_000L;
            sender.startAlone();
            Journal[] journals = new Journal[2];
            for (int j = 0; j < 2; j++) {
                MemoryJournalRegion r = new MemoryJournalRegion(REGION);
                Journal.format(r);
                journals[j] = Journal.open(r, CONFIG, NanoClock.SYSTEM, sender.view(j), ReplayHandler.NONE);
                sender.attach(j, journals[j]);
            }
            long seq0 = append(journals[0], new byte[10]);
            assertTrue(sender.view(0).awaitMirrored(seq0), "alone: counts at once");
            Thread.sleep(200);
            assertEquals(Boolean.FALSE, sender.status().get("waits_for_peer"), "the peer is coming back: alone");
            assertEquals(0L, sender.status().get("images"), "no image while the peer opens its pool");
            assertTrue(Files.exists(dir.resolve(MirrorSender.ALONE_FILE)));
            ready.set(true);
            long readyAt = System.nanoTime();
            await(() -> "mirrored".equals(sender.status().get("state")), "mirrored once the peer serves its pool");
            assertTrue(System.nanoTime() - readyAt >= 300_000_000L, "not before the peer settled");
            assertFalse(Files.exists(dir.resolve(MirrorSender.ALONE_FILE)));
            long seq = append(journals[0], new byte[10]);
            assertTrue(sender.view(0).awaitMirrored(seq));
            sender.close();
        }
    }

    @Test
    void malformedFramesAndStrangersAreRefusedAndTheServerGoesOn() throws Exception {
        try (MirrorServer server = new MirrorServer("c2", new InetSocketAddress("127.0.0.1", 0), pool -> pool == 1)) {
            InetSocketAddress at = new InetSocketAddress("127.0.0.1", server.port());
            try (SocketChannel ch = SocketChannel.open(at)) { // garbage
                ch.write(ByteBuffer.wrap(new byte[MirrorWire.HEADER_BYTES]));
                assertEquals(-1, ch.read(ByteBuffer.allocate(8)), "closed on a frame that is not HELLO");
            }
            try (SocketChannel ch = SocketChannel.open(at)) { // another pool than the brick peer's
                ByteBuffer b = ByteBuffer.allocate(MirrorWire.HEADER_BYTES);
                MirrorWire.header(b, 0, MirrorWire.HELLO, 0, 0, 9, REGION, REGION);
                MirrorWire.seal(b, 0, new java.util.zip.CRC32C());
                ch.write(b);
                assertEquals(-1, ch.read(ByteBuffer.allocate(8)), "closed: not the brick peer");
            }
            try (SocketChannel ch = SocketChannel.open(at)) { // a HELLO, then a frame with a bad checksum
                ByteBuffer b = ByteBuffer.allocate(2 * MirrorWire.HEADER_BYTES);
                MirrorWire.header(b, 0, MirrorWire.HELLO, 0, 0, 1, REGION, REGION);
                MirrorWire.seal(b, 0, new java.util.zip.CRC32C());
                MirrorWire.header(b, MirrorWire.HEADER_BYTES, MirrorWire.TRUSTED, 0, 0, 0, 0, 0);
                ch.write(b);
                assertEquals(-1, ch.read(ByteBuffer.allocate(8)), "closed on a bad checksum");
            }
            assertFalse(server.install(1, tmp, "d.bbm", "c.bbm"), "never trusted");
            // A real owner still streams.
            Owner owner = new Owner(tmp.resolve("c1"), at, new AtomicBoolean());
            await(() -> "mirrored".equals(owner.sender.status().get("state")), "the copy trusted");
            owner.close();
        }
    }
}
