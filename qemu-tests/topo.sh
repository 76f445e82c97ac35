# Network-namespace topologies for the VM tests (sourced). Addresses are the tests' own, inside
# namespaces created here; nothing leaves the VM.
# shellcheck shell=bash

# client fvs-cl (10.0.1.2, fd00:1::2) — director fvs-dir (10.0.1.1 | 10.0.2.254) — bridge — rs1..rsN
# Real servers fvs-rsI: 10.0.2.I / fd00:2::I, default route via the director.
topo_router() {
    local n=${1:-3} i
    modprobe veth; modprobe bridge
    # One `ip -batch` per namespace rather than one process per command: under TCG every exec
    # costs a tenth of a second, and every data-plane test builds this topology.
    {
        echo "netns add fvs-cl"; echo "netns add fvs-dir"
        echo "link add cl0 netns fvs-cl type veth peer name dir0 netns fvs-dir"
        for i in $(seq 1 "$n"); do
            echo "netns add fvs-rs$i"
            echo "link add eth0 netns fvs-rs$i type veth peer name rs$i netns fvs-dir"
        done
    } | ip -batch - || fail "topology: namespaces and links"
    ip -n fvs-cl -batch - <<-EOT || fail "topology: client"
	addr add 10.0.1.2/24 dev cl0
	addr add fd00:1::2/64 dev cl0 nodad
	link set cl0 up
	link set lo up
	route add default via 10.0.1.1
	route add default via fd00:1::1
	EOT
    {
        echo "addr add 10.0.1.1/24 dev dir0"; echo "addr add fd00:1::1/64 dev dir0 nodad"
        echo "link set dir0 up"; echo "link set lo up"
        echo "link add br0 type bridge"; echo "link set br0 up"
        echo "addr add 10.0.2.254/24 dev br0"; echo "addr add fd00:2::fe/64 dev br0 nodad"
        for i in $(seq 1 "$n"); do echo "link set rs$i master br0 up"; done
    } | ip -n fvs-dir -batch - || fail "topology: director"
    ip netns exec fvs-dir sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
    for i in $(seq 1 "$n"); do
        ip -n "fvs-rs$i" -batch - <<-EOT || fail "topology: real server $i"
	addr add 10.0.2.$i/24 dev eth0
	addr add fd00:2::$i/64 dev eth0 nodad
	link set eth0 up
	link set lo up
	route add default via 10.0.2.254
	route add default via fd00:2::fe
	EOT
    done
}

# Data-plane topologies (qemu-tests/dataplane.sh). The virtual address is TOPO_VIP (10.0.1.100),
# local on the director's dir0 so that the client reaches it through the director.
TOPO_VIP=${TOPO_VIP:-10.0.1.100}

# topo_nat N: topo_router N plus the VIP on the director. Real servers answer from their own
# addresses and route back through the director, which translates the replies.
topo_nat() {
    topo_router "${1:-3}"
    ip -n fvs-dir addr add "$TOPO_VIP/32" dev dir0
}

# The real servers of DR and TUN answer from the VIP, routed back through the director (their
# default gateway), which must forward packets whose source is one of its own addresses:
# accept_local on br0, without reverse-path filtering.
_topo_dir_accept_vip_replies() {
    ip netns exec fvs-dir sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.br0.rp_filter=0 \
        net.ipv4.conf.br0.accept_local=1
}

# topo_dr N: direct routing. Each real server holds the VIP on lo and neither answers nor
# announces it by ARP on eth0 (arp_ignore=1, arp_announce=2).
topo_dr() {
    local n=${1:-3} i
    topo_nat "$n"
    _topo_dir_accept_vip_replies
    for i in $(seq 1 "$n"); do
        ip netns exec "fvs-rs$i" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
        ip -n "fvs-rs$i" addr add "$TOPO_VIP/32" dev lo
    done
}

# topo_tun N: IPIP tunnelling. Each real server decapsulates on its fallback ipip device tunl0
# (any outer source), holds the VIP on lo, and accepts the inner packets although their source
# (the client) is not routed via tunl0 (rp_filter=0).
topo_tun() {
    local n=${1:-3} i
    modprobe ipip
    topo_nat "$n"
    _topo_dir_accept_vip_replies
    for i in $(seq 1 "$n"); do
        ip -n "fvs-rs$i" link set tunl0 up
        ip netns exec "fvs-rs$i" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 \
            net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.tunl0.rp_filter=0 net.ipv4.conf.eth0.rp_filter=0
        ip -n "fvs-rs$i" addr add "$TOPO_VIP/32" dev lo
    done
}

# IPv6 data-plane topologies (tests 49, 51): topo_router's IPv6 addresses (client fd00:1::2,
# director fd00:1::1 on dir0 and fd00:2::fe on br0, real servers fd00:2::I with their default
# route via fd00:2::fe; all nodad) plus the virtual address TOPO_VIP6 (fd00:1::100), local on
# the director's dir0 so that the client reaches it (neighbour discovery) through the director.
TOPO_VIP6=${TOPO_VIP6:-fd00:1::100}

# topo_nat6 N: topo_router N plus the IPv6 VIP on the director.
topo_nat6() {
    topo_router "${1:-3}"
    ip -n fvs-dir addr add "$TOPO_VIP6/128" dev dir0 nodad
}

# topo_rs_vip6 N: the IPv6 VIP on lo of fvs-rs1..N (DR, TUN). IPv6 needs no counterpart of
# arp_ignore/arp_announce: Linux answers a neighbour solicitation only for an address of the
# interface it arrived on (ndisc_recv_ns looks the target up strictly on that device) and
# announces only that interface's addresses, so the VIP on lo stays unknown on eth0. Nor does
# the director need accept_local/rp_filter for the real servers' answers from the VIP: IPv6
# forwarding neither filters by reverse path nor drops a packet whose source is one of its own
# addresses.
topo_rs_vip6() {
    local i
    for i in $(seq 1 "${1:-3}"); do ip -n "fvs-rs$i" addr add "$TOPO_VIP6/128" dev lo nodad; done
}

# topo_dr6 N: direct routing over IPv6: topo_nat6 plus the VIP on the real servers' lo.
topo_dr6() {
    topo_nat6 "${1:-3}"
    topo_rs_vip6 "${1:-3}"
}

# topo_tun6 N: topo_dr6 plus IPv6-in-IPv6 decapsulation on the real servers. ip_vs tunnels an
# IPv6 service's packets in an outer IPv6 header (next header 41, ip6ip6) from the director's
# br0 address to the real server's; each real server decapsulates them on its fallback ip6tnl0
# (module ip6_tunnel; local and remote "any": it takes ip6ip6 from any outer source to any of its
# own addresses) and delivers the inner packet to the VIP on lo.
topo_tun6() {
    local n=${1:-3} i
    modprobe ip6_tunnel || fail "modprobe ip6_tunnel"
    topo_dr6 "$n"
    for i in $(seq 1 "$n"); do ip -n "fvs-rs$i" link set ip6tnl0 up; done
}
