#!/usr/bin/env bash
# backends: ipvs fvs
# Bad input from the wire (#7): a packet to a virtual service whose transport header is cut
# short -- a TCP SYN of 16 bytes (flags present, no window/checksum/urgent pointer), a UDP
# datagram of 4 bytes (ports only), an SCTP packet of 8 bytes -- starts no connection and is
# not forwarded (ip_vs's tcp/udp/sctp_conn_schedule need the whole header); the same packets
# complete do start one. No kernel report.
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh
modprobe sctp 2>/dev/null
dp_backend_up
topo_nat 1
dp_service -t 80 rr -m 1
dp_service -u 53 rr -m 1
adm_ok -A --sctp-service "$VIP:80" -s rr
adm_ok -a --sctp-service "$VIP:80" -r 10.0.2.1:80 -m

# raw PROTO SPORT LEN: one packet from the client to VIP:80 (UDP: 53) whose transport header
# is LEN bytes of a well-formed one (TCP: a SYN).
raw() {
    ip netns exec fvs-cl python3 - "$VIP" "$1" "$2" "$3" <<'PY'
import socket, struct, sys
vip, kind, sport, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
if kind == "tcp":
    hdr = struct.pack("!HHIIBBHHH", sport, 80, 1000, 0, 5 << 4, 0x02, 65535, 0, 0)
    proto = socket.IPPROTO_TCP
elif kind == "udp":
    hdr = struct.pack("!HHHH", sport, 53, 8, 0)
    proto = socket.IPPROTO_UDP
else:
    init = struct.pack("!BBHIIHHI", 1, 0, 20, 1234, 65535, 1, 1, 1)
    hdr = struct.pack("!HHII", sport, 80, 0, 0) + init
    proto = socket.IPPROTO_SCTP
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, proto)
s.sendto(hdr[:n], (vip, 0))
PY
}
has_entry() { dp_conns | grep -qE "^$1 .* 10\.0\.1\.2:$2 "; }
raw tcp 40001 16; raw udp 40002 4; raw sctp 40003 8
sleep 0.5
for e in "TCP 40001" "UDP 40002" "SCTP 40003"; do
    has_entry $e && fail "a truncated ${e% *} header started a connection: $(dp_conns)"
done
stats=$(adm -Ln --stats | awk '$1 == "->" && $2 ~ /^[0-9]/ {s += $3} END {print s + 0}')
info "connections counted at the real servers after the truncated packets: $stats"
assert_eq 0 "$stats" "connections counted for truncated packets"
# The same, complete (SCTP: a whole common header and INIT chunk; TCP checksum left 0, which
# the director does not check before scheduling).
raw tcp 40011 20; raw udp 40012 8; raw sctp 40013 32
sleep 0.5
for e in "TCP 40011" "UDP 40012" "SCTP 40013"; do
    has_entry $e || fail "a complete ${e% *} header started no connection: $(dp_conns)"
done
echo "truncated transport headers start nothing"
