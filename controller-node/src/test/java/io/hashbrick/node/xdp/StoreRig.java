package io.hashbrick.node.xdp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hashbrick.node.api.BlockCodec;
import io.hashbrick.sim.Dae;
import io.hashbrick.sim.EventSink;
import io.hashbrick.sim.FaultInjector;
import io.hashbrick.sim.IoMode;
import io.hashbrick.sim.IoStatus;
import io.hashbrick.sim.ManualClock;
import io.hashbrick.sim.Sleeper;
import io.hashbrick.sim.Ssd;
import io.hashbrick.sim.SsdOptions;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.BooleanSupplier;

/**
 * A {@link SegmentStore} on 8 simulated SSDs (stripes of 6 data columns, 168 cells) holding raw
 * one-cell records, with a seam to interleave a second actor deterministically: an SSD made "slow"
 * ({@link #hookOn}) runs the armed action inside its next command, after the command was admitted and
 * before its bytes move, on the thread that issued it.
 */
final class StoreRig implements AutoCloseable {
    static final int SSDS = 8;
    static final int CELLS = 6 * StripeLayout.ROWS;
    /** A raw record as read and rewritten: header + one cell. */
    static final int RAW_BYTES = SegmentStore.MAX_STORED_BYTES;

    /** A record as appended: where, and its bytes. */
    static final class Rec {
        final long location;
        final byte[] data;

        Rec(long location, byte[] data) {
            this.location = location;
            this.data = data;
        }

        long location() {
            return location;
        }
    }

    /** Runs the armed action when a slowed SSD would sleep, until the action says it is done. */
    static final class HookSleeper implements Sleeper {
        private BooleanSupplier action;

        @Override
        public void sleepNanos(long nanos) {
            BooleanSupplier a = action;
            action = null; // the action's own I/O on the slowed SSD does not re-enter it
            if (a != null && !a.getAsBoolean()) {
                action = a; // not yet: again at the next command
            }
        }
    }

    final long seed;
    final SplittableRandom random;
    final HookSleeper hook = new HookSleeper();
    final FaultInjector faults;
    final Dae dae;
    final StripeLayout layout;
    final SegmentStore st;
    final ByteBuffer scratch = Ssd.allocateAligned(SegmentStore.READ_SCRATCH_BYTES);

    StoreRig(Path dir, long seed) throws IOException {
        this.seed = seed;
        this.random = new SplittableRandom(seed);
        ManualClock clock = new ManualClock(0);
        this.faults = new FaultInjector(seed, clock, EventSink.NONE);
        this.dae = Dae.open(dir, SSDS, 16L << 20, 1, new SsdOptions(IoMode.DIRECT, hook, clock, EventSink.NONE));
        this.layout = StripeLayout.forDae(SSDS, 16L << 20, 2L << 20);
        this.st = new SegmentStore(dae, layout);
    }

    String why() {
        return "seed=" + seed;
    }

    /** Arms {@code action} to run inside the next command to {@code slot}. */
    void hookOn(int slot, Runnable action) {
        hookUntil(slot, () -> {
            action.run();
            return true;
        });
    }

    /** Arms {@code action} to run inside each command to {@code slot} until it returns true. */
    void hookUntil(int slot, BooleanSupplier action) {
        hook.action = action;
        faults.slow(dae.slot(slot), 1);
    }

    byte[] randomCell() {
        byte[] b = new byte[StripeLayout.CELL];
        random.nextBytes(b);
        return b;
    }

    /** Appends {@code n} raw records ({@code keepFree}: see {@link SegmentStore#append}); does not flush. */
    List<Rec> append(int n, int keepFree) {
        List<Rec> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            byte[] b = randomCell();
            long loc = st.append(ByteBuffer.wrap(b), 0, BlockCodec.RAW, keepFree);
            assertTrue(loc >= 0, "append refused i=" + i + " " + why());
            out.add(new Rec(loc, b));
        }
        return out;
    }

    /** Flushes and publishes {@code recs}. */
    void flushAndPlace(List<Rec> recs) {
        assertEquals(IoStatus.OK, st.flush(), why());
        for (Rec e : recs) {
            st.placed(e.location, RAW_BYTES);
        }
    }

    /** Fills {@code stripes} whole stripes with raw records, sealed and placed, refills allowed after. */
    List<Rec> fill(int stripes) {
        List<Rec> all = new ArrayList<>();
        for (int s = 0; s < stripes; s++) {
            List<Rec> recs = append(CELLS, 0);
            flushAndPlace(recs);
            all.addAll(recs);
        }
        assertEquals(IoStatus.OK, st.seal(), why());
        st.captureForCheckpoint();
        st.checkpointed();
        return all;
    }

    /** Kills {@code recs} and makes their cells free (a checkpoint that no longer references them). */
    void kill(List<Rec> recs) {
        for (Rec e : recs) {
            st.released(e.location, RAW_BYTES);
        }
        st.captureForCheckpoint();
        st.checkpointed();
    }

    /** Reads {@code e} and returns whether it came back intact. */
    boolean readsBack(Rec e) {
        int off = st.read(e.location, RAW_BYTES, scratch);
        return off >= 0 && sameCell(scratch, off + SegmentStore.HEADER_BYTES, e.data);
    }

    static boolean sameCell(ByteBuffer b, int off, byte[] data) {
        for (int i = 0; i < data.length; i++) {
            if (b.get(off + i) != data[i]) {
                return false;
            }
        }
        return true;
    }

    /** {slot, SSD cell} of record {@code e}. */
    long[] address(Rec e) {
        int cell = (int) (e.location % layout.stripeDataBytes() / StripeLayout.CELL);
        return st.cellAddress(e.location, cell / StripeLayout.ROWS, cell % StripeLayout.ROWS);
    }

    /** What the SSD holds where record {@code e} is (no reconstruction). */
    boolean onSsd(Rec e) {
        long[] a = address(e);
        ByteBuffer b = Ssd.allocateAligned(StripeLayout.CELL);
        assertEquals(IoStatus.OK, dae.slot((int) a[0]).read(a[1] * StripeLayout.CELL, b), why());
        return sameCell(b, 0, e.data);
    }

    @Override
    public void close() throws IOException {
        dae.close();
    }
}
