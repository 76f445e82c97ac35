#!/usr/bin/env bash
# backends: ipvs fvs
# A packet that would start a connection to a virtual service without an available real server
# (none configured, or all of weight 0) is dropped and answered with an ICMP port unreachable
# from the VIP (ip_vs_leave), for TCP as for UDP: TCP has no socket to send a RST from, so the
# client's connect() fails with ECONNREFUSED through the ICMP error; a connected UDP socket
# gets ECONNREFUSED. The packet is not passed to the director's own stack, although the
# director listens on VIP:80 and VIP:53 itself (answering "director"), and no connection
# entry is made. Once a real server has weight again, new connections reach it.
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh
dp_backend_up
topo_nat 2
dp_tcp_servers 2
dp_udp_servers 2
# The director's own services on the VIP's ports: what a packet passed up the stack would reach.
# shellcheck disable=SC2016
dp_bg fvs-dir socat -t 10 "TCP4-LISTEN:80,fork,reuseaddr" 'SYSTEM:echo director $SOCAT_PEERADDR $SOCAT_SOCKADDR; exec cat' 2>>/tmp/dp-servers.log
# shellcheck disable=SC2016
dp_bg fvs-dir socat "UDP4-RECVFROM:53,fork,reuseaddr" 'SYSTEM:read l; echo director $SOCAT_PEERADDR $l' 2>>/tmp/dp-servers.log
wait_listen fvs-dir 80
wait_listen fvs-dir 53 udp
icmp_cl=/tmp/dp-icmp-cl.out
dp_icmp_bg fvs-cl "$icmp_cl" listen 300
received() { grep -v ready "$icmp_cl" | tr '\n' ';'; }

# check_refused WHAT: one TCP connection and one UDP datagram to the VIP are refused by ICMP
# port unreachables from the VIP quoting them, and leave no connection entry.
check_refused() {
    local what=$1 tcp udp n0 re
    n0=$(grep -c '^icmp' "$icmp_cl")
    tcp=$(dp_client tcp "$VIP" 80 1)
    udp=$(dp_client udp1 "$VIP" 53 1)
    info "$what: TCP: $tcp; UDP: $udp"
    re="${VIP//./\\.}"
    dp_wait_line "$icmp_cl" "^icmp 3/3 mtu=0 $re>10\.0\.1\.2 inner=udp 10\.0\.1\.2:[0-9]+>$re:53$" ||
        fail "$what: no port unreachable from the VIP about the UDP datagram; ICMP received: $(received)"
    assert_eq "error [Errno 111] Connection refused" "$tcp" "$what: TCP connect to VIP:80"
    assert_eq "no-answer [Errno 111] Connection refused" "$udp" "$what: UDP datagram to VIP:53"
    assert_eq "icmp 3/3 mtu=0 $VIP>10.0.1.2 inner=tcp
icmp 3/3 mtu=0 $VIP>10.0.1.2 inner=udp" \
        "$(grep '^icmp' "$icmp_cl" | tail -n +$((n0 + 1)) | sed 's/ 10\.0\.1\.2:.*//')" \
        "$what: ICMP errors received by the client (one per packet, about the SYN then the datagram)"
    assert_eq "" "$(dp_conns)" "$what: connection entries"
}

dp_service -t 80 rr -m
dp_service -u 53 rr -m
check_refused "no real server"

adm_ok -a -t "$VIP:80" -r 10.0.2.1:80 -m -w 0
adm_ok -a -t "$VIP:80" -r 10.0.2.2:80 -m -w 0
adm_ok -a -u "$VIP:53" -r 10.0.2.1:53 -m -w 0
adm_ok -a -u "$VIP:53" -r 10.0.2.2:53 -m -w 0
check_refused "real servers of weight 0"

adm_ok -e -t "$VIP:80" -r 10.0.2.2:80 -m -w 1
adm_ok -e -u "$VIP:53" -r 10.0.2.2:53 -m -w 1
out=$(dp_client tcp "$VIP" 80 2)
dp_check_lines nat 2 <<<"$out"
assert_eq "rs1=0 rs2=2" "$(dp_count_names 2 <<<"$out")" "TCP once rs2 has weight 1"
# Two datagrams from one socket (one connection): a slow first answer (TCG under load, 5 s
# client timeout) is then still read.
out=$(dp_client udp1 "$VIP" 53 2)
grep -qE '^rs2 10\.0\.1\.2 req[01]$' <<<"$out" && ! grep -q '^rs1' <<<"$out" ||
    fail "UDP once rs2 has weight 1: $(tr '\n' ';' <<<"$out")"
echo "no available real server: ICMP port unreachable from the VIP, for TCP and UDP"
