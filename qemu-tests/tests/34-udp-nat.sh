#!/usr/bin/env bash
# backends: ipvs fvs
# UDP through NAT (FVS_BACKEND=ipvs|fvs): request/response datagrams from the client to VIP:53
# reach the real servers in rr order (one new connection entry per client port), each answer
# comes back from the VIP carrying the request and the client's own address as the server saw
# it; datagrams from one client port stick to one real server; -Lnc shows UDP entries with the
# default 5-minute UDP timeout.
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh
dp_backend_up
topo_nat 3
dp_udp_servers 3
dp_service -u 53 rr -m 1 1 1

# Six requests, each from its own socket: rs3 rs2 rs1 rs3 rs2 rs1 (rr, newest real server first).
out=$(dp_client udp "$VIP" 53 6)
info "$(tr '\n' ';' <<<"$out")"
want=""
for i in 0 1 2 3 4 5; do want+="rs$((3 - i % 3)) 10.0.1.2 req$i"$'\n'; done
assert_eq "${want%$'\n'}" "$out" "answers to six datagrams from six client ports"

# Five requests from one socket: one connection, one real server.
out=$(dp_client udp1 "$VIP" 53 5)
info "$(tr '\n' ';' <<<"$out")"
[ "$(awk '{print $1}' <<<"$out" | sort -u | wc -l)" = 1 ] || fail "one client port spread over servers: $out"
[ "$(grep -c ' 10\.0\.1\.2 req[0-4]$' <<<"$out")" = 5 ] || fail "answers from one port: $out"

conns=$(dp_conns)
info "$conns"
[ "$(grep -cE "^UDP (04:5[0-9]|05:00) +UDP +10\.0\.1\.2:[0-9]+ +$VIP:53 +10\.0\.2\.[123]:53 *$" <<<"$conns")" = 7 ] ||
    fail "expected 7 UDP entries with ~5 min to live: $conns"
echo "UDP through NAT works"
