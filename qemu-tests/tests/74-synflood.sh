#!/usr/bin/env bash
# backends: fvs
# A SYN flood from FVS_FLOOD_SYNS (default 1,000,000) spoofed sources, every SYN from its own
# address in 100.64.0.0/10, against a NAT VIP (FVS_BACKEND=fvs by default; FVS_BACKEND=ipvs
# gives ip_vs's figures for docs/reliability.md). The defences run in automatic mode
# (drop_entry=1, secure_tcp=1) with amemthresh set so that they engage once the flood has taken
# about FVS_FLOOD_HEADROOM_MB (default 32) of memory. Checked:
#  * the defences engage (the sysctls read 2 while memory is short) and random entry dropping
#    keeps the table below the number of SYNs;
#  * memory stays bounded: at the peak, connection-entry slab memory is at most 128 bytes per
#    live entry (fvs) and available memory never falls more than entries x object size + 64 MB;
#  * legitimate clients get through during the flood (at least 90% of their connections);
#  * the whole connection table can be read at its peak (/proc/net/fvs_conn streams);
#  * afterwards everything drains: the flood's entries are gone within the SYN_RECV timeout and
#    memory returns, and the module unloads cleanly (the runner checks the kernel log).
# Prints the figures (flood rate, peak entries, peak memory) as "FIGURE ..." lines.
set -uo pipefail
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh
command -v gcc >/dev/null || skip "gcc not installed (needed to build the SYN generator)"
SYNS=${FVS_FLOOD_SYNS:-1000000}
HEADROOM_MB=${FVS_FLOOD_HEADROOM_MB:-32}
work=$(mktemp -d /tmp/fvs-flood.XXXXXX)
gcc -O2 -o "$work/synflood" qemu-tests/flood/synflood.c || fail "building synflood"

dp_backend_up
case $FVS_BACKEND in
    fvs) sysdir=/proc/sys/net/fvs; slab=fvs_conn ;;
    ipvs) sysdir=/proc/sys/net/ipv4/vs; slab=ip_vs_conn ;;
esac
topo_nat 2
dp_tcp_servers 2 80
dp_service -t 80 rr -m 1 1
# The spoofed sources are routed back towards the client's side (where their SYN-ACKs die).
ip -n fvs-dir route add 100.64.0.0/10 via 10.0.1.2 || fail "route for the spoofed sources"
# The real servers ignore the spoofed SYNs (a flood is about the director's table; answering
# would only double the emulated guest's work). Legitimate clients are answered.
for i in 1 2; do
    ip netns exec "fvs-rs$i" nft -f - <<'NFT' || fail "nft on rs$i"
table inet flood {
    chain in {
        type filter hook input priority 0;
        ip saddr 100.64.0.0/10 drop
    }
}
NFT
done

slab_objs() { awk -v s="$slab" '$1 == s {print $2}' /proc/slabinfo; }
slab_size() { awk -v s="$slab" '$1 == s {print $4}' /proc/slabinfo; }
avail_kb() { awk '/^MemAvailable:/ {print $2}' /proc/meminfo; }
# Live entries: the real servers' active + inactive counters (slab counts include free objects
# cached per CPU).
entries() { adm -Ln | awk '$1 == "->" && $5 ~ /^[0-9]+$/ {n += $5 + $6} END {print n + 0}'; }
base_objs=$(slab_objs); base_objs=${base_objs:-0}
avail0=$(avail_kb)
ip netns exec fvs-dir sh -c "
    echo $(( (avail0 - HEADROOM_MB * 1024) / 4 )) > $sysdir/amemthresh
    echo 1 > $sysdir/drop_entry
    echo 1 > $sysdir/secure_tcp" || fail "setting the defence sysctls"
info "available memory $((avail0 / 1024)) MB; defences engage below $(( avail0 / 1024 - HEADROOM_MB )) MB"

# Two generators (one per CPU), each from its own address range.
half=$((SYNS / 2))
t0=$(date +%s.%N)
ip netns exec fvs-cl "$work/synflood" "$VIP" 80 "$half" 100.64.0.1 > "$work/gen1" 2>&1 &
g1=$!
ip netns exec fvs-cl "$work/synflood" "$VIP" 80 $((SYNS - half)) 100.96.0.1 > "$work/gen2" 2>&1 &
g2=$!
peak_objs=0; peak_entries=0; min_avail=$avail0; engaged_entry=0; engaged_tcp=0; legit_ok=0; legit_n=0; rounds=0
while kill -0 $g1 2>/dev/null || kill -0 $g2 2>/dev/null; do
    o=$(slab_objs); a=$(avail_kb); e=$(entries)
    [ "${o:-0}" -gt "$peak_objs" ] && peak_objs=$o
    [ "$e" -gt "$peak_entries" ] && peak_entries=$e
    [ "$a" -lt "$min_avail" ] && min_avail=$a
    [ "$(ip netns exec fvs-dir cat $sysdir/drop_entry)" = 2 ] && engaged_entry=1
    [ "$(ip netns exec fvs-dir cat $sysdir/secure_tcp)" = 2 ] && engaged_tcp=1
    # Legitimate clients, every other round.
    if [ $((rounds % 2)) = 0 ]; then
        r=$(dp_client tcp "$VIP" 80 4 2>&1)
        legit_n=$((legit_n + 4)); legit_ok=$((legit_ok + $(grep -c 'echo-ok' <<<"$r")))
    else
        sleep 1
    fi
    rounds=$((rounds + 1))
done
wait $g1 || fail "generator 1: $(cat "$work/gen1")"
wait $g2 || fail "generator 2: $(cat "$work/gen2")"
t1=$(date +%s.%N)
o=$(slab_objs); [ "${o:-0}" -gt "$peak_objs" ] && peak_objs=$o
e=$(entries); [ "$e" -gt "$peak_entries" ] && peak_entries=$e
# The whole table can be listed at its peak: the connection file streams (one hash bucket per
# read record), so a listing of hundreds of thousands of entries needs no huge buffer.
case $FVS_BACKEND in fvs) connfile=/proc/net/fvs_conn ;; ipvs) connfile=/proc/net/ip_vs_conn ;; esac
before=$(entries)
tl0=$(date +%s.%N)
lines=$(ip netns exec fvs-dir cat "$connfile" | wc -l)
tl1=$(date +%s.%N)
after=$(entries)
lo=$(( (before < after ? before : after) * 9 / 10 )); hi=$(( (before > after ? before : after) + 1 ))
[ "$lines" -ge "$lo" ] && [ "$lines" -le "$hi" ] || fail "$connfile listed $lines lines for $before..$after entries"
list_s=$(awk -v a="$tl0" -v b="$tl1" 'BEGIN {printf "%.1f", b - a}')
rate=$(awk -v n="$SYNS" -v a="$t0" -v b="$t1" 'BEGIN {printf "%d", n / (b - a)}')
osize=$(slab_size)
echo "FIGURE backend=$FVS_BACKEND syns=$SYNS rate_pps=$rate peak_entries=$peak_entries object_bytes=$osize peak_slab_mb=$((peak_objs * osize / 1048576)) min_avail_drop_mb=$(( (avail0 - min_avail) / 1024 )) legit=$legit_ok/$legit_n listed=$lines list_s=$list_s drop_entry_engaged=$engaged_entry secure_tcp_engaged=$engaged_tcp"
cat "$work/gen1" "$work/gen2"

[ $engaged_entry = 1 ] || fail "drop_entry never engaged (memory never fell below amemthresh?)"
[ $engaged_tcp = 1 ] || fail "secure_tcp never engaged"
[ "$peak_entries" -lt "$SYNS" ] || fail "the table held every SYN ($peak_entries): drop_entry dropped nothing"
if [ "$FVS_BACKEND" = fvs ]; then
    [ "$osize" -le 128 ] || fail "connection entries are $osize bytes (goal: 128)"
fi
bound_kb=$(( peak_entries * osize / 1024 + 65536 ))
[ $((avail0 - min_avail)) -le "$bound_kb" ] || fail "available memory fell by $(( (avail0 - min_avail) / 1024 )) MB, more than entries x $osize B + 64 MB ($((bound_kb / 1024)) MB)"
[ "$legit_n" -gt 0 ] || fail "no legitimate client ran during the flood"
[ $((legit_ok * 10)) -ge $((legit_n * 9)) ] || fail "legitimate clients: only $legit_ok of $legit_n connections succeeded"

# Drain: the flood's entries (SYN_RECV, 60 s) all go; memory comes back.
deadline=$(( $(date +%s) + 100 ))
while :; do
    # The legitimate clients' last entries may still be in TIME_WAIT: count the flood's (the
    # listing is read once the table is small).
    left=$(entries)
    [ "$left" -le 5000 ] && left=$(adm -Lnc | awk '$4 ~ /^100\./' | wc -l)
    [ "$left" = 0 ] && break
    [ "$(date +%s)" -ge "$deadline" ] && fail "$left entries left 100 s after the flood"
    sleep 2
done
drain_s=$(awk -v a="$t1" -v b="$(date +%s.%N)" 'BEGIN {printf "%d", b - a}')
avail1=$(avail_kb)
echo "FIGURE drained_after_s=$drain_s avail_after_mb=$((avail1 / 1024)) avail_before_mb=$((avail0 / 1024))"
[ $((avail0 - avail1)) -le 32768 ] || fail "available memory did not come back: $((avail0 / 1024)) MB before, $((avail1 / 1024)) MB after"
# Still serving.
r=$(dp_client tcp "$VIP" 80 4 2>&1)
[ "$(grep -c echo-ok <<<"$r")" = 4 ] || fail "clients after the flood: $r"
dp_kill_all
dp_backend_down
rm -rf "$work"
echo "SYN flood of $SYNS spoofed sources survived: bounded, served, drained"
