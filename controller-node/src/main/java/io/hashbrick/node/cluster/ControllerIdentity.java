package io.hashbrick.node.cluster;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Who a controller is in the cluster: its member id as the operator writes it ({@code c3}), the
 * number the map knows it by (3), its brick, and how many controllers the cluster is launched with
 * (the initial placement waits for all of them). Validated once, at start-up.
 *
 * <p>The launcher's convention: brick b (1-based) holds controllers c(2b-1) and c(2b), so ids and
 * bricks are the same numbers in the operator's commands, the logs and the map.
 *
 * @param memberId {@code c} and a number from 1 (also its Raft peer id when it is a voter)
 * @param controller the number in {@code memberId}: the map's member id
 * @param brick the X-Brick it belongs to, from 1
 * @param expectedControllers controllers of the whole cluster: 2 per brick
 */
public record ControllerIdentity(String memberId, int controller, int brick, int expectedControllers) {
    private static final Pattern ID = Pattern.compile("c([1-9][0-9]{0,2})");

    public ControllerIdentity {
        if (brick < 1 || expectedControllers < 2 || expectedControllers % 2 != 0 || controller > expectedControllers) {
            throw new IllegalArgumentException("controller identity out of range: member=" + memberId + " brick="
                    + brick + " controllers=" + expectedControllers + " (brick >= 1, 2 controllers per brick)");
        }
        if (brick != (controller + 1) / 2) {
            throw new IllegalArgumentException("brick b holds controllers c(2b-1) and c(2b): member=" + memberId
                    + " brick=" + brick + " expected_brick=" + (controller + 1) / 2);
        }
    }

    /** Parses {@code c3}; {@code bricks} is the cluster's brick count. */
    public static ControllerIdentity of(String memberId, int brick, int bricks) {
        Matcher m = ID.matcher(memberId == null ? "" : memberId);
        if (!m.matches()) {
            throw new IllegalArgumentException("member id must be c1, c2, ...: member=" + memberId);
        }
        return new ControllerIdentity(memberId, Integer.parseInt(m.group(1)), brick, 2 * bricks);
    }

    /** The member id the map number {@code controller} has. */
    public static String memberId(int controller) {
        return "c" + controller;
    }

    /** The map number of a member id such as {@code c3}, or -1 for another id (the witness's). */
    public static int controllerOf(String memberId) {
        Matcher m = ID.matcher(memberId == null ? "" : memberId);
        return m.matches() ? Integer.parseInt(m.group(1)) : -1;
    }
}
