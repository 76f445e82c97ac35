#!/usr/bin/env bash
# backends: ipvs fvs
# Weight 0 drains a real server (FVS_BACKEND=ipvs|fvs): a long-lived TCP stream (a line every
# 0.3 s, echoed back) keeps flowing, in order, after `-e ... -w 0` on the server it runs to, while
# no new connection reaches that server; the others share the new ones (rr). Restoring the
# weight brings the server back.
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh
dp_backend_up
topo_nat 3
dp_tcp_servers 3
dp_service -t 80 rr -m 1 1 1

rm -f /tmp/dp-stream.out
dp_bg fvs-cl sh -c "i=0; while [ \$i -lt 400 ]; do i=\$((i + 1)); echo tick\$i; sleep 0.3; done |
    socat -T 60 - TCP4:$VIP:80 > /tmp/dp-stream.out"
echoed() { cat /tmp/dp-stream.out 2>/dev/null | grep -c '^tick'; }
# Echoed lines must be tick1..tickN, nothing lost or reordered.
check_ticks() {
    local got n
    got=$(grep '^tick' /tmp/dp-stream.out)
    n=$(grep -c . <<<"$got")
    assert_eq "$(seq 1 "$n" | sed 's/^/tick/')" "$got" "stream echo"
}
for i in $(seq 1 100); do [ "$(echoed)" -ge 2 ] && break; sleep 0.1; done
[ "$(echoed)" -ge 2 ] || fail "stream not flowing: $(cat /tmp/dp-stream.out)"
s=$(head -n1 /tmp/dp-stream.out | awk '{print $1}')
[[ $s =~ ^rs[123]$ ]] || fail "stream answer: $(head -n1 /tmp/dp-stream.out)"
n=${s#rs}
info "stream runs to $s"

adm_ok -e -t "$VIP:80" -r "10.0.2.$n:80" -m -w 0
adm -Ln | grep -qE "^  -> 10\.0\.2\.$n:80 +Masq +0 +1 +0 *$" ||
    fail "drained server should show weight 0, 1 active connection: $(adm -Ln)"
before=$(echoed)

out=$(dp_client tcp "$VIP" 80 12)
dp_check_lines nat 12 <<<"$out"
counts=$(dp_count_names 3 <<<"$out")
info "12 new connections: $counts"
grep -q "rs$n=0" <<<"$counts" || fail "new connections reached the drained $s: $counts"
assert_eq 2 "$(grep -o '=6' <<<"$counts" | wc -l)" "the other two share the new connections"

# The stream keeps flowing: more lines echoed since the weight change, and later still.
sleep 1.5
mid=$(echoed)
sleep 1.5
after=$(echoed)
info "echoed ticks: $before at the weight change, $mid, $after"
[ "$mid" -gt "$before" ] && [ "$after" -gt "$mid" ] || fail "stream stalled after weight 0 ($before, $mid, $after)"
check_ticks
grep -qE "^TCP [0-9:]+ +ESTABLISHED +10\.0\.1\.2:[0-9]+ +$VIP:80 +10\.0\.2\.$n:80" <<<"$(dp_conns)" ||
    fail "stream's entry: $(dp_conns)"

# Weight back to 1: the server takes new connections again.
adm_ok -e -t "$VIP:80" -r "10.0.2.$n:80" -m -w 1
out=$(dp_client tcp "$VIP" 80 3)
assert_eq "rs1=1 rs2=1 rs3=1" "$(dp_count_names 3 <<<"$out")" "after restoring the weight"
check_ticks
dp_kill_all
echo "weight 0 drained $s: the stream kept flowing, no new connection reached it"
