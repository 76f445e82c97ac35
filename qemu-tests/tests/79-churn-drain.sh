#!/usr/bin/env bash
# backends: ipvs fvs
# Real-server churn (#10), draining: two long TCP streams (a line every 0.25 s for 10 s,
# echoed back) run to rs1 when it is drained for 20 s; new connections meanwhile go to rs2 and
# rs3 only, the streams continue intact, and rs1 leaves the table once they have ended. Then a
# stream that outlasts its drain (4 s): rs1 leaves when the time is up and the stream is reset
# at once rather than left hanging.
#   fvs: `ipvsadm-rs -d ... --drain SECONDS`, shown as "draining Ns" by -Ln.
#   ip_vs (no draining): what operators script by hand: weight 0, then a loop that deletes the
#   server once -Ln shows no active and no inactive connection, or when the time is up.
# Reported: seconds from the streams' end to the server's removal (RESULT lines).
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh
dp_backend_up
topo_nat 3
dp_tcp_servers 3 80
dp_service -t 80 rr -m 1

# stream NAME TICKS: a line every 0.25 s, echoed by the server, into /tmp/drain-NAME.out.
stream() {
    rm -f "/tmp/drain-$1.out"
    dp_bg fvs-cl sh -c "i=0; while [ \$i -lt $2 ]; do i=\$((i + 1)); echo tick\$i; sleep 0.25; done |
        socat -T 60 - TCP4:$VIP:80 > /tmp/drain-$1.out; echo \"end \$?\" >> /tmp/drain-$1.out"
    eval "STREAM_PG_$1=${DP_PGIDS[-1]}"
}
echoed() { local n; n=$(grep -c '^tick' "/tmp/drain-$1.out" 2>/dev/null); echo "${n:-0}"; }
ended() { grep -q '^end ' "/tmp/drain-$1.out" 2>/dev/null; }
check_ticks() { # the echoed lines are tick1..tickN: nothing lost or reordered
    local got
    got=$(grep '^tick' "/tmp/drain-$1.out")
    assert_eq "$(seq 1 "$(grep -c . <<<"$got")" | sed 's/^/tick/')" "$got" "stream $1's echo"
}
present() { adm -Ln | grep -q "^  -> 10\.0\.2\.1:80 "; }
# watch_gone: in the background, the time rs1 leaves the table, into /tmp/drain-gone.
watch_gone() {
    rm -f /tmp/drain-gone
    ( while present; do sleep 0.1; done; date +%s.%N > /tmp/drain-gone ) &
}
gone_at() { # waits up to $1 s for rs1 to have left; prints the time it did
    local _
    for _ in $(seq 1 $(($1 * 10 * FVS_TIME_SCALE))); do [ -s /tmp/drain-gone ] && break; sleep 0.1; done
    [ -s /tmp/drain-gone ] || fail "rs1 still in the table: $(adm -Ln)"
    cat /tmp/drain-gone
}
secs() { python3 -c "import sys; print(round(float(sys.argv[2]) - float(sys.argv[1]), 1))" "$1" "$2"; }

# drain SECONDS: rs1 stops taking new connections and goes when its connections end or the time
# is up.
drain() {
    if [ "$FVS_BACKEND" = fvs ]; then
        adm_ok -d -t "$VIP:80" -r 10.0.2.1:80 --drain "$1"
        adm -Ln | grep -qE "^  -> 10\.0\.2\.1:80 +Masq +0 +[0-9]+ +[0-9]+ +draining [0-9]+s$" ||
            fail "rs1 not shown as draining: $(adm -Ln)"
    else
        adm_ok -e -t "$VIP:80" -r 10.0.2.1:80 -m -w 0
        dp_bg fvs-dir sh -c "end=\$((\$(date +%s) + $1)); while [ \$(date +%s) -lt \$end ]; do
            ipvsadm -Ln | awk '\$2 == \"10.0.2.1:80\" && \$5 + \$6 == 0 {f = 1} END {exit !f}' && break
            sleep 0.5; done; ipvsadm -d -t $VIP:80 -r 10.0.2.1:80"
    fi
}

# --- streams that end within the drain
stream a 40; stream b 40
for _ in $(seq 1 100); do [ "$(echoed a)" -ge 1 ] && [ "$(echoed b)" -ge 1 ] && break; sleep 0.1; done
for s in a b; do
    [ "$(awk 'NR == 1 {print $1}' "/tmp/drain-$s.out")" = rs1 ] || fail "stream $s not on rs1: $(head -n1 "/tmp/drain-$s.out")"
done
adm_ok -a -t "$VIP:80" -r 10.0.2.2:80 -m -w 1
adm_ok -a -t "$VIP:80" -r 10.0.2.3:80 -m -w 1
t_drain=$(date +%s.%N)
drain 20
watch_gone
before=$(( $(echoed a) + $(echoed b) ))
out=$(dp_client tcp "$VIP" 80 8)
dp_check_lines nat 8 <<<"$out"
counts=$(dp_count_names 3 <<<"$out")
info "8 new connections while rs1 drains: $counts"
grep -q "rs1=0" <<<"$counts" || fail "a new connection reached the draining rs1: $counts"
for _ in $(seq 1 $((200 * FVS_TIME_SCALE))); do ended a && ended b && break; sleep 0.1; done
ended a && ended b || fail "streams did not end"
t_end=$(date +%s.%N)
check_ticks a; check_ticks b
assert_eq "40 40" "$(echoed a) $(echoed b)" "ticks echoed by the streams ($before when the drain began)"
t_gone=$(gone_at 30)
# The clients' exit is seen a little after their connections close: a removal within the
# close handshake shows as a few tenths before the end.
gone_after=$(secs "$t_end" "$t_gone")
drained_for=$(secs "$t_drain" "$t_gone")
info "streams intact; rs1 removed ${gone_after} s after they ended (${drained_for} s after the drain began)"
echo "RESULT churn_drain backend=$FVS_BACKEND removed_after_streams_end_s=$gone_after drain_began_to_removal_s=$drained_for"
if [ "$FVS_BACKEND" = fvs ]; then
    # Checked once a second.
    python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) <= 3 * float(sys.argv[2]) else 1)" "$gone_after" "$FVS_TIME_SCALE" ||
        fail "rs1 went ${gone_after} s after its connections ended (more than 3 s)"
fi
out=$(dp_client tcp "$VIP" 80 4)
grep -q '^rs1 ' <<<"$out" && fail "a connection reached rs1 after its removal"

# --- a stream that outlasts its drain: removed when the time is up, the stream reset
adm_ok -a -t "$VIP:80" -r 10.0.2.1:80 -m -w 1
adm_ok -e -t "$VIP:80" -r 10.0.2.2:80 -m -w 0
adm_ok -e -t "$VIP:80" -r 10.0.2.3:80 -m -w 0
stream c 400
for _ in $(seq 1 100); do [ "$(echoed c)" -ge 1 ] && break; sleep 0.1; done
[ "$(awk 'NR == 1 {print $1}' /tmp/drain-c.out)" = rs1 ] || fail "stream c not on rs1: $(cat /tmp/drain-c.out)"
adm_ok -e -t "$VIP:80" -r 10.0.2.2:80 -m -w 1
t_drain=$(date +%s.%N)
drain 4
watch_gone
t_gone=$(gone_at 20)
for _ in $(seq 1 $((100 * FVS_TIME_SCALE))); do ended c && break; sleep 0.1; done
t_cend=$(date +%s.%N)
up=$(secs "$t_drain" "$t_gone")
if ended c; then
    reset=$(secs "$t_gone" "$t_cend")
else
    reset=never
fi
info "4-s drain: rs1 removed after ${up} s; the stream ($(echoed c) ticks) ended ${reset} s later: $(tail -n1 /tmp/drain-c.out)"
echo "RESULT churn_drain_deadline backend=$FVS_BACKEND removed_after_s=$up stream_ended_after_removal_s=$reset"
check_ticks c
if [ "$FVS_BACKEND" = fvs ]; then
    python3 -c "import sys; sys.exit(0 if 3.5 <= float(sys.argv[1]) <= 4 + 3 * float(sys.argv[2]) else 1)" "$up" "$FVS_TIME_SCALE" ||
        fail "rs1 removed ${up} s into a 4-s drain"
    [ "$reset" != never ] || fail "the stream to the removed rs1 is still hanging"
fi
echo "draining works"
