package io.hashbrick.sim;

/**
 * A drive slot's health, shared by both controllers of the brick (kept in the DAE's state file).
 *
 * <pre>
 *            fail                 pull
 *   OK ---------------&gt; FAILED ---------&gt; PULLED(was failed)
 *    |  \                  ^                  |
 *    |   \ pull            +--- reinsert -----+
 *    |    v
 *    |   PULLED --- reinsert ---&gt; OK
 *    |
 *   replace (from any state): a new, empty drive with a new UUID; health OK, generation + 1
 * </pre>
 *
 * "Replaced" is a transition, not a state: afterwards the slot is {@link #OK} with a higher
 * {@link Ssd#generation()} and a new {@link Ssd#uuid()}.
 */
public enum Health {
    OK(1),
    FAILED(2),
    PULLED(3);

    /** The value stored in the shared state word; 0 is never used, so a zeroed word is detectably unset. */
    final int code;

    Health(int code) {
        this.code = code;
    }

    static Health ofCode(int code) {
        return switch (code) {
            case 1 -> OK;
            case 2 -> FAILED;
            case 3 -> PULLED;
            default -> throw new IllegalStateException("unknown health code=" + code);
        };
    }
}
