package io.hashbrick.journal;

/**
 * Journal configuration, validated once here (Aeron: "configuration validated once at start-up").
 *
 * @param queueCapacity appends that may wait for the writer at once; a power of two. A full queue is
 *     back-pressure ({@link Journal#BACK_PRESSURED}), not a blocked caller.
 * @param maxBatchEntries records per batch (and per {@link JournalWriter#doWork()} call): bounds the
 *     writer's work per step and the completion array.
 * @param flushBytes trigger (b): persist once the batch holds at least this many bytes.
 * @param maxWaitNs trigger (a): persist once the oldest record of the batch has waited this long.
 * @param flushWhenQueueEmpty trigger (c): persist as soon as the queue is empty.
 * @param maxPayloadBytes largest payload one record may carry.
 */
public record JournalConfig(
        int queueCapacity,
        int maxBatchEntries,
        int flushBytes,
        long maxWaitNs,
        boolean flushWhenQueueEmpty,
        int maxPayloadBytes) {

    /** Largest payload the format allows: a compressed 4 KiB block and its fingerprint fit many times. */
    public static final int MAX_PAYLOAD_LIMIT = 1 << 20;

    public JournalConfig {
        Checks.argument(
                queueCapacity >= 2 && queueCapacity <= (1 << 20) && Integer.bitCount(queueCapacity) == 1,
                "queueCapacity must be a power of two in [2, 2^20]",
                "queueCapacity",
                queueCapacity);
        Checks.argument(
                maxBatchEntries >= 1 && maxBatchEntries <= queueCapacity,
                "maxBatchEntries must be in [1, queueCapacity]",
                "maxBatchEntries",
                maxBatchEntries,
                "queueCapacity",
                queueCapacity);
        Checks.argument(
                flushBytes >= RecordLayout.HEADER_BYTES,
                "flushBytes must hold at least one header",
                "flushBytes",
                flushBytes,
                "headerBytes",
                RecordLayout.HEADER_BYTES);
        Checks.argument(maxWaitNs >= 0, "maxWaitNs must not be negative", "maxWaitNs", maxWaitNs);
        Checks.argument(
                maxPayloadBytes >= 0 && maxPayloadBytes <= MAX_PAYLOAD_LIMIT,
                "maxPayloadBytes out of range",
                "maxPayloadBytes",
                maxPayloadBytes,
                "max",
                MAX_PAYLOAD_LIMIT);
    }

    /**
     * Defaults for battery-backed memory, where a persist is cheap: flush when the queue empties (no
     * latency is bought by waiting), 256 KiB or 200 µs at most per batch under sustained load.
     */
    public static JournalConfig defaults() {
        return new JournalConfig(4096, 1024, 256 * 1024, 200_000, true, 64 * 1024);
    }

    public int maxRecordBytes() {
        return RecordLayout.recordBytes(maxPayloadBytes);
    }

    public JournalConfig withQueueCapacity(int v) {
        return new JournalConfig(
                v, Math.min(maxBatchEntries, v), flushBytes, maxWaitNs, flushWhenQueueEmpty, maxPayloadBytes);
    }

    public JournalConfig withMaxBatchEntries(int v) {
        return new JournalConfig(queueCapacity, v, flushBytes, maxWaitNs, flushWhenQueueEmpty, maxPayloadBytes);
    }

    public JournalConfig withFlushBytes(int v) {
        return new JournalConfig(queueCapacity, maxBatchEntries, v, maxWaitNs, flushWhenQueueEmpty, maxPayloadBytes);
    }

    public JournalConfig withMaxWaitNs(long v) {
        return new JournalConfig(queueCapacity, maxBatchEntries, flushBytes, v, flushWhenQueueEmpty, maxPayloadBytes);
    }

    public JournalConfig withFlushWhenQueueEmpty(boolean v) {
        return new JournalConfig(queueCapacity, maxBatchEntries, flushBytes, maxWaitNs, v, maxPayloadBytes);
    }

    public JournalConfig withMaxPayloadBytes(int v) {
        return new JournalConfig(queueCapacity, maxBatchEntries, flushBytes, maxWaitNs, flushWhenQueueEmpty, v);
    }
}
