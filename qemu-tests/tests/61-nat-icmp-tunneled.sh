#!/usr/bin/env bash
# backends: ipvs fvs
# Two more sysctls (FVS_BACKEND=ipvs|fvs; /proc/sys/net/ipv4/vs or /proc/sys/net/fvs), NAT:
#  * nat_icmp_send: a datagram from a NAT real server's service port (10.0.2.1:53) to a client
#    with no connection passes the director unchanged (0); with 1 the director answers the
#    real server with port unreachable and drops it;
#  * ignore_tunneled: a request to VIP:53 that reaches the director inside an IPIP packet is
#    balanced once decapsulated. With 1 the tunnel packet is marked (skb->ipvs_property), but
#    since Linux's decapsulation clears that mark (skb_scrub_packet -> ipvs_reset), the inner
#    request is balanced all the same: ip_vs 7.2 behaves so, and fvs must too.
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh
modprobe ipip
dp_backend_up
topo_nat 1
dp_udp_servers 1 53
dp_service -u 53 rr -m 1
SYSCTL_DIR=/proc/sys/net/ipv4/vs
[ "$FVS_BACKEND" = fvs ] && SYSCTL_DIR=/proc/sys/net/fvs
sysctl_set() { ip netns exec fvs-dir sh -c "echo $2 > $SYSCTL_DIR/$1" || fail "set $1 $2"; }
assert_eq "0 0" "$(ip netns exec fvs-dir cat "$SYSCTL_DIR/nat_icmp_send" "$SYSCTL_DIR/ignore_tunneled" | xargs)" "defaults"

# --- nat_icmp_send
stray() { # stray: rs1 sends UDP 10.0.2.1:53 -> 10.0.1.2:9999; prints what the client and rs1 got
    rm -f /tmp/stray-cl.ready /tmp/stray-rs.ready
    dp_bg fvs-cl python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("10.0.1.2", 9999)); s.settimeout(5)
open("/tmp/stray-cl.ready", "w").close()
try:
    d, a = s.recvfrom(100); print("client got %s from %s" % (d.decode().strip(), a[0]), flush=True)
except OSError:
    print("client got nothing", flush=True)
' >/tmp/stray-cl.out
    dp_bg fvs-rs1 python3 -c '
import socket, time
r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP); r.settimeout(5)
open("/tmp/stray-rs.ready", "w").close()
end = time.time() + 5
while time.time() < end:
    try:
        p = r.recv(2000)
    except OSError:
        break
    ihl = (p[0] & 15) * 4
    if p[ihl] == 3:
        print("rs1 got icmp %d/%d from %s" % (p[ihl], p[ihl + 1], socket.inet_ntoa(p[12:16])), flush=True)
        break
else:
    pass
' >/tmp/stray-rs.out
    for _ in $(seq 1 50); do [ -e /tmp/stray-cl.ready ] && [ -e /tmp/stray-rs.ready ] && break; sleep 0.1; done
    ip netns exec fvs-rs1 python3 -c '
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)
s.sendto(struct.pack("!HHHH", 53, 9999, 14, 0) + b"stray\n", ("10.0.1.2", 0))
'
    for _ in $(seq 1 60); do [ -s /tmp/stray-cl.out ] && [ -s /tmp/stray-rs.out ] && break; sleep 0.1; done
    sleep 0.5
    cat /tmp/stray-cl.out /tmp/stray-rs.out
}
out=$(stray)
info "nat_icmp_send 0: $(tr '\n' ';' <<<"$out")"
assert_eq "client got stray from 10.0.2.1" "$out" "stray datagram with nat_icmp_send 0"
sysctl_set nat_icmp_send 1
out=$(stray)
info "nat_icmp_send 1: $(tr '\n' ';' <<<"$out")"
assert_eq "client got nothing
rs1 got icmp 3/3 from 10.0.2.254" "$out" "stray datagram with nat_icmp_send 1"
sysctl_set nat_icmp_send 0

# --- ignore_tunneled: the director decapsulates IPIP (tunl0).
ip -n fvs-dir link set tunl0 up
ip netns exec fvs-dir sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.tunl0.rp_filter=0 net.ipv4.conf.dir0.rp_filter=0
tunneled() { # an IPIP packet 10.0.1.2 -> 10.0.1.1 carrying UDP 10.0.1.2:PORT -> VIP:53; the answer
    ip netns exec fvs-cl python3 - "$VIP" "$1" <<'PY'
import socket, struct, sys
vip, port = sys.argv[1], int(sys.argv[2])
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("10.0.1.2", port)); u.settimeout(3)
payload = b"tun\n"
udp = struct.pack("!HHHH", port, 53, 8 + len(payload), 0) + payload
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                 socket.inet_aton("10.0.1.2"), socket.inet_aton(vip))
ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
socket.socket(socket.AF_INET, socket.SOCK_RAW, 4).sendto(ip + udp, ("10.0.1.1", 0))
try:
    print(u.recv(100).decode().strip())
except OSError:
    print("no answer")
PY
}
out=$(tunneled 40001)
info "ignore_tunneled 0: $out"
assert_eq "rs1 10.0.1.2 tun" "$out" "a request inside IPIP is balanced"
sysctl_set ignore_tunneled 1
out=$(tunneled 40002)
info "ignore_tunneled 1: $out"
assert_eq "rs1 10.0.1.2 tun" "$out" "with ignore_tunneled the decapsulated request is still balanced"
echo "nat_icmp_send and ignore_tunneled work"
