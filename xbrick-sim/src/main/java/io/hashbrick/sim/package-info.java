/**
 * The simulated hardware of one X-Brick: file-backed SSDs ({@link io.hashbrick.sim.Ssd}), the shelf that
 * holds 25 of them and is shared by both controllers ({@link io.hashbrick.sim.Dae}), each controller's
 * battery-backed memory ({@link io.hashbrick.sim.BatteryBackedMemory}) and seeded fault injection
 * ({@link io.hashbrick.sim.FaultInjector}). For a simulation, an opt-in model of the drives' volatile
 * write cache ({@link io.hashbrick.sim.SsdOptions#volatileCacheBytesMax}) lets a seeded power cut
 * ({@link io.hashbrick.sim.Dae#powerCut}) keep, drop or tear every write no flush covered.
 *
 * <p>Knows nothing of blocks, volumes or fingerprints, and depends on nothing of ours, only the JDK
 * (DESIGN.md "Modules"; held by {@code ModuleRulesTest}). Time and sleeping reach it through
 * {@link io.hashbrick.sim.SimClock} and {@link io.hashbrick.sim.Sleeper}, randomness only through a
 * seeded {@link java.util.SplittableRandom}, so a simulation replays exactly from one seed (STYLE.md
 * "Determinism", after TigerBeetle's {@code src/testing/storage.zig}).
 *
 * <p>Expected device conditions (failed, pulled, medium error) are returned as {@link io.hashbrick.sim.IoStatus}
 * values, never thrown; callers' mistakes throw {@code IllegalArgumentException}/{@code
 * IllegalStateException} with {@code key=value} context; corrupt on-disk structures throw
 * {@link io.hashbrick.sim.CorruptHeaderException}.
 */
package io.hashbrick.sim;
