#!/usr/bin/env bash
# backends: ipvs fvs
# Tunnel errors for GUE and GRE real servers (FVS_BACKEND=ipvs|fvs; ip_vs_in_icmp's UDP/GRE
# "tunnel" case, ipvs_udp_decap / ipvs_gre_decap): rs1 is reached by --tun-type gue (UDP
# 6080), rs2 by --tun-type gre. For a held connection on each, a router beyond the director
# (played by the real server) reports MTU 1300 for the director's encapsulated packet. The
# director lowers its PMTU for that real server to 1300 and relays a frag-needed to the
# client, from the VIP, about the client's own packet, quoting the MTU less the outer IP and
# tunnel headers (GUE 20+8+4, GRE 20+4) of the route it holds: ip_vs reads its per-destination
# cached route (still 1500), fvs the route as updated (1300), so 1468|1268 and 1476|1276.
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh
modprobe fou 2>/dev/null; modprobe ip_gre 2>/dev/null
dp_backend_up
topo_tun 2
ip netns exec fvs-rs1 ip fou add port 6080 gue || fail "fou on rs1"
ip -n fvs-rs2 link set gre0 up || fail "gre0 on rs2"
ip netns exec fvs-rs2 sysctl -qw net.ipv4.conf.gre0.rp_filter=0
dp_tcp_servers 2
adm_ok -A -t "$VIP:80" -s rr
adm_ok -a -t "$VIP:80" -r 10.0.2.1:80 -i --tun-type gue --tun-port 6080
adm_ok -a -t "$VIP:80" -r 10.0.2.2:80 -i --tun-type gre
icmp_cl=/tmp/dp-icmp-cl.out
dp_icmp_bg fvs-cl "$icmp_cl" listen 300
received() { grep -v ready "$icmp_cl" | tr '\n' ';'; }
for i in 1 2; do dp_icmp_bg "fvs-rs$i" "/tmp/dp-seq-rs$i.out" tcpseq 10.0.1.2 0 80 300; done
re_vip=${VIP//./\\.}
dp_hold a
dp_hold b
for h in a b; do
    rs=$(dp_hold_server "$h")
    i=${rs#rs}
    [[ $i == [12] ]] || fail "held connection $h answered by '$rs'"
    line=$(dp_tcpseq_last "/tmp/dp-seq-rs$i.out" 2) || exit 1
    read -r cport _ seq <<<"$line"
    [[ $cport =~ ^[0-9]+$ && $seq =~ ^[0-9]+$ ]] || fail "rs$i saw no segment from the client"
    if [ "$i" = 1 ]; then encap=(gue 10.0.2.254 10.0.2.1 6080); re_mtu='1[24]68'
    else encap=(gre 10.0.2.254 10.0.2.2); re_mtu='1[24]76'; fi
    assert_eq none "$(dp_pmtu fvs-dir "10.0.2.$i")" "director's PMTU for rs$i before the error"
    dp_icmp "fvs-rs$i" send 10.0.2.254 3 4 1300 "${encap[@]}" tcp 10.0.1.2 "$cport" "$VIP" 80 "$seq" ||
        fail "sending frag-needed about the ${encap[0]} packet"
    dp_wait_line "$icmp_cl" "^icmp 3/4 mtu=$re_mtu $re_vip>10\.0\.1\.2 inner=tcp 10\.0\.1\.2:$cport>$re_vip:80$" ||
        fail "client got no frag-needed from the VIP about client:$cport (${encap[0]}); ICMP received: $(received)"
    info "${encap[0]}: $(grep "10\.0\.1\.2:$cport>" "$icmp_cl")"
    assert_eq 1300 "$(dp_pmtu fvs-dir "10.0.2.$i")" "director's PMTU for rs$i after the ${encap[0]} tunnel's frag-needed"
done
dp_release a
dp_release b
echo "GUE and GRE tunnel errors: PMTU learnt and relayed to the client"
