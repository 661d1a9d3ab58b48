package io.hashbrick.sim;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/**
 * One slot's live state: 16 bytes, in the DAE's shared state file (so both controllers' processes see
 * a pull or a failure the moment it happens) or, for a standalone {@link Ssd}, in private memory.
 *
 * <pre>
 *  0: health word (4)  bits 0-7 {@link Health#code}, bit 8 "was failed when pulled"
 *  4: generation (4)   + 1 per replace; a controller that sees it change re-reads the drive label
 *  8: reserved (8)
 * </pre>
 *
 * Updates are compare-and-set on aligned 4-byte words of a {@code MAP_SHARED} mapping, which x86-64
 * and AArch64 make atomic across processes as well as threads.
 */
final class SlotState {
    static final int BYTES = 16;
    private static final int HEALTH_OFFSET = 0;
    private static final int GENERATION_OFFSET = 4;
    private static final int WAS_FAILED = 1 << 8;
    /** CAS retries before declaring a livelock: two controllers contend at most a handful of times. */
    private static final int CAS_ATTEMPTS_MAX = 1_000;

    private static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();

    private final MemorySegment words;

    SlotState(MemorySegment words) {
        if (words.byteSize() != BYTES || words.address() % Long.BYTES != 0) {
            throw new IllegalArgumentException(
                    "slot state must be 16 aligned bytes size=" + words.byteSize() + " address=" + words.address());
        }
        this.words = words;
    }

    /** A private slot (standalone SSD), starting OK at generation 0. */
    static SlotState inMemory() {
        SlotState s = new SlotState(Arena.ofAuto().allocate(BYTES, Long.BYTES));
        s.initialise(0);
        return s;
    }

    void initialise(int generation) {
        INT.setRelease(words, (long) GENERATION_OFFSET, generation);
        INT.setRelease(words, (long) HEALTH_OFFSET, Health.OK.code);
    }

    /** True if the word was never written (a fresh, zeroed state file). */
    boolean unset() {
        return (int) INT.getAcquire(words, (long) HEALTH_OFFSET) == 0;
    }

    Health health() {
        return Health.ofCode((int) INT.getAcquire(words, (long) HEALTH_OFFSET) & 0xFF);
    }

    /** The hot-path check: one acquire load, no decoding. */
    boolean isOk() {
        return (int) INT.getAcquire(words, (long) HEALTH_OFFSET) == Health.OK.code;
    }

    int generation() {
        return (int) INT.getAcquire(words, (long) GENERATION_OFFSET);
    }

    void fail(int slot) {
        for (int i = 0; i < CAS_ATTEMPTS_MAX; i++) {
            int w = (int) INT.getAcquire(words, (long) HEALTH_OFFSET);
            Health h = Health.ofCode(w & 0xFF);
            if (h == Health.PULLED) {
                throw new IllegalStateException("cannot fail a pulled drive slot=" + slot + " health=" + h);
            }
            if (h == Health.FAILED || INT.compareAndSet(words, (long) HEALTH_OFFSET, w, Health.FAILED.code)) {
                return;
            }
        }
        throw livelock("fail", slot);
    }

    void pull(int slot) {
        for (int i = 0; i < CAS_ATTEMPTS_MAX; i++) {
            int w = (int) INT.getAcquire(words, (long) HEALTH_OFFSET);
            Health h = Health.ofCode(w & 0xFF);
            if (h == Health.PULLED) {
                throw new IllegalStateException("drive already pulled slot=" + slot);
            }
            int pulled = Health.PULLED.code | (h == Health.FAILED ? WAS_FAILED : 0);
            if (INT.compareAndSet(words, (long) HEALTH_OFFSET, w, pulled)) {
                return;
            }
        }
        throw livelock("pull", slot);
    }

    /** Returns the health the drive comes back with: a drive that was failed when pulled is still failed. */
    Health reinsert(int slot) {
        for (int i = 0; i < CAS_ATTEMPTS_MAX; i++) {
            int w = (int) INT.getAcquire(words, (long) HEALTH_OFFSET);
            Health h = Health.ofCode(w & 0xFF);
            if (h != Health.PULLED) {
                throw new IllegalStateException("reinsert needs a pulled drive slot=" + slot + " health=" + h);
            }
            Health back = (w & WAS_FAILED) != 0 ? Health.FAILED : Health.OK;
            if (INT.compareAndSet(words, (long) HEALTH_OFFSET, w, back.code)) {
                return back;
            }
        }
        throw livelock("reinsert", slot);
    }

    /** The old drive leaves the slot (health PULLED, no "was failed") while the new one is prepared. */
    void beginReplace() {
        INT.setRelease(words, (long) HEALTH_OFFSET, Health.PULLED.code);
    }

    /** The new drive is in: generation + 1 first, so a reader that sees OK also sees the new generation. */
    void endReplace(int generation) {
        INT.setRelease(words, (long) GENERATION_OFFSET, generation);
        INT.setRelease(words, (long) HEALTH_OFFSET, Health.OK.code);
    }

    private static IllegalStateException livelock(String op, int slot) {
        return new IllegalStateException(
                "slot state contended past bound op=" + op + " slot=" + slot + " attempts=" + CAS_ATTEMPTS_MAX);
    }
}
