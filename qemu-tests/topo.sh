# Network-namespace topologies for the VM tests (sourced). Addresses are the tests' own, inside
# namespaces created here; nothing leaves the VM.
# shellcheck shell=bash

# client fvs-cl (10.0.1.2, fd00:1::2) — director fvs-dir (10.0.1.1 | 10.0.2.254) — bridge — rs1..rsN
# Real servers fvs-rsI: 10.0.2.I / fd00:2::I, default route via the director.
topo_router() {
    local n=${1:-3} i
    modprobe veth; modprobe bridge
    ip netns add fvs-cl; ip netns add fvs-dir
    ip link add cl0 netns fvs-cl type veth peer name dir0 netns fvs-dir
    ip -n fvs-cl addr add 10.0.1.2/24 dev cl0; ip -n fvs-cl addr add fd00:1::2/64 dev cl0 nodad
    ip -n fvs-dir addr add 10.0.1.1/24 dev dir0; ip -n fvs-dir addr add fd00:1::1/64 dev dir0 nodad
    ip -n fvs-cl link set cl0 up; ip -n fvs-dir link set dir0 up
    ip -n fvs-cl link set lo up; ip -n fvs-dir link set lo up
    ip -n fvs-cl route add default via 10.0.1.1; ip -n fvs-cl -6 route add default via fd00:1::1
    ip -n fvs-dir link add br0 type bridge; ip -n fvs-dir link set br0 up
    ip -n fvs-dir addr add 10.0.2.254/24 dev br0; ip -n fvs-dir addr add fd00:2::fe/64 dev br0 nodad
    ip netns exec fvs-dir sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
    for i in $(seq 1 "$n"); do
        ip netns add "fvs-rs$i"
        ip link add eth0 netns "fvs-rs$i" type veth peer name "rs$i" netns fvs-dir
        ip -n fvs-dir link set "rs$i" master br0 up
        ip -n "fvs-rs$i" addr add "10.0.2.$i/24" dev eth0; ip -n "fvs-rs$i" addr add "fd00:2::$i/64" dev eth0 nodad
        ip -n "fvs-rs$i" link set eth0 up; ip -n "fvs-rs$i" link set lo up
        ip -n "fvs-rs$i" route add default via 10.0.2.254; ip -n "fvs-rs$i" -6 route add default via fd00:2::fe
    done
}
