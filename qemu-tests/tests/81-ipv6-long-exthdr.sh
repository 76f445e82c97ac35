#!/usr/bin/env bash
# backends: ipvs fvs
# Long IPv6 extension-header chains (#7, headers beyond the first parse window): a client that
# sends every packet with a 304-byte destination-options header (IPV6_DSTOPTS, two skippable
# options)
# reaches an IPv6 NAT service over TCP (the server's line, then a 1 kB echo) and UDP, as with
# the kernel's ip_vs, which walks the whole chain; -Lnc lists both connections.
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh
dp_backend_up
topo_nat6 1
dp6_tcp_servers 1 80
dp6_udp_servers 1 53
dp6_service -t 80 rr -m 1
dp6_service -u 53 rr -m 1
out=$(ip netns exec fvs-cl python3 - "$VIP6" <<'PY'
import socket, sys
vip = sys.argv[1]
# Destination options: next header (the kernel's), length in 8-byte units beyond the first,
# then two options of the experimental type 0x1e (RFC 4727; its top bits say "skip if not
# understood") filling 302 bytes: 304 bytes in all. (Linux refuses PadN beyond 7 bytes.)
opts = bytes([0, 304 // 8 - 1]) + bytes([0x1e, 253]) + bytes(253) + bytes([0x1e, 45]) + bytes(45)
assert len(opts) == 304
t = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
t.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_DSTOPTS, opts)
t.settimeout(10)
t.connect((vip, 80))
f = t.makefile("rb")
first = f.readline().decode().split()[0]
data = bytes(range(256)) * 4
t.sendall(data)
got = b""
while len(got) < len(data):
    got += f.read(len(data) - len(got))
print("tcp", first, "echo-ok" if got == data else "echo-bad")
u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_DSTOPTS, opts)
u.settimeout(10)
u.sendto(b"q1\n", (vip, 53))
print("udp", u.recv(200).decode().split()[0])
t.close()
PY
) || fail "client with long extension headers: $out"
info "$(tr '\n' ';' <<<"$out")"
assert_eq "tcp rs1 echo-ok"$'\n'"udp rs1" "$out" "answers through the VIP"
conns=$(dp_conns)
grep -qE "^TCP .*\[fd00:1::2\]:[0-9]+ +\[$VIP6\]:80 +\[fd00:2::1\]:80" <<<"$conns" || fail "no TCP entry: $conns"
grep -qE "^UDP .*\[fd00:1::2\]:[0-9]+ +\[$VIP6\]:53 +\[fd00:2::1\]:53" <<<"$conns" || fail "no UDP entry: $conns"
echo "long extension-header chains are balanced"
