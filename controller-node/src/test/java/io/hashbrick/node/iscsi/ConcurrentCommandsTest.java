package io.hashbrick.node.iscsi;

import static io.hashbrick.node.iscsi.IscsiProtocolTest.cdb10;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hashbrick.node.block.FileBlockDevice;
import io.hashbrick.node.iscsi.TestInitiator.Pdu;
import io.hashbrick.node.scsi.ScsiTask;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Many commands in flight on one connection (RFC 7143 §3.2.2.1, SAM-5 §8.6): out-of-order completion of
 * SIMPLE tasks, ORDERED and HEAD OF QUEUE, task management and logout with tasks on workers, and the
 * CmdSN window when every task is taken, and which commands run inline on the connection's thread. A
 * {@link GatedDevice} holds a chosen command in flight.
 */
class ConcurrentCommandsTest {
    static final long GATED_LBA = 800;

    @TempDir
    Path dir;

    TargetFixture target;
    GatedDevice device;
    boolean inline;

    private TestInitiator start(int window, Map<String, String> op) throws IOException {
        TargetConfig c = new TargetConfig(
                TargetFixture.TARGET,
                "test",
                "127.0.0.1",
                0,
                1,
                null,
                null,
                262_144,
                1_048_576,
                window,
                0,
                2_000,
                5_000);
        device = new GatedDevice(FileBlockDevice.open(dir.resolve("lun0.img"), 64L << 20, 512));
        target = new TargetFixture(c, device);
        // These tests hold a lone command at the gate and send more behind it: on a worker, not inline
        // on the connection's thread (which would read nothing until the gate opens).
        target.server.runInline = inline;
        return login(0x023d_0000_0001L, op);
    }

    private TestInitiator login(long isid, Map<String, String> op) throws IOException {
        TestInitiator i = new TestInitiator(target.port);
        i.isid = isid;
        assertEquals(
                0,
                i.login(IscsiProtocolTest.INITIATOR, TargetFixture.TARGET, op).loginStatus());
        return i;
    }

    @AfterEach
    void stop() throws Exception {
        if (target != null) {
            if (device != null) {
                device.open();
            }
            target.close();
        }
        assertEquals(0, target == null ? 0 : target.server.internalErrors(), "internal errors");
    }

    private static ByteBuffer withAttribute(ByteBuffer h, int attribute) {
        h.put(1, (byte) ((h.get(1) & ~0x07) | attribute));
        return h;
    }

    /** Sends a read of one block at {@code lba}; returns its ITT. */
    private static int read(TestInitiator i, long lba, int attribute) throws IOException {
        ByteBuffer h = withAttribute(i.scsiHeader(0, cdb10(0x28, lba, 1), 512, true, false), attribute);
        i.send(h, null);
        return h.getInt(16);
    }

    /** The ITT of the next PDU that ends a command (SCSI Response, or Data-In with status). */
    private static int nextStatus(TestInitiator i) throws IOException {
        while (true) {
            Pdu p = i.receive();
            if (p.opcode() == Bhs.OP_SCSI_RESP || (p.opcode() == Bhs.OP_DATA_IN && (p.flags() & 0x01) != 0)) {
                return p.itt();
            }
        }
    }

    private static void assertSilent(TestInitiator i, int ms) throws IOException {
        i.socket.setSoTimeout(ms);
        assertThrows(SocketTimeoutException.class, i::receive, "nothing is answered yet");
        i.socket.setSoTimeout(5000);
    }

    @Test
    void simpleCommandsCompleteOutOfOrder() throws Exception {
        try (TestInitiator i = start(64, Map.of())) {
            device.close(GATED_LBA);
            int slow = read(i, GATED_LBA, ScsiTask.ATTR_SIMPLE);
            device.awaitHeld();
            List<Integer> fast = new ArrayList<>();
            for (int n = 0; n < 8; n++) {
                fast.add(read(i, n, ScsiTask.ATTR_SIMPLE));
            }
            List<Integer> seen = new ArrayList<>();
            for (int n = 0; n < 8; n++) {
                seen.add(nextStatus(i));
            }
            assertEquals(fast.stream().sorted().toList(), seen.stream().sorted().toList(), "the later reads overtake");
            device.open();
            assertEquals(slow, nextStatus(i), "the held read answers last");
        }
    }

    @Test
    void orderedWaitsForOlderAndHoldsYoungerWhileHeadOfQueueRunsAhead() throws Exception {
        try (TestInitiator i = start(64, Map.of())) {
            device.close(GATED_LBA);
            int simple = read(i, GATED_LBA, ScsiTask.ATTR_SIMPLE);
            device.awaitHeld();
            int ordered = read(i, 1, ScsiTask.ATTR_ORDERED);
            int younger = read(i, 2, ScsiTask.ATTR_SIMPLE);
            int head = read(i, 3, ScsiTask.ATTR_HEAD_OF_QUEUE);
            assertEquals(head, nextStatus(i), "HEAD OF QUEUE runs ahead of the ORDERED task");
            assertSilent(i, 300);
            device.open();
            assertEquals(simple, nextStatus(i));
            assertEquals(ordered, nextStatus(i), "ORDERED after every older task");
            assertEquals(younger, nextStatus(i), "SIMPLE after the older ORDERED task");
        }
    }

    @Test
    void abortTaskOfARunningCommandWaitsForItAndSuppressesItsStatus() throws Exception {
        try (TestInitiator i = start(64, Map.of())) {
            device.close(GATED_LBA);
            ByteBuffer h = i.scsiHeader(0, cdb10(0x2a, GATED_LBA, 1), 512, false, true);
            i.send(h, new byte[512]);
            device.awaitHeld();
            i.send(tmf(i, 0x81, h.getInt(16), 900), null);
            assertSilent(i, 300); // the function waits for the running write
            device.open();
            Pdu r = i.receive();
            assertEquals(Bhs.OP_TMF_RESP, r.opcode(), "no SCSI Response for the aborted write");
            assertEquals(900, r.itt());
            assertEquals(0, r.header().get(2), "function complete");
            assertEquals(0, i.command(0, new byte[16], 0, false, null)[0], "the connection goes on");
        }
    }

    @Test
    void lunResetFromAnotherSessionFencesCommandsInFlight() throws Exception {
        try (TestInitiator a = start(64, Map.of());
                TestInitiator b = login(0x023d_0000_0077L, Map.of())) {
            assertEquals(0, a.command(0, new byte[16], 0, false, null)[0], "a has used the LUN");
            device.close(GATED_LBA);
            ByteBuffer w = a.scsiHeader(0, cdb10(0x2a, GATED_LBA, 1), 512, false, true);
            a.send(w, new byte[512]);
            device.awaitHeld();
            read(a, 5, ScsiTask.ATTR_ORDERED); // waits behind the held write: aborted before it runs
            ping(a); // a's thread has taken the read into its task set
            int before = device.ios;
            b.send(tmf(b, 0x85, -1, 500), null);
            assertSilent(b, 300); // the reset waits until the held write is done
            device.open();
            Pdu r = b.receive();
            assertEquals(Bhs.OP_TMF_RESP, r.opcode());
            assertEquals(0, r.header().get(2), "function complete");
            assertEquals(before + 1, device.ios, "the held write finished, the ORDERED read never ran");
            assertSilent(a, 300); // TAS=0: the aborted tasks get no status
            byte[] s = a.command(0, new byte[16], 0, false, null);
            assertEquals(ScsiTask.CHECK_CONDITION, s[0], "the reset shows as a unit attention on a's nexus");
        }
    }

    @Test
    void logoutAnswersCommandsInFlightFirst() throws Exception {
        try (TestInitiator i = start(64, Map.of())) {
            device.close(GATED_LBA);
            int held = read(i, GATED_LBA, ScsiTask.ATTR_SIMPLE);
            device.awaitHeld();
            ByteBuffer lo = TestInitiator.header(0x46, 0x80);
            lo.putInt(16, 78).putInt(24, i.cmdSn);
            i.send(lo, null);
            assertSilent(i, 300);
            device.open();
            assertEquals(held, nextStatus(i), "the read answers before the logout");
            Pdu r = i.receive();
            assertEquals(Bhs.OP_LOGOUT_RESP, r.opcode());
            assertEquals(0, r.header().get(2));
        }
    }

    @Test
    void droppedConnectionEndsItsCommandsBeforeTheSessionGoes() throws Exception {
        TestInitiator i = start(64, Map.of());
        device.close(GATED_LBA);
        read(i, GATED_LBA, ScsiTask.ATTR_SIMPLE);
        read(i, 1, ScsiTask.ATTR_ORDERED); // waits behind the held read: ends unexecuted
        device.awaitHeld();
        int before = device.ios;
        i.close();
        Thread.sleep(300);
        assertEquals(1, target.server.sessionCount(), "the nexus stays while a worker holds its task");
        device.open();
        for (int n = 0; n < 100 && target.server.sessionCount() > 0; n++) {
            Thread.sleep(50);
        }
        assertEquals(0, target.server.sessionCount(), "the session ends once its tasks have");
        assertEquals(before + 1, device.ios, "the held read finished, the ORDERED one never ran");
    }

    @Test
    void immediateCommandFindsTheTaskSetFullWhenTheWindowIsTaken() throws Exception {
        try (TestInitiator i = start(4, Map.of("InitialR2T", "Yes", "ImmediateData", "No"))) {
            List<Pdu> r2ts = new ArrayList<>();
            List<ByteBuffer> writes = new ArrayList<>();
            for (int n = 0; n < 4; n++) {
                ByteBuffer h = i.scsiHeader(0, cdb10(0x2a, n * 8L, 8), 4096, false, true);
                i.send(h, null);
                writes.add(h);
                Pdu r2t = i.receive();
                assertEquals(Bhs.OP_R2T, r2t.opcode());
                r2ts.add(r2t);
            }
            int maxCmdSn = r2ts.get(3).header().getInt(32);
            assertEquals(i.cmdSn - 1, maxCmdSn, "the window is closed: MaxCmdSN = ExpCmdSN - 1");
            // beyond MaxCmdSN: ignored (RFC 7143 §4.2.2.1)
            ByteBuffer late = i.scsiHeader(0, new byte[16], 0, false, false);
            i.cmdSn--;
            i.send(late, null);
            assertSilent(i, 300);
            // an immediate command takes no CmdSN, but there is no task for it
            ByteBuffer imm = i.scsiHeader(0, new byte[16], 0, false, false);
            i.cmdSn--;
            imm.put(0, (byte) (Bhs.OP_SCSI_CMD | 0x40));
            i.send(imm, null);
            Pdu full = i.receive();
            assertEquals(Bhs.OP_SCSI_RESP, full.opcode());
            assertEquals(imm.getInt(16), full.itt());
            assertEquals(ScsiTask.TASK_SET_FULL, full.header().get(3) & 0xff);
            for (int n = 0; n < 4; n++) {
                ByteBuffer d = TestInitiator.header(Bhs.OP_DATA_OUT, 0x80);
                d.putInt(16, writes.get(n).getInt(16))
                        .putInt(20, r2ts.get(n).header().getInt(20))
                        .putInt(36, 0)
                        .putInt(40, 0);
                i.send(d, new byte[4096]);
            }
            int lastMax = maxCmdSn;
            for (int n = 0; n < 4; n++) {
                Pdu p = i.receive();
                assertEquals(Bhs.OP_SCSI_RESP, p.opcode());
                assertEquals(0, p.header().get(3));
                lastMax = p.header().getInt(32);
            }
            assertTrue(lastMax - maxCmdSn >= 3, "the window reopens as tasks end: max_cmd_sn=" + lastMax);
            assertEquals(0, i.command(0, new byte[16], 0, false, null)[0]);
        }
    }

    @Test
    void loneCommandRunsInlineAndCommandsThatArriveMeanwhileGoToWorkers() throws Exception {
        inline = true;
        try (TestInitiator i = start(64, Map.of())) {
            IscsiServer s = target.server;
            long inlineBefore = s.inlineRuns.sum();
            long workersBefore = s.workerRuns.sum();
            long memoryBefore = s.memoryRuns.sum();
            // One command at a time: each is the connection's only task, with nothing more received.
            for (int n = 0; n < 4; n++) {
                assertEquals(0, i.command(0, new byte[16], 0, false, null)[0]);
            }
            assertEquals(inlineBefore + 4, s.inlineRuns.sum(), "lone commands run on the connection's thread");
            assertEquals(workersBefore, s.workerRuns.sum(), "and never on a worker");
            // A lone read held at the gate holds the connection's thread too: the reads sent behind it
            // are already in the socket when it ends, so the first of them finds more received and is
            // tried from memory (GatedDevice: every other block is), as may the rest.
            device.close(GATED_LBA);
            int held = read(i, GATED_LBA, ScsiTask.ATTR_SIMPLE);
            device.awaitHeld();
            assertEquals(inlineBefore + 5, s.inlineRuns.sum(), "the held read runs inline");
            List<Integer> burst = new ArrayList<>();
            for (int n = 0; n < 4; n++) {
                burst.add(read(i, n, ScsiTask.ATTR_SIMPLE));
            }
            assertSilent(i, 200); // nothing is read while the inline command runs
            device.open();
            assertEquals(held, nextStatus(i), "the held read answers first: it ran alone");
            List<Integer> seen = new ArrayList<>();
            for (int n = 0; n < 4; n++) {
                seen.add(nextStatus(i));
            }
            assertEquals(
                    burst.stream().sorted().toList(), seen.stream().sorted().toList());
            long onWorkers = s.workerRuns.sum() - workersBefore;
            long here = s.inlineRuns.sum() - inlineBefore - 5;
            long fromMemory = s.memoryRuns.sum() - memoryBefore;
            assertTrue(
                    fromMemory >= 1, "a read with more received behind it runs from memory, not inline: " + fromMemory);
            assertEquals(4, onWorkers + here + fromMemory, "each command of the burst ran once");
        }
    }

    @Test
    void writeRunsInlineBesideAReadHeldOnAWorker() throws Exception {
        inline = true;
        try (TestInitiator i = start(64, Map.of())) {
            IscsiServer s = target.server;
            device.close(GATED_LBA);
            // Two reads in one TCP write: the first finds the second already received, so it is tried
            // from memory, would wait (the gate), and goes to a worker, where it holds; the second is
            // not alone, so it is tried from memory too, and answered from there.
            ByteBuffer held = i.scsiHeader(0, cdb10(0x28, GATED_LBA, 1), 512, true, false);
            ByteBuffer other = i.scsiHeader(0, cdb10(0x28, 1, 1), 512, true, false);
            byte[] both = new byte[96];
            System.arraycopy(held.array(), 0, both, 0, 48);
            System.arraycopy(other.array(), 0, both, 48, 48);
            i.sendRaw(both);
            device.awaitHeld();
            assertEquals(other.getInt(16), nextStatus(i), "the second read answers beside the held one");
            long inlineBefore = s.inlineRuns.sum();
            int ios = device.ios;
            // A SIMPLE write with only SIMPLE tasks older: it runs inline, beside the held read.
            assertEquals(0, i.command(0, cdb10(0x2a, 8, 1), 512, false, new byte[512])[0]);
            assertEquals(inlineBefore + 1, s.inlineRuns.sum(), "the write ran on the connection's thread");
            assertEquals(ios + 1, device.ios, "and reached the device while the read is held");
            device.open();
            assertEquals(held.getInt(16), nextStatus(i));
        }
    }

    /** Sends the command PDUs (no data) in one TCP write: each finds the next already received. */
    private static void sendTogether(TestInitiator i, ByteBuffer... headers) throws IOException {
        byte[] all = new byte[48 * headers.length];
        for (int n = 0; n < headers.length; n++) {
            System.arraycopy(headers[n].array(), 0, all, 48 * n, 48);
        }
        i.sendRaw(all);
    }

    private static ByteBuffer readHeader(TestInitiator i, long lba, int attribute) {
        return withAttribute(i.scsiHeader(0, cdb10(0x28, lba, 1), 512, true, false), attribute);
    }

    @Test
    void readsAmongOthersRunFromMemoryOnTheConnectionThreadAndMissesGoToWorkers() throws Exception {
        inline = true;
        try (TestInitiator i = start(64, Map.of())) {
            IscsiServer s = target.server;
            long memoryBefore = s.memoryRuns.sum();
            long missesBefore = s.memoryMisses.sum();
            long workersBefore = s.workerRuns.sum();
            long inlineBefore = s.inlineRuns.sum();
            device.close(GATED_LBA);
            ByteBuffer held = readHeader(i, GATED_LBA, ScsiTask.ATTR_SIMPLE);
            List<Integer> hits = new ArrayList<>();
            ByteBuffer[] burst = new ByteBuffer[5];
            burst[0] = held;
            for (int n = 1; n < 5; n++) {
                burst[n] = readHeader(i, n, ScsiTask.ATTR_SIMPLE);
                hits.add(burst[n].getInt(16));
            }
            sendTogether(i, burst);
            device.awaitHeld(); // the miss went to a worker: the connection's thread goes on
            List<Integer> seen = new ArrayList<>();
            for (int n = 0; n < 4; n++) {
                seen.add(nextStatus(i));
            }
            assertEquals(hits.stream().sorted().toList(), seen.stream().sorted().toList(), "hits overtake the miss");
            assertEquals(missesBefore + 1, s.memoryMisses.sum(), "the gated read was tried, and handed over");
            assertEquals(workersBefore + 1, s.workerRuns.sum(), "to a worker, once");
            // the last hit may be alone by the time it is taken: then it runs inline as a lone command
            long fromMemory = s.memoryRuns.sum() - memoryBefore;
            long inlineHits = s.inlineRuns.sum() - inlineBefore;
            assertTrue(fromMemory >= 3, "hits answered from memory on the connection's thread: " + fromMemory);
            assertEquals(4, fromMemory + inlineHits, "every hit ran on the connection's thread");
            device.open();
            assertEquals(held.getInt(16), nextStatus(i));
            assertEquals(workersBefore + 1, s.workerRuns.sum());
        }
    }

    @Test
    void readsFromMemoryKeepOrderedAndHeadOfQueueRules() throws Exception {
        inline = true;
        try (TestInitiator i = start(64, Map.of())) {
            IscsiServer s = target.server;
            device.close(GATED_LBA);
            ByteBuffer simple = readHeader(i, GATED_LBA, ScsiTask.ATTR_SIMPLE);
            ByteBuffer ordered = readHeader(i, 1, ScsiTask.ATTR_ORDERED);
            ByteBuffer younger = readHeader(i, 2, ScsiTask.ATTR_SIMPLE);
            ByteBuffer head = readHeader(i, 3, ScsiTask.ATTR_HEAD_OF_QUEUE);
            long memoryBefore = s.memoryRuns.sum();
            sendTogether(i, simple, ordered, younger, head);
            device.awaitHeld();
            assertEquals(head.getInt(16), nextStatus(i), "HEAD OF QUEUE runs ahead, from memory");
            assertSilent(i, 300); // the ORDERED read and the SIMPLE one behind it are cached but wait
            assertEquals(memoryBefore + 1, s.memoryRuns.sum(), "only HEAD OF QUEUE was enabled at arrival");
            device.open();
            assertEquals(simple.getInt(16), nextStatus(i));
            assertEquals(ordered.getInt(16), nextStatus(i), "ORDERED after every older task");
            assertEquals(younger.getInt(16), nextStatus(i), "SIMPLE after the older ORDERED task");
            // An ORDERED read with nothing older is enabled at once: from memory, and the SIMPLE read
            // behind it runs from memory too once it has ended.
            memoryBefore = s.memoryRuns.sum();
            ByteBuffer first = readHeader(i, 4, ScsiTask.ATTR_ORDERED);
            ByteBuffer second = readHeader(i, 5, ScsiTask.ATTR_SIMPLE);
            ByteBuffer third = readHeader(i, 6, ScsiTask.ATTR_SIMPLE);
            sendTogether(i, first, second, third);
            assertEquals(first.getInt(16), nextStatus(i));
            assertEquals(second.getInt(16), nextStatus(i));
            assertEquals(third.getInt(16), nextStatus(i));
            assertTrue(s.memoryRuns.sum() - memoryBefore >= 2, "the ORDERED read and the next from memory");
        }
    }

    @Test
    void lunResetFromAnotherSessionWaitsForAReadHandedOverFromMemory() throws Exception {
        inline = true;
        try (TestInitiator a = start(64, Map.of());
                TestInitiator b = login(0x023d_0000_0078L, Map.of())) {
            assertEquals(0, a.command(0, new byte[16], 0, false, null)[0], "a has used the LUN");
            device.close(GATED_LBA);
            sendTogether(a, readHeader(a, GATED_LBA, ScsiTask.ATTR_SIMPLE), readHeader(a, 1, ScsiTask.ATTR_SIMPLE));
            device.awaitHeld();
            nextStatus(a); // the hit
            int before = device.ios;
            b.send(tmf(b, 0x85, -1, 501), null);
            assertSilent(b, 300); // the reset waits for the held read on its worker
            device.open();
            Pdu r = b.receive();
            assertEquals(Bhs.OP_TMF_RESP, r.opcode());
            assertEquals(0, r.header().get(2), "function complete");
            assertEquals(before + 1, device.ios, "the held read finished");
            assertSilent(a, 300); // TAS=0: the aborted read gets no status
        }
    }

    /**
     * Reads from the read cache on the content-addressed data path, two sent together so each goes the
     * way of a read among others (tried from memory, answered on the connection's thread): nothing is
     * allocated per command after warm-up, on the connection's thread or the workers.
     */
    @Test
    void readsFromMemoryAllocateNothingPerCommandAfterWarmUp() throws Exception {
        target = TargetFixture.contentAddressed(dir, TargetFixture.config(), 64L << 20);
        try (TestInitiator i = login(0x023d_0000_0005L, Map.of())) {
            byte[] data = new byte[4096];
            java.util.SplittableRandom r = new java.util.SplittableRandom(16);
            for (int b = 0; b < 64; b++) {
                r.nextBytes(data);
                assertEquals(0, i.command(0, cdb10(0x2a, b * 8L, 8), 4096, false, data)[0]);
            }
            target.data.checkpoint(); // destaged and cached: the reads below hit D's read cache
            IscsiServer s = target.server;
            for (int n = 0; n < 2000; n++) {
                readPair(i, n);
            }
            // A read that finds D's lock taken (destage, scrub) goes to a worker: warm the workers' own
            // per-thread state too, through a connection whose reads all go to them.
            s.readFromMemory = false;
            try (TestInitiator w = login(0x023d_0000_0006L, Map.of())) {
                for (int n = 0; n < 2000; n++) {
                    readPair(w, n);
                }
            }
            s.readFromMemory = true;
            String name = "iscsi-conn-127.0.0.1:" + i.socket.getLocalPort();
            long[] ids = Thread.getAllStackTraces().keySet().stream()
                    .filter(t -> t.getName().equals(name) || t.getName().startsWith("iscsi-worker-"))
                    .sorted((x, y) -> Boolean.compare(
                            !x.getName().equals(name), !y.getName().equals(name)))
                    .mapToLong(Thread::threadId)
                    .toArray();
            var mx = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
            long memoryBefore = s.memoryRuns.sum();
            long[] before = mx.getThreadAllocatedBytes(ids);
            for (int n = 0; n < 3000; n++) {
                readPair(i, n);
            }
            long[] after = mx.getThreadAllocatedBytes(ids);
            long bytes = 0;
            StringBuilder perThread = new StringBuilder();
            for (int k = 0; k < ids.length; k++) {
                bytes += after[k] - before[k];
                perThread.append(' ').append(after[k] - before[k]);
            }
            long fromMemory = s.memoryRuns.sum() - memoryBefore;
            assertTrue(fromMemory >= 3000, "reads answered from memory: " + fromMemory + " of 6000");
            assertTrue(
                    bytes < 64 * 1024,
                    "allocated " + bytes + " bytes over 6000 reads (" + bytes / 6000 + " per read), " + fromMemory
                            + " from memory, per thread:" + perThread + " (" + name + " first)");
        }
    }

    private static void readPair(TestInitiator i, int n) throws IOException {
        sendTogether(
                i,
                i.scsiHeader(0, cdb10(0x28, n % 64 * 8L, 8), 4096, true, false),
                i.scsiHeader(0, cdb10(0x28, (n + 7) % 64 * 8L, 8), 4096, true, false));
        nextStatus(i);
        nextStatus(i);
    }

    /** An immediate NOP-Out and its NOP-In: every PDU sent before it has been received. */
    private static void ping(TestInitiator i) throws IOException {
        ByteBuffer h = TestInitiator.header(0x40, 0x80);
        h.putInt(16, 4242).putInt(20, -1).putInt(24, i.cmdSn);
        i.send(h, null);
        Pdu r = i.receive();
        assertEquals(Bhs.OP_NOP_IN, r.opcode());
        assertEquals(4242, r.itt());
    }

    private static ByteBuffer tmf(TestInitiator i, int flags, int referencedItt, int itt) {
        ByteBuffer t = TestInitiator.header(0x42, flags);
        t.put(0, (byte) (0x42 | 0x40)); // immediate, as initiators send them
        t.putLong(8, Bhs.encodeLun(0)).putInt(16, itt).putInt(20, referencedItt).putInt(24, i.cmdSn);
        return t;
    }
}
