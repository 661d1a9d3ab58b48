package io.hashbrick.sim;

/**
 * How an {@link Ssd} is opened, validated once here (STYLE.md: configuration checked at start-up).
 *
 * @param preferredMode {@link IoMode#DIRECT} tries {@code O_DIRECT} and falls back to buffered I/O if the
 *     file system refuses it; {@link IoMode#BUFFERED} never tries
 * @param sleeper spends injected slow-I/O latency ({@link ManualClock} in tests)
 * @param clock stamps event lines
 * @param events receives state changes and fired faults, one {@code key=value} line each
 * @param volatileCacheBytesMax 0 (the default): no volatile write-cache model, a write that returned OK
 *     is on the file and stays there. Otherwise the simulation-only model of a drive's volatile write
 *     cache of this many bytes (see {@link Ssd#powerCut}): a multiple of 4096 in
 *     [{@link Ssd#IO_BYTES_MAX}, {@link #VOLATILE_CACHE_BYTES_MAX}], allocated once per drive at open
 */
public record SsdOptions(
        IoMode preferredMode, Sleeper sleeper, SimClock clock, EventSink events, long volatileCacheBytesMax) {
    /** Bounds the per-drive memory the model holds (its record of previous contents), 1 GiB. */
    public static final long VOLATILE_CACHE_BYTES_MAX = 1L << 30;

    public SsdOptions {
        if (preferredMode == null || sleeper == null || clock == null || events == null) {
            throw new IllegalArgumentException("ssd options must all be set preferredMode=" + preferredMode
                    + " sleeper=" + sleeper + " clock=" + clock + " events=" + events);
        }
        checkVolatileCache(volatileCacheBytesMax);
    }

    /** Without the volatile write-cache model. */
    public SsdOptions(IoMode preferredMode, Sleeper sleeper, SimClock clock, EventSink events) {
        this(preferredMode, sleeper, clock, events, 0);
    }

    /** A real controller: O_DIRECT if possible, real sleeping, the system clock, events on stderr. */
    public static SsdOptions defaults() {
        return new SsdOptions(IoMode.DIRECT, Sleeper.REAL, SimClock.SYSTEM, EventSink.STDERR);
    }

    /** A test or simulation: virtual time, nothing really sleeps. */
    public static SsdOptions simulated(ManualClock clock, EventSink events) {
        return new SsdOptions(IoMode.DIRECT, clock, clock, events);
    }

    public SsdOptions withMode(IoMode mode) {
        return new SsdOptions(mode, sleeper, clock, events, volatileCacheBytesMax);
    }

    /** The same options with the volatile write-cache model on ({@code bytesMax > 0}) or off (0). */
    public SsdOptions withVolatileCache(long bytesMax) {
        return new SsdOptions(preferredMode, sleeper, clock, events, bytesMax);
    }

    public boolean volatileCacheOn() {
        return volatileCacheBytesMax != 0;
    }

    /**
     * The lower bound lets the largest command fit, so the model can always record the newest write
     * (by treating older ones as flushed); the upper bound keeps the record one {@code int}-indexed
     * buffer and a simulation of 25 drives within a test JVM's memory.
     */
    private static void checkVolatileCache(long bytes) {
        boolean ok = bytes == 0
                || (bytes >= Ssd.IO_BYTES_MAX && bytes <= VOLATILE_CACHE_BYTES_MAX && bytes % Ssd.CELL_BYTES == 0);
        if (!ok) {
            throw new IllegalArgumentException("volatile cache must be 0 (off) or a multiple of " + Ssd.CELL_BYTES
                    + " in [" + Ssd.IO_BYTES_MAX + ", " + VOLATILE_CACHE_BYTES_MAX + "] volatile_cache_bytes_max="
                    + bytes);
        }
    }
}
