package io.hashbrick.node.scsi;

import java.util.concurrent.atomic.LongAdder;

/**
 * Host reads and writes completed GOOD, and their bytes, over every LUN of a target: what the metrics
 * call IOPS and throughput. Counted once per command on the worker that ran it; a {@link LongAdder}
 * per counter, so workers do not contend on one cache line and nothing is allocated per command.
 */
public final class IoCounters {
    private final LongAdder reads = new LongAdder();
    private final LongAdder writes = new LongAdder();
    private final LongAdder readBytes = new LongAdder();
    private final LongAdder writtenBytes = new LongAdder();

    void read(ScsiTask t) {
        if (t.status == ScsiTask.GOOD && t.transferLength > 0) {
            reads.increment();
            readBytes.add(t.transferLength);
        }
    }

    void write(ScsiTask t) {
        if (t.status == ScsiTask.GOOD && t.transferLength > 0) {
            writes.increment();
            writtenBytes.add(t.transferLength);
        }
    }

    public long reads() {
        return reads.sum();
    }

    public long writes() {
        return writes.sum();
    }

    public long readBytes() {
        return readBytes.sum();
    }

    public long writtenBytes() {
        return writtenBytes.sum();
    }
}
