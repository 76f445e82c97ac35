#!/usr/bin/env bash
# backends: ipvs fvs
# ICMP errors from a real server reach the client translated back through NAT (ip_vs_out_icmp,
# at FORWARD): the error's outer source becomes the VIP and the quoted packet's destination
# becomes VIP:vport, so the client's socket, which only knows VIP:vport, takes it.
#   1. UDP: a NAT service whose real server has no listener. The real server answers each
#      datagram with an ICMP port unreachable; the client sees it as
#      "icmp 3/3 VIP>client inner=udp client:cport>VIP:53", and its connected UDP socket gets
#      ECONNREFUSED.
#   2. TCP: a frag-needed (MTU 1200) from the real server about the client's packet of a held
#      NAT connection (client:cport -> 10.0.2.1:80, quoting the client's current sequence number)
#      reaches the client as "icmp 3/4 mtu=1200 VIP>client inner=tcp client:cport>VIP:80", and
#      the client's route cache then holds PMTU 1200 for the VIP.
# Without the translation the client gets the errors with the real server's address outside and
# inside: no socket matches them (no ECONNREFUSED, no PMTU for the VIP).
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh
dp_backend_up
topo_nat 1
icmp_cl=/tmp/dp-icmp-cl.out
dp_icmp_bg fvs-cl "$icmp_cl" listen 300

# 1. UDP to a real server with nothing listening on the port.
dp_service -u 53 rr -m 1
out=$(dp_client udp1 "$VIP" 53 2)
info "client: $(tr '\n' ';' <<<"$out")"
cport=$(dp_conns | awk '$1 == "UDP" {sub(/.*:/, "", $4); print $4; exit}')
[ -n "$cport" ] || fail "no UDP connection entry: $(dp_conns)"
want="icmp 3/3 mtu=0 $VIP>10.0.1.2 inner=udp 10.0.1.2:$cport>$VIP:53"
dp_wait_line "$icmp_cl" "^${want//./\\.}$" ||
    fail "client got no port unreachable from the VIP about client:$cport -> VIP:53; ICMP received: $(cat "$icmp_cl" | grep -v ready | tr '\n' ';')"
assert_eq "no-answer [Errno 111] Connection refused
no-answer [Errno 111] Connection refused" "$out" "the connected UDP socket gets ECONNREFUSED"
info "port unreachable relayed: $want"

# 2. TCP: frag-needed from the real server about the client's packet.
dp_tcp_servers 1
dp_service -t 80 rr -m 1
seqf=/tmp/dp-seq-rs.out
dp_icmp_bg fvs-rs1 "$seqf" tcpseq 10.0.1.2 0 80 300
dp_hold a
[ "$(dp_hold_server a)" = rs1 ] || fail "held connection answered by $(dp_hold_server a)"
line=$(dp_tcpseq_last "$seqf" 2) || exit 1
read -r cport _ seq <<<"$line"
[[ $cport =~ ^[0-9]+$ && $seq =~ ^[0-9]+$ ]] || fail "real server saw no segment from the client: $(cat "$seqf")"
assert_eq none "$(dp_pmtu fvs-cl "$VIP")" "client's PMTU for the VIP before the error"
dp_icmp fvs-rs1 send 10.0.1.2 3 4 1200 tcp 10.0.1.2 "$cport" 10.0.2.1 80 "$seq" || fail "sending frag-needed"
want="icmp 3/4 mtu=1200 $VIP>10.0.1.2 inner=tcp 10.0.1.2:$cport>$VIP:80"
dp_wait_line "$icmp_cl" "^${want//./\\.}$" ||
    fail "client got no frag-needed from the VIP about client:$cport -> VIP:80; ICMP received: $(cat "$icmp_cl" | grep -v ready | tr '\n' ';')"
sleep 0.5
assert_eq 1200 "$(dp_pmtu fvs-cl "$VIP")" "client's PMTU for the VIP after the relayed frag-needed"
info "frag-needed relayed: $want; client PMTU for $VIP: 1200"
dp_release a
echo "ICMP errors from the real server reach the client translated to the VIP"
