#!/usr/bin/env python3
"""Traffic for the real-server churn tests (qemu-tests/tests/77-79): clients that reuse source
ports while real servers come and go, and a UDP server. Each client prints one JSON summary.

  churn.py udpserver NAME PORT
      answers every datagram at once with "NAME PEER REQUEST" (one process, no fork).
  churn.py tcpserver NAME PORT
      for every connection sends "NAME PEER LOCAL" and closes first (one process, no fork).
  churn.py reuse VIP PORT SRC NPORTS SECONDS MARKFILE
      TCP from SRC, cycling through NPORTS fixed source ports (40000..): connect, read the
      server's line (the server closes first, so the director's entry ends in TIME_WAIT while
      the client's port is free at once), close; for SECONDS. MARKFILE, when it appears, holds
      "NAME TIME": the real server NAME was removed at TIME (time.time()).
  churn.py udp VIP PORT SRC NPORTS RATE SECONDS MARKFILE
      DNS-like: NPORTS sockets on fixed source ports (41000..), queries round robin at RATE
      per second, each answered within 1 s or failed. MARKFILE: lines "NAME TIME" of removed
      servers.
"""
import json
import os
import select
import socket
import sys
import time

SCALE = float(os.environ.get("FVS_TIME_SCALE", "1"))


def removed(markfile):
    """{name: time} of the servers removed so far."""
    out = {}
    try:
        with open(markfile) as f:
            for line in f:
                p = line.split()
                if len(p) == 2:
                    out[p[0]] = float(p[1])
    except OSError:
        pass
    return out


def udpserver(name, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", int(port)))
    while True:
        data, peer = s.recvfrom(512)
        s.sendto(("%s %s:%d %s" % (name, peer[0], peer[1], data.decode(errors="replace").strip())).encode(), peer)


def tcpserver(name, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", int(port)))
    s.listen(128)
    while True:
        c, peer = s.accept()
        try:
            local = c.getsockname()
            c.sendall(("%s %s:%d %s:%d\n" % (name, peer[0], peer[1], local[0], local[1])).encode())
        except OSError:
            pass
        c.close()


def reuse(vip, port, src, nports, seconds, markfile):
    port, nports, seconds = int(port), int(nports), float(seconds)
    end = time.time() + seconds
    n = slow = failed = resets = timeouts = 0
    worst = 0.0
    after_removal = 0  # connections answered by a server after it was removed
    per = {}
    i = 0
    while time.time() < end:
        sport = 40000 + i % nports
        i += 1
        t0 = time.time()
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((src, sport))
        except OSError:
            s.close()
            time.sleep(0.01)
            continue
        s.settimeout(5 * SCALE)
        name = None
        dt = None
        try:
            s.connect((vip, port))
            dt = time.time() - t0
            data = b""
            while b"\n" not in data:
                d = s.recv(200)
                if not d:
                    break
                data += d
            name = data.decode().split()[0] if data else None
            if name is None:
                resets += 1  # closed without the server's line
        except socket.timeout:
            timeouts += 1
        except (ConnectionResetError, ConnectionRefusedError, BrokenPipeError):
            resets += 1
        except OSError:
            pass
        if dt is None:
            dt = time.time() - t0
        s.close()
        n += 1
        worst = max(worst, dt)
        if dt > 0.5 * SCALE:
            slow += 1
        if name is None:
            failed += 1
            continue
        per[name] = per.get(name, 0) + 1
        r = removed(markfile)
        if name in r and t0 > r[name]:
            after_removal += 1
    print(json.dumps({"connections": n, "slow": slow, "failed": failed, "resets": resets,
                      "timeouts": timeouts, "worst_s": round(worst, 3),
                      "after_removal": after_removal, "servers": per}))


def udp(vip, port, src, nports, rate, seconds, markfile):
    port, nports, rate, seconds = int(port), int(nports), float(rate), float(seconds)
    socks = []
    for k in range(nports):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((src, 41000 + k))
        s.setblocking(False)
        socks.append(s)
    by_fd = {s.fileno(): k for k, s in enumerate(socks)}
    pending = {}  # socket index -> (query id, sent at)
    sent = ok = failed = after_removal = 0
    per = {}
    t_start = time.time()
    end = t_start + seconds
    nxt = t_start
    qid = 0
    poll = select.poll()
    for s in socks:
        poll.register(s, select.POLLIN)
    while True:
        now = time.time()
        # Queries unanswered for a second have failed.
        for k, (q, t) in list(pending.items()):
            if now - t > 1.0 * SCALE:
                failed += 1
                del pending[k]
        if now >= end and not pending:
            break
        if now < end and now >= nxt:
            k = qid % nports
            if k not in pending:
                qid += 1
                try:
                    socks[k].sendto(b"q%d" % qid, (vip, port))
                    pending[k] = (qid, now)
                    sent += 1
                except OSError:
                    failed += 1
                    sent += 1
            else:
                qid += 1  # this port's last query is still out: skip its turn
            nxt += 1.0 / rate
        for fd, _ in poll.poll(5):
            k = by_fd[fd]
            try:
                data = socks[k].recv(512)
            except OSError:
                continue
            p = data.decode(errors="replace").split()
            if k not in pending or len(p) < 3 or p[2] != "q%d" % pending[k][0]:
                continue  # a late answer to a query already counted as failed
            t_sent = pending.pop(k)[1]
            ok += 1
            per[p[0]] = per.get(p[0], 0) + 1
            r = removed(markfile)
            if p[0] in r and t_sent > r[p[0]]:
                after_removal += 1
    print(json.dumps({"queries": sent, "answered": ok, "failed": failed,
                      "failed_pct": round(100.0 * failed / max(sent, 1), 2),
                      "after_removal": after_removal, "servers": per}))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"udpserver": udpserver, "tcpserver": tcpserver, "reuse": reuse, "udp": udp}[cmd](*args)
