#!/usr/bin/env bash
# backends: ipvs fvs
# ICMP errors from the client about a reply of a connection go to its real server
# (ip_vs_in_icmp, at LOCAL_IN: the error is addressed to the VIP). NAT: the outer destination becomes
# the real server and the quoted packet's source becomes the real server's address and port, so
# that the real server sees an error about a packet it sent itself. The outer source (the
# client) is left alone.
#   1. UDP: after a request/answer through VIP:53, the client reports "port unreachable" about
#      the answer (VIP:53 -> client:cport); the real server receives
#      "icmp 3/3 client>10.0.2.1 inner=udp 10.0.2.1:53>client:cport".
#   2. TCP: on a held connection the client reports "frag-needed, MTU 1200" about the server's
#      next packet (VIP:80 -> client:cport, quoting the server's current sequence number); the
#      real server receives "icmp 3/4 mtu=1200 client>10.0.2.1 inner=tcp 10.0.2.1:80>client:cport"
#      and its TCP lowers the path MTU: its route cache holds PMTU 1200 for the client.
#   3. DR (VIP:8080, -g): the same with MTU 1100 goes to the real server unchanged
#      (ip_vs_icmp_xmit: the connection's packet_xmit), "icmp 3/4 mtu=1100 client>VIP
#      inner=tcp VIP:8080>client:cport", and the real server's PMTU for the client drops to 1100.
# (The topology is topo_dr's: NAT works in it as well.)
# Without this handling the errors end at the director (addressed to its VIP) and the real
# server hears nothing.
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh
dp_backend_up
topo_dr 1
icmp_rs=/tmp/dp-icmp-rs.out
dp_icmp_bg fvs-rs1 "$icmp_rs" listen 300
received() { grep -v ready "$icmp_rs" | tr '\n' ';'; }

# 1. UDP: port unreachable about the answer.
dp_udp_servers 1
dp_service -u 53 rr -m 1
out=$(dp_client udp1 "$VIP" 53 1)
assert_eq "rs1 10.0.1.2 req0" "$out" "UDP answer through VIP:53"
cport=$(dp_conns | awk '$1 == "UDP" {sub(/.*:/, "", $4); print $4; exit}')
[ -n "$cport" ] || fail "no UDP connection entry: $(dp_conns)"
dp_icmp fvs-cl send "$VIP" 3 3 0 udp "$VIP" 53 10.0.1.2 "$cport" || fail "sending port unreachable"
want="icmp 3/3 mtu=0 10.0.1.2>10.0.2.1 inner=udp 10.0.2.1:53>10.0.1.2:$cport"
dp_wait_line "$icmp_rs" "^${want//./\\.}$" ||
    fail "real server got no port unreachable about 10.0.2.1:53 -> client:$cport; ICMP received: $(received)"
info "port unreachable relayed: $want"

# 2. TCP: frag-needed about the server's next packet.
dp_tcp_servers 1
dp_service -t 80 rr -m 1
seqf=/tmp/dp-seq-cl.out
dp_icmp_bg fvs-cl "$seqf" tcpseq "$VIP" 80 0 300
dp_hold a
[ "$(dp_hold_server a)" = rs1 ] || fail "held connection answered by $(dp_hold_server a)"
line=$(dp_tcpseq_last "$seqf" 2) || exit 1
read -r _ cport seq <<<"$line"
[[ $cport =~ ^[0-9]+$ && $seq =~ ^[0-9]+$ ]] || fail "client saw no segment from VIP:80: $(cat "$seqf")"
assert_eq none "$(dp_pmtu fvs-rs1 10.0.1.2)" "real server's PMTU for the client before the error"
dp_icmp fvs-cl send "$VIP" 3 4 1200 tcp "$VIP" 80 10.0.1.2 "$cport" "$seq" || fail "sending frag-needed"
want="icmp 3/4 mtu=1200 10.0.1.2>10.0.2.1 inner=tcp 10.0.2.1:80>10.0.1.2:$cport"
dp_wait_line "$icmp_rs" "^${want//./\\.}$" ||
    fail "real server got no frag-needed about 10.0.2.1:80 -> client:$cport; ICMP received: $(received)"
sleep 0.5
assert_eq 1200 "$(dp_pmtu fvs-rs1 10.0.1.2)" "real server's PMTU for the client after the relayed frag-needed"
info "frag-needed relayed: $want; real server's PMTU for 10.0.1.2: 1200"
dp_release a

# 3. DR: the error goes through unchanged.
dp_tcp_servers 1 8080
dp_service -t 8080 rr -g 1
seqf=/tmp/dp-seq-cl2.out
dp_icmp_bg fvs-cl "$seqf" tcpseq "$VIP" 8080 0 300
dp_hold b 8080
[ "$(dp_hold_server b)" = rs1 ] || fail "held DR connection answered by $(dp_hold_server b)"
line=$(dp_tcpseq_last "$seqf" 2) || exit 1
read -r _ cport seq <<<"$line"
dp_icmp fvs-cl send "$VIP" 3 4 1100 tcp "$VIP" 8080 10.0.1.2 "$cport" "$seq" || fail "sending frag-needed"
want="icmp 3/4 mtu=1100 10.0.1.2>$VIP inner=tcp $VIP:8080>10.0.1.2:$cport"
dp_wait_line "$icmp_rs" "^${want//./\\.}$" ||
    fail "DR real server got no frag-needed about VIP:8080 -> client:$cport; ICMP received: $(received)"
sleep 0.5
assert_eq 1100 "$(dp_pmtu fvs-rs1 10.0.1.2)" "DR real server's PMTU for the client after the forwarded frag-needed"
info "frag-needed forwarded (DR): $want; real server's PMTU for 10.0.1.2: 1100"
dp_release b
echo "ICMP errors from the client reach the real server: translated for NAT, unchanged for DR"
