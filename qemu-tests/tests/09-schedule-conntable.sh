#!/usr/bin/env bash
# Scheduling and connection tracking, side by side with ip_vs: the same connections and
# datagrams give the same per-real-server connection counts -- wrr 1:2:3 over 60 connections is
# exactly 10/20/30, rr over 30 UDP flows exactly 10/10/10. Then, on fvs: entries and states in
# /proc/net/fvs_conn, statistics, expiry on time after --set, and rmmod with live entries.
. qemu-tests/lib.sh
. qemu-tests/topo.sh
topo_router 3
# FVS_TIME_SCALE (make test-debug: 5) stretches the clients' time limits for slow kernels.
scale=${FVS_TIME_SCALE:-1}

# per_dest TOOL SERVICE-OPTS: "rip total" lines (ActiveConn + InActConn) from -Ln
per_dest() {
    ip netns exec fvs-dir "$@" | awk '/->/ && $2 ~ /^10\.0\.2\./ {print $2, $5 + $6}'
}

configure() { # configure TOOL...
    local i w
    "$@" -A -t 10.0.1.1:80 -s wrr
    for i in 1 2 3; do "$@" -a -t 10.0.1.1:80 -r 10.0.2.$i:80 -m -w $i; done
    "$@" -A -u 10.0.1.1:53 -s rr
    for i in 1 2 3; do "$@" -a -u 10.0.1.1:53 -r 10.0.2.$i:53 -m; done
}

traffic() { # traffic FIRST-TCP-SOURCE-PORT
    local i
    # 60 TCP connections, held open by one client process while we count (forwarded by NAT to
    # the real servers, which accept and hold them). Each run uses its own source ports: the
    # previous run's client sockets may still be closing (FIN_WAIT2 for 60 s) on the same ones.
    rm -f /tmp/fvs-held
    ip netns exec fvs-cl python3 -c '
import socket, sys, time
scale = float(sys.argv[1])
base = int(sys.argv[2])
held = []
for i in range(60):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("10.0.1.2", base + i))
    s.settimeout(2 * scale)
    try:
        s.connect(("10.0.1.1", 80))
    except OSError as e:
        print("connect from port %d: %s" % (base + i, e), file=sys.stderr)
    held.append(s)
open("/tmp/fvs-held", "w").write("done")
time.sleep(60 * scale)
' "$scale" "$1" &
    held_pid=$!
    for i in $(seq 1 600); do [ -s /tmp/fvs-held ] && break; sleep 0.1; done
    [ -s /tmp/fvs-held ] || fail "TCP client did not finish"
    # 30 UDP flows, one datagram each.
    udp_flows 30001
}

udp_flows() { # udp_flows FIRST-SOURCE-PORT: one datagram from each of 30 ports, one process
    ip netns exec fvs-cl python3 -c '
import socket, sys
for p in range(int(sys.argv[1]), int(sys.argv[1]) + 30):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("10.0.1.2", p))
    s.sendto(b"q\n", ("10.0.1.1", 53))
    s.close()
' "$1"
}

expect_counts() { # expect_counts WHAT OUTPUT
    local want="10.0.2.1:80 10
10.0.2.2:80 20
10.0.2.3:80 30
10.0.2.1:53 10
10.0.2.2:53 10
10.0.2.3:53 10"
    assert_eq "$(sort <<<"$want")" "$(sort <<<"$2")" "$1: connections per real server"
}

# Reference: ip_vs, with real servers that accept and hold TCP connections.
for i in 1 2 3; do
    ip netns exec fvs-rs$i socat TCP-LISTEN:80,fork,reuseaddr,backlog=64 SYSTEM:"sleep $((60 * scale))" &
    wait_listen fvs-rs$i 80
done
ip netns exec fvs-dir modprobe ip_vs
for m in ip_vs_rr ip_vs_wrr; do modprobe $m; done
configure ip netns exec fvs-dir ipvsadm
traffic 22001
expect_counts "ip_vs" "$(per_dest ipvsadm -Ln)"
kill $held_pid 2>/dev/null; wait $held_pid 2>/dev/null
ip netns exec fvs-dir ipvsadm -C
ipvs_unload

# fvs.
fvs_load
configure ip netns exec fvs-dir "$IPVSADM_RS"
traffic 20001
got=$(per_dest "$IPVSADM_RS" -Ln)
expect_counts "fvs" "$got"
conn=$(ip netns exec fvs-dir cat /proc/net/fvs_conn)
[ "$(grep -c '^TCP ' <<<"$conn")" = 60 ] || fail "expected 60 TCP entries in fvs_conn: $conn"
[ "$(grep -c '^UDP ' <<<"$conn")" = 30 ] || fail "expected 30 UDP entries"
grep -q '^TCP 0A000102 4E21 0A000101 0050 0A00020[123] 0050 ESTABLISHED ' <<<"$conn" || fail "TCP entry format/state: $(sed -n 2p <<<"$conn")"
ip netns exec fvs-dir "$IPVSADM_RS" -Lnc | grep -q 'ESTABLISHED' || fail "-Lnc shows no ESTABLISHED"
# Statistics: 60 connections on the TCP service, each with at least SYN and ACK in and the
# SYN-ACK out; 30 connections of one datagram each on the UDP one.
stats=$(ip netns exec fvs-dir "$IPVSADM_RS" -Ln --stats --exact)
awk '$1=="TCP" && $2=="10.0.1.1:80" {exit !($3==60 && $4>=120 && $5>=60)}' <<<"$stats" || fail "TCP service stats: $stats"
kill $held_pid 2>/dev/null; wait $held_pid 2>/dev/null
awk '$1=="UDP" && $2=="10.0.1.1:53" {exit !($3==30 && $4==30)}' <<<"$stats" || fail "UDP service stats: $stats"
# Expiry: as in ip_vs an entry keeps the timeout of its last packet, so after --set only new
# flows get the short UDP timeout: those (source ports 31001-31030 = 0x79xx) are gone once it
# has passed (the sweeper runs every second), the first 30 (0x75xx, 300 s) stay.
ip netns exec fvs-dir "$IPVSADM_RS" --set 0 0 2
udp_flows 31001
[ "$(ip netns exec fvs-dir grep -c '^UDP 0A000102 79' /proc/net/fvs_conn)" -gt 0 ] || fail "new UDP flows not tracked"
sleep 4.5
n=$(ip netns exec fvs-dir grep -c '^UDP 0A000102 79' /proc/net/fvs_conn)
[ "$n" = 0 ] || fail "$n new UDP entries left 4.5 s after a 2 s timeout"
[ "$(ip netns exec fvs-dir grep -c '^UDP 0A000102 75' /proc/net/fvs_conn)" = 30 ] || fail "old UDP entries expired early"
got=$(per_dest "$IPVSADM_RS" -Ln | grep ':53 ')
assert_eq "10.0.2.1:53 10
10.0.2.2:53 10
10.0.2.3:53 10" "$(sort <<<"$got")" "dest counters after expiry of the new flows"
# rmmod with live entries (the 30 long-lived UDP ones) frees them; the runner checks dmesg.
kill $(jobs -p) 2>/dev/null; wait 2>/dev/null
fvs_unload
echo "scheduling and connection tracking match ip_vs's distribution"
