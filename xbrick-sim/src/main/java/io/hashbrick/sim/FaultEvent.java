package io.hashbrick.sim;

/**
 * One injected fault, as logged. Fields that do not apply to the kind are -1.
 *
 * @param sequence 1, 2, 3 ... per injector: the order of injection
 * @param cell the 4 KiB cell (data-area offset / 4096) for LATENT_ERROR and BIT_FLIP
 * @param bit the bit within the cell (0..32767) for BIT_FLIP
 * @param value latency in ns for SLOW; the draw that sizes the persisted prefix for torn writes
 */
public record FaultEvent(long sequence, FaultKind kind, int slot, long cell, int bit, long value) {
    /** {@code seq=3 kind=BIT_FLIP slot=4 cell=17 bit=12345}: only the fields that apply. */
    @Override
    public String toString() {
        StringBuilder b =
                new StringBuilder("seq=").append(sequence).append(" kind=").append(kind);
        b.append(" slot=").append(slot);
        if (cell >= 0) {
            b.append(" cell=").append(cell);
        }
        if (bit >= 0) {
            b.append(" bit=").append(bit);
        }
        if (value >= 0) {
            b.append(kind == FaultKind.SLOW ? " latency_ns=" : " draw=").append(value);
        }
        return b.toString();
    }
}
