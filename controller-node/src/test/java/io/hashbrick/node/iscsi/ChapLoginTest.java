package io.hashbrick.node.iscsi;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.hashbrick.node.iscsi.TargetConfig.ChapCredentials;
import io.hashbrick.node.iscsi.TestInitiator.Pdu;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** CHAP at login (RFC 7143 §12.1.3): one-way, mutual, and every way of getting it wrong. */
class ChapLoginTest {
    static final String INITIATOR = "iqn.2026-11.io.hashbrick:chap-initiator";
    static final ChapCredentials USER = new ChapCredentials("alice", "alice-secret-123");
    static final ChapCredentials TARGET_CRED = new ChapCredentials("xbrick", "target-secret-456");

    @TempDir
    Path dir;

    TargetFixture target;

    @AfterEach
    void stop() throws Exception {
        if (target != null) {
            target.close();
        }
    }

    private void start(ChapCredentials oneWay, ChapCredentials mutual) throws IOException {
        target = new TargetFixture(dir, TargetFixture.config().withChap(oneWay, mutual));
    }

    /** Runs the CHAP exchange; returns the final login response. */
    private static Pdu chapLogin(TestInitiator i, String user, String secret, byte[] mutualChallenge)
            throws IOException {
        Pdu r = i.loginStep(
                0,
                1,
                false,
                IscsiProtocolTest.keys(
                        "InitiatorName",
                        INITIATOR,
                        "TargetName",
                        TargetFixture.TARGET,
                        "SessionType",
                        "Normal",
                        "AuthMethod",
                        "CHAP,None"));
        if (r.loginStatus() != 0) {
            return r;
        }
        assertEquals("CHAP", r.keys().get("AuthMethod"));
        r = i.loginStep(0, 1, false, Map.of("CHAP_A", "7,5"));
        Map<String, String> k = r.keys();
        assertEquals("5", k.get("CHAP_A"));
        int id = Integer.parseInt(k.get("CHAP_I"));
        byte[] challenge = Chap.binary(k.get("CHAP_C"));
        byte[] response = Chap.md5(id, secret, challenge);
        Map<String, String> answer = IscsiProtocolTest.keys(
                "CHAP_N", user, "CHAP_R", "0x" + HexFormat.of().formatHex(response));
        if (mutualChallenge != null) {
            answer.put("CHAP_I", "42");
            answer.put("CHAP_C", "0x" + HexFormat.of().formatHex(mutualChallenge));
        }
        return i.loginStep(0, 1, true, answer);
    }

    @Test
    void oneWayChapAdmitsTheRightSecret() throws IOException {
        start(USER, null);
        try (TestInitiator i = new TestInitiator(target.port)) {
            Pdu r = chapLogin(i, "alice", USER.secret(), null);
            assertEquals(0, r.loginStatus());
            assertEquals(0x80, r.flags() & 0x80, "transit to operational stage");
            r = i.loginStep(1, 3, true, Map.of("ImmediateData", "Yes"));
            assertEquals(0, r.loginStatus());
            assertEquals(0, i.command(0, new byte[16], 0, false, null)[0]);
        }
    }

    @Test
    void wrongSecretUnknownUserAndNoneAreRefused() throws IOException {
        start(USER, null);
        try (TestInitiator i = new TestInitiator(target.port)) {
            assertEquals(0x0201, chapLogin(i, "alice", "wrong-secret-000", null).loginStatus());
            assertThrows(IOException.class, i::receive, "connection closed after failed login");
        }
        try (TestInitiator i = new TestInitiator(target.port)) {
            assertEquals(0x0201, chapLogin(i, "mallory", USER.secret(), null).loginStatus());
        }
        try (TestInitiator i = new TestInitiator(target.port)) {
            assertEquals(
                    0x0201,
                    i.login(INITIATOR, TargetFixture.TARGET, Map.of()).loginStatus(),
                    "AuthMethod=None refused when CHAP is configured");
        }
        try (TestInitiator i = new TestInitiator(target.port)) {
            Pdu r = i.loginStep(
                    1, 3, true, IscsiProtocolTest.keys("InitiatorName", INITIATOR, "TargetName", TargetFixture.TARGET));
            assertEquals(0x0201, r.loginStatus(), "skipping the security stage");
        }
    }

    @Test
    void mutualChapProvesTheTarget() throws IOException {
        start(USER, TARGET_CRED);
        byte[] challenge = HexFormat.of().parseHex("00112233445566778899aabbccddeeff");
        try (TestInitiator i = new TestInitiator(target.port)) {
            Pdu r = chapLogin(i, "alice", USER.secret(), challenge);
            assertEquals(0, r.loginStatus());
            Map<String, String> k = r.keys();
            assertEquals("xbrick", k.get("CHAP_N"));
            assertArrayEquals(Chap.md5(42, TARGET_CRED.secret(), challenge), Chap.binary(k.get("CHAP_R")));
        }
    }

    @Test
    void mutualChapWithoutTargetCredentialsFails() throws IOException {
        start(USER, null);
        try (TestInitiator i = new TestInitiator(target.port)) {
            assertEquals(
                    0x0201, chapLogin(i, "alice", USER.secret(), new byte[16]).loginStatus());
        }
    }

    @Test
    void shortSecretsAreRefusedAtConfiguration() {
        assertThrows(IllegalArgumentException.class, () -> new ChapCredentials("bob", "short"));
    }
}
