package io.hashbrick.node.iscsi;

import io.hashbrick.node.iscsi.TargetConfig.ChapCredentials;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Map;
import java.util.random.RandomGenerator;

/**
 * CHAP authentication of the security negotiation stage (RFC 7143 §12.1.3, RFC 1994): the target
 * proves the initiator knows the secret, and, when the initiator asks (mutual CHAP, CHAP_I and
 * CHAP_C from the initiator), proves itself with its own secret. Only MD5 (CHAP_A=5) is offered.
 */
final class Chap {
    enum Step {
        CONTINUE,
        DONE,
        FAILED
    }

    private static final int CHALLENGE_BYTES = 16;

    private final ChapCredentials expected;
    private final ChapCredentials mutual;
    private final RandomGenerator random;
    private int identifier = -1;
    private byte[] challenge;
    /** Why the last step failed, for the log line. */
    String failure = "";

    Chap(ChapCredentials expected, ChapCredentials mutual, RandomGenerator random) {
        this.expected = expected;
        this.mutual = mutual;
        this.random = random;
    }

    Step step(Map<String, String> offered, Map<String, String> answer) {
        if (identifier < 0) {
            return offerChallenge(offered, answer);
        }
        return verify(offered, answer);
    }

    private Step offerChallenge(Map<String, String> offered, Map<String, String> answer) {
        String algorithms = offered.get("CHAP_A");
        if (algorithms == null) {
            return Step.CONTINUE; // the initiator has not asked yet
        }
        boolean md5 = false;
        for (String a : algorithms.split(",")) {
            md5 |= a.equals("5");
        }
        if (!md5) {
            answer.put("CHAP_A", "Reject");
            failure = "no supported CHAP_A offered=" + algorithms;
            return Step.FAILED;
        }
        identifier = random.nextInt(256);
        challenge = new byte[CHALLENGE_BYTES];
        random.nextBytes(challenge);
        answer.put("CHAP_A", "5");
        answer.put("CHAP_I", Integer.toString(identifier));
        answer.put("CHAP_C", "0x" + HexFormat.of().formatHex(challenge));
        return Step.CONTINUE;
    }

    private Step verify(Map<String, String> offered, Map<String, String> answer) {
        String name = offered.get("CHAP_N");
        byte[] response = binary(offered.get("CHAP_R"));
        if (name == null || response == null) {
            failure = "missing CHAP_N or CHAP_R";
            return Step.FAILED;
        }
        if (!name.equals(expected.user())) {
            failure = "unknown CHAP user=" + name;
            return Step.FAILED;
        }
        byte[] want = md5(identifier, expected.secret(), challenge);
        if (!MessageDigest.isEqual(want, response)) {
            failure = "wrong CHAP response user=" + name;
            return Step.FAILED;
        }
        String mutualId = offered.get("CHAP_I");
        String mutualChallenge = offered.get("CHAP_C");
        if (mutualId == null && mutualChallenge == null) {
            return Step.DONE;
        }
        return answerMutual(mutualId, binary(mutualChallenge), answer);
    }

    private Step answerMutual(String id, byte[] theirChallenge, Map<String, String> answer) {
        int ident = id == null ? -1 : Negotiation.number(id, 0, 255);
        if (mutual == null) {
            failure = "initiator asked for mutual CHAP, none configured";
            return Step.FAILED;
        }
        if (ident < 0 || theirChallenge == null || theirChallenge.length == 0) {
            failure = "malformed mutual CHAP_I/CHAP_C";
            return Step.FAILED;
        }
        if (MessageDigest.isEqual(theirChallenge, challenge)) {
            failure = "initiator reflected the target's challenge";
            return Step.FAILED;
        }
        answer.put("CHAP_N", mutual.user());
        answer.put("CHAP_R", "0x" + HexFormat.of().formatHex(md5(ident, mutual.secret(), theirChallenge)));
        return Step.DONE;
    }

    static byte[] md5(int identifier, String secret, byte[] challenge) {
        try {
            MessageDigest md = MessageDigest.getInstance("MD5");
            md.update((byte) identifier);
            md.update(secret.getBytes(StandardCharsets.UTF_8));
            md.update(challenge);
            return md.digest();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("MD5 unavailable", e);
        }
    }

    /** RFC 7143 §6.1 binary values: 0x hex or 0b base64. Null when malformed. */
    static byte[] binary(String value) {
        if (value == null || value.length() < 3) {
            return null;
        }
        try {
            String body = value.substring(2);
            if (value.startsWith("0x") || value.startsWith("0X")) {
                return HexFormat.of().parseHex(body.length() % 2 == 1 ? "0" + body : body);
            }
            if (value.startsWith("0b") || value.startsWith("0B")) {
                return Base64.getDecoder().decode(body);
            }
        } catch (IllegalArgumentException e) {
            return null;
        }
        return null;
    }
}
