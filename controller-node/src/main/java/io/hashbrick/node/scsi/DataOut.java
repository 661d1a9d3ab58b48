package io.hashbrick.node.scsi;

/** How many Data-Out bytes each command consumes (the transport solicits exactly that, RFC 7143 §11.7). */
final class DataOut {
    private DataOut() {}

    /** @return bytes, or -1 for a CDB execute() will reject before transferring (the transport then sends R2T for none) */
    static long length(byte[] c, LogicalUnit lu) {
        int bs = lu.device().blockSize();
        return switch (c[0] & 0xff) {
            case 0x0A, 0x2A, 0xAA, 0x8A, 0x2E, 0xAE, 0x8E, 0x8B, 0x9C -> ReadWrite.blocks(c) * bs;
            case 0x2F, 0xAF, 0x8F ->
                switch ((c[1] >>> 1) & 3) {
                    case 1 -> ReadWrite.blocks(c) * bs;
                    case 3 -> ReadWrite.blocks(c) == 0 ? 0 : bs;
                    default -> 0;
                };
            case 0x89 -> 2L * (c[13] & 0xff) * bs;
            case 0x41 -> bs;
            case 0x93 -> (c[1] & 0x01) != 0 ? 0 : bs; // NDOB: no data-out buffer
            case 0x42 -> Cdb.u16(c, 7);
            case 0x15, 0x55 -> ModeCommands.dataOutLength(c);
            case 0x5F -> PersistentReserveCommands.dataOutLength(c);
            default -> 0;
        };
    }
}
