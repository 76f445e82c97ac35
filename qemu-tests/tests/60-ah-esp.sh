#!/usr/bin/env bash
# backends: ipvs fvs
# AH/ESP follow IKE (FVS_BACKEND=ipvs|fvs): with a NAT service on UDP VIP:500 (two real
# servers), a client's IKE datagram from port 500 is scheduled as usual; its ESP and AH
# packets to the VIP then reach the same real server (destination rewritten), and that
# server's ESP/AH back to the client leave the director from the VIP. ESP from a client
# without an IKE entry is not balanced (the director keeps it).
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh
dp_backend_up
topo_nat 2
ip -n fvs-cl addr add 10.0.1.3/24 dev cl0
dp_udp_servers 2 500
dp_service -u 500 rr -m 1 1

# listen NS OUT: records "proto src>dst len" of every ESP/AH packet NS receives.
LISTEN_PY='
import socket, select, sys, time
socks = [socket.socket(socket.AF_INET, socket.SOCK_RAW, p) for p in (50, 51)]
print("ready", flush=True)
end = time.time() + float(sys.argv[1])
while time.time() < end:
    r, _, _ = select.select(socks, [], [], 0.2)
    for s in r:
        pkt = s.recv(2000)
        ihl = (pkt[0] & 15) * 4
        print("%s %s>%s %d" % ({50: "esp", 51: "ah"}[pkt[9]], socket.inet_ntoa(pkt[12:16]),
              socket.inet_ntoa(pkt[16:20]), len(pkt) - ihl), flush=True)
'
listen() { dp_bg "$1" python3 -c "$LISTEN_PY" 60 >"$2"; }
send() { # send NS SRC DST PROTO LEN
    ip netns exec "$1" python3 - "$2" "$3" "$4" "$5" <<'PY'
import socket, sys
src, dst, proto, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, proto)
s.bind((src, 0))
s.sendto(bytes([0, 0, 0x10, 0x01]) + bytes(range(n - 4)), (dst, 0))
PY
}
for i in 1 2; do listen "fvs-rs$i" "/tmp/esp-rs$i.out"; done
listen fvs-cl /tmp/esp-cl.out
sleep 1

# IKE from 10.0.1.2:500.
ike=$(ip netns exec fvs-cl python3 - "$VIP" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.0.1.2", 500))
s.settimeout(5)
s.sendto(b"ike\n", (sys.argv[1], 500))
print(s.recv(100).decode().split()[0])
PY
)
[[ $ike == rs[12] ]] || fail "IKE exchange: $ike"
other=rs1; [ "$ike" = rs1 ] && other=rs2
info "IKE of 10.0.1.2 went to $ike"
send fvs-cl 10.0.1.2 "$VIP" 50 64
send fvs-cl 10.0.1.2 "$VIP" 51 48
send fvs-cl 10.0.1.3 "$VIP" 50 40
sleep 1
got=$(grep -v ready "/tmp/esp-$ike.out")
info "$ike received: $(tr '\n' ';' <<<"$got")"
assert_eq "esp 10.0.1.2>10.0.2.${ike#rs} 64
ah 10.0.1.2>10.0.2.${ike#rs} 48" "$got" "ESP and AH of the IKE client at its real server"
assert_eq "" "$(grep -v ready "/tmp/esp-$other.out")" "nothing at the other real server"

# The real server's ESP back to the client: from the VIP.
send "fvs-$ike" "10.0.2.${ike#rs}" 10.0.1.2 50 80
sleep 1
got=$(grep -v ready /tmp/esp-cl.out)
info "client received: $(tr '\n' ';' <<<"$got")"
assert_eq "esp $VIP>10.0.1.2 80" "$got" "ESP reply from the VIP"
echo "AH/ESP follow the client's IKE entry"
