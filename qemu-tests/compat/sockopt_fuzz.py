#!/usr/bin/env python3
"""Fuzzes the IPVS socket options (IP_VS_SO_SET_* / IP_VS_SO_GET_* on a raw IPv4 socket).

    sockopt_fuzz.py SEED COUNT

Each call i (reproducible from SEED and i) is one of:
  - malformed: a random option number around the IPVS range, a random length (0..600, or a
    negative/huge getsockopt length) and random bytes;
  - shaped: a set command with its exact length and random fields drawn from small pools
    (protocols, addresses, ports, marks, scheduler names valid or not, flags, weights,
    thresholds, forwarding bits, timeouts, daemon states and interface names), or a get command
    with a right or wrong size.
Prints one line per call: "i det|state kind set|get cmd len -> ok|ERRNO[ detail]": "det" marks
calls whose outcome depends only on the call (option number and length checks), "state" those
that also depend on the table the earlier calls left. Run as root in a test namespace; the caller
compares two backends' transcripts of the malformed calls and checks the kernel log.
"""
import errno
import random
import socket
import struct
import sys

BASE = 64 + 1024 + 64
SET_MAX, GET_MAX = BASE + 15, BASE + 7
SVC, DEST, TIMEOUT, DAEMON = 44, 24, 12, 24
SET_LEN = {BASE + 2: SVC, BASE + 3: SVC, BASE + 4: SVC, BASE + 15: SVC, BASE + 5: 0,
           BASE + 7: SVC + DEST, BASE + 8: SVC + DEST, BASE + 9: SVC + DEST,
           BASE + 10: TIMEOUT, BASE + 11: DAEMON, BASE + 12: DAEMON}
SCHEDS = [b"rr", b"wrr", b"lc", b"wlc", b"sh", b"mh", b"dh", b"sed", b"nq", b"fo", b"ovf",
          b"lblc", b"lblcr", b"twos", b"none", b"", b"x" * 15, b"x" * 16, b"rr\0junk"]
ADDRS = ["10.0.0.1", "10.0.0.2", "127.0.0.1", "0.0.0.0", "255.255.255.255", "224.0.0.1",
         "192.168.1.1"]
PORTS = [0, 1, 20, 21, 80, 443, 65535]


def call_set(s, cmd, data):
    try:
        s.setsockopt(socket.IPPROTO_IP, cmd, data)
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


def call_get(s, cmd, buflen, head=b""):
    # Python's getsockopt cannot pass initial buffer contents: only the header-less commands
    # and the length checks are meaningful with it; the contents are zero.
    try:
        r = s.getsockopt(socket.IPPROTO_IP, cmd, buflen)
        return "ok len=%d" % len(r)
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


def svc_bytes(r):
    proto = r.choice([6, 17, 132, 0, 1, 255, 6, 17])
    fwmark = r.choice([0, 0, 0, 1, 7, 0xffffffff])
    sched = r.choice(SCHEDS).ljust(16, b"\0")[:16] if r.random() < 0.9 else bytes(r.getrandbits(8) for _ in range(16))
    flags = r.choice([0, 1, 2, 4, 8, 16, 0x1f, r.getrandbits(32)])
    timeout = r.choice([0, 1, 300, 0xffffffff, r.getrandbits(32)])
    netmask = r.choice([0xffffffff, 0, 0x00ffffff, r.getrandbits(32)])
    return struct.pack("=H2x4sH2xI16sIII", proto, socket.inet_aton(r.choice(ADDRS)),
                       socket.htons(r.choice(PORTS)), fwmark, sched, flags, timeout, netmask)


def dest_bytes(r):
    return struct.pack("=4sH2xIiII", socket.inet_aton(r.choice(ADDRS)), socket.htons(r.choice(PORTS)),
                       r.choice([0, 1, 2, 3, 4, 7, r.getrandbits(32)]),
                       r.choice([0, 1, 100, -1, 0x7fffffff, r.getrandbits(31)]),
                       r.choice([0, 10, 0x7fffffff, 0x80000000, r.getrandbits(32)]),
                       r.choice([0, 5, 0xffffffff, r.getrandbits(32)]))


def main():
    seed, count = int(sys.argv[1]), int(sys.argv[2])
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    for i in range(count):
        r = random.Random(seed * 1000003 + i)
        kind = "malformed" if r.random() < 0.5 else "shaped"
        if kind == "malformed":
            cmd = r.randint(BASE - 2, BASE + 17)
            if r.random() < 0.5:
                ln = r.choice([0, 1, 4, 12, 23, 24, 25, 43, 44, 45, 67, 68, 69, 200, 600])
                res = call_set(s, cmd, bytes(r.getrandbits(8) for _ in range(ln)))
                det = "state" if SET_LEN.get(cmd, -1) == ln and ln > 0 else "det"
                print(i, det, kind, "set", cmd - BASE, ln, "->", res)
            else:
                ln = r.choice([0, 1, 4, 8, 12, 24, 48, 63, 64, 65, 96, 100, 112, 200, 1024])
                res = call_get(s, cmd, ln)
                # GET_SERVICES / GET_SERVICE / GET_DESTS read the (uninitialised) buffer once it
                # is long enough for their header.
                # GET_VERSION and GET_INFO report the connection table's size, which differs.
                need = {BASE + 2: 8, BASE + 3: 104, BASE + 4: 24, BASE: 64, BASE + 1: 12}.get(cmd)
                det = "state" if need is not None and ln >= need else "det"
                print(i, det, kind, "get", cmd - BASE, ln, "->", res)
            continue
        if r.random() < 0.8:
            cmd = r.choice(list(SET_LEN))
            ln = SET_LEN[cmd]
            if ln in (SVC, SVC + DEST):
                data = svc_bytes(r) + (dest_bytes(r) if ln == SVC + DEST else b"")
            elif ln == TIMEOUT:
                data = struct.pack("=iii", *(r.choice([0, 1, 60, -1, 0x7fffffff, 2147483]) for _ in range(3)))
            elif ln == DAEMON:
                ifn = r.choice([b"lo", b"", b"nosuchdev0", b"x" * 16]).ljust(16, b"\0")[:16]
                data = struct.pack("=i16si", r.choice([0, 1, 2, 3]), ifn, r.choice([0, 1, 255]))
            else:
                data = b""
            res = call_set(s, cmd, data)
            print(i, "state", kind, "set", cmd - BASE, ln, "->", res)
        else:
            cmd = r.randint(BASE, GET_MAX)
            res = call_get(s, cmd, r.choice([4, 8, 12, 24, 48, 64, 104, 112, 200]))
            print(i, "state", kind, "get", cmd - BASE, "->", res)
    # Leave no sync daemon behind (ip_vs's holds the backend's modules).
    for st in (1, 2):
        call_set(s, BASE + 12, struct.pack("=i16si", st, b"lo".ljust(16, b"\0"), 0))


if __name__ == "__main__":
    main()
