#!/usr/bin/env bash
# backends: ipvs fvs
# `ipvsadm -Ln --stats --exact` counts the traffic sent (FVS_BACKEND=ipvs|fvs). NAT, rr over
# three real servers, N=15 connections; each sends P=1000 bytes and gets back its server's line
# ("rsI 10.0.1.2 10.0.2.I\n", 22 bytes) plus the 1000 bytes echoed.
#
# What is asserted:
#  * Conns: exactly 15 on the service, 5 per real server.
#  * Exactly what the client's IP stack counted (its namespace carries nothing but this
#    traffic): InPkts/InBytes = the client's IP OutRequests/IpExt OutOctets deltas, and
#    OutPkts/OutBytes = its IP InReceives/IpExt InOctets deltas. Byte counts are IP datagram
#    lengths (IP header + TCP header + payload) on both sides.
#  * Against the payload alone, within what TCP/IP overhead allows: every counted packet carries
#    a 20-byte IP header and a 20..60-byte TCP header (options: timestamps on every segment,
#    MSS/SACK/wscale on SYNs), so InBytes - N*P lies in [40, 60] x InPkts, and likewise OutBytes
#    minus what the servers sent; each connection takes between 4 (SYN, ACK, data+FIN, last ACK)
#    and 10 packets per direction (a pure ACK per data segment, delayed-ACK variations, an
#    occasional retransmission).
#  * The real servers' lines add up to the service line.
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh
N=15 P=1000 LINE=22
dp_backend_up
topo_nat 3
dp_tcp_servers 3
dp_service -t 80 rr -m 1 1 1

# client_ip: "OutRequests OutOctets InReceives InOctets" of the client's namespace.
client_ip() {
    ip netns exec fvs-cl awk '
        $1 == "Ip:" && !ip { for (i = 2; i <= NF; i++) h[i] = $i; ip = 1; next }
        $1 == "Ip:" { for (i = 2; i <= NF; i++) v[h[i]] = $i }
        $1 == "IpExt:" && !ipx { for (i = 2; i <= NF; i++) hx[i] = $i; ipx = 1; next }
        $1 == "IpExt:" { for (i = 2; i <= NF; i++) v[hx[i]] = $i }
        END { print v["OutRequests"], v["OutOctets"], v["InReceives"], v["InOctets"] }' /proc/net/snmp /proc/net/netstat
}
read -r o0 ob0 i0 ib0 < <(client_ip)
out=$(dp_client tcp "$VIP" 80 $N $P)
dp_check_lines nat $N <<<"$out"
assert_eq "rs1=5 rs2=5 rs3=5" "$(dp_count_names 3 <<<"$out")" "rr over $N connections"
sleep 0.5
read -r o1 ob1 i1 ib1 < <(client_ip)
sent_pkts=$((o1 - o0)) sent_bytes=$((ob1 - ob0)) rcvd_pkts=$((i1 - i0)) rcvd_bytes=$((ib1 - ib0))
info "client IP: sent $sent_pkts packets / $sent_bytes bytes, received $rcvd_pkts / $rcvd_bytes"

stats=$(dp_stats)
info "$stats"
# shellcheck disable=SC2034
read -r _ _ conns inpkts outpkts inbytes outbytes < <(grep "^TCP  $VIP:80 " <<<"$stats")
info "ipvs: conns $conns, in $inpkts packets / $inbytes bytes, out $outpkts / $outbytes"

assert_eq $N "$conns" "Conns"
assert_eq "5 5 5" "$(awk '/^  -> 10\.0\.2\.[123]:80 / {printf "%s%s", s, $3; s=" "}' <<<"$stats")" "Conns per real server"
assert_eq "$(grep '^  -> ' <<<"$stats" | awk '{c+=$3; ip+=$4; op+=$5; ib+=$6; ob+=$7} END {print c, ip, op, ib, ob}')" \
    "$conns $inpkts $outpkts $inbytes $outbytes" "real servers' counters add up to the service's"

assert_eq "$sent_pkts $sent_bytes" "$inpkts $inbytes" "InPkts/InBytes = what the client sent"
assert_eq "$rcvd_pkts $rcvd_bytes" "$outpkts $outbytes" "OutPkts/OutBytes = what the client received"

in_payload=$((N * P)) out_payload=$((N * (P + LINE)))
for d in "In $inpkts $inbytes $in_payload" "Out $outpkts $outbytes $out_payload"; do
    read -r dir pk by pl <<<"$d"
    [ "$pk" -ge $((4 * N)) ] && [ "$pk" -le $((10 * N)) ] || fail "${dir}Pkts $pk not within [4, 10] x $N"
    hdr=$((by - pl))
    [ "$hdr" -ge $((40 * pk)) ] && [ "$hdr" -le $((60 * pk)) ] ||
        fail "${dir}Bytes $by: $hdr bytes beyond the $pl payload bytes for $pk packets, not 40..60 per packet"
    info "$dir: $pk packets, $by bytes = $pl payload + $((hdr / pk)).$((hdr * 10 / pk % 10)) header bytes per packet"
done
echo "stats match the traffic"
