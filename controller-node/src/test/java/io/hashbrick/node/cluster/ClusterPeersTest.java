package io.hashbrick.node.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The group's configuration: voters as written on a command line, the group id, the tuning. */
class ClusterPeersTest {
    private static final String THREE = "c1=127.0.0.1:7101,c2=127.0.0.1:7102,w=127.0.0.1:7103";

    @Test
    void everyProcessGivenTheSameNameFormsTheSameGroup() {
        ClusterPeers a = ClusterPeers.parse("prod", THREE);
        ClusterPeers b = ClusterPeers.parse("prod", THREE);
        assertEquals(a.group().getGroupId(), b.group().getGroupId());
        assertNotEquals(
                a.group().getGroupId(),
                ClusterPeers.parse("test", THREE).group().getGroupId());
        assertEquals(List.of("c1", "c2", "w"), a.ids().stream().sorted().toList());
        assertEquals("127.0.0.1:7103", a.peer("w").getAddress());
        assertThrows(IllegalArgumentException.class, () -> a.peer("c9"));
    }

    @Test
    void badVoterListsAreRefusedWithTheOffendingValue() {
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class, () -> ClusterPeers.parse("x", "c1=127.0.0.1:1,c2=127.0.0.1:2"));
        assertTrue(e.getMessage().contains("voters=2"), e.getMessage());
        e = assertThrows(
                IllegalArgumentException.class,
                () -> ClusterPeers.parse("x", "c1=127.0.0.1:1,c1=127.0.0.1:2,w=127.0.0.1:3"));
        assertTrue(e.getMessage().contains("id=c1"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ClusterPeers.parse("x", "c1=127.0.0.1:99999"));
        assertTrue(e.getMessage().contains("peer=c1=127.0.0.1:99999"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ClusterPeers.parse("x", "C1=127.0.0.1:1"));
        assertThrows(IllegalArgumentException.class, () -> ClusterPeers.parse("x", "c1=:1"));
        assertEquals(1, ClusterPeers.parse("dev", "c1=127.0.0.1:7101").ids().size(), "one voter: a development node");
    }

    @Test
    void tuningIsCheckedOnce() {
        ClusterTuning t = ClusterTuning.DEFAULT.withElection("150-300");
        assertEquals(Duration.ofMillis(150), t.electionMin());
        assertEquals(Duration.ofMillis(300), t.electionMax());
        assertThrows(IllegalArgumentException.class, () -> ClusterTuning.DEFAULT.withElection("300-150"));
        assertThrows(IllegalArgumentException.class, () -> ClusterTuning.DEFAULT.withElection("fast"));
        assertThrows(
                IllegalArgumentException.class,
                () -> ClusterTuning.DEFAULT.withElection("500-2000"),
                "the request timeout must exceed the election maximum");
        assertThrows(IllegalArgumentException.class, () -> ClusterTuning.DEFAULT.withLog(100, 1));
    }
}
