package io.hashbrick.node.iscsi;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hashbrick.node.iscsi.TestInitiator.Pdu;
import io.hashbrick.node.scsi.ScsiTask;
import java.io.EOFException;
import java.io.IOException;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The iSCSI front end against a raw-PDU initiator: login, data transfer, and bad input (RFC 7143). */
class IscsiProtocolTest {
    static final String INITIATOR = "iqn.2026-11.io.hashbrick:test-initiator";

    @TempDir
    Path dir;

    TargetFixture target;

    @BeforeEach
    void start() throws IOException {
        target = new TargetFixture(dir);
    }

    @AfterEach
    void stop() throws Exception {
        target.close();
    }

    private TestInitiator loggedIn(Map<String, String> op) throws IOException {
        TestInitiator i = new TestInitiator(target.port);
        Pdu r = i.login(INITIATOR, TargetFixture.TARGET, op);
        assertEquals(0, r.loginStatus(), "login status");
        assertEquals(0x80, r.flags() & 0x80, "transit to full feature");
        return i;
    }

    static byte[] cdb10(int opcode, long lba, int blocks) {
        byte[] c = new byte[16];
        c[0] = (byte) opcode;
        ByteBuffer.wrap(c).putInt(2, (int) lba).putShort(7, (short) blocks);
        return c;
    }

    @Test
    void loginNegotiatesAndServesTestUnitReady() throws IOException {
        try (TestInitiator i = new TestInitiator(target.port)) {
            Pdu r = i.login(
                    INITIATOR, TargetFixture.TARGET, Map.of("MaxBurstLength", "99999999", "FirstBurstLength", "4096"));
            assertEquals(0, r.loginStatus());
            Map<String, String> keys = r.keys();
            assertEquals("Reject", keys.get("MaxBurstLength"), "out of range value is rejected: " + keys);
            assertEquals("4096", keys.get("FirstBurstLength"));
            assertEquals("262144", keys.get("MaxRecvDataSegmentLength"));
            assertEquals("No", keys.get("InitialR2T"));
            assertEquals("Yes", keys.get("ImmediateData"));
            assertEquals(0, i.command(0, new byte[16], 0, false, null)[0], "TEST UNIT READY status");
        }
    }

    @Test
    void writeWithImmediateDataAndReadBack() throws IOException {
        try (TestInitiator i = loggedIn(Map.of())) {
            byte[] data = new byte[8192];
            new SplittableRandom(7).nextBytes(data);
            assertEquals(0, i.command(0, cdb10(0x2a, 100, 16), data.length, false, data)[0]);
            byte[] r = i.command(0, cdb10(0x28, 100, 16), data.length, true, null);
            assertEquals(0, r[0]);
            assertArrayEquals(data, Arrays.copyOfRange(r, 1, r.length));
        }
    }

    @Test
    void writeSolicitedByR2T() throws IOException {
        try (TestInitiator i =
                loggedIn(Map.of("InitialR2T", "Yes", "ImmediateData", "No", "MaxBurstLength", "65536"))) {
            byte[] data = new byte[256 * 1024];
            new SplittableRandom(8).nextBytes(data);
            ByteBuffer h = i.scsiHeader(0, cdb10(0x2a, 0, 512), data.length, false, true);
            int itt = h.getInt(16);
            i.send(h, null);
            int received = 0;
            int r2ts = 0;
            while (true) {
                Pdu p = i.receive();
                if (p.opcode() == Bhs.OP_R2T) {
                    r2ts++;
                    int off = p.header().getInt(40);
                    int len = p.header().getInt(44);
                    assertEquals(r2ts - 1, p.header().getInt(36), "R2TSN");
                    for (int sn = 0, o = off; o < off + len; o += 16384, sn++) {
                        ByteBuffer d = TestInitiator.header(Bhs.OP_DATA_OUT, o + 16384 >= off + len ? 0x80 : 0);
                        d.putInt(16, itt)
                                .putInt(20, p.header().getInt(20))
                                .putInt(36, sn)
                                .putInt(40, o);
                        i.send(d, Arrays.copyOfRange(data, o, Math.min(o + 16384, off + len)));
                    }
                    received += len;
                } else {
                    assertEquals(Bhs.OP_SCSI_RESP, p.opcode());
                    assertEquals(0, p.header().get(3));
                    break;
                }
            }
            assertEquals(4, r2ts, "256 KiB in bursts of MaxBurstLength 64 KiB");
            assertEquals(data.length, received);
            byte[] r = i.command(0, cdb10(0x28, 0, 512), data.length, true, null);
            assertArrayEquals(data, Arrays.copyOfRange(r, 1, r.length));
        }
    }

    @Test
    void readResidualsReportUnderflowAndOverflow() throws IOException {
        try (TestInitiator i = loggedIn(Map.of())) {
            ByteBuffer h = i.scsiHeader(0, cdb10(0x28, 0, 1), 1024, true, false);
            i.send(h, null);
            Pdu p = i.receive();
            assertEquals(Bhs.OP_DATA_IN, p.opcode());
            assertEquals(512, p.data().length);
            assertEquals(0x02, p.flags() & 0x06, "U bit");
            assertEquals(512, p.header().getInt(44));
            h = i.scsiHeader(0, cdb10(0x28, 0, 2), 512, true, false);
            i.send(h, null);
            p = i.receive();
            assertEquals(512, p.data().length, "truncated to EDTL");
            assertEquals(0x04, p.flags() & 0x06, "O bit");
            assertEquals(512, p.header().getInt(44));
        }
    }

    @Test
    void unknownTargetAndMissingNamesFailLogin() throws IOException {
        try (TestInitiator i = new TestInitiator(target.port)) {
            assertEquals(
                    0x0203,
                    i.login(INITIATOR, "iqn.2026-11.io.hashbrick:nope", Map.of())
                            .loginStatus());
        }
        try (TestInitiator i = new TestInitiator(target.port)) {
            Pdu r = i.loginStep(0, 1, true, Map.of("TargetName", TargetFixture.TARGET, "AuthMethod", "None"));
            assertEquals(0x0207, r.loginStatus());
        }
        try (TestInitiator i = new TestInitiator(target.port)) {
            ByteBuffer h = TestInitiator.header(0x43, 0x87);
            h.put(3, (byte) 1); // Version-min 1: unsupported
            i.send(h, TextKeys.encode(Map.of("InitiatorName", INITIATOR)));
            assertEquals(0x0205, i.receive().loginStatus());
        }
    }

    @Test
    void commandBeforeLoginIsRefusedAndConnectionClosed() throws IOException {
        try (TestInitiator i = new TestInitiator(target.port)) {
            i.send(i.scsiHeader(0, new byte[16], 0, false, false), null);
            Pdu r = i.receive();
            assertEquals(Bhs.OP_LOGIN_RESP, r.opcode());
            assertEquals(0x020b, r.loginStatus());
            assertThrows(EOFException.class, i::receive);
        }
    }

    @Test
    void cmdSnOutsideWindowIsIgnored() throws IOException {
        try (TestInitiator i = loggedIn(Map.of())) {
            i.socket.setSoTimeout(700);
            ByteBuffer h = i.scsiHeader(0, new byte[16], 0, false, false);
            h.putInt(24, i.cmdSn + 1000);
            i.cmdSn--; // the ignored command does not consume a CmdSN
            i.send(h, null);
            assertThrows(SocketTimeoutException.class, i::receive);
            i.socket.setSoTimeout(5000);
            assertEquals(0, i.command(0, new byte[16], 0, false, null)[0], "session still works");
        }
    }

    @Test
    void loginPduInFullFeaturePhaseIsRejected() throws IOException {
        try (TestInitiator i = loggedIn(Map.of())) {
            ByteBuffer h = TestInitiator.header(0x43, 0x87);
            i.send(h, TextKeys.encode(Map.of("InitiatorName", INITIATOR)));
            Pdu r = i.receive();
            assertEquals(Bhs.OP_REJECT, r.opcode());
            assertEquals(Bhs.REJECT_PROTOCOL_ERROR, r.header().get(2));
            assertEquals(48, r.data().length, "the rejected header comes back");
            assertEquals(0, i.command(0, new byte[16], 0, false, null)[0]);
        }
    }

    @Test
    void unknownOpcodeIsRejected() throws IOException {
        try (TestInitiator i = loggedIn(Map.of())) {
            i.send(TestInitiator.header(0x1c, 0x80), null);
            Pdu r = i.receive();
            assertEquals(Bhs.OP_REJECT, r.opcode());
            assertEquals(Bhs.REJECT_CMD_NOT_SUPPORTED, r.header().get(2));
        }
    }

    @Test
    void dataSegmentBeyondDeclaredLimitDropsTheConnection() throws IOException {
        try (TestInitiator i = loggedIn(Map.of())) {
            ByteBuffer h = i.scsiHeader(0, cdb10(0x2a, 0, 1024), 1 << 20, false, true);
            i.send(h, new byte[512 * 1024]);
            Pdu r = i.receive();
            assertEquals(Bhs.OP_REJECT, r.opcode());
            assertThrows(IOException.class, () -> {
                while (true) {
                    i.receive();
                }
            });
        }
    }

    @Test
    void outOfOrderDataSnEndsTheTaskWithDataPhaseError() throws IOException {
        try (TestInitiator i = loggedIn(Map.of("InitialR2T", "Yes", "ImmediateData", "No"))) {
            ByteBuffer h = i.scsiHeader(0, cdb10(0x2a, 0, 2), 1024, false, true);
            i.send(h, null);
            Pdu r2t = i.receive();
            assertEquals(Bhs.OP_R2T, r2t.opcode());
            ByteBuffer d = TestInitiator.header(Bhs.OP_DATA_OUT, 0x80);
            d.putInt(16, h.getInt(16))
                    .putInt(20, r2t.header().getInt(20))
                    .putInt(36, 5)
                    .putInt(40, 0);
            i.send(d, new byte[1024]);
            Pdu r = i.receive();
            assertEquals(Bhs.OP_SCSI_RESP, r.opcode());
            assertEquals(ScsiTask.CHECK_CONDITION, r.header().get(3));
            byte[] sense = r.data();
            assertEquals(0x0B, sense[2 + 2] & 0x0f, "ABORTED COMMAND");
            assertEquals(0x4B, sense[2 + 12] & 0xff, "DATA PHASE ERROR");
            assertEquals(0, i.command(0, new byte[16], 0, false, null)[0], "the connection goes on");
        }
    }

    @Test
    void headerDigestMismatchDropsTheConnection() throws IOException {
        try (TestInitiator i = loggedIn(Map.of("HeaderDigest", "CRC32C"))) {
            byte[] bad = new byte[52];
            bad[0] = 0x01;
            bad[1] = (byte) 0x81;
            i.sendRaw(bad); // digest 0 does not match
            assertThrows(IOException.class, i::receive);
        }
    }

    @Test
    void sessionReinstatementClosesTheOldSession() throws IOException {
        try (TestInitiator first = loggedIn(Map.of());
                TestInitiator second = loggedIn(Map.of())) {
            assertEquals(0, second.command(0, new byte[16], 0, false, null)[0]);
            assertThrows(IOException.class, first::receive, "the reinstated session's connection is closed");
        }
    }

    @Test
    void nopOutIsEchoedAndLogoutEndsTheSession() throws IOException {
        try (TestInitiator i = loggedIn(Map.of())) {
            ByteBuffer h = TestInitiator.header(0x40, 0x80);
            h.putInt(16, 77).putInt(20, -1).putInt(24, i.cmdSn);
            i.send(h, "ping!".getBytes());
            Pdu r = i.receive();
            assertEquals(Bhs.OP_NOP_IN, r.opcode());
            assertEquals(77, r.itt());
            assertEquals("ping!", TestInitiator.text(r.data()));
            ByteBuffer lo = TestInitiator.header(0x46, 0x80);
            lo.putInt(16, 78).putInt(24, i.cmdSn);
            i.send(lo, null);
            r = i.receive();
            assertEquals(Bhs.OP_LOGOUT_RESP, r.opcode());
            assertEquals(0, r.header().get(2));
            assertThrows(EOFException.class, i::receive);
        }
    }

    @Test
    void discoverySessionListsTheTarget() throws IOException {
        try (TestInitiator i = new TestInitiator(target.port)) {
            assertEquals(0, i.login(INITIATOR, null, Map.of()).loginStatus());
            ByteBuffer h = TestInitiator.header(0x04, 0x80);
            h.putInt(16, 5).putInt(20, -1).putInt(24, i.cmdSn);
            i.send(h, TextKeys.encode(Map.of("SendTargets", "All")));
            Pdu r = i.receive();
            assertEquals(Bhs.OP_TEXT_RESP, r.opcode());
            String text = TestInitiator.text(r.data());
            assertTrue(text.contains("TargetName=" + TargetFixture.TARGET), text);
            assertTrue(text.contains("TargetAddress=127.0.0.1:" + target.port + ",1"), text);
            // SCSI commands are not allowed in a discovery session
            i.send(i.scsiHeader(0, new byte[16], 0, false, false), null);
            assertEquals(Bhs.OP_REJECT, i.receive().opcode());
        }
    }

    /** SendTargets' answer in a discovery session on {@code port}. */
    private static String sendTargets(int port) throws IOException {
        try (TestInitiator i = new TestInitiator(port)) {
            assertEquals(0, i.login(INITIATOR, null, Map.of()).loginStatus());
            ByteBuffer h = TestInitiator.header(0x04, 0x80);
            h.putInt(16, 5).putInt(20, -1).putInt(24, i.cmdSn);
            i.send(h, TextKeys.encode(Map.of("SendTargets", "All")));
            Pdu r = i.receive();
            assertEquals(Bhs.OP_TEXT_RESP, r.opcode());
            return TestInitiator.text(r.data());
        }
    }

    @Test
    void aSingleControllerListsItsOnePortal() throws IOException {
        assertEquals(
                "TargetName=" + TargetFixture.TARGET + "\0TargetAddress=127.0.0.1:" + target.port + ",1\0",
                sendTargets(target.port));
    }

    /** In a cluster: this portal first (as reached), then every other controller's, each with its tag. */
    @Test
    void discoveryListsEveryPortalOfTheCluster() throws Exception {
        target.close();
        target = new TargetFixture(dir, TargetFixture.config().withPortalGroupTag(2));
        int own = target.port;
        target.server.portals(() -> List.of(
                new NetworkPortal("127.0.0.1:3260", 1),
                new NetworkPortal("127.0.0.1:3261", 2), // this controller as registered: reported as reached
                new NetworkPortal("127.0.0.1:3262", 3),
                new NetworkPortal("[::1]:3263", 4)));
        assertEquals(
                "TargetName=" + TargetFixture.TARGET + "\0TargetAddress=127.0.0.1:" + own + ",2\0"
                        + "TargetAddress=127.0.0.1:3260,1\0TargetAddress=127.0.0.1:3262,3\0"
                        + "TargetAddress=[::1]:3263,4\0",
                sendTargets(own));
        try (TestInitiator i = new TestInitiator(own)) { // a normal session learns the tag at login
            Map<String, String> k = new LinkedHashMap<>();
            k.put("InitiatorName", INITIATOR);
            k.put("TargetName", TargetFixture.TARGET);
            k.put("SessionType", "Normal");
            k.put("AuthMethod", "None");
            Pdu r = i.loginStep(0, 1, true, k);
            assertEquals(0, r.loginStatus());
            assertTrue(TestInitiator.text(r.data()).contains("TargetPortalGroupTag=2\0"), TestInitiator.text(r.data()));
        }
    }

    /** As many portals as one Text Response carries: a cut list, never a cut key. */
    @Test
    void portalsBeyondOneTextResponseAreLeftOut() throws IOException {
        List<NetworkPortal> many = new java.util.ArrayList<>();
        for (int k = 2; k <= 20_000; k++) {
            many.add(new NetworkPortal("127.0.0.1:" + (10_000 + k), k));
        }
        target.server.portals(() -> many);
        String text = sendTargets(target.port);
        assertTrue(text.length() <= 262_144 && text.endsWith("\0"), "within the initiator's 256 KiB: " + text.length());
        String[] keys = text.split("\0");
        assertEquals("TargetAddress=127.0.0.1:" + target.port + ",1", keys[1]);
        for (int n = 2; n < keys.length; n++) {
            assertEquals("TargetAddress=127.0.0.1:" + (10_000 + n) + "," + n, keys[n]);
        }
        assertTrue(keys.length > 1000 && keys.length < 20_000, "keys=" + keys.length);
    }

    @Test
    void abortTaskWaitingForDataAndUnknownTask() throws IOException {
        try (TestInitiator i = loggedIn(Map.of("InitialR2T", "Yes", "ImmediateData", "No"))) {
            ByteBuffer h = i.scsiHeader(0, cdb10(0x2a, 0, 8), 4096, false, true);
            i.send(h, null);
            assertEquals(Bhs.OP_R2T, i.receive().opcode());
            ByteBuffer tmf = TestInitiator.header(0x42, 0x81);
            tmf.putLong(8, Bhs.encodeLun(0))
                    .putInt(16, 900)
                    .putInt(20, h.getInt(16))
                    .putInt(24, i.cmdSn)
                    .putInt(32, h.getInt(24));
            i.send(tmf, null);
            Pdu r = i.receive();
            assertEquals(Bhs.OP_TMF_RESP, r.opcode());
            assertEquals(0, r.header().get(2), "function complete");
            tmf.putInt(16, 901);
            i.send(tmf, null);
            assertEquals(1, i.receive().header().get(2), "task does not exist");
            assertEquals(0, i.command(0, new byte[16], 0, false, null)[0]);
        }
    }

    @Test
    void unansweredNopInDropsAVanishedInitiator() throws Exception {
        target.close();
        TargetConfig c = TargetFixture.config().withNop(200, 400);
        target = new TargetFixture(dir, c);
        try (TestInitiator i = loggedIn(Map.of())) {
            Pdu ping = i.receive();
            assertEquals(Bhs.OP_NOP_IN, ping.opcode());
            assertEquals(-1, ping.itt());
            // not answered: the target drops the connection after nopTimeoutMs
            assertThrows(IOException.class, () -> {
                while (true) {
                    i.receive();
                }
            });
        }
    }

    @Test
    void pingAnsweredKeepsTheConnection() throws Exception {
        target.close();
        target = new TargetFixture(dir, TargetFixture.config().withNop(200, 400));
        try (TestInitiator i = loggedIn(Map.of())) {
            for (int n = 0; n < 3; n++) {
                Pdu ping = i.receive();
                assertEquals(Bhs.OP_NOP_IN, ping.opcode());
                ByteBuffer h = TestInitiator.header(0x40, 0x80);
                h.putInt(16, -1).putInt(20, ping.header().getInt(20)).putInt(24, i.cmdSn);
                i.send(h, null);
            }
            assertEquals(0, i.command(0, new byte[16], 0, false, null)[0]);
        } catch (SocketException e) {
            throw new AssertionError("connection dropped although pings were answered", e);
        }
    }

    @Test
    void commandPathAllocatesNothingPerCommandAfterWarmUp() throws Exception {
        try (TestInitiator i = loggedIn(Map.of())) {
            byte[] data = new byte[4096];
            new SplittableRandom(3).nextBytes(data);
            for (int n = 0; n < 3000; n++) {
                i.command(0, cdb10(0x2a, n % 1000 * 8, 8), 4096, false, data);
                i.command(0, cdb10(0x28, n % 1000 * 8, 8), 4096, true, null);
            }
            String name = "iscsi-conn-127.0.0.1:" + i.socket.getLocalPort();
            long[] ids = Thread.getAllStackTraces().keySet().stream()
                    .filter(t -> t.getName().equals(name) || t.getName().startsWith("iscsi-worker-"))
                    .mapToLong(Thread::threadId)
                    .toArray();
            assertTrue(ids.length > 1, "the connection thread and the workers");
            var mx = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
            long before =
                    java.util.Arrays.stream(mx.getThreadAllocatedBytes(ids)).sum();
            int commands = 0;
            for (int n = 0; n < 5000; n++) {
                i.command(0, cdb10(0x2a, n % 1000 * 8, 8), 4096, false, data);
                i.command(0, cdb10(0x28, n % 1000 * 8, 8), 4096, true, null);
                commands += 2;
            }
            long bytes =
                    java.util.Arrays.stream(mx.getThreadAllocatedBytes(ids)).sum() - before;
            assertTrue(
                    bytes < 64 * 1024,
                    "connection thread and workers allocated " + bytes + " bytes over " + commands + " commands ("
                            + (bytes / commands) + " per command)");
        }
    }

    @Test
    void initiatorStallingMidCommandIsDroppedWithoutStallingOthers() throws Exception {
        target.close();
        target = new TargetFixture(dir, TargetFixture.config().withNop(200, 400));
        try (TestInitiator stalled = loggedIn(Map.of("InitialR2T", "Yes", "ImmediateData", "No"));
                TestInitiator other = new TestInitiator(target.port)) {
            stalled.send(stalled.scsiHeader(0, cdb10(0x2a, 0, 8), 4096, false, true), null);
            assertEquals(Bhs.OP_R2T, stalled.receive().opcode());
            other.isid = 0x023d_0000_0099L;
            assertEquals(
                    0, other.login(INITIATOR, TargetFixture.TARGET, Map.of()).loginStatus());
            assertEquals(0, other.command(0, new byte[16], 0, false, null)[0], "other sessions are served");
            // the stalled initiator neither sends its data nor answers NOP-In: dropped after the timeout
            assertThrows(IOException.class, () -> {
                while (true) {
                    stalled.receive();
                }
            });
        }
    }

    @Test
    void lunResetAbortsWaitingTasksOfOtherSessionsToo() throws IOException {
        try (TestInitiator a = loggedIn(Map.of("InitialR2T", "Yes", "ImmediateData", "No"));
                TestInitiator b = new TestInitiator(target.port)) {
            b.isid = 0x023d_0000_0077L;
            assertEquals(0, b.login(INITIATOR, TargetFixture.TARGET, Map.of()).loginStatus());
            assertEquals(0, a.command(0, new byte[16], 0, false, null)[0], "a has used the LUN");
            ByteBuffer h = a.scsiHeader(0, cdb10(0x2a, 0, 8), 4096, false, true);
            a.send(h, null);
            Pdu r2t = a.receive();
            assertEquals(Bhs.OP_R2T, r2t.opcode());
            ByteBuffer tmf = TestInitiator.header(0x42, 0x85); // LUN RESET from the other session
            tmf.putLong(8, Bhs.encodeLun(0)).putInt(16, 500).putInt(20, -1).putInt(24, b.cmdSn);
            b.send(tmf, null);
            assertEquals(0, b.receive().header().get(2), "function complete");
            // a's data arrives after the reset: the task was aborted, so no status comes back
            ByteBuffer d = TestInitiator.header(Bhs.OP_DATA_OUT, 0x80);
            d.putInt(16, h.getInt(16))
                    .putInt(20, r2t.header().getInt(20))
                    .putInt(36, 0)
                    .putInt(40, 0);
            a.send(d, new byte[4096]);
            a.socket.setSoTimeout(500);
            assertThrows(java.net.SocketTimeoutException.class, a::receive);
            a.socket.setSoTimeout(5000);
            byte[] sense = a.command(0, new byte[16], 0, false, null);
            assertEquals(ScsiTask.CHECK_CONDITION, sense[0], "the reset shows as a unit attention on a's nexus");
        }
    }

    static Map<String, String> keys(String... kv) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put(kv[i], kv[i + 1]);
        }
        return m;
    }
}
