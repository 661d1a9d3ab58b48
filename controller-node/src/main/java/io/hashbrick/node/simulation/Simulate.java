package io.hashbrick.node.simulation;

import io.hashbrick.node.Log;
import io.hashbrick.node.Plant;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.Set;

/**
 * {@code hashbrick simulate}: runs the deterministic simulation of the node over seeds.
 *
 * <pre>
 *   simulate --seeds N [--first-seed F]   seeds F .. F+N-1 (F defaults to 1)
 *   simulate --seed S                     one seed (replays it: same seed, same digest)
 *   [--steps K]                           steps per seed (default 300)
 *   [--plant NAME]                        plant a known bug: the run passes when a seed catches it
 *   [--list-plants]                       the bugs that can be planted, one a line
 *   [--dir D] [--keep] [--verbose]        where runs write (a temporary directory), keep it, a line per seed
 * </pre>
 *
 * Exit status: 0 when every seed passed (with {@code --plant}: when a seed caught the bug), 1 when a
 * seed found a violation (with {@code --plant}: when none caught it), 2 on a usage error. A failing
 * seed prints the command that replays it.
 */
public final class Simulate {
    /** Where usage errors go (standard error as it was before the node's lines were silenced). */
    private static java.io.PrintStream usage = System.err;

    private Simulate() {}

    public static void main(String[] args) throws IOException {
        boolean verbose = java.util.Arrays.asList(args).contains("--verbose");
        usage = System.err;
        if (!verbose) { // the node's and the drives' event lines: thousands of starts; --verbose shows them
            System.setErr(new java.io.PrintStream(java.io.OutputStream.nullOutputStream()));
        }
        int status;
        try {
            status = run(args);
        } catch (IOException | RuntimeException | Error e) { // standard error is silenced: say it here
            System.out.println("simulation_error error=" + Log.q(e));
            e.printStackTrace(System.out);
            status = 1;
        }
        System.exit(status);
    }

    static int run(String[] args) throws IOException {
        long first = 1;
        long seeds = -1;
        Long one = null;
        int steps = 300;
        Plant plant = null;
        Path dir = null;
        boolean keep = false;
        boolean verbose = false;
        try {
            for (int i = 0; i < args.length; i++) {
                switch (args[i]) {
                    case "--seeds" -> seeds = Long.parseLong(args[++i]);
                    case "--first-seed" -> first = Long.parseUnsignedLong(args[++i]);
                    case "--seed" -> one = Long.parseUnsignedLong(args[++i]);
                    case "--steps" -> steps = Integer.parseInt(args[++i]);
                    case "--plant" -> plant = Plant.parse(args[++i]);
                    case "--dir" -> dir = Path.of(args[++i]);
                    case "--keep" -> keep = true;
                    case "--verbose" -> verbose = true;
                    case "--list-plants" -> {
                        for (Plant p : Plant.values()) {
                            System.out.println(p.cliName() + "  " + p.description());
                        }
                        return 0;
                    }
                    default -> throw new IllegalArgumentException("unknown option: " + args[i]);
                }
            }
            if ((one == null) == (seeds < 0)) {
                throw new IllegalArgumentException("give --seeds N or --seed S");
            }
            if (seeds == 0 || seeds > 10_000_000 || steps < 1 || steps > 1_000_000) {
                throw new IllegalArgumentException("out of range: seeds=" + seeds + " steps=" + steps);
            }
        } catch (IllegalArgumentException | ArrayIndexOutOfBoundsException e) {
            usage.println("simulate: " + e.getMessage());
            return 2;
        }
        if (one != null) {
            first = one;
            seeds = 1;
        }
        Log.warnAndAboveOnly(!verbose);
        Path work = dir != null ? dir : Files.createTempDirectory("hashbrick-sim");
        Set<Plant> plants = plant == null ? Set.of() : EnumSet.of(plant);
        long t0 = System.nanoTime();
        long passed = 0;
        long failed = 0;
        long totalSteps = 0;
        long crashes = 0;
        long powerCuts = 0;
        long ssdWritesLost = 0;
        long checks = 0;
        try {
            for (long i = 0; i < seeds; i++) {
                long seed = first + i;
                NodeSimulation.Result r = NodeSimulation.run(seed, plants, steps, work, keep);
                totalSteps += r.steps();
                crashes += r.crashes();
                powerCuts += r.powerCuts();
                ssdWritesLost += r.ssdWritesLost();
                checks += r.checks();
                if (r.ok()) {
                    passed++;
                    if (verbose || one != null) {
                        System.out.println("simulation_passed seed=" + Long.toUnsignedString(seed) + " digest="
                                + r.digest() + " steps=" + r.steps() + " crashes=" + r.crashes() + " power_cuts="
                                + r.powerCuts() + " ssd_writes_lost=" + r.ssdWritesLost() + " checks=" + r.checks());
                    }
                    continue;
                }
                failed++;
                String replay = "deploy/hashbrick simulate --seed " + Long.toUnsignedString(seed) + " --steps " + steps
                        + (plant == null ? "" : " --plant " + plant.cliName());
                System.out.println("simulation_failed seed=" + Long.toUnsignedString(seed) + " digest=" + r.digest()
                        + " violation=" + Log.q(r.violation()) + " replay=" + Log.q(replay));
                if (plant != null) {
                    System.out.println("plant_caught plant=" + plant.cliName() + " seed=" + Long.toUnsignedString(seed)
                            + " seeds_run=" + (i + 1));
                    break; // caught: that is what a planted run is for
                }
            }
        } finally {
            if (dir == null && !keep) {
                NodeSimulation.deleteTree(work);
            }
        }
        System.out.println("simulation_summary seeds=" + (passed + failed) + " passed=" + passed + " failed=" + failed
                + " steps=" + totalSteps + " crashes=" + crashes + " power_cuts=" + powerCuts + " ssd_writes_lost="
                + ssdWritesLost + " checks=" + checks
                + (plant == null ? "" : " plant=" + plant.cliName()) + " ms=" + (System.nanoTime() - t0) / 1_000_000);
        if (plant != null) {
            if (failed == 0) {
                System.out.println("plant_missed plant=" + plant.cliName() + " seeds_run=" + passed);
                return 1;
            }
            return 0;
        }
        return failed == 0 ? 0 : 1;
    }
}
