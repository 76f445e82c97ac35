#!/usr/bin/env bash
# backends: ipvs fvs
# Path MTU through an IPIP (TUN) service. The director-real server link has MTU 1400, so a
# tunnelled packet (20 more bytes) may carry at most 1380: a bigger one with DF set is dropped
# and answered with a frag-needed, MTU 1380, from the VIP (ensure_mtu_is_adequate, with
# IP_VS_RT_MODE_TUNNEL), and the client's PMTU discovery takes over.
#   1. UDP, DF: a 1400-byte datagram gets that frag-needed ("icmp 3/4 mtu=1380 VIP>client
#      inner=udp client:cport>VIP:53"); the connected socket reports EMSGSIZE, its IP_MTU is
#      then 1380, and a 1380-byte datagram goes through and is answered.
#   2. TCP: a 100 kB stream both ways completes (the client's 1400-byte segments, MSS 1360 from
#      the real server, bounce once); the client's route cache holds PMTU 1380 for the VIP.
#   3. A frag-needed about the tunnel itself: a router beyond the director (here played by
#      rs1) reports MTU 1300 for an IPIP packet director -> 10.0.2.1 carrying a held
#      connection's packet client:cport -> VIP:80 (ip_vs_in_icmp, "tunnel" case: the error is
#      addressed to the director, at LOCAL_IN). The director lowers its PMTU for 10.0.2.1 to
#      1300 and relays a frag-needed to the client, from the VIP, about its own packet. The MTU
#      it quotes is the cached route's MTU minus 20: ip_vs 7.2 reads its per-destination cached
#      route, which the PMTU update has just made obsolete, so it says 1380, not 1280; either is
#      accepted here. The next stream then gets frag-needed 1280 from the director, completes,
#      and leaves the client's PMTU for the VIP at 1280.
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh
dp_backend_up
topo_tun 1
ip -n fvs-dir link set rs1 mtu 1400
ip -n fvs-dir link set br0 mtu 1400
ip -n fvs-rs1 link set eth0 mtu 1400
icmp_cl=/tmp/dp-icmp-cl.out
dp_icmp_bg fvs-cl "$icmp_cl" listen 300
received() { grep -v ready "$icmp_cl" | tr '\n' ';'; }
# The UDP server answers from the VIP: bound to it (unbound, it would answer from 10.0.2.1).
# shellcheck disable=SC2016
dp_bg fvs-rs1 socat "UDP4-RECVFROM:53,bind=$VIP,fork,reuseaddr" 'SYSTEM:read l; echo rs1 $SOCAT_PEERADDR $l' \
    2>>/tmp/dp-servers.log
wait_listen fvs-rs1 53 udp
dp_tcp_servers 1
dp_service -u 53 rr -i 1
dp_service -t 80 rr -i 1
re_vip=${VIP//./\\.}

# 1. UDP with DF (IP_PMTUDISC_DO): 1400 bytes, then 1380.
out=$(ip netns exec fvs-cl python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, 10, 2)  # IP_MTU_DISCOVER: IP_PMTUDISC_DO
s.connect((sys.argv[1], 53))
s.settimeout(10)
for size in (1400, 1380):
    try:
        s.send(b"x" * (size - 29) + b"\n")
        a = s.recv(2000).decode()
        print(size, "answer", a.split()[0], a.split()[1], len(a.split()[2]), flush=True)
    except OSError as e:
        print(size, "error", e, flush=True)
    print(size, "ip_mtu", s.getsockopt(socket.IPPROTO_IP, 14), flush=True)  # IP_MTU
' "$VIP")
info "$(tr '\n' ';' <<<"$out")"
cport=$(dp_conns | awk '$1 == "UDP" {sub(/.*:/, "", $4); print $4; exit}')
dp_wait_line "$icmp_cl" "^icmp 3/4 mtu=1380 $re_vip>10\.0\.1\.2 inner=udp 10\.0\.1\.2:$cport>$re_vip:53$" ||
    fail "no frag-needed (MTU 1380) from the VIP about the 1400-byte datagram from port $cport; ICMP received: $(received)"
assert_eq "1400 error [Errno 90] Message too long
1400 ip_mtu 1380
1380 answer rs1 10.0.1.2 1351
1380 ip_mtu 1380" "$out" "DF datagrams of 1400 and 1380 bytes"

# 2. TCP: a stream through PMTU discovery, from an empty route cache.
ip -n fvs-cl route flush cache
assert_eq none "$(dp_pmtu fvs-cl "$VIP")" "client's PMTU for the VIP after the flush"
out=$(dp_client tcp "$VIP" 80 1 100000)
info "100 kB: $out"
dp_check_lines tun 1 <<<"$out"
grep -qE "^icmp 3/4 mtu=1380 $re_vip>10\.0\.1\.2 inner=tcp 10\.0\.1\.2:[0-9]+>$re_vip:80$" "$icmp_cl" ||
    fail "no frag-needed (MTU 1380) from the VIP about the TCP stream; ICMP received: $(received)"
assert_eq 1380 "$(dp_pmtu fvs-cl "$VIP")" "client's PMTU for the VIP after the stream"

# 3. frag-needed (MTU 1300) about an IPIP packet, from beyond the director.
seqf=/tmp/dp-seq-rs.out
dp_icmp_bg fvs-rs1 "$seqf" tcpseq 10.0.1.2 0 80 300
dp_hold a
[ "$(dp_hold_server a)" = rs1 ] || fail "held connection answered by $(dp_hold_server a)"
line=$(dp_tcpseq_last "$seqf" 2) || exit 1
read -r cport _ seq <<<"$line"
[[ $cport =~ ^[0-9]+$ && $seq =~ ^[0-9]+$ ]] || fail "real server saw no segment from the client: $(cat "$seqf")"
assert_eq none "$(dp_pmtu fvs-dir 10.0.2.1)" "director's PMTU for 10.0.2.1 before the error"
n0=$(grep -c '^icmp' "$icmp_cl")
dp_icmp fvs-rs1 send 10.0.2.254 3 4 1300 ipip 10.0.2.254 10.0.2.1 tcp 10.0.1.2 "$cport" "$VIP" 80 "$seq" ||
    fail "sending frag-needed"
dp_wait_line "$icmp_cl" "^icmp 3/4 mtu=1[23]80 $re_vip>10\.0\.1\.2 inner=tcp 10\.0\.1\.2:$cport>$re_vip:80$" ||
    fail "client got no frag-needed from the VIP about client:$cport -> VIP:80 after the tunnel's; ICMP received: $(received)"
info "relayed: $(grep '^icmp' "$icmp_cl" | tail -n +$((n0 + 1)) | tr '\n' ';')"
assert_eq 1300 "$(dp_pmtu fvs-dir 10.0.2.1)" "director's PMTU for 10.0.2.1 after the tunnel's frag-needed"
out=$(dp_client tcp "$VIP" 80 1 100000)
info "100 kB: $out"
dp_check_lines tun 1 <<<"$out"
grep -qE "^icmp 3/4 mtu=1280 $re_vip>10\.0\.1\.2 inner=tcp " "$icmp_cl" ||
    fail "no frag-needed (MTU 1280) from the VIP; ICMP received: $(received)"
assert_eq 1280 "$(dp_pmtu fvs-cl "$VIP")" "client's PMTU for the VIP after the second stream"
dp_release a
echo "TUN: frag-needed with the tunnel's overhead, PMTU discovery through it, tunnel errors relayed"
