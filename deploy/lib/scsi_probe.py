#!/usr/bin/env python3
"""What a host's multipath stack reads from one portal, as JSON (deploy/test-cluster.sh's ALUA checks).

  scsi_probe.py iscsi://HOST:PORT/TARGET/LUN

A minimal iSCSI initiator (RFC 7143; no authentication, no digests, one connection, stdlib only) that
logs in, sends INQUIRY for VPD 80h and 83h and REPORT TARGET PORT GROUPS (SPC-4 §6.37), and prints
  {"serial": ..., "naa": hex, "relative_port": n, "port_group": n, "port_name": ...,
   "groups": [{"group": n, "state": n, "ports": [n, ...]}, ...]}
"""
import json
import socket
import struct
import sys
from urllib.parse import urlparse

INITIATOR = "iqn.2026-11.io.hashbrick:scsi-probe"


class Session:
    def __init__(self, host, port, target):
        self.sock = socket.create_connection((host, port), timeout=10)
        self.itt = 1
        self.cmdsn = 1
        self.expstatsn = 0
        keys = {"InitiatorName": INITIATOR, "TargetName": target, "SessionType": "Normal", "AuthMethod": "None"}
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

    def command(self, lun, cdb, alloc):
        """One read-type command; returns (status, data-in)."""
        self.itt += 1
        bhs = bytearray(48)
        bhs[0] = 0x01
        bhs[1] = 0x80 | 0x40 | 0x01  # F, R, SIMPLE
        bhs[8:16] = (lun << 48 if lun < 256 else 0).to_bytes(8, "big")
        struct.pack_into(">IIII", bhs, 16, self.itt, alloc, self.cmdsn, self.expstatsn)
        bhs[32:32 + len(cdb)] = cdb
        self.cmdsn += 1
        self.send(bhs)
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
                return r[3], bytes(data)
            elif op != 0x20:  # NOP-In is ignored
                raise SystemExit(f"scsi_probe: unexpected PDU opcode 0x{op:02x}")


def vpd(s, lun, page):
    status, d = s.command(lun, bytes([0x12, 0x01, page, 0x01, 0x00, 0]), 256)
    if status != 0:
        raise SystemExit(f"scsi_probe: INQUIRY VPD {page:#x} status {status:#x}")
    return d[4:4 + struct.unpack_from(">H", d, 2)[0]]


def main():
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
