#!/usr/bin/env python3
"""A minimal FTP server for the VM tests (RFC 959/2428 subset: USER PASS TYPE PWD NOOP PASV
EPSV PORT EPRT RETR QUIT). `ftpd.py NAME ADDR`: listens on ADDR port 21 and greets with NAME.
RETR f-N sends N bytes of a fixed pattern (ftpc.py checks them). Active-mode data connections
come from port 20, as FTP servers make them. Each session runs in its own thread."""
import socket
import sys
import threading


def pattern(n):
    block = bytes(range(256))
    return (block * (n // 256 + 1))[:n]


def session(conn, name, fam):
    f = conn.makefile("rb")
    send = lambda s: conn.sendall(s.encode() + b"\r\n")
    send("220 %s ready" % name)
    pasv = None
    active = None
    while True:
        line = f.readline()
        if not line:
            break
        cmd, _, arg = line.decode(errors="replace").strip().partition(" ")
        cmd = cmd.upper()
        if cmd == "USER":
            send("331 password please")
        elif cmd == "PASS":
            send("230 logged in")
        elif cmd in ("TYPE", "NOOP", "MODE", "STRU"):
            send("200 ok %s" % cmd)
        elif cmd == "PWD":
            send('257 "/" is the directory')
        elif cmd in ("PASV", "EPSV"):
            if pasv:
                pasv.close()
            pasv = socket.socket(fam, socket.SOCK_STREAM)
            pasv.bind((conn.getsockname()[0], 0))
            pasv.listen(1)
            port = pasv.getsockname()[1]
            active = None
            if cmd == "PASV":
                a = conn.getsockname()[0].replace(".", ",")
                send("227 Entering Passive Mode (%s,%d,%d)." % (a, port >> 8, port & 255))
            else:
                send("229 Entering Extended Passive Mode (|||%d|)" % port)
        elif cmd == "PORT":
            p = arg.split(",")
            active = (".".join(p[:4]), int(p[4]) * 256 + int(p[5]))
            send("200 PORT ok")
        elif cmd == "EPRT":
            d = arg[0]
            _, af, addr, port, _ = arg.split(d)
            active = (addr, int(port))
            send("200 EPRT ok")
        elif cmd == "RETR":
            try:
                n = int(arg.split("-")[1])
            except (IndexError, ValueError):
                send("550 no such file")
                continue
            if active:
                s = socket.socket(fam, socket.SOCK_STREAM)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind((conn.getsockname()[0], 20))
                s.settimeout(20)
                try:
                    s.connect(active)
                except OSError as e:
                    send("425 cannot open data connection: %s" % e)
                    s.close()
                    continue
                d = s
            elif pasv:
                pasv.settimeout(20)
                try:
                    d, _ = pasv.accept()
                except OSError:
                    send("425 no data connection")
                    continue
            else:
                send("503 PORT or PASV first")
                continue
            send("150 sending %d bytes" % n)
            d.sendall(pattern(n))
            d.close()
            if pasv:
                pasv.close()
                pasv = None
            active = None
            send("226 transfer complete")
        elif cmd == "QUIT":
            send("221 bye")
            break
        else:
            send("502 %s not implemented" % cmd)
    conn.close()


def main():
    name, addr = sys.argv[1], sys.argv[2]
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    srv = socket.socket(fam, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, 21))
    srv.listen(16)
    while True:
        c, _ = srv.accept()
        threading.Thread(target=session, args=(c, name, fam), daemon=True).start()


main()
