#!/usr/bin/env bash
# backends: ipvs fvs
# snat_reroute (FVS_BACKEND=ipvs|fvs), IPv6 NAT: the director routes traffic from the VIP by
# policy (`ip -6 rule from VIP6 lookup 100`, where the client's network is unreachable). A
# NAT reply whose source has just become the VIP is routed again with snat_reroute 1 (the
# default): the policy applies, it is dropped and the client gets no answer. With
# snat_reroute 0 the reply keeps the route it had as the real server's packet and arrives.
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh
dp_backend_up
topo_nat6 1
dp6_udp_servers 1 53
dp6_service -u 53 rr -m 1
SYSCTL_DIR=/proc/sys/net/ipv4/vs
[ "$FVS_BACKEND" = fvs ] && SYSCTL_DIR=/proc/sys/net/fvs
assert_eq 1 "$(ip netns exec fvs-dir cat "$SYSCTL_DIR/snat_reroute")" "snat_reroute default"
ip -n fvs-dir -6 route add unreachable fd00:1::/64 table 100
ip -n fvs-dir -6 rule add from "$VIP6" lookup 100 pref 100
ask() { # ask PORT: one datagram from [fd00:1::2]:PORT to [VIP6]:53; the answer or "no answer"
    ip netns exec fvs-cl python3 - "$VIP6" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind(("fd00:1::2", int(sys.argv[2])))
s.settimeout(3)
s.sendto(b"q\n", (sys.argv[1], 53))
try:
    print(s.recv(200).decode().split()[0])
except OSError:
    print("no answer")
PY
}
out=$(ask 40001)
info "snat_reroute 1: $out"
assert_eq "no answer" "$out" "reply re-routed by the source policy (dropped)"
ip netns exec fvs-dir sh -c "echo 0 > $SYSCTL_DIR/snat_reroute" || fail "set snat_reroute 0"
out=$(ask 40002)
info "snat_reroute 0: $out"
assert_eq rs1 "$out" "reply keeps its route"
echo "snat_reroute works"
