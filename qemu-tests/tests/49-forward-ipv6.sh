#!/usr/bin/env bash
# backends: ipvs fvs
# IPv6 services, NAT and DR, end to end (FVS_BACKEND=ipvs|fvs, see qemu-tests/dataplane.sh):
# client fd00:1::2, VIP fd00:1::100 on the director, real servers fd00:2::1..3 (topo_nat6).
#  - TCP through NAT (dp6_forward_test): six connections rr (rs3 rs2 rs1 rs3 rs2 rs1), each
#    echoed byte for byte by a real server that saw the client's own address and was reached at
#    its own; 200 kB each way in one connection; -Lnc lists [fd00:1::2]:CPORT -> [VIP]:80 ->
#    [fd00:2::I]:80 in TIME_WAIT for all seven. Then port translation, [VIP]:8080 -> port 80.
#  - UDP through NAT: six datagrams from six client ports answered rs3 rs2 rs1 rs3 rs2 rs1 with
#    the client's own address; five from one port stick to one real server; -Lnc lists the seven
#    UDP entries with ~5 minutes to live.
#  - TCP through DR: the real servers get the VIP on lo (topo_rs_vip6), then the TCP checks
#    again on [VIP]:81, now reached at the VIP.
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh
dp_backend_up
topo_nat6 3
dp6_tcp_servers 3 80
dp6_udp_servers 3 53

dp6_forward_test nat 80
DP_RPORT=80 dp6_service -t 8080 rr -m 1 1 1
out=$(dp6_client tcp "$VIP6" 8080 3)
info "nat, [VIP]:8080 -> port 80: $(tr '\n' ';' <<<"$out")"
dp6_check_lines nat 3 <<<"$out"
assert_eq "rs3 rs2 rs1" "$(awk '{print $1}' <<<"$out" | xargs)" "rr over 3 connections to [VIP]:8080"

dp6_service -u 53 rr -m 1 1 1
out=$(dp6_client udp "$VIP6" 53 6)
info "udp: $(tr '\n' ';' <<<"$out")"
want=""
for i in 0 1 2 3 4 5; do want+="rs$((3 - i % 3)) fd00:1::2 req$i"$'\n'; done
assert_eq "${want%$'\n'}" "$out" "answers to six datagrams from six client ports"
out=$(dp6_client udp1 "$VIP6" 53 5)
info "udp, one port: $(tr '\n' ';' <<<"$out")"
[ "$(awk '{print $1}' <<<"$out" | sort -u | wc -l)" = 1 ] || fail "one client port spread over servers: $out"
[ "$(grep -c ' fd00:1::2 req[0-4]$' <<<"$out")" = 5 ] || fail "answers from one port: $out"
conns=$(dp_conns | grep '^UDP')
info "$conns"
[ "$(grep -cE "^UDP (04:[3-5][0-9]|05:00) +UDP +\[fd00:1::2\]:[0-9]+ +\[$VIP6\]:53 +\[fd00:2::[123]\]:53 *$" <<<"$conns")" = 7 ] ||
    fail "expected 7 UDP entries with ~5 min to live: $conns"

topo_rs_vip6 3
dp6_tcp_servers 3 81
dp6_forward_test dr 81
echo "IPv6 NAT (TCP, UDP) and DR forwarding work end to end"
