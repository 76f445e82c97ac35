#!/usr/bin/env bash
# backends: ipvs fvs
# Connection thresholds and one-packet scheduling, UDP through NAT (FVS_BACKEND=ipvs|fvs):
#  * rr over rs1 (upper threshold 2, lower 1) and rs2, listed newest first (rs2, rs1); six
#    datagrams from six ports: rs2 rs1 rs2 rs1 and then rs1, with two connections, is
#    overloaded and skipped: rs2 rs2. Once the entries expired (1 s UDP timeout) rs1 is back.
#  * -o (one-packet scheduling) over three servers: six datagrams from ONE client port go
#    rs3 rs2 rs1 rs3 rs2 rs1 (each scheduled on its own) and leave no connection entry; the
#    answers come back untranslated (no entry to match them), from the real servers' addresses.
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh
dp_backend_up
topo_nat 3
dp_udp_servers 3 53
dp_udp_servers 3 54
adm_ok --set 0 0 1
adm_ok -A -u "$VIP:53" -s rr
adm_ok -a -u "$VIP:53" -r 10.0.2.1:53 -m -x 2 -y 1
adm_ok -a -u "$VIP:53" -r 10.0.2.2:53 -m
names() { awk '{print $1}' | xargs; }
out=$(dp_client udp "$VIP" 53 6)
assert_eq "rs2 rs1 rs2 rs1 rs2 rs2" "$(names <<<"$out")" "rr with rs1 overloaded at 2 connections"
info "thresholds: $(names <<<"$out"); $(adm -Ln -u "$VIP:53" | grep 10.0.2.1 | xargs)"
for i in $(seq 1 20); do
    [ -z "$(dp_conns | grep " $VIP:53 ")" ] && break
    sleep 0.5
done
out=$(dp_client udp "$VIP" 53 1)
assert_eq "rs1" "$(names <<<"$out")" "rs1 takes connections again once its entries expired"

adm_ok -A -u "$VIP:54" -s rr -o
for i in 1 2 3; do adm_ok -a -u "$VIP:54" -r "10.0.2.$i:54" -m; done
out=$(ip netns exec fvs-cl python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5); s.bind(("10.0.1.2", 40000))
for i in range(6):
    s.sendto(b"q%d\n" % i, (sys.argv[1], 54))
    try:
        d, a = s.recvfrom(200)
        print(d.decode().split()[0], a[0], flush=True)
    except OSError as e:
        print("no-answer", e, flush=True)
' "$VIP")
info "one-packet: $(tr '\n' ';' <<<"$out")"
assert_eq "rs3 rs2 rs1 rs3 rs2 rs1" "$(names <<<"$out")" "-o: one client port, each datagram scheduled"
[ "$(awk '{print $2}' <<<"$out" | sort -u | xargs)" = "10.0.2.1 10.0.2.2 10.0.2.3" ] ||
    fail "-o answers: expected them from the real servers' own addresses: $out"
dp_conns | grep -q " $VIP:54 " && fail "-o left connection entries: $(dp_conns)"
echo "thresholds and one-packet scheduling behave as in ip_vs"
