package io.hashbrick.node.iscsi;

/**
 * Configuration of one iSCSI target portal group, validated once at start-up.
 *
 * @param targetName the target's iSCSI name (iqn. or eui. form, RFC 3722)
 * @param alias TargetAlias sent at login, may be empty
 * @param host portal address to listen on
 * @param port portal TCP port
 * @param portalGroupTag TargetPortalGroupTag (RFC 7143 §13.9), 1..65535
 * @param chap credentials an initiator must prove (one-way CHAP); null allows AuthMethod=None
 * @param mutualChap the target's own credentials for mutual CHAP; null if the target does not prove itself
 * @param maxRecvDataSegmentBytes the MaxRecvDataSegmentLength the target declares (512..16777215)
 * @param maxBurstBytes the largest MaxBurstLength and FirstBurstLength the target accepts
 * @param commandWindow how many commands one session may have outstanding (CmdSN window, RFC 7143 §4.2.2.1)
 * @param nopIntervalMs idle time after which the target pings an initiator with NOP-In, 0 to disable
 * @param nopTimeoutMs how long a NOP-In may go unanswered before the connection is dropped
 * @param loginTimeoutMs how long a login may take in all before the connection is dropped
 */
public record TargetConfig(
        String targetName,
        String alias,
        String host,
        int port,
        int portalGroupTag,
        ChapCredentials chap,
        ChapCredentials mutualChap,
        int maxRecvDataSegmentBytes,
        int maxBurstBytes,
        int commandWindow,
        int nopIntervalMs,
        int nopTimeoutMs,
        int loginTimeoutMs) {

    /** A CHAP user name and secret. Secrets shorter than 12 bytes are refused (RFC 7143 §9.2.1: 96 bits). */
    public record ChapCredentials(String user, String secret) {
        public ChapCredentials {
            if (user == null || user.isEmpty()) {
                throw new IllegalArgumentException("CHAP user name is empty");
            }
            if (secret == null || secret.length() < 12 || secret.length() > 255) {
                throw new IllegalArgumentException("CHAP secret must be 12..255 bytes: user=" + user + " secret_length="
                        + (secret == null ? 0 : secret.length()));
            }
        }

        @Override
        public String toString() {
            return "ChapCredentials[user=" + user + "]"; // never the secret
        }
    }

    public TargetConfig {
        if (targetName == null
                || !(targetName.startsWith("iqn.") || targetName.startsWith("eui.") || targetName.startsWith("naa."))
                || targetName.length() > 223) {
            throw new IllegalArgumentException(
                    "target name must be an iqn./eui./naa. name of at most 223 bytes: target_name=" + targetName);
        }
        check(port >= 0 && port < 65536, "port=" + port); // 0: an ephemeral port (tests)
        check(portalGroupTag > 0 && portalGroupTag < 65536, "portal_group_tag=" + portalGroupTag);
        check(
                maxRecvDataSegmentBytes >= 512 && maxRecvDataSegmentBytes <= 16_777_215,
                "max_recv_data_segment_bytes=" + maxRecvDataSegmentBytes);
        check(maxBurstBytes >= 512 && maxBurstBytes <= 16_777_215, "max_burst_bytes=" + maxBurstBytes);
        check(commandWindow >= 1 && commandWindow <= 1024, "command_window=" + commandWindow);
        check(
                nopIntervalMs >= 0 && nopTimeoutMs > 0 && loginTimeoutMs > 0,
                "nop_interval_ms=" + nopIntervalMs + " nop_timeout_ms=" + nopTimeoutMs + " login_timeout_ms="
                        + loginTimeoutMs);
        if (mutualChap != null && chap == null) {
            throw new IllegalArgumentException("mutual CHAP needs one-way CHAP configured too");
        }
    }

    private static void check(boolean ok, String what) {
        if (!ok) {
            throw new IllegalArgumentException("invalid target configuration: " + what);
        }
    }

    /** Defaults for a target on the given portal: no CHAP, 256 KiB segments, 1 MiB bursts, window 64. */
    public static TargetConfig defaults(String targetName, String host, int port) {
        return new TargetConfig(
                targetName, "hashbrick", host, port, 1, null, null, 262_144, 1_048_576, 64, 5_000, 15_000, 15_000);
    }

    public TargetConfig withChap(ChapCredentials oneWay, ChapCredentials mutual) {
        return new TargetConfig(
                targetName,
                alias,
                host,
                port,
                portalGroupTag,
                oneWay,
                mutual,
                maxRecvDataSegmentBytes,
                maxBurstBytes,
                commandWindow,
                nopIntervalMs,
                nopTimeoutMs,
                loginTimeoutMs);
    }

    /** The same target on another portal group (a cluster: the controller's number). */
    public TargetConfig withPortalGroupTag(int tag) {
        return new TargetConfig(
                targetName,
                alias,
                host,
                port,
                tag,
                chap,
                mutualChap,
                maxRecvDataSegmentBytes,
                maxBurstBytes,
                commandWindow,
                nopIntervalMs,
                nopTimeoutMs,
                loginTimeoutMs);
    }

    public TargetConfig withNop(int intervalMs, int timeoutMs) {
        return new TargetConfig(
                targetName,
                alias,
                host,
                port,
                portalGroupTag,
                chap,
                mutualChap,
                maxRecvDataSegmentBytes,
                maxBurstBytes,
                commandWindow,
                intervalMs,
                timeoutMs,
                loginTimeoutMs);
    }
}
