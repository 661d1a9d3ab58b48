package io.hashbrick.node.iscsi;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Seeded, bounded fuzzing of the full feature phase: mutated and random PDUs (opcodes, flags, lengths,
 * sequence numbers, LUNs, CDBs, truncated segments). The target must answer, reject or drop the
 * connection, and afterwards still serve a fresh session with correct data. Seed: -Dseed=N.
 */
class PduFuzzTest {
    static final int PDUS = Integer.getInteger("fuzz.pdus", 2000);

    @TempDir
    Path dir;

    @Test
    void targetSurvivesMalformedPdus() throws Exception {
        long seed = Long.getLong("seed", 20261122L);
        try (TargetFixture target = new TargetFixture(dir)) {
            try {
                fuzz(target, new SplittableRandom(seed));
                checkStillServes(target);
            } catch (Throwable t) {
                throw new AssertionError("fuzz failed with seed=" + seed + " (rerun with -Dseed=" + seed + ")", t);
            }
        }
    }

    private static void fuzz(TargetFixture target, SplittableRandom rnd) throws IOException {
        TestInitiator i = null;
        int sent = 0;
        while (sent < PDUS) {
            try {
                if (i == null) {
                    i = new TestInitiator(target.port);
                    i.isid = 0x023d_0000_0000L + rnd.nextInt(4);
                    if (rnd.nextInt(10) > 0) {
                        i.login(
                                IscsiProtocolTest.INITIATOR,
                                TargetFixture.TARGET,
                                Map.of("HeaderDigest", rnd.nextBoolean() ? "None" : "CRC32C,None"));
                    }
                    i.socket.setSoTimeout(15); // short only while draining answers to fuzzed PDUs
                }
                i.sendRaw(randomPdu(rnd, i));
                sent++;
                drain(i);
            } catch (IOException e) {
                if (i != null) {
                    i.close(); // dropped by the target: a valid answer to bad input
                }
                i = null;
            }
        }
        if (i != null) {
            i.close();
        }
    }

    private static void drain(TestInitiator i) throws IOException {
        try {
            for (int n = 0; n < 64; n++) {
                i.receive();
            }
        } catch (java.net.SocketTimeoutException e) {
            // nothing more to read now
        }
    }

    static byte[] randomPdu(SplittableRandom rnd, TestInitiator i) {
        int[] opcodes = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x10, 0x1c, 0x3f};
        ByteBuffer h = ByteBuffer.allocate(48);
        for (int b = 0; b < 48; b++) {
            h.put(b, (byte) rnd.nextInt(256));
        }
        h.put(0, (byte) (opcodes[rnd.nextInt(opcodes.length)] | (rnd.nextBoolean() ? 0x40 : 0)));
        h.put(4, (byte) (rnd.nextInt(8) == 0 ? rnd.nextInt(4) : 0));
        int dsl =
                switch (rnd.nextInt(6)) {
                    case 0 -> 0;
                    case 1 -> rnd.nextInt(600);
                    case 2 -> 512 * rnd.nextInt(1, 9);
                    case 3 -> rnd.nextInt(300_000);
                    default -> rnd.nextInt(64);
                };
        h.put(5, (byte) (dsl >>> 16)).put(6, (byte) (dsl >>> 8)).put(7, (byte) dsl);
        if (rnd.nextInt(3) > 0) {
            h.putInt(24, i.cmdSn + rnd.nextInt(-2, 4)); // mostly plausible CmdSN
        }
        if (rnd.nextInt(3) > 0) {
            h.putLong(8, Bhs.encodeLun(rnd.nextInt(3)));
        }
        if (rnd.nextInt(3) > 0) {
            h.putInt(20, rnd.nextInt(0, 70_000));
        }
        int ahs = (h.get(4) & 0xff) * 4;
        int total = 48 + ahs + ((dsl + 3) & ~3);
        if (rnd.nextInt(20) == 0) {
            total = rnd.nextInt(1, total + 1); // truncated: the target must not hang other sessions
        }
        byte[] pdu = new byte[total];
        System.arraycopy(h.array(), 0, pdu, 0, Math.min(48, total));
        for (int b = 48; b < total; b++) {
            pdu[b] = (byte) rnd.nextInt(256);
        }
        return pdu;
    }

    private static void checkStillServes(TargetFixture target) throws IOException {
        try (TestInitiator i = new TestInitiator(target.port)) {
            i.isid = 0x0400_0000_0001L;
            assertEquals(
                    0,
                    i.login(IscsiProtocolTest.INITIATOR, TargetFixture.TARGET, Map.of())
                            .loginStatus());
            byte[] data = new byte[4096];
            new SplittableRandom(1).nextBytes(data);
            assertEquals(0, i.command(0, IscsiProtocolTest.cdb10(0x2a, 2048, 8), 4096, false, data)[0]);
            byte[] r = i.command(0, IscsiProtocolTest.cdb10(0x28, 2048, 8), 4096, true, null);
            assertArrayEquals(data, Arrays.copyOfRange(r, 1, r.length));
        }
        assertEquals(0, target.server.internalErrors(), "no internal error while fuzzing");
    }
}
