package io.hashbrick.node.scsi;

import java.util.List;

/**
 * The reporting commands: REPORT LUNS (SPC-4 §6.33), READ CAPACITY 10/16 (SBC-4 §5.18/§5.19), READ DEFECT
 * DATA (§5.20/§5.21), REPORT TARGET PORT GROUPS (SPC-4 §6.37) and REPORT SUPPORTED OPERATION CODES (§6.35).
 */
final class InfoCommands {
    private InfoCommands() {}

    static void reportLuns(ScsiTask t, LogicalUnit[] luns, LogicalUnit addressed) {
        byte[] c = t.cdb;
        int select = c[2] & 0xff;
        long alloc = Cdb.u32(c, 6);
        boolean d = addressed != null && addressed.descriptorSense();
        if (select > 2) {
            Sense.invalidField(t, d, true, 2);
            return;
        }
        if (alloc < 16) { // SPC-4 §6.33: allocation length under 16 is INVALID FIELD IN CDB
            Sense.invalidField(t, d, true, 6);
            return;
        }
        Out o = Out.get(8);
        int n = 8;
        if (select != 1) { // 0: all logical units; 2: all; 1 would be well-known LUs only (we have none)
            for (LogicalUnit lu : luns) {
                if (lu != null && n + 8 <= Out.CAPACITY) {
                    java.util.Arrays.fill(o.b, n, n + 8, (byte) 0);
                    int lun = lu.lun();
                    // SAM-5 §4.7.3: peripheral addressing below 256, flat space above
                    Cdb.put16(o.b, n, lun < 256 ? lun : 0x4000 | lun);
                    n += 8;
                    lu.attentionsOf(t.nexus).remove(Sense.REPORTED_LUNS_CHANGED); // SPC-4 §6.33 clears it
                }
            }
        }
        Cdb.put32(o.b, 0, n - 8);
        o.length = n;
        o.sendTo(t, (int) Math.min(alloc, Integer.MAX_VALUE));
    }

    static void readCapacity10(ScsiTask t, LogicalUnit lu) {
        Out o = Out.get(8);
        long last = lu.device().blockCount() - 1;
        Cdb.put32(o.b, 0, Math.min(last, 0xFFFFFFFFL)); // 0xFFFFFFFF: use READ CAPACITY 16
        Cdb.put32(o.b, 4, lu.device().blockSize());
        o.length = 8;
        o.sendTo(t, 8);
    }

    static void readCapacity16(ScsiTask t, LogicalUnit lu) {
        long alloc = Cdb.u32(t.cdb, 10);
        Out o = Out.get(32);
        int bs = lu.device().blockSize();
        Cdb.put64(o.b, 0, lu.device().blockCount() - 1);
        Cdb.put32(o.b, 8, bs);
        // LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT 0: every 512-byte block is separately addressable for
        // mapping status (GET LBA STATUS answers per logical block, a partly unmapped 4 KiB stays mapped).
        // The 4 KiB dedup unit is announced where hosts take alignment from: the Block Limits VPD's
        // OPTIMAL TRANSFER LENGTH GRANULARITY and UNMAP GRANULARITY (8 blocks).
        o.u8(13, 0);
        if (lu.device().thin()) {
            o.u8(14, 0x80 | 0x40); // LBPME, LBPRZ
        }
        o.length = 32;
        o.sendTo(t, (int) Math.min(alloc, 32));
    }

    /** READ DEFECT DATA: no defects; the list format is echoed (SBC-4 §5.20). */
    static void readDefectData(ScsiTask t, LogicalUnit lu) {
        byte[] c = t.cdb;
        boolean twelve = (c[0] & 0xff) == 0xB7;
        int flags = (twelve ? c[1] : c[2]) & 0x1F;
        long alloc = twelve ? Cdb.u32(c, 6) : Cdb.u16(c, 7);
        Out o = Out.get(8);
        o.u8(1, flags);
        o.length = twelve ? 8 : 4;
        o.sendTo(t, (int) Math.min(alloc, Integer.MAX_VALUE));
    }

    /**
     * REPORT TARGET PORT GROUPS (SPC-4 §6.37): every target port group of the array, each
     * active/optimized with its ports' relative identifiers. {@code ports} lists the array's ports in
     * group order (a cluster: one port and one group per controller); null, empty, or without the asking
     * nexus's own port (a map not yet seen), only that port's group is reported, as a single controller
     * does.
     *
     * <pre>
     *  header   0..3 RETURN DATA LENGTH   [4 FORMAT TYPE 001b, 5 IMPLICIT TRANSITION TIME, 6..7 reserved]
     *  group    0 PREF | ASYMMETRIC ACCESS STATE   1 supported states   2..3 TARGET PORT GROUP
     *           4 reserved  5 STATUS CODE  6 vendor specific  7 TARGET PORT COUNT
     *  port     0..1 obsolete   2..3 RELATIVE TARGET PORT IDENTIFIER        (TARGET PORT COUNT of them)
     * </pre>
     */
    static void reportTargetPortGroups(ScsiTask t, LogicalUnit lu, List<TargetPort> ports) {
        byte[] c = t.cdb;
        int format = (c[1] & 0xff) >>> 5;
        long alloc = Cdb.u32(c, 6);
        TargetPort own = t.nexus == null
                ? new TargetPort(1, 1)
                : new TargetPort(t.nexus.relativeTargetPort(), t.nexus.targetPortGroup());
        if (ports == null || ports.stream().noneMatch(own::sameAs)) {
            ports = List.of(own);
        }
        int header = format == 1 ? 8 : 4;
        int size = Math.min(header + 12 * ports.size(), Out.CAPACITY);
        Out o = Out.get(size);
        if (format == 1) {
            o.u8(4, 0x10); // FORMAT TYPE 001b, no implicit transition time
        }
        int n = header;
        int group = n;
        for (int i = 0; i < ports.size() && n + 12 <= Out.CAPACITY; i++) {
            TargetPort p = ports.get(i);
            if (i == 0 || p.portGroup() != ports.get(i - 1).portGroup()) {
                group = n;
                // the port this command came through is up whatever the map says; another controller's
                // is active/optimized, or unavailable (3h) while it is down and its pool failed over
                boolean up = p.available() || own.sameAs(p);
                o.u8(n, up ? 0x80 : 0x03); // PREF with ASYMMETRIC ACCESS STATE 0h: active/optimized; 3h
                o.u8(n + 1, 0x09); // U_SUP, AO_SUP
                Cdb.put16(o.b, n + 2, p.portGroup());
                n += 8;
            }
            o.u8(group + 7, (o.b[group + 7] & 0xff) + 1); // TARGET PORT COUNT
            Cdb.put16(o.b, n + 2, p.relativePortId());
            n += 4;
        }
        Cdb.put32(o.b, 0, n - 4);
        o.length = n;
        o.sendTo(t, (int) Math.min(alloc, Integer.MAX_VALUE));
    }

    static void reportSupportedOpcodes(ScsiTask t, LogicalUnit lu) {
        byte[] c = t.cdb;
        boolean rctd = (c[2] & 0x80) != 0;
        int options = c[2] & 0x07;
        int reqOp = c[3] & 0xff;
        int reqSa = Cdb.u16(c, 4);
        long alloc = Cdb.u32(c, 6);
        Out o = Out.get(Out.CAPACITY);
        if (options == 0) {
            int n = 4;
            for (int[] row : OpcodeTable.ROWS) {
                o.u8(n, row[0]);
                Cdb.put16(o.b, n + 2, Math.max(row[1], 0));
                o.u8(n + 5, (rctd ? 0x02 : 0) | (row[1] >= 0 ? 0x01 : 0)); // CTDP, SERVACTV
                Cdb.put16(o.b, n + 6, row.length - 3);
                n += 8;
                if (rctd) {
                    n = timeouts(o, n);
                }
            }
            Cdb.put32(o.b, 0, n - 4);
            o.length = n;
        } else if (options <= 3) {
            boolean hasSa = OpcodeTable.hasServiceActions(reqOp);
            if ((options == 1 && hasSa) || (options == 2 && !hasSa)) {
                Sense.invalidField(t, lu.descriptorSense(), true, 2);
                return;
            }
            int[] row = OpcodeTable.find(reqOp, hasSa ? reqSa : -1);
            if (row == null || (hasSa && row[1] != reqSa)) {
                o.u8(1, 0x01); // SUPPORT 001b: not supported
                o.length = 4;
            } else {
                int len = row.length - 3;
                o.u8(1, (rctd ? 0x80 : 0) | 0x03); // CTDP, SUPPORT 011b
                Cdb.put16(o.b, 2, len);
                for (int i = 0; i < len; i++) {
                    o.u8(4 + i, row[3 + i]);
                }
                o.length = rctd ? timeouts(o, 4 + len) : 4 + len;
            }
        } else {
            Sense.invalidField(t, lu.descriptorSense(), true, 2);
            return;
        }
        o.sendTo(t, (int) Math.min(alloc, Integer.MAX_VALUE));
    }

    /** Command timeouts descriptor (SPC-4 §6.35.4): 1 s nominal, 30 s recommended. */
    private static int timeouts(Out o, int n) {
        Cdb.put16(o.b, n, 0x0A);
        Cdb.put32(o.b, n + 4, 1);
        Cdb.put32(o.b, n + 8, 30);
        return n + 12;
    }
}
