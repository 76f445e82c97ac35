#!/usr/bin/env bash
# backends: ipvs fvs
# Tunnel types and families (FVS_BACKEND=ipvs|fvs): --tun-type gue (UDP port 6080, without
# and with --tun-csum, and with --tun-remcsum: the client's CHECKSUM_PARTIAL segments leave
# their checksum to the real server) and --tun-type gre (--tun-csum), and IPv4 services over IPv6 tunnels
# (4in6), IPv6 services over IPv4 tunnels (6in4). Every real server drops plain IPIP and
# ip6ip6 at its input, so only the encapsulation it was configured for can reach it; it
# decapsulates (fou + tunl0, a GRE device expecting checksums, ip6tnl0 in "any" mode, sit0) and
# answers the client directly through its gateway, the director. Connections rr over the real
# servers, echoed intact, the real server seeing the client's own address and reached at the
# VIP; 200 kB streams cross GUE tunnels with checksums and remote checksum offload.
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh
modprobe fou 2>/dev/null; modprobe ip_gre 2>/dev/null; modprobe ip6_tunnel 2>/dev/null
dp_backend_up
topo_tun 4
for i in 1 2 3 4; do
    ns=fvs-rs$i
    ip netns exec "$ns" nft -f - <<'NFT' || fail "nft in $ns"
table inet only_encap {
    chain in {
        type filter hook prerouting priority -300;
        ip protocol ipip drop
        ip6 nexthdr ipv6 drop
    }
}
NFT
done
# rs1, rs3: GUE on UDP 6080 (inner IPIP to tunl0); rs2: GRE with checksums (grec: gre0
# would drop them, its checksum flag differing).
ip netns exec fvs-rs1 ip fou add port 6080 gue || fail "fou on rs1"
ip netns exec fvs-rs3 ip fou add port 6080 gue || fail "fou on rs3"
ip netns exec fvs-rs4 ip fou add port 6080 gue || fail "fou on rs4"
ip -n fvs-rs2 link add grec type gre local 10.0.2.2 icsum || fail "GRE device on rs2"
ip -n fvs-rs2 link set grec up
ip netns exec fvs-rs2 sysctl -qw net.ipv4.conf.grec.rp_filter=0
dp_tcp_servers 4

adm_ok -A -t "$VIP:80" -s rr
adm_ok -a -t "$VIP:80" -r 10.0.2.1:80 -i --tun-type gue --tun-port 6080
adm_ok -a -t "$VIP:80" -r 10.0.2.2:80 -i --tun-type gre --tun-csum
adm_ok -a -t "$VIP:80" -r 10.0.2.3:80 -i --tun-type gue --tun-port 6080 --tun-csum
adm_ok -a -t "$VIP:80" -r 10.0.2.4:80 -i --tun-type gue --tun-port 6080 --tun-remcsum
info "$(adm -Ln --tun-info 2>/dev/null || adm -Ln)"
out=$(dp_client tcp "$VIP" 80 8)
info "$(tr '\n' ';' <<<"$out")"
dp_check_lines tun 8 <<<"$out"
assert_eq "rs1=2 rs2=2 rs3=2 rs4=2" "$(dp_count_names 4 <<<"$out")" "rr over GUE, GRE, GUE+csum, GUE+remcsum"
# 200 kB through the GUE tunnel with remote checksum offload (rs4 is next in rr order).
out=$(dp_client tcp "$VIP" 80 1 200000)
info "200 kB: $out"
dp_check_lines tun 1 <<<"$out"
out=$(dp_client tcp "$VIP" 80 1 200000)
info "200 kB: $out"
dp_check_lines tun 1 <<<"$out"

# IPv4 service VIP:82 over IPv6 tunnels (4in6, ip6tnl0 in any mode).
for i in 1 2 3 4; do
    ip -n "fvs-rs$i" link set ip6tnl0 up
    ip -n "fvs-rs$i" -6 tunnel change ip6tnl0 mode any || fail "ip6tnl0 mode any on rs$i"
    ip netns exec "fvs-rs$i" sysctl -qw net.ipv4.conf.ip6tnl0.rp_filter=0 2>/dev/null
done
dp_tcp_servers 3 82
adm_ok -A -t "$VIP:82" -s rr
for i in 1 2 3; do adm_ok -a -t "$VIP:82" -r "[fd00:2::$i]:82" -i; done
out=$(dp_client tcp "$VIP" 82 3)
info "4in6: $(tr '\n' ';' <<<"$out")"
dp_check_lines tun 3 <<<"$out"
assert_eq "rs1=1 rs2=1 rs3=1" "$(dp_count_names 3 <<<"$out")" "rr over 4in6 tunnels"

# IPv6 service [VIP6]:83 over IPv4 tunnels (6in4: IPv4 protocol 41, decapsulated by sit0).
modprobe sit || fail "modprobe sit"
VIP6=$TOPO_VIP6
ip -n fvs-dir addr add "$VIP6/128" dev dir0 nodad
topo_rs_vip6 3
for i in 1 2 3; do ip -n "fvs-rs$i" link set sit0 up || fail "sit0 on rs$i"; done
dp6_tcp_servers 3 83
adm_ok -A -t "[$VIP6]:83" -s rr
for i in 1 2 3; do adm_ok -a -t "[$VIP6]:83" -r "10.0.2.$i:83" -i; done
out=$(dp6_client tcp "$VIP6" 83 3)
info "6in4: $(tr '\n' ';' <<<"$out")"
dp6_check_lines tun 3 <<<"$out"
assert_eq "rs1=1 rs2=1 rs3=1" "$(dp_count_names 3 <<<"$out")" "rr over 6in4 tunnels"
echo "GUE, GRE, 4in6 and 6in4 tunnels work"
