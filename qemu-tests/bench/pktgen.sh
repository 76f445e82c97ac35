#!/usr/bin/env bash
# pktgen driver for `make bench` (qemu-tests/bench/run.sh); runs INSIDE the client's network
# namespace (ip netns exec), so that one process does a whole sample.
#
#   pktgen.sh DEV DST_MAC PKT DST_MIN DST_MAX DPORT SRC SPORT_MIN NPORTS MODE ARGS...
# UDP frames of PKT bytes (without FCS) on DEV to DST_MAC, from SRC ports SPORT_MIN..+NPORTS-1
# (in turn) to DST_MIN..DST_MAX (in turn) port DPORT, sent by kpktgend_0 as fast as it goes.
#   MODE count N                 one burst of N frames
#   MODE rate WARM SECS BURSTS   a short burst and a WARM-second one (flows set up, rate known),
#                                then BURSTS bursts of about SECS/BURSTS seconds each
# Prints one line per burst: "warm|burst USEC FRAMES", pktgen's own time from its first to its
# last frame and the frames it sent. Exits non-zero if pktgen refuses a setting.
set -uo pipefail
dev=$1 mac=$2 pkt=$3 dmin=$4 dmax=$5 dport=$6 src=$7 smin=$8 nports=$9 mode=${10}
shift 10
P=/proc/net/pktgen

# pgset FILE CMD...: each command checked by the "Result: OK" pktgen leaves in FILE.
pgset() {
    local f=$P/$1 c l ok
    shift
    for c in "$@"; do
        echo "$c" > "$f" || { echo "pktgen: $c: write failed" >&2; exit 1; }
        ok=0
        while IFS= read -r l; do [[ $l == "Result: OK"* ]] && ok=1; done < "$f"
        [ $ok = 1 ] || { echo "pktgen: $c: $(grep '^Result' "$f")" >&2; exit 1; }
    done
}
# burst N: sends N frames (blocks until done), prints "USEC FRAMES". (pktgen marks the device
# stopped before it writes the result, so "start" can return just before the result is there.)
burst() {
    local l u= n i
    pgset "$dev" "count $1"
    echo start > $P/pgctrl
    for i in $(seq 1 100); do
        while IFS= read -r l; do
            if [[ $l =~ ^Result:\ OK:\ ([0-9]+)\(.*usec,\ ([0-9]+)\  ]]; then u=${BASH_REMATCH[1]} n=${BASH_REMATCH[2]}; fi
        done < "$P/$dev"
        [ -n "$u" ] && break
        sleep 0.05
    done
    [ -n "$u" ] && [ "$u" -gt 0 ] || { echo "pktgen: no result: $(grep '^Result' "$P/$dev")" >&2; exit 1; }
    echo "$u $n"
}

# The device stays on kpktgend_0 from one run to the next: removing it is asynchronous (the
# thread does it later, and a write to its file at that moment fails with EIO).
[ -e "$P/$dev" ] || pgset kpktgend_0 "add_device $dev"
pgset "$dev" "clone_skb 0" "burst 1" "pkt_size $pkt" "delay 0" "dst_mac $mac" \
    "dst_min $dmin" "dst_max $dmax" "src_min $src" "src_max $src" \
    "udp_src_min $smin" "udp_src_max $((smin + nports))" "udp_dst_min $dport" "udp_dst_max $dport"
case $mode in
    count) echo "burst $(burst "$1")" ;;
    rate)
        warm=$1 secs=$2 bursts=$3
        read -r u n < <(burst 2000) || exit 1
        echo "warm $u $n"
        read -r u n < <(burst $((n * 1000000 / u * warm + 1000))) || exit 1
        echo "warm $u $n"
        size=$((n * 1000000 / u * secs / bursts + 1000))
        for _ in $(seq 1 "$bursts"); do
            read -r u n < <(burst "$size") || exit 1
            echo "burst $u $n"
        done
        ;;
    *) echo "pktgen.sh: mode count or rate" >&2; exit 2 ;;
esac
