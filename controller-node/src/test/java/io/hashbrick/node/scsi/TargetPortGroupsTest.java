package io.hashbrick.node.scsi;

import static io.hashbrick.node.scsi.ScsiHarness.assertGood;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The array's ports as a host's multipath stack sees them (issue 19 item 4): REPORT TARGET PORT GROUPS
 * (SPC-4 §6.37) lists every controller's port group, and VPD 83h (§7.8.6) gives the same logical unit
 * designator through every controller with that controller's relative port and port group.
 */
class TargetPortGroupsTest {
    private static final HexFormat HEX = HexFormat.of();

    @TempDir
    Path dir;

    /** The nexus an initiator has with controller {@code k}'s portal: port k, group k, tag k. */
    static ItNexus nexusOn(int k) {
        return new ItNexus(k, "iqn.a", "iqn.a,i,0x1", "iqn.t,t,0x" + String.format("%04x", k), k, k);
    }

    static List<TargetPort> controllers(int n) {
        TargetPort[] p = new TargetPort[n];
        for (int k = 1; k <= n; k++) {
            p[k - 1] = new TargetPort(k, k);
        }
        return List.of(p);
    }

    private ScsiHarness harness(String name) throws Exception {
        Path d = Files.createDirectories(dir.resolve(name));
        return new ScsiHarness(d, 512, 64);
    }

    private static byte[] rtpg(ScsiHarness h, ItNexus nexus, int format, int alloc) {
        assertGood(h.run(
                nexus,
                0,
                null,
                0xA3,
                0x0A | format << 5,
                0,
                0,
                0,
                0,
                alloc >>> 24,
                alloc >>> 16 & 0xff,
                alloc >>> 8 & 0xff,
                alloc & 0xff,
                0,
                0));
        return h.dataIn();
    }

    @Test
    void aSingleControllerReportsItsOwnPortGroupAsBefore() throws Exception {
        try (ScsiHarness h = harness("single")) {
            byte[] d = rtpg(h, ScsiHarness.A, 0, 4096);
            assertEquals("0000000c" + "80090001" + "00000001" + "00000001", HEX.formatHex(d));
        }
    }

    @Test
    void twoControllersEachListBothGroupsActiveOptimized() throws Exception {
        try (ScsiHarness h = harness("two")) {
            h.server.targetPorts(() -> controllers(2));
            String expected = "00000018" // RETURN DATA LENGTH: 2 descriptors of 12
                    + "80090001" + "00000001" + "00000001" // PREF, A/O, U_SUP AO_SUP, group 1, 1 port: relative id 1
                    + "80090002" + "00000001" + "00000002"; // group 2: relative id 2
            assertEquals(expected, HEX.formatHex(rtpg(h, nexusOn(1), 0, 4096)), "through c1");
            assertEquals(expected, HEX.formatHex(rtpg(h, nexusOn(2), 0, 4096)), "through c2");
        }
    }

    @Test
    void fourControllersInTheExtendedFormat() throws Exception {
        try (ScsiHarness h = harness("four")) {
            h.server.targetPorts(() -> controllers(4));
            ByteBuffer d = ByteBuffer.wrap(rtpg(h, nexusOn(3), 1, 4096));
            assertEquals(8 + 4 * 12, d.limit());
            assertEquals(d.limit() - 4, d.getInt(0), "RETURN DATA LENGTH");
            assertEquals(0x10, d.get(4), "FORMAT TYPE 001b");
            for (int k = 1; k <= 4; k++) {
                int g = 8 + 12 * (k - 1);
                assertEquals((byte) 0x80, d.get(g), "PREF, ASYMMETRIC ACCESS STATE 0: active/optimized");
                assertEquals(0x09, d.get(g + 1), "U_SUP, AO_SUP");
                assertEquals(k, d.getShort(g + 2), "TARGET PORT GROUP");
                assertEquals(1, d.get(g + 7), "TARGET PORT COUNT");
                assertEquals(k, d.getShort(g + 10), "RELATIVE TARGET PORT IDENTIFIER");
            }
        }
    }

    @Test
    void aControllerWhosePoolFailedOverIsUnavailableToTheOthers() throws Exception {
        try (ScsiHarness h = harness("down")) {
            h.server.targetPorts(() -> List.of(new TargetPort(1, 1), new TargetPort(2, 2, false)));
            assertEquals(
                    "00000018" + "80090001" + "00000001" + "00000001" + "03090002" + "00000001" + "00000002",
                    HEX.formatHex(rtpg(h, nexusOn(1), 0, 4096)),
                    "c2 down: unavailable (3h) through c1");
            assertEquals(
                    "00000018" + "80090001" + "00000001" + "00000001" + "80090002" + "00000001" + "00000002",
                    HEX.formatHex(rtpg(h, nexusOn(2), 0, 4096)),
                    "the port a command came through is up, whatever the map says");
        }
    }

    @Test
    void twoPortsOfOneGroupShareItsDescriptor() throws Exception {
        try (ScsiHarness h = harness("shared")) {
            h.server.targetPorts(() -> List.of(new TargetPort(1, 7), new TargetPort(2, 7)));
            assertEquals(
                    "00000010" + "80090007" + "00000002" + "00000001" + "00000002",
                    HEX.formatHex(rtpg(h, new ItNexus(9, "iqn.a", "iqn.a,i,0x1", "iqn.t,t,0x0002", 2, 7), 0, 4096)));
        }
    }

    @Test
    void aListWithoutTheAskingPortReportsThatPortAlone() throws Exception {
        try (ScsiHarness h = harness("missing")) {
            h.server.targetPorts(() -> controllers(2));
            assertEquals(
                    "0000000c" + "80090003" + "00000001" + "00000003", HEX.formatHex(rtpg(h, nexusOn(3), 0, 4096)));
            h.server.targetPorts(List::of); // no map seen yet
            assertEquals(
                    "0000000c" + "80090001" + "00000001" + "00000001", HEX.formatHex(rtpg(h, nexusOn(1), 0, 4096)));
        }
    }

    @Test
    void theAllocationLengthCutsTheDataNotItsLength() throws Exception {
        try (ScsiHarness h = harness("short")) {
            h.server.targetPorts(() -> controllers(4));
            assertEquals("0000003080090001", HEX.formatHex(rtpg(h, nexusOn(1), 0, 8)));
        }
    }

    /** VPD 80h and 83h through two controllers: one logical unit, two ports. */
    @Test
    void everyControllerGivesTheSameUnitIdentityAndItsOwnPort() throws Exception {
        try (ScsiHarness c1 = harness("c1");
                ScsiHarness c2 = harness("c2")) {
            assertEquals(serial(c1, nexusOn(1)), serial(c2, nexusOn(2)), "VPD 80h unit serial number");
            Map<Integer, byte[]> d1 = designators(c1, nexusOn(1));
            Map<Integer, byte[]> d2 = designators(c2, nexusOn(2));
            assertArrayEquals(d1.get(0x03), d2.get(0x03), "NAA designator (LU association)");
            assertEquals(16, d1.get(0x03).length);
            assertEquals(0x60, d1.get(0x03)[0] & 0xF0, "NAA 6: IEEE Registered Extended");
            assertEquals(1, ByteBuffer.wrap(d1.get(0x14)).getShort(2), "c1: relative target port 1");
            assertEquals(2, ByteBuffer.wrap(d2.get(0x14)).getShort(2), "c2: relative target port 2");
            assertEquals(1, ByteBuffer.wrap(d1.get(0x15)).getShort(2), "c1: target port group 1");
            assertEquals(2, ByteBuffer.wrap(d2.get(0x15)).getShort(2), "c2: target port group 2");
            assertEquals("iqn.t,t,0x0001", name(d1.get(0x18)), "c1's target port name");
            assertEquals("iqn.t,t,0x0002", name(d2.get(0x18)), "c2's target port name");
            assertNotEquals(name(d1.get(0x18)), name(d2.get(0x18)));
        }
    }

    private static String serial(ScsiHarness h, ItNexus nexus) {
        assertGood(h.run(nexus, 0, null, 0x12, 0x01, 0x80, 0, 255, 0));
        byte[] d = h.dataIn();
        return new String(d, 4, ByteBuffer.wrap(d).getShort(2), StandardCharsets.US_ASCII);
    }

    /** The designators of VPD 83h by (association << 4 | type), each as its DESIGNATOR bytes. */
    private static Map<Integer, byte[]> designators(ScsiHarness h, ItNexus nexus) {
        assertGood(h.run(nexus, 0, null, 0x12, 0x01, 0x83, 0, 255, 0));
        byte[] d = h.dataIn();
        Map<Integer, byte[]> out = new LinkedHashMap<>();
        int end = 4 + ByteBuffer.wrap(d).getShort(2);
        for (int n = 4; n < end; n += 4 + (d[n + 3] & 0xff)) {
            int key = (d[n + 1] & 0x30) | (d[n + 1] & 0x0F);
            byte[] v = new byte[d[n + 3] & 0xff];
            System.arraycopy(d, n + 4, v, 0, v.length);
            out.put(key, v);
        }
        return out;
    }

    private static String name(byte[] utf8NullPadded) {
        int len = 0;
        while (len < utf8NullPadded.length && utf8NullPadded[len] != 0) {
            len++;
        }
        return new String(utf8NullPadded, 0, len, StandardCharsets.UTF_8);
    }
}
