#!/usr/bin/env python3
"""FTP client for the VM tests: `ftpc.py VIP MODE SIZE...` logs in to VIP:21 and fetches
f-SIZE for each SIZE by MODE (pasv: PASV or EPSV; port: PORT or EPRT; IPv6 control connections
use the extended commands). The data connection goes where the server's reply says (the
director must have rewritten it to the VIP) and, in active mode, must come from VIP:20.
Prints one line per transfer ("SERVER MODE SIZE ok|bad ...") and the reply texts."""
import ftplib
import socket
import sys

vip, mode, sizes = sys.argv[1], sys.argv[2], [int(x) for x in sys.argv[3:]]


def pattern(n):
    block = bytes(range(256))
    return (block * (n // 256 + 1))[:n]


ftp = ftplib.FTP()
ftp.connect(vip, 21, timeout=30)
server = ftp.getwelcome().split()[1]
ftp.login("test", "test")
v6 = ftp.af == socket.AF_INET6
for n in sizes:
    if mode == "pasv":
        if v6:
            resp = ftp.sendcmd("EPSV")
            print("reply", resp)
            host, port = vip, ftplib.parse229(resp, ftp.sock.getpeername())[1]
        else:
            resp = ftp.sendcmd("PASV")
            print("reply", resp)
            # Where the reply says, not where the control connection goes (the rewrite counts).
            host, port = ftplib.parse227(resp)
        d = socket.create_connection((host, port), timeout=30)
        ftp.sendcmd("RETR f-%d" % n)
        peer = d.getpeername()[0]
    else:
        srv = socket.create_server(("", 0), family=ftp.af)
        port = srv.getsockname()[1]
        me = ftp.sock.getsockname()[0]
        if v6:
            resp = ftp.sendcmd("EPRT |2|%s|%d|" % (me, port))
        else:
            resp = ftp.sendcmd("PORT %s,%d,%d" % (me.replace(".", ","), port >> 8, port & 255))
        print("reply", resp)
        ftp.putcmd("RETR f-%d" % n)
        srv.settimeout(30)
        d, addr = srv.accept()
        peer = "%s:%d" % (addr[0], addr[1])
        resp = ftp.getresp()
        if not resp.startswith("150"):
            print("bad reply", resp)
    data = b""
    d.settimeout(30)
    while True:
        b = d.recv(65536)
        if not b:
            break
        data += b
    d.close()
    ftp.voidresp()
    ok = "ok" if data == pattern(n) else "bad %d/%d" % (len(data), n)
    print(server, mode, n, ok, peer, flush=True)
# The control connection is still in step after the rewrites.
print("noop", ftp.sendcmd("NOOP"))
ftp.quit()
