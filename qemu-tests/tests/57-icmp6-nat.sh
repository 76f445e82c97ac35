#!/usr/bin/env bash
# backends: ipvs fvs
# ICMPv6 errors through an IPv6 NAT service (FVS_BACKEND=ipvs|fvs), both ways:
#   1. from the real server (ip_vs_out_icmp_v6, FORWARD): a real server without a listener on
#      the service's UDP port answers each datagram with "port unreachable"; the director gives
#      it the VIP as source and VIP:vport in the quoted packet, so the client's connected
#      socket gets ECONNREFUSED. Without the translation no client socket matches the error.
#   2. from the client (ip_vs_in_icmp_v6, LOCAL_IN): after an answer on [VIP6]:53 the client
#      reports "packet too big, MTU 1300" about that answer (VIP6:53 -> client:cport) to the
#      VIP; the director sends it to the real server with the quoted source rewritten to the
#      real server's address, so the server's UDP socket takes it and its route cache then
#      holds PMTU 1300 for the client. Without the relay the error ends at the director.
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh
dp_backend_up
topo_nat6 2

# 1. Port unreachable from a real server with nothing on port 5353.
dp6_service -u 5353 rr -m 1
out=$(ip netns exec fvs-cl python3 - "$VIP6" <<'PY'
import socket, sys
for i in range(2):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.settimeout(3)
    s.connect((sys.argv[1], 5353))
    s.send(b"req\n")
    try:
        s.recv(100)
        print("answer")
    except ConnectionRefusedError:
        print("refused")
    except OSError as e:
        print("no-answer", type(e).__name__)
PY
)
info "client: $(tr '\n' ';' <<<"$out")"
assert_eq "refused
refused" "$out" "ECONNREFUSED from the relayed port unreachable"

# 2. Packet too big from the client about the real server's answer.
dp6_udp_servers 1 53
dp6_service -u 53 rr -m 1
cport=$(ip netns exec fvs-cl python3 - "$VIP6" <<'PY'
import socket, struct, sys
vip = sys.argv[1]
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.settimeout(5)
s.connect((vip, 53))
s.send(b"req\n")
s.recv(200)
cport = s.getsockname()[1]
# The answer as the client received it: [VIP6]:53 -> [client]:cport, 1400 bytes of UDP.
inner = struct.pack("!IHBB16s16s", 6 << 28, 1400, 17, 64,
                    socket.inet_pton(socket.AF_INET6, vip),
                    socket.inet_pton(socket.AF_INET6, "fd00:1::2"))
inner += struct.pack("!HHHH", 53, cport, 1400, 0) + b"\0" * 64
r = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
r.sendto(struct.pack("!BBHI", 2, 0, 0, 1300) + inner, (vip, 0))
print(cport)
PY
)
[[ $cport =~ ^[0-9]+$ ]] || fail "client exchange: $cport"
pmtu=none
for _ in $(seq 1 30); do
    pmtu=$(ip -n fvs-rs1 -6 route get fd00:1::2 | grep -o 'mtu [0-9]*' | awk '{print $2}')
    [ -n "$pmtu" ] && break
    pmtu=none; sleep 0.2
done
info "real server's PMTU towards the client after the relayed packet-too-big: $pmtu"
assert_eq 1300 "$pmtu" "real server's path MTU for the client"
conns=$(dp_conns)
info "$conns"
echo "ICMPv6 errors are relayed through IPv6 NAT in both directions"
