package io.hashbrick.node.iscsi;

import java.util.Map;

/**
 * Answers the operational and declarative text keys of RFC 7143 §13 for one login or text
 * exchange, updating {@link SessionParams}. Each key's result function (min, max, AND, OR, list
 * choice, declarative) and range are those of §13; values out of range are answered "Reject" and
 * leave the default (§6.2), keys the target does not know are answered "NotUnderstood" (§6.2.1),
 * and keys that do not apply to a discovery session "Irrelevant".
 */
final class Negotiation {
    private final TargetConfig config;
    private final SessionParams params;

    Negotiation(TargetConfig config, SessionParams params) {
        this.config = config;
        this.params = params;
    }

    /** Answers every key in {@code offered} that needs an answer, into {@code answer}. */
    void answer(Map<String, String> offered, Map<String, String> answer, boolean leadingLogin) {
        for (Map.Entry<String, String> e : offered.entrySet()) {
            String key = e.getKey();
            String value = e.getValue();
            switch (key) {
                // Declarative and login-only keys, handled by the login itself.
                case "InitiatorName",
                        "TargetName",
                        "SessionType",
                        "AuthMethod",
                        "InitiatorAlias",
                        "CHAP_A",
                        "CHAP_N",
                        "CHAP_R",
                        "CHAP_I",
                        "CHAP_C",
                        "TargetAlias",
                        "TargetAddress",
                        "TargetPortalGroupTag" -> {}
                case "HeaderDigest" -> params.headerDigest = digest(key, value, answer);
                case "DataDigest" -> params.dataDigest = digest(key, value, answer);
                case "MaxConnections" ->
                    params.maxConnections = leadingOnly(key, answer, leadingLogin)
                            ? minimum(key, value, 1, 65535, 1, 1, answer)
                            : params.maxConnections;
                case "InitialR2T" ->
                    params.initialR2T = leadingOnly(key, answer, leadingLogin)
                            ? bool(key, value, false, true, answer)
                            : params.initialR2T;
                case "ImmediateData" ->
                    params.immediateData = leadingOnly(key, answer, leadingLogin)
                            ? bool(key, value, true, false, answer)
                            : params.immediateData;
                case "MaxRecvDataSegmentLength" -> {
                    int v = number(value, 512, 16_777_215);
                    if (v < 0) {
                        answer.put(key, "Reject");
                    } else {
                        params.sendSegmentMax = v;
                    }
                }
                case "MaxBurstLength" ->
                    params.maxBurstLength = leadingOnly(key, answer, leadingLogin)
                            ? minimum(key, value, 512, 16_777_215, config.maxBurstBytes(), 262_144, answer)
                            : params.maxBurstLength;
                case "FirstBurstLength" ->
                    params.firstBurstLength = leadingOnly(key, answer, leadingLogin)
                            ? minimum(key, value, 512, 16_777_215, config.maxBurstBytes(), 65_536, answer)
                            : params.firstBurstLength;
                case "DefaultTime2Wait" -> params.defaultTime2Wait = maximum(key, value, 0, 3600, 2, answer);
                case "DefaultTime2Retain" -> params.defaultTime2Retain = minimum(key, value, 0, 3600, 0, 20, answer);
                case "MaxOutstandingR2T" ->
                    params.maxOutstandingR2T = leadingOnly(key, answer, leadingLogin)
                            ? minimum(key, value, 1, 65535, 1, 1, answer)
                            : params.maxOutstandingR2T;
                case "DataPDUInOrder" -> params.dataPduInOrder = bool(key, value, true, true, answer);
                case "DataSequenceInOrder" -> params.dataSequenceInOrder = bool(key, value, true, true, answer);
                case "ErrorRecoveryLevel" -> params.errorRecoveryLevel = minimum(key, value, 0, 2, 0, 0, answer);
                case "IFMarker", "OFMarker" -> answer.put(key, "No");
                case "OFMarkInt", "IFMarkInt" -> answer.put(key, "Irrelevant");
                case "TaskReporting" -> answer.put(key, "RFC3720");
                case "iSCSIProtocolLevel" -> answer.put(key, "0");
                case "SendTargets" -> {} // a text request, answered by the full feature phase
                default -> answer.put(key, "NotUnderstood");
            }
        }
        if (params.firstBurstLength > params.maxBurstLength) {
            // FirstBurstLength MUST NOT exceed MaxBurstLength (RFC 7143 §13.14).
            params.firstBurstLength = params.maxBurstLength;
            answer.put("FirstBurstLength", Integer.toString(params.firstBurstLength));
        }
    }

    /** Keys the target declares itself in its first operational answer. */
    void declare(Map<String, String> answer) {
        answer.put("MaxRecvDataSegmentLength", Integer.toString(config.maxRecvDataSegmentBytes()));
    }

    private boolean leadingOnly(String key, Map<String, String> answer, boolean leadingLogin) {
        if (params.discovery && !key.equals("MaxRecvDataSegmentLength")) {
            answer.put(key, "Irrelevant");
            return false;
        }
        if (!leadingLogin) {
            // Leading-only keys may not be renegotiated (RFC 7143 §6.2): answer with the current value.
            answer.put(key, "Reject");
            return false;
        }
        return true;
    }

    private static boolean digest(String key, String offered, Map<String, String> answer) {
        for (String choice : offered.split(",")) {
            if (choice.equals("CRC32C") || choice.equals("None")) {
                answer.put(key, choice);
                return choice.equals("CRC32C");
            }
        }
        answer.put(key, "Reject");
        return false;
    }

    /** Boolean keys: OR function if {@code or}, AND otherwise; {@code ours} is the target's value. */
    private static boolean bool(String key, String value, boolean ours, boolean or, Map<String, String> answer) {
        boolean v;
        if (value.equals("Yes")) {
            v = true;
        } else if (value.equals("No")) {
            v = false;
        } else {
            answer.put(key, "Reject");
            return or; // defaults of OR keys here are Yes, of AND keys Yes
        }
        boolean result = or ? (v || ours) : (v && ours);
        answer.put(key, result ? "Yes" : "No");
        return result;
    }

    private static int minimum(
            String key, String value, int lo, int hi, int ours, int dflt, Map<String, String> answer) {
        int v = number(value, lo, hi);
        if (v < 0) {
            answer.put(key, "Reject");
            return dflt;
        }
        int result = Math.min(v, Math.max(ours, lo));
        answer.put(key, Integer.toString(result));
        return result;
    }

    private static int maximum(String key, String value, int lo, int hi, int dflt, Map<String, String> answer) {
        int v = number(value, lo, hi);
        if (v < 0) {
            answer.put(key, "Reject");
            return dflt;
        }
        answer.put(key, Integer.toString(v));
        return v;
    }

    /** A decimal or 0x hex number in [lo, hi], or -1. */
    static int number(String value, int lo, int hi) {
        try {
            long v = value.startsWith("0x") || value.startsWith("0X")
                    ? Long.parseLong(value.substring(2), 16)
                    : Long.parseLong(value);
            return v < lo || v > hi ? -1 : (int) v;
        } catch (NumberFormatException e) {
            return -1;
        }
    }
}
