package io.hashbrick.sim;

import java.util.concurrent.atomic.LongAdder;

/**
 * Per-drive I/O counters, per process (each controller counts its own I/O to a shared drive).
 * {@link LongAdder}, not plain fields: both controllers of an in-process brick, and several destage
 * threads, may drive one {@link Ssd} at once. An adder allocates a cell only the first time two
 * threads contend, never per I/O after that.
 */
public final class SsdCounters {
    final LongAdder reads = new LongAdder();
    final LongAdder writes = new LongAdder();
    final LongAdder bytesRead = new LongAdder();
    final LongAdder bytesWritten = new LongAdder();
    final LongAdder flushes = new LongAdder();
    /**
     * Time from admission to completion of the reads and writes counted above, summed, on the drive's
     * {@link SsdOptions#clock()} (injected latency included; flushes not). With the counts, what a host
     * reads from {@code /proc/diskstats} to compute {@code iostat}'s await: a controller divides the
     * change of this by the change of reads + writes to see how long the drive takes per command.
     */
    final LongAdder serviceNs = new LongAdder();
    /** Commands refused because the drive was failed or pulled. */
    final LongAdder deviceErrors = new LongAdder();
    /** Reads refused by a latent sector error. */
    final LongAdder mediumErrors = new LongAdder();

    public long reads() {
        return reads.sum();
    }

    public long writes() {
        return writes.sum();
    }

    public long bytesRead() {
        return bytesRead.sum();
    }

    public long bytesWritten() {
        return bytesWritten.sum();
    }

    public long flushes() {
        return flushes.sum();
    }

    public long serviceNs() {
        return serviceNs.sum();
    }

    public long deviceErrors() {
        return deviceErrors.sum();
    }

    public long mediumErrors() {
        return mediumErrors.sum();
    }

    /** All errors: device + medium. */
    public long errors() {
        return deviceErrors.sum() + mediumErrors.sum();
    }

    void reset() {
        reads.reset();
        writes.reset();
        bytesRead.reset();
        bytesWritten.reset();
        flushes.reset();
        serviceNs.reset();
        deviceErrors.reset();
        mediumErrors.reset();
    }

    @Override
    public String toString() {
        return "reads=" + reads() + " writes=" + writes() + " bytes_read=" + bytesRead() + " bytes_written="
                + bytesWritten() + " flushes=" + flushes() + " service_ns=" + serviceNs() + " device_errors="
                + deviceErrors()
                + " medium_errors=" + mediumErrors();
    }
}
