#!/usr/bin/env python3
"""What a host's multipath stack reads from one portal, as JSON (deploy/test-cluster.sh's ALUA checks).

  scsi_probe.py iscsi://HOST:PORT/TARGET/LUN
  scsi_probe.py --initiator IQN --ops OP[,OP...] iscsi://HOST:PORT/TARGET/LUN

The second form (deploy/test-cluster.sh's reservation checks) runs commands as initiator IQN, in one
session, and prints one JSON object per command, {"op": OP, "status": n, ...}: register:KEY (PERSISTENT
RESERVE OUT REGISTER with service action key KEY, hex), unregister:KEY, reserve:KEY:TYPE (TYPE 1 write
exclusive, 3 exclusive access), read (READ(10) of block 0), readres (PERSISTENT RESERVE IN READ
RESERVATION: "key" and "type" when reserved), cawinc:N:LBA (N increments of a counter in block LBA by
COMPARE AND WRITE, each read, +1 and compare-and-written, again after a miscompare: "final" is the
counter after the last, "miscompares" how many lost a race), at:T (wait, logged in, until the Unix time T,
30 s at most: probes started apart begin their next operation together). A unit attention is reported and the
command sent again.

A minimal iSCSI initiator (RFC 7143; no authentication, no digests, one connection, stdlib only) that
logs in, sends INQUIRY for VPD 80h and 83h and REPORT TARGET PORT GROUPS (SPC-4 §6.37), and prints
  {"serial": ..., "naa": hex, "relative_port": n, "port_group": n, "port_name": ...,
   "groups": [{"group": n, "state": n, "ports": [n, ...]}, ...]}
"""
import json
import socket
import struct
import sys
import time
from urllib.parse import urlparse

INITIATOR = "iqn.2026-11.io.hashbrick:scsi-probe"
UNIT_ATTENTION = 0x6


class Session:
    def __init__(self, host, port, target, initiator=INITIATOR):
        self.sock = socket.create_connection((host, port), timeout=10)
        self.itt = 1
        self.cmdsn = 1
        self.expstatsn = 0
        keys = {"InitiatorName": initiator, "TargetName": target, "SessionType": "Normal", "AuthMethod": "None"}
        self.login(0, 1, keys)
        self.login(1, 3, {"HeaderDigest": "None", "DataDigest": "None", "MaxRecvDataSegmentLength": "262144"})

    def send(self, bhs, data=b""):
        bhs[5:8] = len(data).to_bytes(3, "big")
        self.sock.sendall(bytes(bhs) + data + b"\0" * (-len(data) % 4))

    def recv_exact(self, n):
        b = b""
        while len(b) < n:
            chunk = self.sock.recv(n - len(b))
            if not chunk:
                raise SystemExit("scsi_probe: the target closed the connection")
            b += chunk
        return b

    def receive(self):
        bhs = self.recv_exact(48)
        ahs = bhs[4] * 4
        length = int.from_bytes(bhs[5:8], "big")
        self.recv_exact(ahs)
        data = self.recv_exact(length + (-length % 4))[:length]
        return bhs, data

    def login(self, csg, nsg, keys):
        bhs = bytearray(48)
        bhs[0] = 0x43  # Login Request, immediate
        bhs[1] = 0x80 | csg << 2 | nsg  # T
        bhs[8:14] = bytes([0x80, 0, 0, 0x12, 0x34, 0x56])  # ISID: random format
        struct.pack_into(">IIII", bhs, 16, self.itt, 0, self.cmdsn, self.expstatsn)
        self.send(bhs, "".join(f"{k}={v}\0" for k, v in keys.items()).encode())
        r, _ = self.receive()
        if r[0] & 0x3F != 0x23 or r[36] != 0:
            raise SystemExit(f"scsi_probe: login refused: status class {r[36]} detail {r[37]}")
        self.expstatsn = struct.unpack_from(">I", r, 24)[0] + 1
        self.tsih = r[14:16]

    def command(self, lun, cdb, alloc, out=b""):
        """One command (read-type, or with `out` as immediate Data-Out); returns (status, data-in or sense)."""
        self.itt += 1
        bhs = bytearray(48)
        bhs[0] = 0x01
        bhs[1] = 0x80 | (0x20 if out else 0x40) | 0x01  # F, W or R, SIMPLE
        bhs[8:16] = (lun << 48 if lun < 256 else 0).to_bytes(8, "big")
        struct.pack_into(">IIII", bhs, 16, self.itt, len(out) if out else alloc, self.cmdsn, self.expstatsn)
        bhs[32:32 + len(cdb)] = cdb
        self.cmdsn += 1
        self.send(bhs, out)
        data = bytearray()
        while True:
            r, d = self.receive()
            op = r[0] & 0x3F
            if op == 0x25:  # Data-In
                offset = struct.unpack_from(">I", r, 40)[0]
                data[offset:offset + len(d)] = d
                if r[1] & 0x01:  # S: status with the data
                    self.expstatsn = struct.unpack_from(">I", r, 24)[0] + 1
                    return r[3], bytes(data)
            elif op == 0x21:  # SCSI Response
                self.expstatsn = struct.unpack_from(">I", r, 24)[0] + 1
                return r[3], bytes(d[2:]) if r[3] == 0x02 and len(d) > 2 else bytes(data)
            elif op != 0x20:  # NOP-In is ignored
                raise SystemExit(f"scsi_probe: unexpected PDU opcode 0x{op:02x}")


def vpd(s, lun, page):
    status, d = s.command(lun, bytes([0x12, 0x01, page, 0x01, 0x00, 0]), 256)
    if status != 0:
        raise SystemExit(f"scsi_probe: INQUIRY VPD {page:#x} status {status:#x}")
    return d[4:4 + struct.unpack_from(">H", d, 2)[0]]


def sense_key(sense):
    if len(sense) > 2 and sense[0] & 0x7F in (0x70, 0x71):
        return sense[2] & 0x0F
    if len(sense) > 1 and sense[0] & 0x7F in (0x72, 0x73):
        return sense[1] & 0x0F
    return -1


def command_retrying(s, lun, cdb, alloc, out=b""):
    """A command sent again after a unit attention (at most 4 times)."""
    for _ in range(4):
        status, d = s.command(lun, cdb, alloc, out)
        if not (status == 0x02 and sense_key(d) == UNIT_ATTENTION):
            return status, d
    return status, d


def caw_increments(s, lun, op, n, lba):
    status, d = command_retrying(s, lun, bytes([0x25] + [0] * 9), 8)
    if status != 0:
        return {"op": op, "status": status, "step": "read capacity"}
    bs = struct.unpack_from(">I", d, 4)[0]
    done = miscompares = 0
    value = -1
    while done < n:
        read10 = bytes([0x28, 0]) + struct.pack(">I", lba) + bytes([0, 0, 1, 0])
        status, old = command_retrying(s, lun, read10, bs)
        if status != 0:
            return {"op": op, "status": status, "step": "read", "done": done}
        value = struct.unpack_from(">Q", old, 0)[0]
        new = struct.pack(">Q", value + 1) + old[8:bs]
        caw = bytes([0x89, 0]) + struct.pack(">Q", lba) + bytes([0, 0, 0, 1, 0, 0])
        status, d = command_retrying(s, lun, caw, 0, old[:bs] + new)
        if status == 0:
            done += 1
            value += 1
        elif status == 0x02 and sense_key(d) == 0x0E:  # MISCOMPARE: another writer was first
            miscompares += 1
        else:
            return {"op": op, "status": status, "step": "compare and write", "done": done, "sense": d.hex()}
    return {"op": op, "status": 0, "done": done, "final": value, "miscompares": miscompares}


def run_op(s, lun, op):
    """One reservation-check operation; a unit attention is reported and the command sent again."""
    parts = op.split(":")
    name = parts[0]
    if name in ("register", "unregister", "reserve"):
        key = int(parts[1], 16)
        sa, rtype, params = 0, 0, bytearray(24)
        if name == "register":
            struct.pack_into(">QQ", params, 0, 0, key)
            sa = 6  # REGISTER AND IGNORE EXISTING KEY
        elif name == "unregister":
            struct.pack_into(">QQ", params, 0, key, 0)
        else:
            sa, rtype = 1, int(parts[2])
            struct.pack_into(">QQ", params, 0, key, 0)
        cdb, alloc, out = bytes([0x5F, sa, rtype, 0, 0, 0, 0, 0, 24, 0]), 0, bytes(params)
    elif name == "cawinc":
        return caw_increments(s, lun, op, int(parts[1]), int(parts[2]))
    elif name == "at":  # a start line shared by several probes: logged in, they begin together
        time.sleep(max(0.0, min(30.0, float(parts[1]) - time.time())))
        return {"op": op, "status": 0}
    elif name == "read":
        cdb, alloc, out = bytes([0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0]), 4096, b""
    elif name == "readres":
        cdb, alloc, out = bytes([0x5E, 0x01, 0, 0, 0, 0, 0, 0x10, 0, 0]), 4096, b""
    else:
        raise SystemExit(f"scsi_probe: unknown operation {op}")
    attentions = []
    for _ in range(4):
        status, d = s.command(lun, cdb, alloc, out)
        if status == 0x02 and sense_key(d) == UNIT_ATTENTION:
            attentions.append(d.hex())
            continue
        break
    r = {"op": op, "status": status}
    if attentions:
        r["unit_attentions"] = attentions
    if status == 0x02:
        r["sense"] = d.hex()
    if name == "readres" and status == 0 and len(d) >= 8:
        r["generation"] = struct.unpack_from(">I", d, 0)[0]
        if struct.unpack_from(">I", d, 4)[0] >= 16:
            r["key"] = format(struct.unpack_from(">Q", d, 8)[0], "x")
            r["type"] = d[21] & 0x0F
    return r


def main():
    if len(sys.argv) == 6 and sys.argv[1] == "--initiator" and sys.argv[3] == "--ops":
        u = urlparse(sys.argv[5])
        target, lun = u.path.strip("/").rsplit("/", 1)
        s = Session(u.hostname, u.port or 3260, target, sys.argv[2])
        for op in sys.argv[4].split(","):
            print(json.dumps(run_op(s, int(lun), op)))
        return
    u = urlparse(sys.argv[1])
    target, lun = u.path.strip("/").rsplit("/", 1)
    s = Session(u.hostname, u.port or 3260, target)
    out = {"serial": vpd(s, int(lun), 0x80).decode("ascii")}
    page = vpd(s, int(lun), 0x83)
    n = 0
    while n + 4 <= len(page):
        kind, size = page[n + 1] & 0x3F, page[n + 3]  # association << 4 | designator type
        value = page[n + 4:n + 4 + size]
        if kind == 0x03:
            out["naa"] = value.hex()
        elif kind == 0x14:
            out["relative_port"] = struct.unpack_from(">H", value, 2)[0]
        elif kind == 0x15:
            out["port_group"] = struct.unpack_from(">H", value, 2)[0]
        elif kind == 0x18:
            out["port_name"] = value.rstrip(b"\0").decode()
        n += 4 + size
    status, d = s.command(int(lun), bytes([0xA3, 0x0A, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0]), 4096)
    if status != 0:
        raise SystemExit(f"scsi_probe: REPORT TARGET PORT GROUPS status {status:#x}")
    groups, n, end = [], 4, 4 + struct.unpack_from(">I", d, 0)[0]
    while n + 8 <= end:
        count = d[n + 7]
        ports = [struct.unpack_from(">H", d, n + 8 + 4 * i + 2)[0] for i in range(count)]
        groups.append({"group": struct.unpack_from(">H", d, n + 2)[0], "state": d[n] & 0x0F, "ports": ports})
        n += 8 + 4 * count
    out["groups"] = groups
    print(json.dumps(out))


if __name__ == "__main__":
    main()
