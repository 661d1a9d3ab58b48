package io.hashbrick.node.iscsi;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A minimal iSCSI initiator for protocol tests: raw PDUs over a socket, so tests can send exactly
 * the malformed or out-of-order PDUs real initiators never send. Test code: allocation is fine here.
 */
final class TestInitiator implements AutoCloseable {
    record Pdu(ByteBuffer header, byte[] data) {
        int opcode() {
            return header.get(0) & 0x3f;
        }

        int flags() {
            return header.get(1) & 0xff;
        }

        int itt() {
            return header.getInt(16);
        }

        int loginStatus() {
            return ((header.get(36) & 0xff) << 8) | (header.get(37) & 0xff);
        }

        Map<String, String> keys() {
            Map<String, String> m = TextKeys.parse(data, data.length);
            return m == null ? Map.of() : m;
        }
    }

    final Socket socket;
    private final DataInputStream in;
    private final OutputStream out;
    int cmdSn = 1;
    int expStatSn;
    int nextItt = 1;
    long isid = 0x023d_0000_0001L;
    int tsih;

    TestInitiator(int port) throws IOException {
        socket = new Socket();
        socket.connect(new InetSocketAddress("127.0.0.1", port), 2000);
        socket.setSoTimeout(5000);
        socket.setTcpNoDelay(true);
        in = new DataInputStream(socket.getInputStream());
        out = socket.getOutputStream();
    }

    static ByteBuffer header(int opcode, int flags) {
        ByteBuffer h = ByteBuffer.allocate(48);
        h.put(0, (byte) opcode);
        h.put(1, (byte) flags);
        return h;
    }

    void send(ByteBuffer header, byte[] data) throws IOException {
        int len = data == null ? 0 : data.length;
        header.put(5, (byte) (len >>> 16)).put(6, (byte) (len >>> 8)).put(7, (byte) len);
        byte[] buf = new byte[48 + ((len + 3) & ~3)];
        System.arraycopy(header.array(), 0, buf, 0, 48);
        if (len > 0) {
            System.arraycopy(data, 0, buf, 48, len);
        }
        out.write(buf);
        out.flush();
    }

    void sendRaw(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
    }

    Pdu receive() throws IOException {
        byte[] h = new byte[48];
        in.readFully(h);
        ByteBuffer hb = ByteBuffer.wrap(h);
        int ahs = (h[4] & 0xff) * 4;
        int dsl = ((h[5] & 0xff) << 16) | ((h[6] & 0xff) << 8) | (h[7] & 0xff);
        in.skipNBytes(ahs);
        byte[] data = new byte[dsl];
        in.readFully(data);
        in.skipNBytes(((dsl + 3) & ~3) - dsl);
        if (hb.get(0) != Bhs.OP_R2T && hb.get(0) != Bhs.OP_DATA_IN) {
            expStatSn = hb.getInt(24) + 1;
        } else if ((h[1] & 0x01) != 0) {
            expStatSn = hb.getInt(24) + 1;
        }
        return new Pdu(hb, data);
    }

    /** One Login Request; returns the response. */
    Pdu loginStep(int csg, int nsg, boolean transit, Map<String, String> keys) throws IOException {
        ByteBuffer h = header(0x43, (transit ? 0x80 : 0) | (csg << 2) | nsg);
        h.putLong(8, (isid << 16) | tsih);
        h.putInt(16, nextItt);
        h.putInt(24, cmdSn);
        h.putInt(28, expStatSn);
        send(h, TextKeys.encode(keys));
        Pdu r = receive();
        if (r.opcode() == Bhs.OP_LOGIN_RESP && r.loginStatus() == 0) {
            tsih = r.header.getShort(14) & 0xffff;
        }
        return r;
    }

    /** A login without authentication straight to full feature phase; returns the final response. */
    Pdu login(String initiator, String target, Map<String, String> operational) throws IOException {
        Map<String, String> k = new LinkedHashMap<>();
        k.put("InitiatorName", initiator);
        if (target != null) {
            k.put("TargetName", target);
            k.put("SessionType", "Normal");
        } else {
            k.put("SessionType", "Discovery");
        }
        k.put("AuthMethod", "None");
        Pdu r = loginStep(0, 1, true, k);
        if (r.loginStatus() != 0) {
            return r;
        }
        Map<String, String> op = new LinkedHashMap<>();
        op.put("HeaderDigest", "None");
        op.put("DataDigest", "None");
        op.put("ImmediateData", "Yes");
        op.put("InitialR2T", "No");
        op.put("MaxRecvDataSegmentLength", "262144");
        op.putAll(operational);
        return loginStep(1, 3, true, op);
    }

    /** Sends a SCSI command with immediate data; returns the first response PDU (not R2T/Data-In handling). */
    ByteBuffer scsiHeader(int lun, byte[] cdb, int edtl, boolean read, boolean write) {
        ByteBuffer h = header(0x01, 0x80 | (read ? 0x40 : 0) | (write ? 0x20 : 0) | 1);
        h.putLong(8, Bhs.encodeLun(lun));
        h.putInt(16, nextItt++);
        h.putInt(20, edtl);
        h.putInt(24, cmdSn++);
        h.putInt(28, expStatSn);
        h.put(32, cdb);
        return h;
    }

    /** Runs a command to completion: returns [status, data...]; data-in collected from Data-In PDUs. */
    byte[] command(int lun, byte[] cdb, int edtl, boolean read, byte[] writeData) throws IOException {
        ByteBuffer h = scsiHeader(lun, cdb, edtl, read, writeData != null);
        int itt = h.getInt(16);
        send(h, writeData);
        ByteBuffer dataIn = ByteBuffer.allocate(Math.max(edtl, 0));
        while (true) {
            Pdu r = receive();
            if (r.itt() != itt) {
                continue;
            }
            if (r.opcode() == Bhs.OP_DATA_IN) {
                dataIn.position(r.header.getInt(40));
                dataIn.put(r.data);
                if ((r.flags() & 0x01) != 0) {
                    return result(r.header.get(3), dataIn);
                }
            } else if (r.opcode() == Bhs.OP_SCSI_RESP) {
                return result(r.header.get(3), dataIn);
            } else {
                throw new IOException("unexpected opcode 0x" + Integer.toHexString(r.opcode()));
            }
        }
    }

    private static byte[] result(byte status, ByteBuffer dataIn) {
        byte[] r = new byte[1 + dataIn.position()];
        r[0] = status;
        System.arraycopy(dataIn.array(), 0, r, 1, dataIn.position());
        return r;
    }

    static String text(byte[] data) {
        return new String(data, StandardCharsets.UTF_8);
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
