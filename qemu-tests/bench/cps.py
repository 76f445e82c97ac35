#!/usr/bin/env python3
"""TCP connection-rate load for `make bench` (qemu-tests/bench/run.sh); no C, standard library only.

  cps.py server PORT
      epoll server: for every connection, read the request, answer "OK\\n" and close (the server
      sends the first FIN).
  cps.py client DSTS PORT SECS CONC SRC [WARM [NWIN]]
      keeps CONC connections in flight to PORT on the comma-separated DSTS (round robin): connect,
      send one request line, read the answer until EOF, close, start the next one. Every
      connection binds SRC to a port of its own, 1024 upwards, never reused within a run (so no
      TIME_WAIT entry, in the client, the real servers or the balancer, is ever met again: this
      measures new connections, not reuse). Counts the connections completed (answer received)
      within SECS seconds after a WARM-second warm-up, in NWIN equal windows, and prints one line:
        cps=<best window's completions per second> mean=<over SECS> windows=<each window's rate>
            done=<n> errors=<n> started=<n> secs=<measured>
            ms_p50=<connect-to-EOF time, median> ms_p99=<99th percentile> ms_max=<slowest>
"""
import errno
import select
import socket
import sys
import time


def server(port):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(4096)
    ls.setblocking(False)
    ep = select.epoll()
    ep.register(ls.fileno(), select.EPOLLIN)
    conns = {}
    while True:
        for fd, _ in ep.poll():
            if fd == ls.fileno():
                while True:
                    try:
                        c, _ = ls.accept()
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:
                        break
                    c.setblocking(False)
                    conns[c.fileno()] = c
                    ep.register(c.fileno(), select.EPOLLIN)
                continue
            c = conns.pop(fd, None)
            if c is None:
                continue
            try:
                if c.recv(256):
                    c.send(b"OK\n")
            except OSError:
                pass
            ep.unregister(fd)
            c.close()


def client(dsts, port, secs, conc, src, warm, nwin):
    dsts = dsts.split(",")
    ep = select.epoll()
    socks = {}  # fd -> [socket, connected?, answered?]
    state = {"port": 1024, "started": 0, "n": 0}

    def start():
        while state["port"] <= 65535:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            p = state["port"]
            state["port"] += 1
            try:
                s.bind((src, p))
            except OSError:
                s.close()
                continue
            dst = dsts[state["n"] % len(dsts)]
            state["n"] += 1
            err = s.connect_ex((dst, port))
            if err not in (0, errno.EINPROGRESS):
                s.close()
                return False
            socks[s.fileno()] = [s, False, False, time.monotonic()]
            ep.register(s.fileno(), select.EPOLLOUT)
            state["started"] += 1
            return True
        return False

    t0 = time.monotonic()
    t_measure = t0 + warm
    t_end = t_measure + secs
    done = errors = 0
    lat = []
    wins = [0] * nwin
    winlen = secs / nwin
    for _ in range(conc):
        start()
    while socks:
        now = time.monotonic()
        if now >= t_end:
            break
        for fd, ev in ep.poll(min(0.5, t_end - now)):
            ent = socks.get(fd)
            if ent is None:
                continue
            s = ent[0]
            finished = False
            if not ent[1]:
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    errors += 1
                    finished = True
                else:
                    ent[1] = True
                    try:
                        s.send(b"GET\n")
                        ep.modify(fd, select.EPOLLIN)
                    except OSError:
                        errors += 1
                        finished = True
            else:
                try:
                    d = s.recv(256)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    d = None
                if d:
                    ent[2] = True
                    continue
                # EOF (or an error): the connection is over.
                if ent[2] and d is not None:
                    t = time.monotonic()
                    if t_measure <= t < t_end:
                        done += 1
                        wins[min(nwin - 1, int((t - t_measure) / winlen))] += 1
                        lat.append(t - ent[3])
                else:
                    errors += 1
                finished = True
            if finished:
                ep.unregister(fd)
                del socks[fd]
                s.close()
                start()
    window = min(time.monotonic(), t_end) - t_measure
    lat.sort()

    def pct(p):
        return 1000 * lat[min(len(lat) - 1, int(p * len(lat)))] if lat else 0

    print("cps=%.1f mean=%.1f windows=%s done=%d errors=%d started=%d secs=%.2f"
          " ms_p50=%.0f ms_p99=%.0f ms_max=%.0f"
          % (max(wins) / winlen, done / window if window > 0 else 0,
             ",".join("%.0f" % (w / winlen) for w in wins), done, errors, state["started"], window,
             pct(0.5), pct(0.99), pct(1.0)), flush=True)


def main():
    if sys.argv[1] == "server":
        server(int(sys.argv[2]))
    else:
        _, _, dsts, port, secs, conc, src, *rest = sys.argv
        client(dsts, int(port), float(secs), int(conc), src, float(rest[0]) if rest else 1.0,
               int(rest[1]) if len(rest) > 1 else 1)


if __name__ == "__main__":
    main()
