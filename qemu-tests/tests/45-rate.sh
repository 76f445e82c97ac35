#!/usr/bin/env bash
# backends: ipvs fvs
# The rate estimator (`ipvsadm -Ln --rate`, FVS_BACKEND=ipvs|fvs): ip_vs samples the counters
# every 2 seconds and moves each rate a quarter of the way towards the last interval's rate.
# The client sends UDP datagrams through NAT, each from a new source port (a new connection),
# at a steady rate for 24 s, every one answered. Measured against what the client really sent
# in that time (R per second): CPS and InPPS and OutPPS are each within [0.5 R, 1.15 R] 22 s
# into the traffic (ip_vs's estimator kthread starts a few seconds late; after 8 samples the
# estimate has covered 90% of the way from zero; the VM may not keep a steady pace),
# InBPS/OutBPS match the packet rates times the datagram sizes
# within the same bounds, the real servers' rates add up to the service's (within rounding), and
# 16 s after the traffic stops every rate has fallen below a third of its peak.
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh
dp_backend_up
topo_nat 3
dp_udp_servers 3
dp_service -u 53 rr -m 1 1 1

# Of an `-Ln --rate --exact` listing on stdin: rate_line, "CPS InPPS OutPPS InBPS OutBPS" of the
# service; dest_sum, the real servers' CPS, InPPS and OutPPS added up.
rate_line() { awk -v v="$VIP:53" '$1 == "UDP" && $2 == v {print $3, $4, $5, $6, $7}'; }
dest_sum() { awk '/^  -> 10\.0\.2\./ {c+=$3; ip+=$4; op+=$5} END {print c+0, ip+0, op+0}'; }

ip netns exec fvs-cl python3 - "$VIP" > /tmp/rate-client.out <<'PY' &
import socket, sys, time
vip = sys.argv[1]
start = time.time(); sent = 0; answered = 0
while time.time() - start < 24:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.5)
    s.sendto(b"q" * 32, (vip, 53))
    sent += 1
    try:
        s.recv(100); answered += 1
    except OSError:
        pass
    s.close()
    time.sleep(max(0, start + sent * 0.02 - time.time()))
print(sent, answered, time.time() - start)
PY
client=$!
sleep 22
# Service and real servers from one listing: two reads could straddle an estimator tick (seen
# on the debug kernel, where a listing is slow).
listing=$(adm -Ln --rate --exact)
peak=$(rate_line <<<"$listing")
dsum=$(dest_sum <<<"$listing")
wait $client
read -r sent answered secs < /tmp/rate-client.out
info "client: $sent datagrams in $secs s, $answered answered; rates at 22 s: $peak; real servers: $dsum"
[ "$answered" -ge $((sent * 95 / 100)) ] || fail "only $answered of $sent datagrams answered"
R=$(awk -v n="$sent" -v s="$secs" 'BEGIN {printf "%d", n / s}')
read -r cps inpps outpps inbps outbps <<<"$peak"
within() { # within NAME VALUE EXPECTED
    awk -v v="$2" -v e="$3" 'BEGIN {exit !(v >= 0.5 * e && v <= 1.15 * e)}' || fail "$1 $2 not within [0.5, 1.15] x $3"
}
within CPS "$cps" "$R"
within InPPS "$inpps" "$R"
within OutPPS "$outpps" "$R"
# Each request is 32 bytes of payload + 28 of headers; each answer is the server's line.
within InBPS "$inbps" $((R * 60))
[ "$outbps" -gt 0 ] || fail "OutBPS is 0"
read -r dc dip dop <<<"$dsum"
for pair in "CPS $cps $dc" "InPPS $inpps $dip" "OutPPS $outpps $dop"; do
    read -r n s d <<<"$pair"
    [ $((s > d ? s - d : d - s)) -le 3 ] || fail "real servers' $n add up to $d, service says $s"
done
sleep 16
read -r cps2 inpps2 outpps2 _ _ <<<"$(adm -Ln --rate --exact | rate_line)"
info "16 s after the traffic: $cps2 $inpps2 $outpps2"
[ $((cps2 * 3)) -lt "$cps" ] && [ $((inpps2 * 3)) -lt "$inpps" ] || fail "rates did not decay: $cps2 $inpps2 (peak $cps $inpps)"
echo "rates follow the traffic: R=$R/s, CPS $cps InPPS $inpps OutPPS $outpps"
