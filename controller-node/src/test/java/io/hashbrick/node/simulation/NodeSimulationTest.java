package io.hashbrick.node.simulation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hashbrick.node.Log;
import io.hashbrick.node.Plant;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The deterministic simulation of the node (issue 16 item 6): a seed replays bit for bit, seeds pass
 * on a correct node, and every planted bug is caught within 200 seeds. CI runs 200 seeds more through
 * {@code deploy/hashbrick simulate}.
 */
class NodeSimulationTest {
    private static Path work;

    @BeforeAll
    static void quiet() throws IOException {
        Log.warnAndAboveOnly(true);
        Path shm = Path.of("/dev/shm");
        work = Files.isWritable(shm)
                ? Files.createTempDirectory(shm, "hashbrick-simtest")
                : Files.createTempDirectory("hashbrick-simtest");
    }

    @AfterAll
    static void loud() throws IOException {
        Log.warnAndAboveOnly(false);
        NodeSimulation.deleteTree(work);
    }

    @Test
    @Timeout(120)
    void aSeedReplaysBitForBit() throws IOException {
        NodeSimulation.Result a = NodeSimulation.run(42, Set.of(), 200, work, false);
        NodeSimulation.Result b = NodeSimulation.run(42, Set.of(), 200, work, false);
        NodeSimulation.Result c = NodeSimulation.run(43, Set.of(), 200, work, false);
        assertTrue(a.ok(), "seed=42 " + a.violation());
        assertEquals(a.digest(), b.digest(), "seed=42: the same seed, the same run");
        assertEquals(a.checks(), b.checks());
        assertNotEquals(a.digest(), c.digest(), "seeds 42 and 43 ran the same steps");
        assertTrue(a.crashes() > 0 && a.checks() > 100, "seed=42 crashes=" + a.crashes() + " checks=" + a.checks());
    }

    @Test
    @Timeout(300)
    void seedsPassOnTheNodeAsItIs() throws IOException {
        for (long seed = 1000; seed < 1010; seed++) {
            NodeSimulation.Result r = NodeSimulation.run(seed, Set.of(), 300, work, false);
            assertTrue(
                    r.ok(), "seed=" + seed + " replay: deploy/hashbrick simulate --seed " + seed + " " + r.violation());
        }
    }

    /** Each planted bug is caught within 200 seeds (the first seed that catches it is printed). */
    @ParameterizedTest
    @EnumSource(Plant.class)
    @Timeout(600)
    void everyPlantedBugIsCaught(Plant plant) throws IOException {
        for (long seed = 1; seed <= 200; seed++) {
            NodeSimulation.Result r = NodeSimulation.run(seed, EnumSet.of(plant), 300, work, false);
            if (!r.ok()) {
                System.out.println("plant_caught plant=" + plant.cliName() + " seed=" + seed + " violation="
                        + Log.q(r.violation()));
                assertNotNull(r.violation());
                return;
            }
        }
        throw new AssertionError("plant missed in 200 seeds: plant=" + plant.cliName());
    }

    @Test
    void plantsParseByTheirCommandLineNamesAndUnknownOnesAreRefused() {
        for (Plant p : Plant.values()) {
            assertEquals(p, Plant.parse(p.cliName()));
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Plant.parse("no-such-bug"));
        assertTrue(e.getMessage().contains("known=ack-before-d-durable"), e.getMessage());
    }

    @Test
    void theCommandLineRefusesBadUsage() throws IOException {
        assertEquals(2, Simulate.run(new String[] {"--bogus"}));
        assertEquals(2, Simulate.run(new String[] {"--seeds", "5", "--seed", "3"}));
        assertEquals(2, Simulate.run(new String[] {"--seeds", "0"}));
        assertEquals(2, Simulate.run(new String[] {"--plant", "nothing", "--seeds", "1"}));
        assertEquals(0, Simulate.run(new String[] {"--list-plants"}));
    }
}
