#!/usr/bin/env bash
# `make profile`: where the director's CPU time goes while pktgen floods it (the udp_pps_* traffic
# of `make bench`), for each backend in turn, by perf's software clock (TCG has no PMU). Run by
# qemu-tests/vm-run from the repository root. Writes target/bench/profile-<backend>-<mode>.txt
# (flat profile, kernel and module symbols) and prints its head. (perf.data goes to the guest's
# /tmp: perf's writes fail with EFAULT on the host share.)
#
#   FVS_PROFILE_BACKENDS="ipvs fvs"  backends, in order
#   FVS_PROFILE_MODES="nat dr"       nat: VIP:9 masquerading; dr: VIP:19 direct routing;
#                                    cps: new TCP connections to VIP:80 (NAT), the tcp_cps_nat load
#   FVS_PROFILE_SECS=8               seconds sampled per backend and mode
# With FVS_KO=target/kmod-prof/kmod/fvs.ko (`make module-prof`) the fvs module's own section
# timers are printed too (target/bench/hookprof-<modes>.txt): perf's samples under TCG mostly
# land in the idle loop, the timers measure the packet path directly.
set -uo pipefail
cd "$(dirname "$0")/../.."
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh

SECS=${FVS_PROFILE_SECS:-8}
OUTD=target/bench
mkdir -p "$OUTD"
command -v perf >/dev/null || { echo "profile: no perf binary (apt-get install linux-perf)"; exit 1; }
modprobe pktgen || { echo "profile: no pktgen"; exit 1; }
modprobe nf_tables || { echo "profile: no nf_tables"; exit 1; }

topo_dr 3
for i in 1 2 3; do
    ip netns exec "fvs-rs$i" nft -f - <<EOF
table inet fvsbench {
    chain pre {
        type filter hook prerouting priority -300; policy accept;
        udp dport { 9, 19 } drop
    }
}
EOF
done
DIR_MAC=$(ip netns exec fvs-dir cat /sys/class/net/dir0/address)
CPS=/tmp/fvs-cps
# Fixed placement, as in run.sh: the client on CPU 0, the real servers on the others.
RS_CPUS=0
[ "$(nproc)" -ge 2 ] && RS_CPUS="1-$(($(nproc) - 1))"
if [[ " ${FVS_PROFILE_MODES:-} " == *" cps "* ]]; then
    cp "${FVS_CPS:-target/release/fvs-cps}" "$CPS" || { echo "profile: no target/release/fvs-cps"; exit 1; }
    # As run.sh: room for every TIME_WAIT socket the servers keep.
    for i in 1 2 3; do ip netns exec "fvs-rs$i" sysctl -qw net.ipv4.tcp_max_tw_buckets=1048576; ip netns exec "fvs-rs$i" taskset -c "$RS_CPUS" "$CPS" server 80 & done
    sleep 1
fi
CPS_SRC=20
trap 'pkill -f "bench/pktgen.sh|fvs-cps" 2>/dev/null; for ns in $(ip netns list | awk "{print \$1}"); do ip netns del "$ns"; done' EXIT

for b in ${FVS_PROFILE_BACKENDS:-ipvs fvs}; do
    FVS_BACKEND=$b
    (dp_backend_up) || { echo "profile: $b did not load"; continue; }
    adm -A -u "$TOPO_VIP:9" -s rr; adm -A -u "$TOPO_VIP:19" -s rr
    adm -A -t "$TOPO_VIP:80" -s rr
    for i in 1 2 3; do
        adm -a -u "$TOPO_VIP:9" -r "10.0.2.$i:9" -m; adm -a -u "$TOPO_VIP:19" -r "10.0.2.$i:19" -g
        adm -a -t "$TOPO_VIP:80" -r "10.0.2.$i:80" -m
    done
    for mode in ${FVS_PROFILE_MODES:-nat dr}; do
        port=9; [ "$mode" = dr ] && port=19
        if [ "$mode" = cps ]; then
            port=80
            # A fresh client address each time (topo's client has 10.0.1.20 upwards).
            src=10.0.1.$CPS_SRC; CPS_SRC=$((CPS_SRC + 1))
            ip netns exec fvs-cl ip addr add "$src/24" dev cl0 2>/dev/null
            ip netns exec fvs-cl taskset -c 0 "$CPS" client "$TOPO_VIP" 80 $((SECS + 2)) 32 "$src" 1 $((SECS + 2)) &
        else
            ip netns exec fvs-cl bash qemu-tests/bench/pktgen.sh cl0 "$DIR_MAC" 60 "$TOPO_VIP" "$TOPO_VIP" "$port" 10.0.1.2 10000 64 \
                rate 1 $((SECS * 3)) 1 >/dev/null 2>&1 &
        fi
        pg=$!
        sleep 3
        out=$OUTD/profile-$b-$mode
        perf record -q -a -e cpu-clock -F 4000 -o "/tmp/perf-$b-$mode.data" -- sleep "$SECS" 2>/dev/null
        if [ "$mode" = cps ]; then
            wait "$pg"
        else
            kill "$pg" 2>/dev/null; echo stop > /proc/net/pktgen/pgctrl; wait "$pg" 2>/dev/null
        fi
        { perf report -q -i "/tmp/perf-$b-$mode.data" --kallsyms=/proc/kallsyms --stdio --no-children --sort dso --percent-limit 0.5 2>/dev/null
          echo
          perf report -q -i "/tmp/perf-$b-$mode.data" --kallsyms=/proc/kallsyms --stdio --no-children --sort sym --percent-limit ${FVS_PROFILE_LIMIT:-0.2} 2>/dev/null
        } | grep -v '^$' > "$out.txt"
        echo "=== $b $mode: $(perf report -i "/tmp/perf-$b-$mode.data" --stdio 2>/dev/null | awk '/^# Samples/ {print $3, $4}' | head -1) ($out.txt)"
        echo "--- $b $mode: the service's counters after the run:"
        adm -Ln --stats | grep -A3 ":$port " | head -n 4
        head -n 40 "$out.txt"
    done
    (dp_backend_down)
    # A module from `make module-prof` prints its section timers when it is unloaded.
    if [ "$b" = fvs ] && dmesg | grep -q 'fvs prof'; then
        hp=$OUTD/hookprof-$(tr ' ' '-' <<<"${FVS_PROFILE_MODES:-nat dr}").txt
        dmesg | grep -o 'fvs prof.*' > "$hp"
        echo "--- fvs section timers (all modes together, ns under TCG; $hp):"
        cat "$hp"
    fi
done
