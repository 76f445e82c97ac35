#!/usr/bin/env bash
# backends: ipvs fvs
# pmtu_disc (FVS_BACKEND=ipvs|fvs) through an IPIP service whose real server sits behind a
# 1400-byte MTU: a 1400-byte UDP datagram with DF gets a frag-needed (pmtu_disc 1, default:
# dropped, no answer); with pmtu_disc 0 the director tunnels it anyway, fragmenting the outer
# packet (no DF), and the real server answers.
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh
dp_backend_up
topo_tun 1
ip -n fvs-dir link set rs1 mtu 1400
ip -n fvs-dir link set br0 mtu 1400
ip -n fvs-rs1 link set eth0 mtu 1400
dp_udp_servers 1 53
dp_service -u 53 rr -i 1
SYSCTL_DIR=/proc/sys/net/ipv4/vs
[ "$FVS_BACKEND" = fvs ] && SYSCTL_DIR=/proc/sys/net/fvs
assert_eq 1 "$(ip netns exec fvs-dir cat "$SYSCTL_DIR/pmtu_disc")" "pmtu_disc default"
big() { # big PORT: a 1400-byte datagram with DF from 10.0.1.2:PORT; the outcome
    ip netns exec fvs-cl python3 - "$VIP" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
# IP_MTU_DISCOVER = IP_PMTUDISC_PROBE: DF set, the route's learned PMTU ignored (so that the
# second run is not refused by the client's own stack).
s.setsockopt(socket.IPPROTO_IP, 10, 3)
s.bind(("10.0.1.2", int(sys.argv[2])))
# Not connected: the real server (socat) answers from its own address, not the VIP.
s.settimeout(3)
out = "no answer"
for attempt in range(2):
    try:
        s.sendto(b"big\n" + b"." * 1396, (sys.argv[1], 53))
        out = s.recv(200).decode().split()[0]
        break
    except OSError as e:
        out = "error " + (e.strerror or type(e).__name__)
print(out)
PY
}
out=$(big 40001)
info "pmtu_disc 1: $out"
[ "$out" != rs1 ] || fail "a too-big DF datagram went through with pmtu_disc 1: $out"
ip netns exec fvs-dir sh -c "echo 0 > $SYSCTL_DIR/pmtu_disc" || fail "set pmtu_disc 0"
out=$(big 40002)
info "pmtu_disc 0: $out"
assert_eq rs1 "$out" "with pmtu_disc 0 the datagram is tunnelled in fragments and answered"
echo "pmtu_disc works"
