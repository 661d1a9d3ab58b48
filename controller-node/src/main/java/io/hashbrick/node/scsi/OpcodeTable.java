package io.hashbrick.node.scsi;

/**
 * Every command the device server implements, with its CDB usage data (SPC-4 §6.35.3: the bits the
 * device server evaluates) and its class for reservation checks (SPC-4 §5.13.1 table 63). Drives REPORT
 * SUPPORTED OPERATION CODES.
 */
final class OpcodeTable {
    private OpcodeTable() {}

    /** Allowed under any reservation; a read (allowed to non-holders under Write Exclusive); a write. */
    static final int ACCESS_ALWAYS = 0, ACCESS_READ = 1, ACCESS_WRITE = 2, ACCESS_CONFLICT = 3, ACCESS_PR_OUT = 4;

    private static final int F = 0xFF;

    /** Rows: opcode, service action (-1: none), access class, then the CDB usage bytes (length = CDB length). */
    static final int[][] ROWS = {
        {0x00, -1, ACCESS_ALWAYS, 0x00, 0, 0, 0, 0, 0},
        {0x03, -1, ACCESS_ALWAYS, 0x03, 0x01, 0, 0, F, 0},
        {0x08, -1, ACCESS_READ, 0x08, 0x1F, F, F, F, 0},
        {0x0A, -1, ACCESS_WRITE, 0x0A, 0x1F, F, F, F, 0},
        {0x12, -1, ACCESS_ALWAYS, 0x12, 0x01, F, F, F, 0},
        {0x15, -1, ACCESS_WRITE, 0x15, 0x11, 0, 0, F, 0},
        {0x16, -1, ACCESS_CONFLICT, 0x16, 0, 0, 0, 0, 0},
        {0x17, -1, ACCESS_CONFLICT, 0x17, 0, 0, 0, 0, 0},
        {0x1A, -1, ACCESS_READ, 0x1A, 0x08, F, F, F, 0},
        {0x1B, -1, ACCESS_WRITE, 0x1B, 0x01, 0, 0x0F, 0xF7, 0},
        {0x1E, -1, ACCESS_READ, 0x1E, 0, 0, 0, 0x03, 0},
        {0x25, -1, ACCESS_ALWAYS, 0x25, 0, F, F, F, F, 0, 0, 0x01, 0},
        {0x28, -1, ACCESS_READ, 0x28, 0xF8, F, F, F, F, 0x1F, F, F, 0},
        {0x2A, -1, ACCESS_WRITE, 0x2A, 0xF8, F, F, F, F, 0x1F, F, F, 0},
        {0x2E, -1, ACCESS_WRITE, 0x2E, 0xF2, F, F, F, F, 0x1F, F, F, 0},
        {0x2F, -1, ACCESS_READ, 0x2F, 0xF6, F, F, F, F, 0x1F, F, F, 0},
        {0x34, -1, ACCESS_READ, 0x34, 0x02, F, F, F, F, 0x1F, F, F, 0},
        {0x35, -1, ACCESS_WRITE, 0x35, 0x02, F, F, F, F, 0x1F, F, F, 0},
        {0x37, -1, ACCESS_READ, 0x37, 0, 0x1F, 0, 0, 0, 0, F, F, 0},
        {0x41, -1, ACCESS_WRITE, 0x41, 0xF8, F, F, F, F, 0x1F, F, F, 0},
        {0x42, -1, ACCESS_WRITE, 0x42, 0x01, 0, 0, 0, 0, 0x1F, F, F, 0},
        {0x55, -1, ACCESS_WRITE, 0x55, 0x11, 0, 0, 0, 0, 0, F, F, 0},
        {0x5A, -1, ACCESS_READ, 0x5A, 0x18, F, F, 0, 0, 0, F, F, 0},
        {0x5E, 0, ACCESS_ALWAYS, 0x5E, 0x1F, 0, 0, 0, 0, 0, F, F, 0},
        {0x5E, 1, ACCESS_ALWAYS, 0x5E, 0x1F, 0, 0, 0, 0, 0, F, F, 0},
        {0x5E, 2, ACCESS_ALWAYS, 0x5E, 0x1F, 0, 0, 0, 0, 0, F, F, 0},
        {0x5E, 3, ACCESS_ALWAYS, 0x5E, 0x1F, 0, 0, 0, 0, 0, F, F, 0},
        {0x5F, 0, ACCESS_PR_OUT, 0x5F, 0x1F, F, 0, 0, F, F, F, F, 0},
        {0x5F, 1, ACCESS_PR_OUT, 0x5F, 0x1F, F, 0, 0, F, F, F, F, 0},
        {0x5F, 2, ACCESS_PR_OUT, 0x5F, 0x1F, F, 0, 0, F, F, F, F, 0},
        {0x5F, 3, ACCESS_PR_OUT, 0x5F, 0x1F, F, 0, 0, F, F, F, F, 0},
        {0x5F, 4, ACCESS_PR_OUT, 0x5F, 0x1F, F, 0, 0, F, F, F, F, 0},
        {0x5F, 5, ACCESS_PR_OUT, 0x5F, 0x1F, F, 0, 0, F, F, F, F, 0},
        {0x5F, 6, ACCESS_PR_OUT, 0x5F, 0x1F, F, 0, 0, F, F, F, F, 0},
        {0x88, -1, ACCESS_READ, 0x88, 0xF8, F, F, F, F, F, F, F, F, F, F, F, F, 0x1F, 0},
        {0x89, -1, ACCESS_WRITE, 0x89, 0xF8, F, F, F, F, F, F, F, F, 0, 0, 0, F, 0x1F, 0},
        {0x8A, -1, ACCESS_WRITE, 0x8A, 0xF8, F, F, F, F, F, F, F, F, F, F, F, F, 0x1F, 0},
        {0x8B, -1, ACCESS_WRITE, 0x8B, 0xF8, F, F, F, F, F, F, F, F, F, F, F, F, 0x1F, 0},
        {0x8E, -1, ACCESS_WRITE, 0x8E, 0xF2, F, F, F, F, F, F, F, F, F, F, F, F, 0x1F, 0},
        {0x8F, -1, ACCESS_READ, 0x8F, 0xF6, F, F, F, F, F, F, F, F, F, F, F, F, 0x1F, 0},
        {0x90, -1, ACCESS_READ, 0x90, 0x02, F, F, F, F, F, F, F, F, F, F, F, F, 0x1F, 0},
        {0x91, -1, ACCESS_WRITE, 0x91, 0x02, F, F, F, F, F, F, F, F, F, F, F, F, 0x1F, 0},
        {0x93, -1, ACCESS_WRITE, 0x93, 0xF9, F, F, F, F, F, F, F, F, F, F, F, F, 0x1F, 0},
        {0x9C, -1, ACCESS_WRITE, 0x9C, 0xF8, F, F, F, F, F, F, F, F, 0, 0, F, F, 0x1F, 0},
        {0x9E, 0x10, ACCESS_ALWAYS, 0x9E, 0x10, F, F, F, F, F, F, F, F, F, F, F, F, 0, 0},
        {0x9E, 0x12, ACCESS_READ, 0x9E, 0x12, F, F, F, F, F, F, F, F, F, F, F, F, 0, 0},
        {0xA0, -1, ACCESS_ALWAYS, 0xA0, 0, F, 0, 0, 0, F, F, F, F, 0, 0},
        {0xA3, 0x0A, ACCESS_ALWAYS, 0xA3, 0xEA, 0, 0, 0, 0, F, F, F, F, 0, 0},
        {0xA3, 0x0C, ACCESS_ALWAYS, 0xA3, 0x0C, 0x87, F, F, F, F, F, F, F, 0, 0},
        {0xA8, -1, ACCESS_READ, 0xA8, 0xF8, F, F, F, F, F, F, F, F, 0x1F, 0},
        {0xAA, -1, ACCESS_WRITE, 0xAA, 0xF8, F, F, F, F, F, F, F, F, 0x1F, 0},
        {0xAE, -1, ACCESS_WRITE, 0xAE, 0xF2, F, F, F, F, F, F, F, F, 0x1F, 0},
        {0xAF, -1, ACCESS_READ, 0xAF, 0xF6, F, F, F, F, F, F, F, F, 0x1F, 0},
        {0xB7, -1, ACCESS_READ, 0xB7, 0x1F, 0, 0, 0, 0, F, F, F, F, 0, 0},
    };

    /** @return the row for (opcode, service action), or null; {@code sa} is ignored for opcodes without one */
    static int[] find(int opcode, int sa) {
        for (int[] row : ROWS) {
            if (row[0] == opcode && (row[1] < 0 || row[1] == sa)) {
                return row;
            }
        }
        return null;
    }

    static boolean hasServiceActions(int opcode) {
        for (int[] row : ROWS) {
            if (row[0] == opcode) {
                return row[1] >= 0;
            }
        }
        return false;
    }

    /** The service action field of a CDB, or -1 if the opcode has none. */
    static int serviceAction(byte[] cdb) {
        int op = cdb[0] & 0xff;
        return switch (op) {
            case 0x5E, 0x5F, 0x9E, 0xA3 -> cdb[1] & 0x1f;
            default -> -1;
        };
    }

    static int access(byte[] cdb) {
        int[] row = find(cdb[0] & 0xff, serviceAction(cdb));
        return row == null ? ACCESS_ALWAYS : row[2];
    }
}
