#!/usr/bin/env bash
# backends: ipvs fvs
# SCTP through NAT (FVS_BACKEND=ipvs|fvs): associations from the client to VIP:5000 are balanced
# rr over three real servers listening on port 6000 (so the director rewrites ports both ways
# and must recompute SCTP's CRC32c, or the endpoints drop the packets); each server first sends
# "rsI PEER-ADDRESS", then echoes 30 kB, which the client checks byte for byte. Entries follow
# the SCTP state machine: ESTABLISHED while associations are up (counted active on their real
# server), then the shutdown states after close; a packet without an INIT starts nothing.
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh
modprobe sctp 2>/dev/null || skip "no SCTP in this kernel"
dp_backend_up
topo_nat 3
for i in 1 2 3; do
    # shellcheck disable=SC2016
    dp_bg "fvs-rs$i" socat -t 10 "SCTP4-LISTEN:6000,fork,reuseaddr" \
        "SYSTEM:echo rs$i \$SOCAT_PEERADDR; exec cat" 2>>/tmp/dp-servers.log
done
for i in 1 2 3; do
    # Listening endpoints (LPORT is the 6th column); ss cannot filter SCTP by port.
    for _ in $(seq 1 100); do
        ip netns exec "fvs-rs$i" awk 'NR > 1 && $6 == 6000 {f = 1} END {exit !f}' /proc/net/sctp/eps && break
        sleep 0.1
    done
    ip netns exec "fvs-rs$i" awk 'NR > 1 && $6 == 6000 {f = 1} END {exit !f}' /proc/net/sctp/eps ||
        fail "no SCTP listener on port 6000 in fvs-rs$i"
done
DP_RPORT=6000 dp_service --sctp-service 5000 rr -m 1 1 1

# shellcheck disable=SC2016
SCTP_CLIENT='
import socket, sys, threading, time
vip, port, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
hold = float(sys.argv[5]) if len(sys.argv) > 5 else 0
socks = []
for i in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_SCTP)
    s.settimeout(30)
    s.connect((vip, port))
    buf = b""
    while b"\n" not in buf:
        d = s.recv(65536)
        if not d:
            break
        buf += d
    line, _, got = buf.partition(b"\n")
    payload = bytes((j * 7 + i) % 251 for j in range(size))
    t = threading.Thread(target=lambda: [s.sendall(payload[k:k + 4000]) for k in range(0, size, 4000)])
    t.start()
    while len(got) < size:
        d = s.recv(65536)
        if not d:
            break
        got += d
    t.join()
    print(line.decode(), "echo-ok" if got == payload else "echo-BAD(%d of %d bytes)" % (len(got), size), flush=True)
    socks.append(s)
time.sleep(hold)
for s in socks:
    s.close()
'
sctp_client() { ip netns exec fvs-cl timeout 120 python3 -c "$SCTP_CLIENT" "$@"; }

# Three associations held open: each on its own real server, all ESTABLISHED and active.
# Held 4 s (times FVS_TIME_SCALE: on the debug kernel the listings below take longer than that).
sctp_client "$VIP" 5000 3 30000 $((4 * FVS_TIME_SCALE)) >/tmp/sctp-held.out &
held=$!
for _ in $(seq 1 100); do [ "$(wc -l </tmp/sctp-held.out)" = 3 ] && break; sleep 0.2; done
out=$(cat /tmp/sctp-held.out)
info "$(tr '\n' ';' <<<"$out")"
assert_eq "rs3 10.0.1.2 echo-ok
rs2 10.0.1.2 echo-ok
rs1 10.0.1.2 echo-ok" "$out" "three associations, rr, 30 kB echoed each"
conns=$(dp_conns)
info "$conns"
[ "$(grep -cE "^SCTP [0-9:]+ +ESTABLISHED +10\.0\.1\.2:[0-9]+ +$VIP:5000 +10\.0\.2\.[123]:6000 *$" <<<"$conns")" = 3 ] ||
    fail "expected 3 ESTABLISHED SCTP entries: $conns"
lines=$(adm -Ln | grep -E '^  ->')
info "$lines"
[ "$(grep -cE '10\.0\.2\.[123]:6000 +Masq +1 +1 +0 *$' <<<"$lines")" = 3 ] ||
    fail "each real server should have 1 active connection: $lines"
wait "$held" || fail "SCTP client failed"

# After close: no entry is still ESTABLISHED, none is counted active.
sleep 1
conns=$(dp_conns)
info "$conns"
[ "$(grep -c '^SCTP' <<<"$conns")" = 3 ] || fail "expected 3 SCTP entries after close: $conns"
grep -q ESTABLISHED <<<"$conns" && fail "an association still ESTABLISHED after close: $conns"
lines=$(adm -Ln | grep -E '^  ->')
[ "$(grep -cE '10\.0\.2\.[123]:6000 +Masq +1 +0 +1 *$' <<<"$lines")" = 3 ] ||
    fail "closed associations should count as inactive: $lines"

# Three more, rr continues.
out=$(sctp_client "$VIP" 5000 3 5000)
info "$(tr '\n' ';' <<<"$out")"
assert_eq "rs3 10.0.1.2 echo-ok
rs2 10.0.1.2 echo-ok
rs1 10.0.1.2 echo-ok" "$out" "rr continues over new associations"

# An SCTP packet that is not an INIT (a stray HEARTBEAT) to the VIP starts no entry.
ip netns exec fvs-cl python3 - "$VIP" <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_SCTP)
hb = struct.pack("!BBH", 4, 0, 8) + struct.pack("!HH", 1, 4)
pkt = struct.pack("!HHII", 40000, 5000, 1234, 0) + hb
s.sendto(pkt, (sys.argv[1], 0))
PY
sleep 0.5
dp_conns | grep -q ':40000 ' && fail "a HEARTBEAT without association created an entry: $(dp_conns)"
echo "SCTP through NAT works"
