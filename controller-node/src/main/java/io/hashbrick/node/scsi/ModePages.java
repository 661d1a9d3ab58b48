package io.hashbrick.node.scsi;

/**
 * The mode pages of one logical unit, shared by all I_T nexuses (SPC-4 §7.5): caching (08h, SBC-4
 * §6.5.5), control (0Ah, SPC-4 §7.5.8) and informational exceptions control (1Ch, SPC-4 §7.5.14).
 * No saved values: MODE SENSE of saved values is SAVING PARAMETERS NOT SUPPORTED, MODE SELECT with SP
 * is INVALID FIELD IN CDB. Hot-path readers use the volatile copies ({@link #writeCacheEnabled}, ...).
 */
final class ModePages {
    static final int CACHING = 0x08, CONTROL = 0x0A, INFORMATIONAL_EXCEPTIONS = 0x1C, ALL = 0x3F;
    static final int PC_CURRENT = 0, PC_CHANGEABLE = 1, PC_DEFAULT = 2, PC_SAVED = 3;

    /** Page codes in ascending order, as "all pages" returns them. */
    static final int[] CODES = {CACHING, CONTROL, INFORMATIONAL_EXCEPTIONS};

    private static final byte[][] DEFAULTS = {
        // caching: WCE=1 (SBC-4 §6.5.5: writes without FUA may sit in the page cache)
        {0x08, 0x12, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
        // control: GLTSD=1, QUEUE ALGORITHM MODIFIER=1 (unrestricted reordering)
        {0x0A, 0x0A, 0x02, 0x10, 0, 0, 0, 0, (byte) 0xFF, (byte) 0xFF, 0, 0},
        // informational exceptions: DEXCPT=1 (no failure prediction)
        {0x1C, 0x0A, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    };
    private static final byte[][] CHANGEABLE = {
        {0x08, 0x12, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, // WCE
        {0x0A, 0x0A, 0x04, 0, 0x08, 0, 0, 0, 0, 0, 0, 0}, // D_SENSE, SWP
        {0x1C, 0x0A, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    };

    private final byte[][] current = new byte[CODES.length][];
    volatile boolean writeCacheEnabled;
    volatile boolean descriptorSense;
    volatile boolean softwareWriteProtect;

    ModePages() {
        reset();
    }

    /** Back to defaults (a logical unit reset, SAM-5 §6.3.3, restores saved-or-default values). */
    synchronized void reset() {
        for (int i = 0; i < CODES.length; i++) {
            current[i] = DEFAULTS[i].clone();
        }
        refresh();
    }

    static int index(int pageCode) {
        for (int i = 0; i < CODES.length; i++) {
            if (CODES[i] == pageCode) {
                return i;
            }
        }
        return -1;
    }

    /** Appends page {@code index} for page control {@code pc} at {@code off}; returns the new offset. */
    synchronized int append(int index, int pc, byte[] dst, int off) {
        byte[] src =
                switch (pc) {
                    case PC_CHANGEABLE -> CHANGEABLE[index];
                    case PC_DEFAULT -> DEFAULTS[index];
                    default -> current[index];
                };
        System.arraycopy(src, 0, dst, off, src.length);
        return off + src.length;
    }

    static int pageLength(int index) {
        return DEFAULTS[index].length;
    }

    /**
     * Checks then applies one page of a MODE SELECT parameter list (SPC-4 §6.9/§6.10): only changeable
     * bits may differ from the current value.
     *
     * @return -1 when applied, else the offset in {@code page} of the offending byte
     */
    synchronized int select(int index, byte[] page, int off) {
        byte[] cur = current[index];
        byte[] chg = CHANGEABLE[index];
        for (int i = 2; i < cur.length; i++) {
            if (((page[off + i] ^ cur[i]) & ~chg[i]) != 0) {
                return i;
            }
        }
        for (int i = 2; i < cur.length; i++) {
            cur[i] = page[off + i];
        }
        refresh();
        return -1;
    }

    private void refresh() {
        writeCacheEnabled = (current[0][2] & 0x04) != 0;
        descriptorSense = (current[1][2] & 0x04) != 0;
        softwareWriteProtect = (current[1][4] & 0x08) != 0;
    }
}
