#!/usr/bin/env python3
"""The legacy IPVS socket-option interface (what ipvsadm used before generic netlink; ip_vs
still serves it), driven call by call: IP_VS_SO_SET_* with setsockopt and IP_VS_SO_GET_* with
getsockopt, level IPPROTO_IP, on a raw IPv4 socket, with the structures of
include/uapi/linux/ip_vs.h mirrored as ctypes structures (x86-64 layout: natural alignment).

Runs one deterministic scenario and prints one canonical line per call: the call, its
arguments, and "ok" (plus the fields it returned) or the errno name. Only deterministic fields
are printed: the connection table size (in GET_VERSION's "(size=N)" and GET_INFO) is left out,
statistics are printed as "zero"/"nonzero" (no traffic flows: zero), services and real servers
are sorted here (the kernel returns services in hash order). Lines starting with "ipvsadm" show
what Debian's ipvsadm (generic netlink) then lists: the sockopt changes must be visible there.

Expected to run as root in a fresh network namespace with lo up and no IPVS state;
qemu-tests/tests/73-sockopt.sh compares its output with compat/sockopt.expected, recorded on
the kernel's ip_vs. The semantics follow net/netfilter/ipvs/ip_vs_ctl.c (do_ip_vs_set_ctl,
do_ip_vs_get_ctl).
"""
import ctypes
import errno
import os
import re
import socket
import struct
import subprocess
import sys

IPPROTO_IP = 0
BASE = 64 + 1024 + 64
SET = {name: BASE + i for i, name in enumerate(
    ["NONE", "INSERT", "ADD", "EDIT", "DEL", "FLUSH", "LIST", "ADDDEST", "DELDEST", "EDITDEST",
     "TIMEOUT", "STARTDAEMON", "STOPDAEMON", "RESTORE", "SAVE", "ZERO"])}
GET = {name: BASE + i for i, name in enumerate(
    ["VERSION", "INFO", "SERVICES", "SERVICE", "DESTS", "DEST", "TIMEOUT", "DAEMON"])}
PROTO = {"tcp": socket.IPPROTO_TCP, "udp": socket.IPPROTO_UDP, "sctp": 132}
PROTO_NAME = {v: k for k, v in PROTO.items()}
FWD = {"masq": 0, "local": 1, "tunnel": 2, "route": 3, "bypass": 4}
FWD_NAME = {v: k for k, v in FWD.items()}
F_PERSISTENT, F_HASHED, F_ONEPACKET, F_SCHED1, F_SCHED2 = 0x1, 0x2, 0x4, 0x8, 0x10
STATE_MASTER, STATE_BACKUP = 1, 2

u16, u32, s32, u64, be32, be16 = (ctypes.c_uint16, ctypes.c_uint32, ctypes.c_int32,
                                  ctypes.c_uint64, ctypes.c_uint32, ctypes.c_uint16)


class ServiceUser(ctypes.Structure):
    _fields_ = [("protocol", u16), ("addr", be32), ("port", be16), ("fwmark", u32),
                ("sched_name", ctypes.c_char * 16), ("flags", ctypes.c_uint),
                ("timeout", ctypes.c_uint), ("netmask", be32)]


class DestUser(ctypes.Structure):
    _fields_ = [("addr", be32), ("port", be16), ("conn_flags", ctypes.c_uint),
                ("weight", ctypes.c_int), ("u_threshold", u32), ("l_threshold", u32)]


class SvcDestUser(ctypes.Structure):
    _fields_ = [("s", ServiceUser), ("d", DestUser)]


class StatsUser(ctypes.Structure):
    _fields_ = [("conns", u32), ("inpkts", u32), ("outpkts", u32), ("inbytes", u64),
                ("outbytes", u64), ("cps", u32), ("inpps", u32), ("outpps", u32),
                ("inbps", u32), ("outbps", u32)]


class GetInfo(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint), ("size", ctypes.c_uint),
                ("num_services", ctypes.c_uint)]


class ServiceEntry(ctypes.Structure):
    _fields_ = [("protocol", u16), ("addr", be32), ("port", be16), ("fwmark", u32),
                ("sched_name", ctypes.c_char * 16), ("flags", ctypes.c_uint),
                ("timeout", ctypes.c_uint), ("netmask", be32), ("num_dests", ctypes.c_uint),
                ("stats", StatsUser)]


class DestEntry(ctypes.Structure):
    _fields_ = [("addr", be32), ("port", be16), ("conn_flags", ctypes.c_uint),
                ("weight", ctypes.c_int), ("u_threshold", u32), ("l_threshold", u32),
                ("activeconns", u32), ("inactconns", u32), ("persistconns", u32),
                ("stats", StatsUser)]


class GetDests(ctypes.Structure):
    _fields_ = [("protocol", u16), ("addr", be32), ("port", be16), ("fwmark", u32),
                ("num_dests", ctypes.c_uint), ("entrytable", DestEntry * 0)]


class GetServices(ctypes.Structure):
    _fields_ = [("num_services", ctypes.c_uint), ("entrytable", ServiceEntry * 0)]


class TimeoutUser(ctypes.Structure):
    _fields_ = [("tcp_timeout", ctypes.c_int), ("tcp_fin_timeout", ctypes.c_int),
                ("udp_timeout", ctypes.c_int)]


class DaemonUser(ctypes.Structure):
    _fields_ = [("state", ctypes.c_int), ("mcast_ifn", ctypes.c_char * 16), ("syncid", ctypes.c_int)]


# The uapi sizes (x86-64); a layout mistake here would make every call EINVAL.
for cls, size in [(ServiceUser, 44), (DestUser, 24), (SvcDestUser, 68), (StatsUser, 56),
                  (GetInfo, 12), (ServiceEntry, 104), (DestEntry, 96), (GetDests, 24),
                  (GetServices, 8), (TimeoutUser, 12), (DaemonUser, 24)]:
    assert ctypes.sizeof(cls) == size, (cls.__name__, ctypes.sizeof(cls), size)

libc = ctypes.CDLL(None, use_errno=True)
libc.setsockopt.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_uint]
libc.getsockopt.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_void_p,
                            ctypes.POINTER(ctypes.c_uint)]
sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)


def out(line):
    print(line, flush=True)


def errname(e):
    return errno.errorcode.get(e, "errno%d" % e)


def setopt(cmd, obj=None, length=None):
    """setsockopt(cmd) with obj (a ctypes object, or None) and length (default: its size).
    Returns "ok" or the errno name."""
    if obj is None:
        buf = ctypes.create_string_buffer(max(length or 0, 1))
        n = length or 0
    else:
        n = ctypes.sizeof(obj) if length is None else length
        buf = ctypes.create_string_buffer(bytes(obj)[:n].ljust(max(n, 1), b"\0"))
    r = libc.setsockopt(sock.fileno(), IPPROTO_IP, cmd, buf if n else None, n)
    return "ok" if r == 0 else errname(ctypes.get_errno())


def getopt(cmd, obj, length=None):
    """getsockopt(cmd) with obj (a ctypes object, input and output) and length (default: its
    size; the buffer is at least that long). Returns ("ok" or the errno name, returned length)."""
    size = ctypes.sizeof(obj)
    n = size if length is None else length
    buf = ctypes.create_string_buffer(bytes(obj).ljust(max(n, size), b"\0"))
    ln = ctypes.c_uint(n)
    r = libc.getsockopt(sock.fileno(), IPPROTO_IP, cmd, buf, ctypes.byref(ln))
    ctypes.memmove(ctypes.addressof(obj), buf, size)
    return ("ok" if r == 0 else errname(ctypes.get_errno())), ln.value


def ip(s):
    return struct.unpack("=I", socket.inet_aton(s))[0]


def ipstr(v):
    return socket.inet_ntoa(struct.pack("=I", v))


def port(p):
    return socket.htons(p)


def portnum(v):
    return socket.ntohs(v)


# --- argument builders and canonical descriptions -------------------------------------------

def svc(spec, sched=b"rr", flags=0, timeout=0, netmask="0.0.0.0", proto=None):
    """spec: "tcp 10.1.0.1:80" or "fwm 7"; proto (a name or a number) overrides the protocol
    (default: the spec's, tcp for fwm)."""
    s = ServiceUser()
    kind, where = spec.split()
    if proto is None:
        proto = "tcp" if kind == "fwm" else kind
    s.protocol = PROTO[proto] if isinstance(proto, str) else proto
    if kind == "fwm":
        s.fwmark = int(where)
    else:
        a, p = where.rsplit(":", 1)
        s.addr, s.port = ip(a), port(int(p))
    s.sched_name = sched
    s.flags, s.timeout, s.netmask = flags, timeout, ip(netmask)
    return s


def svc_key(s):
    if s.fwmark:
        return "fwm %d/%s" % (s.fwmark, PROTO_NAME.get(s.protocol, str(s.protocol)))
    return "%s %s:%d" % (PROTO_NAME.get(s.protocol, "proto%d" % s.protocol), ipstr(s.addr),
                         portnum(s.port))


def svc_desc(s):
    return "%s sched=%r flags=%#x timeout=%d netmask=%s" % (
        svc_key(s), bytes(s.sched_name).decode(errors="replace"), s.flags, s.timeout,
        ipstr(s.netmask))


def dest(addr_port, fwd="masq", weight=1, u=0, l=0, extra_flags=0):
    d = DestUser()
    a, p = addr_port.rsplit(":", 1)
    d.addr, d.port = ip(a), port(int(p))
    d.conn_flags = FWD[fwd] | extra_flags
    d.weight, d.u_threshold, d.l_threshold = weight, u, l
    return d


def dest_desc(d):
    return "%s:%d flags=%#x weight=%d thresh=%d/%d" % (
        ipstr(d.addr), portnum(d.port), d.conn_flags, d.weight, d.u_threshold, d.l_threshold)


def stats_desc(st):
    vals = [getattr(st, f) for f, _ in StatsUser._fields_]
    return "zero" if not any(vals) else "nonzero"


def entry_desc(e):
    if e.fwmark:
        key = "fwm %d/%s" % (e.fwmark, PROTO_NAME.get(e.protocol, str(e.protocol)))
    else:
        key = "%s %s:%d" % (PROTO_NAME.get(e.protocol, str(e.protocol)), ipstr(e.addr), portnum(e.port))
    return "%s sched=%s flags=%#x timeout=%d netmask=%s dests=%d stats=%s" % (
        key, e.sched_name.decode(), e.flags, e.timeout, ipstr(e.netmask), e.num_dests,
        stats_desc(e.stats))


def dentry_desc(e):
    return "%s:%d fwd=%s conn_flags=%#x weight=%d thresh=%d/%d conns=%d/%d/%d stats=%s" % (
        ipstr(e.addr), portnum(e.port), FWD_NAME.get(e.conn_flags & 7, "?"), e.conn_flags,
        e.weight, e.u_threshold, e.l_threshold, e.activeconns, e.inactconns, e.persistconns,
        stats_desc(e.stats))


# --- the calls -----------------------------------------------------------------------------

def set_svc(cmd, s, length=None, note=""):
    r = setopt(SET[cmd], s, length)
    out("SET_%s %s%s -> %s" % (cmd, svc_desc(s), note, r))
    return r


def set_dest(cmd, s, d, length=None, note=""):
    r = setopt(SET[cmd], SvcDestUser(s, d), length)
    out("SET_%s %s / %s%s -> %s" % (cmd, svc_key(s), dest_desc(d), note, r))
    return r


def get_version(length=64):
    buf = (ctypes.c_char * max(length, 64))()
    r, n = getopt(GET["VERSION"], buf, length)
    if r == "ok":
        text = re.sub(r"\(size=\d+\)", "(size=N)", buf.value.decode())
        out("GET_VERSION len=%d -> ok %r" % (length, text))
    else:
        out("GET_VERSION len=%d -> %s" % (length, r))


def get_info(length=None, quiet=False):
    info = GetInfo()
    r, _ = getopt(GET["INFO"], info, length)
    if r == "ok":
        out("GET_INFO%s -> ok version=%#08x services=%d" % (
            "" if length is None else " len=%d" % length, info.version, info.num_services))
        return info.num_services
    out("GET_INFO%s -> %s" % ("" if length is None else " len=%d" % length, r))
    return None


def get_services(n, length=None, note=""):
    size = ctypes.sizeof(GetServices) + n * ctypes.sizeof(ServiceEntry)
    buf = (ctypes.c_char * size)()
    hdr = GetServices.from_buffer(buf)
    hdr.num_services = n
    r, _ = getopt(GET["SERVICES"], buf, size if length is None else length)
    lenn = "" if length is None else " len=%d" % length
    if r != "ok":
        out("GET_SERVICES num=%d%s%s -> %s" % (n, lenn, note, r))
        return
    ents = [ServiceEntry.from_buffer_copy(buf, 8 + i * 104) for i in range(n)]
    filled = [e for e in ents if e.protocol]
    out("GET_SERVICES num=%d%s%s -> ok, %d entries" % (n, lenn, note, len(filled)))
    if not note:
        for line in sorted(entry_desc(e) for e in filled):
            out("  " + line)


def get_service(spec, **kw):
    s = svc(spec, **kw)
    e = ServiceEntry()
    e.protocol, e.addr, e.port, e.fwmark = s.protocol, s.addr, s.port, s.fwmark
    r, _ = getopt(GET["SERVICE"], e)
    out("GET_SERVICE %s -> %s" % (svc_key(s), entry_desc(e) if r == "ok" else r))


def get_dests(spec, n, length=None, note="", proto=None):
    s = svc(spec, proto=proto)
    size = ctypes.sizeof(GetDests) + n * ctypes.sizeof(DestEntry)
    buf = (ctypes.c_char * size)()
    hdr = GetDests.from_buffer(buf)
    hdr.protocol, hdr.addr, hdr.port, hdr.fwmark, hdr.num_dests = s.protocol, s.addr, s.port, s.fwmark, n
    del hdr
    r, _ = getopt(GET["DESTS"], buf, size if length is None else length)
    lenn = "" if length is None else " len=%d" % length
    if r != "ok":
        out("GET_DESTS %s num=%d%s%s -> %s" % (svc_key(s), n, lenn, note, r))
        return
    ents = [DestEntry.from_buffer_copy(buf, 24 + i * 96) for i in range(n)]
    filled = [e for e in ents if e.addr]
    out("GET_DESTS %s num=%d%s%s -> ok, %d entries" % (svc_key(s), n, lenn, note, len(filled)))
    if not note:
        for line in sorted(dentry_desc(e) for e in filled):
            out("  " + line)


def get_timeout(length=None):
    t = TimeoutUser()
    r, _ = getopt(GET["TIMEOUT"], t, length)
    lenn = "" if length is None else " len=%d" % length
    out("GET_TIMEOUT%s -> %s" % (lenn, "ok tcp=%d tcpfin=%d udp=%d" % (
        t.tcp_timeout, t.tcp_fin_timeout, t.udp_timeout) if r == "ok" else r))


def set_timeout(tcp, fin, udp, length=None):
    t = TimeoutUser(tcp, fin, udp)
    lenn = "" if length is None else " len=%d" % length
    out("SET_TIMEOUT tcp=%d tcpfin=%d udp=%d%s -> %s" % (tcp, fin, udp, lenn, setopt(SET["TIMEOUT"], t, length)))


def daemon(cmd, state, ifn=b"", syncid=0, length=None):
    d = DaemonUser(state, ifn, syncid)
    lenn = "" if length is None else " len=%d" % length
    out("SET_%s state=%d ifn=%r syncid=%d%s -> %s" % (
        cmd, state, ifn.decode(), syncid, lenn, setopt(SET[cmd], d, length)))


def get_daemon(length=48):
    d = (DaemonUser * 2)()
    r, _ = getopt(GET["DAEMON"], d, length)
    if r != "ok":
        out("GET_DAEMON len=%d -> %s" % (length, r))
        return
    out("GET_DAEMON len=%d -> ok %s" % (length, " | ".join(
        "state=%d ifn=%r syncid=%d" % (x.state, x.mcast_ifn.decode(), x.syncid) for x in d)))


def ipvsadm(*args):
    """Debian's ipvsadm (generic netlink) in this namespace: its output (ipvsadm sorts services
    and real servers itself), minus the version line (the table size varies), each line
    prefixed."""
    p = subprocess.run(["ipvsadm"] + list(args), capture_output=True, text=True)
    lines = [l.rstrip() for l in p.stdout.splitlines() if not l.startswith("IP Virtual Server version")]
    out("ipvsadm %s -> exit %d" % (" ".join(args), p.returncode))
    for l in lines + ["stderr: " + l for l in p.stderr.splitlines()]:
        out("  | " + l)


def unprivileged(how):
    """In a child that lost CAP_NET_ADMIN (over the socket's network namespace), one set and one
    get call on the inherited socket."""
    pid = os.fork()
    if pid == 0:
        try:
            if how == "nobody":
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
            else:  # root of a new user namespace: capable there, not in the socket's netns
                if libc.unshare(0x10000000) != 0:  # CLONE_NEWUSER
                    out("unshare failed: %s" % errname(ctypes.get_errno()))
                    os._exit(1)
            out("unprivileged(%s) SET_FLUSH -> %s" % (how, setopt(SET["FLUSH"])))
            info = GetInfo()
            out("unprivileged(%s) GET_INFO -> %s" % (how, getopt(GET["INFO"], info)[0]))
            out("unprivileged(%s) SET_ADD %s -> %s" % (
                how, svc_key(svc("tcp 10.9.9.9:80")), setopt(SET["ADD"], svc("tcp 10.9.9.9:80"))))
        finally:
            sys.stdout.flush()
            os._exit(0)
    _, st = os.waitpid(pid, 0)
    if st:
        out("unprivileged(%s) child status %d" % (how, st))


# --- the scenario --------------------------------------------------------------------------

def main():
    out("# version and info, empty table")
    get_version()
    get_version(63)
    get_version(200)
    get_info()
    get_info(11)
    get_info(100)
    get_services(0)
    get_services(0, length=4)
    get_timeout()
    get_daemon()

    out("# add services")
    set_svc("ADD", svc("tcp 10.1.0.1:80", b"rr"))
    set_svc("ADD", svc("udp 10.1.0.1:53", b"wlc"))
    set_svc("ADD", svc("fwm 7", b"wrr"))
    set_svc("ADD", svc("tcp 10.1.0.2:443", b"sh", F_PERSISTENT | F_SCHED1 | F_SCHED2, 300, "255.255.255.0"))
    set_svc("ADD", svc("udp 10.1.0.4:1234", b"rr", F_ONEPACKET))
    set_svc("ADD", svc("sctp 10.1.0.3:9999", b"lc"))
    set_svc("ADD", svc("tcp 10.1.0.5:80", b"none"))
    set_svc("ADD", svc("tcp 10.1.0.6:0", b"rr", F_PERSISTENT, 60, "255.255.255.255"))
    out("# refused adds")
    set_svc("ADD", svc("tcp 10.1.0.1:80", b"wlc"), note=" (duplicate)")
    set_svc("ADD", svc("fwm 7", b"rr", proto="udp"), note=" (fwmark in use, other protocol)")
    set_svc("ADD", svc("tcp 10.1.0.7:80", proto=1), note=" (icmp)")
    set_svc("ADD", svc("tcp 10.1.0.7:80", proto=0), note=" (protocol 0)")
    set_svc("ADD", svc("fwm 8", proto=0), note=" (fwmark, protocol 0)")
    set_svc("ADD", svc("tcp 10.1.0.7:80", b"abcdefghijklmnop"), note=" (16 chars, no NUL)")
    set_svc("ADD", svc("tcp 10.1.0.7:80", b"abcdefghijklmnop", proto=1), note=" (16 chars and icmp)")
    set_svc("ADD", svc("tcp 10.1.0.7:80", b"nosuchsched"), note=" (unknown scheduler)")
    set_svc("ADD", svc("tcp 10.1.0.7:80", b""), note=" (empty scheduler)")
    set_svc("ADD", svc("tcp 10.1.0.7:80"), length=43, note=" len=43")
    set_svc("ADD", svc("tcp 10.1.0.7:80"), length=45, note=" len=45")
    set_svc("ADD", svc("tcp 10.1.0.7:80"), length=0, note=" len=0")
    get_info()
    get_service("tcp 10.1.0.7:80")

    out("# edit services")
    set_svc("EDIT", svc("tcp 10.1.0.1:80", b"wlc"))
    set_svc("EDIT", svc("tcp 10.1.0.5:80", b"wrr", F_PERSISTENT, 120, "255.255.0.0"))
    set_svc("EDIT", svc("tcp 10.1.0.2:443", b"sh", F_PERSISTENT | F_SCHED1, 600, "255.255.255.0"))
    set_svc("EDIT", svc("tcp 10.1.0.99:80", b"rr"), note=" (missing)")
    set_svc("EDIT", svc("fwm 7", b"rr", proto="udp"), note=" (fwmark of a tcp service)")
    set_svc("EDIT", svc("tcp 10.1.0.1:80", b"nosuchsched"), note=" (unknown scheduler)")
    set_svc("EDIT", svc("tcp 10.1.0.1:80", b"abcdefghijklmnop"), note=" (16 chars, no NUL)")
    set_svc("EDIT", svc("tcp 10.1.0.1:80", b"wlc", proto=1), note=" (icmp)")
    set_svc("EDIT", svc("tcp 10.1.0.1:80"), length=68, note=" len=68")
    get_service("tcp 10.1.0.1:80")
    get_service("tcp 10.1.0.5:80")

    out("# real servers")
    s80 = svc("tcp 10.1.0.1:80")
    set_dest("ADDDEST", s80, dest("10.2.0.1:80", "masq", 1))
    set_dest("ADDDEST", s80, dest("10.2.0.2:80", "route", 2))
    set_dest("ADDDEST", s80, dest("10.2.0.3:80", "tunnel", 3, 100, 50))
    set_dest("ADDDEST", s80, dest("10.2.0.4:8080", "masq", 0, 10, 0))
    set_dest("ADDDEST", s80, dest("10.2.0.5:80", "masq", 1, extra_flags=0x0100 | 0x2000 | 0x0040),
             note=" (inactive|one-packet|hashed bits)")
    set_dest("ADDDEST", s80, dest("127.0.0.1:80", "masq", 1), note=" (local address)")
    set_dest("ADDDEST", svc("fwm 7"), dest("10.2.0.9:0", "route", 5))
    set_dest("ADDDEST", svc("fwm 7"), dest("10.2.0.10:0", "tunnel", 7))
    set_dest("ADDDEST", svc("udp 10.1.0.1:53"), dest("10.2.0.1:53", "masq", 1))
    set_dest("ADDDEST", svc("udp 10.1.0.1:53"), dest("10.2.0.2:5353", "masq", 65535))
    get_dests("tcp 10.1.0.1:80", 6)
    out("# refused real servers")
    set_dest("ADDDEST", s80, dest("10.2.0.1:80", "route", 9), note=" (duplicate)")
    set_dest("ADDDEST", s80, dest("10.2.0.6:80", "masq", -1), note=" (negative weight)")
    set_dest("ADDDEST", s80, dest("10.2.0.6:80", "masq", 1, 10, 20), note=" (lower > upper threshold)")
    set_dest("ADDDEST", s80, dest("10.2.0.6:80", "masq", 1, 0x80000000, 0), note=" (upper > INT_MAX)")
    set_dest("ADDDEST", s80, dest("224.0.0.5:80", "masq", 1), note=" (multicast)")
    set_dest("ADDDEST", s80, dest("255.255.255.255:80", "masq", 1), note=" (broadcast)")
    set_dest("ADDDEST", svc("tcp 10.1.0.99:80"), dest("10.2.0.1:80"), note=" (missing service)")
    set_dest("ADDDEST", svc("tcp 10.1.0.1:80", proto=1), dest("10.2.0.1:80"), note=" (icmp service)")
    set_dest("ADDDEST", s80, dest("10.2.0.6:80"), length=44, note=" len=44")
    set_dest("ADDDEST", s80, dest("10.2.0.6:80"), length=69, note=" len=69")
    out("# edit / delete real servers")
    set_dest("EDITDEST", s80, dest("10.2.0.2:80", "masq", 5, 40, 30))
    set_dest("EDITDEST", s80, dest("10.2.0.4:8080", "route", 0))
    set_dest("EDITDEST", s80, dest("10.2.0.8:80", "masq", 1), note=" (missing)")
    set_dest("EDITDEST", s80, dest("10.2.0.2:80", "masq", -5), note=" (negative weight)")
    set_dest("EDITDEST", s80, dest("10.2.0.2:80", "masq", 1, 1, 2), note=" (lower > upper threshold)")
    set_dest("EDITDEST", svc("tcp 10.1.0.99:80"), dest("10.2.0.2:80"), note=" (missing service)")
    set_dest("DELDEST", s80, dest("10.2.0.5:80"))
    set_dest("DELDEST", s80, dest("10.2.0.5:80"), note=" (again)")
    set_dest("DELDEST", s80, dest("10.2.0.1:81"), note=" (other port)")
    set_dest("DELDEST", svc("tcp 10.1.0.99:80"), dest("10.2.0.1:80"), note=" (missing service)")
    set_dest("DELDEST", s80, dest("10.2.0.1:80"), length=67, note=" len=67")

    out("# listings")
    n = get_info()
    get_services(n)
    get_services(n + 3, note=" (room for more)")
    get_services(2, note=" (room for fewer)")
    size = 8 + n * 104
    get_services(n, length=size - 1)
    get_services(n, length=size + 1)
    get_services(n, length=7)
    get_service("tcp 10.1.0.2:443")
    get_service("fwm 7")
    get_service("fwm 7", proto="udp")
    get_service("udp 10.1.0.1:53")
    get_service("udp 10.1.0.1:80")
    get_service("fwm 99")
    e = ServiceEntry()
    out("GET_SERVICE len=103 -> %s" % getopt(GET["SERVICE"], e, 103)[0])
    get_dests("tcp 10.1.0.1:80", 5)
    get_dests("tcp 10.1.0.1:80", 8, note=" (room for more)")
    get_dests("tcp 10.1.0.1:80", 2, note=" (room for fewer)")
    get_dests("tcp 10.1.0.1:80", 5, length=24 + 5 * 96 - 1)
    get_dests("tcp 10.1.0.1:80", 5, length=24 + 4 * 96)
    get_dests("tcp 10.1.0.1:80", 0, length=23)
    get_dests("fwm 7", 2)
    get_dests("fwm 7", 2, proto="udp")
    get_dests("udp 10.1.0.1:53", 2)
    get_dests("udp 10.1.0.99:53", 2)
    get_dests("tcp 10.1.0.5:80", 0)
    ipvsadm("-Ln")
    ipvsadm("-Ln", "--thresholds")
    ipvsadm("-Sn")

    out("# netlink -> sockopt: an IPv6 service is invisible here, an IPv4 one is not")
    ipvsadm("-A", "-t", "[fd00::1]:80", "-s", "rr")
    ipvsadm("-A", "-u", "10.1.9.9:5060", "-s", "lc", "-p", "30")
    ipvsadm("-a", "-u", "10.1.9.9:5060", "-r", "10.2.9.1:5060", "-g", "-w", "4", "-x", "9", "-y", "3")
    n = get_info()
    get_services(n)
    get_dests("udp 10.1.9.9:5060", 1)

    out("# timeouts")
    get_timeout()
    set_timeout(100, 20, 30)
    get_timeout()
    set_timeout(0, 0, 0)
    get_timeout()
    set_timeout(0, 0, 45)
    get_timeout()
    set_timeout(-1, 0, 0)
    set_timeout(0, -1, 0)
    set_timeout(0, 0, -1)
    set_timeout(2147483647, 0, 0)
    set_timeout(1, 1, 1, length=11)
    set_timeout(1, 1, 1, length=16)
    get_timeout()
    get_timeout(11)
    get_timeout(64)
    ipvsadm("-L", "--timeout")
    set_timeout(900, 120, 300)

    out("# sync daemons")
    get_daemon()
    daemon("STARTDAEMON", STATE_MASTER, b"lo", 5)
    get_daemon()
    daemon("STARTDAEMON", STATE_MASTER, b"lo", 6)
    daemon("STARTDAEMON", 3, b"lo", 1)
    daemon("STARTDAEMON", 0, b"lo", 1)
    daemon("STARTDAEMON", STATE_BACKUP, b"nosuchif0", 1)
    daemon("STARTDAEMON", STATE_BACKUP, b"", 1)
    daemon("STARTDAEMON", STATE_BACKUP, b"lo", 1, length=23)
    get_daemon(47)
    get_daemon(100)
    ipvsadm("-L", "--daemon")
    daemon("STOPDAEMON", STATE_MASTER)
    daemon("STOPDAEMON", STATE_MASTER)
    daemon("STOPDAEMON", STATE_BACKUP)
    daemon("STOPDAEMON", 0)
    daemon("STOPDAEMON", 3)
    daemon("STOPDAEMON", STATE_MASTER, length=25)
    get_daemon()
    ipvsadm("-L", "--daemon")

    out("# zero")
    set_svc("ZERO", svc("tcp 10.1.0.1:80"))
    set_svc("ZERO", svc("fwm 7"))
    set_svc("ZERO", svc("tcp 10.1.0.99:80"), note=" (missing)")
    set_svc("ZERO", svc("tcp 10.1.0.1:80", proto=1), note=" (icmp)")
    z = ServiceUser()
    out("SET_ZERO all (all zero) -> %s" % setopt(SET["ZERO"], z))
    z.protocol = 1
    out("SET_ZERO all (protocol icmp, no address) -> %s" % setopt(SET["ZERO"], z))
    out("SET_ZERO len=0 -> %s" % setopt(SET["ZERO"], None, 0))
    set_svc("ZERO", svc("tcp 10.1.0.1:80"), length=40, note=" len=40")

    out("# unknown and unused commands")
    out("SET_NONE len=0 -> %s" % setopt(SET["NONE"], None, 0))
    for name in ("INSERT", "LIST", "RESTORE", "SAVE"):
        out("SET_%s len=0 -> %s" % (name, setopt(SET[name], None, 0)))
        out("SET_%s len=44 -> %s" % (name, setopt(SET[name], svc("tcp 10.1.0.1:80"))))
    out("SET base+16 -> %s" % setopt(BASE + 16, svc("tcp 10.1.0.1:80")))
    out("SET base-1 -> %s" % setopt(BASE - 1, svc("tcp 10.1.0.1:80")))
    out("GET_DEST len=64 -> %s" % getopt(GET["DEST"], (ctypes.c_char * 64)())[0])
    out("GET base+8 len=64 -> %s" % getopt(BASE + 8, (ctypes.c_char * 64)())[0])

    out("# unprivileged callers")
    unprivileged("nobody")
    unprivileged("userns-root")
    get_info()

    out("# delete, flush")
    set_svc("DEL", svc("tcp 10.1.0.5:80"))
    set_svc("DEL", svc("tcp 10.1.0.5:80"), note=" (again)")
    set_svc("DEL", svc("fwm 7", proto="udp"), note=" (fwmark of a tcp service)")
    set_svc("DEL", svc("fwm 7"))
    set_svc("DEL", svc("tcp 10.1.0.1:80"), length=0, note=" len=0")
    get_info()
    ipvsadm("-Sn")
    out("SET_FLUSH len=44 -> %s" % setopt(SET["FLUSH"], svc("tcp 10.1.0.1:80")))
    out("SET_FLUSH len=0 -> %s" % setopt(SET["FLUSH"], None, 0))
    n = get_info()
    get_services(0)
    ipvsadm("-Sn")
    out("SET_FLUSH len=0 (empty) -> %s" % setopt(SET["FLUSH"], None, 0))
    out("# end")


if __name__ == "__main__":
    main()
