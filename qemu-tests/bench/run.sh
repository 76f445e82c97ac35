#!/usr/bin/env bash
# `make bench`: fvs.ko against the kernel's ip_vs, measured in ONE VM boot (run by qemu-tests/vm-run
# from the repository root). Builds client — director — bridge — real servers in network
# namespaces (topo.sh's topo_dr, which is topo_nat plus the VIP on the real servers' lo: NAT, DR
# and plain routing all work in it), then, round by round, loads one backend at a time (the other
# unloaded; ip_vs flushed before its modules go) and measures it, with plain IP forwarding (no
# balancer loaded) as the ceiling. Each metric's value is the median over the rounds.
#
# Prints one line per metric
#   RESULT <metric> fvs=<v> ipvs=<v> ratio=<r>      (ratio > 1 is better for fvs, for every metric)
#   RESULT <metric> skipped (<reason>)
# writes the report (default docs/benchmarks.md) and the raw samples (target/bench/), and exits 0
# whatever the numbers: this is a measurement, not a test.
#
# Settings (environment; vm-run forwards FVS_*):
#   FVS_BENCH_SECS=5        measured time of each packet-rate / connection-rate sample, s
#   FVS_BENCH_BURSTS=5      ... split into this many bursts (windows); the sample is the best one
#   FVS_BENCH_ROUNDS=3      rounds per backend (>= 3 for a meaningful median)
#   FVS_BENCH_CONNS=50000   connection entries for lookup_scaling and conn_bytes
#   FVS_BENCH_CPS_CONC=32   TCP connections in flight in the connection-rate client
#   FVS_BENCH_RESTORE=10000 services (x4 real servers) in the restore benchmark
#   FVS_BENCH_ONLY=REGEX    run only the metrics whose name matches (development)
#   FVS_BENCH_OUT=FILE      report path (default docs/benchmarks.md)
#   FVS_BENCH_INSN_CTL=FILE the control file of the tbcount QEMU plugin (`make insnprof`): each
#                           packet- and connection-rate sample is bracketed by "reset" and "dump",
#                           the counts going to target/bench/insn/METRIC-BACKEND-N.tb (+ .syms, .n)
#   FVS_BENCH_KO_B=FILE     a second fvs.ko, measured as backend "fvsb" in every round (A/B of
#                           two builds in one boot; adds "RESULT-B <metric> fvsb= fvs= ratio=")
set -uo pipefail
cd "$(dirname "$0")/../.."
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh

SECS=${FVS_BENCH_SECS:-5}
BURSTS=${FVS_BENCH_BURSTS:-5}
ROUNDS=${FVS_BENCH_ROUNDS:-3}
NCONNS=${FVS_BENCH_CONNS:-50000}
CONC=${FVS_BENCH_CPS_CONC:-32}
NRESTORE=${FVS_BENCH_RESTORE:-10000}
ONLY=${FVS_BENCH_ONLY:-}
OUT=${FVS_BENCH_OUT:-docs/benchmarks.md}
WARM=1            # s of traffic before a window opens
# The connection-rate client and the real servers' TCP servers run in this VM too. Left to the
# scheduler, they were sometimes placed on one vCPU together (the servers woken where the client
# ran its softirq work), with the other idle; that halved the rate for a few seconds at a time,
# for whichever backend it hit (2026-11-23: client delayed ACKs x10, real-server loss probes x3,
# gone with fixed placement). So the client is pinned to CPU 0 and the servers to the others.
if [ "$(nproc)" -ge 2 ]; then
    PIN_CL=(taskset -c 0)
    PIN_RS=(taskset -c "1-$(($(nproc) - 1))")
else
    PIN_CL=(); PIN_RS=()
fi
NRS=3             # real servers
FLOWS=64          # UDP flows (source ports) of the packet-rate samples
PKT=60            # pktgen frame size without FCS: Ethernet + IPv4 + UDP + 18 payload bytes
UDP_NAT=9         # VIP:9 NAT, VIP:19 DR (UDP); VIP:80 NAT (TCP)
UDP_DR=19
RAW=target/bench
mkdir -p "$RAW" /tmp/bench
SAMPLES=$RAW/samples.log
: > "$SAMPLES"
T_START=$(date +%s)

wanted() { [ -z "$ONLY" ] || [[ $1 =~ $ONLY ]]; }
log() { echo "bench: [$(( $(date +%s) - T_START ))s] $*"; }
now() { date +%s.%N; }
# Arithmetic on decimals.
calc() { awk "BEGIN { printf \"%s\", ($*) }" </dev/null; }
# median of the arguments (empty when there are none)
median() {
    [ $# -gt 0 ] || return 0
    printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else printf "%.6g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}

# Samples: S[metric:backend] = "v1 v2 ...", every one also logged to $SAMPLES.
declare -A S NOTE
sample() {  # METRIC BACKEND VALUE [DETAIL]
    S[$1:$2]="${S[$1:$2]:-}${S[$1:$2]:+ }$3"
    echo "$1 $2 $3 ${4:-}" >> "$SAMPLES"
    log "sample $1 $2 = $3 ${4:-}"
}
declare -A SKIP     # SKIP[metric] = reason
OBS=()              # observations for the report

# The binaries under test are copied first: a rebuild in the shared tree during the run cannot
# change them half-way.
FVS_KO_SRC=$FVS_KO
cp "$FVS_KO" /tmp/bench/fvs.ko 2>/dev/null && FVS_KO=/tmp/bench/fvs.ko
FVS_KO_A=$FVS_KO FVS_KO_B=
if [ -n "${FVS_BENCH_KO_B:-}" ]; then
    cp "$FVS_BENCH_KO_B" /tmp/bench/fvs-b.ko && FVS_KO_B=/tmp/bench/fvs-b.ko
fi
BACKEND=plain
cp "$IPVSADM_RS" /tmp/bench/ipvsadm-rs 2>/dev/null && IPVSADM_RS=/tmp/bench/ipvsadm-rs
CPS=/tmp/bench/fvs-cps
cp "${FVS_CPS:-target/release/fvs-cps}" "$CPS" 2>/dev/null || CPS=

have_fvs=1; have_ipvs=1
[ -f "$FVS_KO" ] || { have_fvs=0; OBS+=("no $FVS_KO_SRC: fvs not measured (make module)"); }
have_rs=1
[ -x "$IPVSADM_RS" ] || { have_fvs=0; have_rs=0; OBS+=("no ipvsadm-rs: fvs not measured (make cli)"); }
command -v ipvsadm >/dev/null || { have_ipvs=0; OBS+=("Debian ipvsadm not installed: ip_vs not measured"); }
modprobe ip_vs 2>/dev/null || { have_ipvs=0; OBS+=("no ip_vs module in this kernel"); }
ipvs_unload

# ---------------------------------------------------------------- kernel log
DMESG_MARK=0
dmesg_mark() { DMESG_MARK=$(dmesg | wc -l); }
# dmesg_check PHASE: kernel-log reports (lib.sh's dmesg_bad_re) printed since the last mark.
dmesg_check() {
    local bad
    bad=$(dmesg | tail -n +"$((DMESG_MARK + 1))" | grep -E "$dmesg_bad_re" | head -n 5)
    if [ -n "$bad" ]; then
        OBS+=("kernel log during $1: $(tr '\n' '|' <<<"$bad")")
        log "kernel log during $1:"; sed 's/^/  ! /' <<<"$bad"
    fi
    dmesg_mark
}

# ---------------------------------------------------------------- backends
# backend_up ipvs|fvs / backend_down: dataplane.sh's dp_backend_up/down (ip_vs and its scheduler
# modules by modprobe, flushed in every namespace before they unload; fvs.ko by insmod/rmmod),
# in a subshell so that their fail/skip end only this step.
backend_up() {
    BACKEND=$1 FVS_BACKEND=$1 FVS_KO=$FVS_KO_A
    if [ "$1" = fvsb ]; then FVS_BACKEND=fvs FVS_KO=$FVS_KO_B; fi
    if [ "$1" = plain ]; then return 0; fi
    (dp_backend_up) || { OBS+=("$1: loading failed"); return 1; }
}
backend_down() {
    [ "$FVS_BACKEND" = plain ] && return 0
    (dp_backend_down) || { OBS+=("$BACKEND: unloading failed"); return 1; }
}
# Neither balancer may stay loaded into the other's turn.
assert_unloaded() {
    if lsmod | grep -qE '^(fvs|ip_vs) '; then
        OBS+=("a balancer module was still loaded: $(lsmod | awk '/^(fvs|ip_vs)/ {print $1}' | xargs); stopped")
        return 1
    fi
}

# ---------------------------------------------------------------- topology
NCLIENT_ADDRS=40   # 10.0.1.20..59: one source address per connection-rate sample
setup_topology() {
    topo_dr "$NRS"
    local i
    for i in $(seq 20 $((20 + NCLIENT_ADDRS - 1))); do ip -n fvs-cl addr add "10.0.1.$i/24" dev cl0; done
    # The real servers close first, so every connection leaves a TIME_WAIT socket there for
    # 60 s. The default cap on those (tcp_max_tw_buckets, 8192 in this VM's namespaces) is
    # reached within a few samples; past it the servers drop the state at once and the clients'
    # last segments meet resets and retransmissions, which slows whichever backend is measured
    # then. The cap goes up, so that every sample runs in the same conditions.
    for i in $(seq 1 "$NRS"); do ip netns exec "fvs-rs$i" sysctl -qw net.ipv4.tcp_max_tw_buckets=1048576; done
    # The real servers count and drop the benchmark's UDP at the earliest hook: what the
    # director delivers, without the cost of a socket or ICMP errors.
    HAVE_NFT=0
    if command -v nft >/dev/null && modprobe nf_tables 2>/dev/null; then
        HAVE_NFT=1
        for i in $(seq 1 "$NRS"); do
            ip netns exec "fvs-rs$i" nft -f - <<EOF || HAVE_NFT=0
table inet fvsbench {
    counter to_rs {}
    counter to_vip {}
    chain pre {
        type filter hook prerouting priority -300; policy accept;
        ip daddr 10.0.2.0/24 udp dport { $UDP_NAT, $UDP_DR } counter name to_rs drop
        ip daddr $VIP udp dport { $UDP_NAT, $UDP_DR } counter name to_vip drop
    }
}
EOF
        done
    fi
    DIR_MAC=$(ip netns exec fvs-dir cat /sys/class/net/dir0/address)
    # The real servers' TCP servers (connection rate).
    HAVE_CPS=0
    if [ -n "$CPS" ]; then
        for i in $(seq 1 "$NRS"); do dp_bg "fvs-rs$i" "${PIN_RS[@]}" "$CPS" server 80; done
        HAVE_CPS=1
        for i in $(seq 1 "$NRS"); do (wait_listen "fvs-rs$i" 80) || HAVE_CPS=0; done
    fi
}

# ---------------------------------------------------------------- pktgen
HAVE_PKTGEN=0
modprobe pktgen 2>/dev/null && HAVE_PKTGEN=1
# pktgen ARGS...: qemu-tests/bench/pktgen.sh in the client's namespace, on cl0 to the director's
# dir0, PKT-byte frames (one process per sample: spawning is slow under TCG on a loaded host).
pktgen() {
    timeout $((SECS * 10 + 300)) ip netns exec fvs-cl bash qemu-tests/bench/pktgen.sh cl0 "$DIR_MAC" "$PKT" "$@"
}
# rs_counts: "TO_RS TO_VIP", the real servers' nftables counters summed: UDP packets that arrived
# addressed to the real server's own address (NAT, plain routing) and to the VIP (DR).
rs_counts() {
    local i r=0 v=0 a b
    for i in $(seq 1 "$NRS"); do
        read -r a b < <(nsenter --net="/run/netns/fvs-rs$i" nft list table inet fvsbench |
            awk '/counter to_rs/ {k = "r"} /counter to_vip/ {k = "v"} /packets/ && k {c[k] = $2; k = ""} END {print c["r"] + 0, c["v"] + 0}')
        r=$((r + ${a:-0})); v=$((v + ${b:-0}))
    done
    echo "$r $v"
}

# rs_each: the packets each real server counted (both counters), "N1 N2 N3".
rs_each() {
    local i out=""
    for i in $(seq 1 "$NRS"); do
        out+="$(nsenter --net="/run/netns/fvs-rs$i" nft list table inet fvsbench |
            awk '/packets/ {n += $2} END {print n + 0}') "
    done
    echo "${out% }"
}

# insn_ctl CMD: hands CMD to the tbcount plugin and waits until it has been done.
INSN_CTL=${FVS_BENCH_INSN_CTL:-}
INSN_SEQ=0
insn_ctl() {
    local i
    echo "$1" > "$INSN_CTL"
    for i in $(seq 1 500); do [ -s "$INSN_CTL" ] || return 0; sleep 0.05; done
    OBS+=("tbcount plugin did not answer \"$1\""); return 1
}
insn_begin() { [ -z "$INSN_CTL" ] || insn_ctl reset; }
# insn_end METRIC UNITS: the counts since insn_begin, with the symbols and the number of units
# (frames or connections) they are divided by.
insn_end() {
    [ -n "$INSN_CTL" ] || return 0
    local f=$RAW/insn/$1-$BACKEND-$INSN_SEQ
    INSN_SEQ=$((INSN_SEQ + 1))
    mkdir -p "$RAW/insn"
    insn_ctl "dump $PWD/$f.tb"
    cat /proc/kallsyms > "$f.syms"
    echo "$2" > "$f.n"
}

# pps_sample METRIC DST_MIN DST_MAX DPORT COUNTER: FLOWS flows from the client at full pktgen rate
# (pktgen.sh rate: warm-up, then BURSTS bursts of about SECS/BURSTS s). A burst's rate is pktgen's
# frames over its own time for them; the sample is the best burst (the host is shared, and being
# preempted only ever slows a burst down), times the share of all frames sent that the real
# servers counted (COUNTER, read before and after, while no traffic flows). Also logs every burst,
# the loss, and the counter that should not move (a DR packet reaching a real server at its own
# address, or the reverse).
pps_sample() {
    local metric=$1 other=to_vip out kind u n pps best=0 rates="" frames=0 usec=0 rv0 rv1 x0 x1 c0 c1 o0 o1 dlv mis loss
    [ "$5" = to_vip ] && other=to_rs
    read -r rv0 x0 < <(rs_counts)
    local each0 each1 spread="" k
    read -ra each0 < <(rs_each)
    insn_begin
    out=$(pktgen "$2" "$3" "$4" 10.0.1.2 10000 "$FLOWS" rate "$WARM" "$SECS" "$BURSTS") ||
        { OBS+=("$metric $BACKEND: pktgen failed: $out"); return 1; }
    sleep 0.2
    read -r rv1 x1 < <(rs_counts)
    read -ra each1 < <(rs_each)
    for k in "${!each1[@]}"; do spread+="${spread:+/}$(( each1[k] - ${each0[k]:-0} ))"; done
    if [ "$5" = to_rs ]; then c0=$rv0 c1=$rv1 o0=$x0 o1=$x1; else c0=$x0 c1=$x1 o0=$rv0 o1=$rv1; fi
    while read -r kind u n; do
        frames=$((frames + n))
        [ "$kind" = burst ] || continue
        pps=$((n * 1000000 / u))
        rates+="${rates:+,}$pps"; usec=$((usec + u))
        [ "$pps" -gt "$best" ] && best=$pps
    done <<<"$out"
    dlv=$((c1 - c0)); mis=$((o1 - o0))
    [ "$frames" -gt 0 ] || { OBS+=("$metric $BACKEND: pktgen sent nothing"); return 1; }
    insn_end "$metric" "$frames"
    best=$(calc "int($best * ($dlv > $frames ? 1 : $dlv / $frames))")
    loss=$(calc "100 * (1 - $dlv / $frames)")
    sample "$metric" "$BACKEND" "$best" "bursts=$rates frames=$frames delivered=$dlv loss=$(printf '%.2f' "$loss")% measured_secs=$(calc "$usec / 1000000") misdirected=$mis per_rs=$spread"
    # rr over the 64 flows spreads them 21/21/22: a real server left out is a finding.
    [ "$BACKEND" != plain ] && [[ "/$spread/" == */0/* ]] && OBS+=("$metric $BACKEND: a real server got none of the flows (packets per real server: $spread)")
    [ "$mis" -gt 0 ] && OBS+=("$metric $BACKEND: $mis packets reached a real server at the wrong address ($other)")
    awk -v l="$loss" 'BEGIN {exit !(l > 1)}' && OBS+=("$metric $BACKEND: $(printf '%.1f' "$loss")% of the packets pktgen sent did not reach a real server")
    LAST_PPS=$best
    [ "$metric" = udp_pps_nat ] && NAT_PPS=$best
    return 0
}

# populate N: N new UDP flows to VIP:UDP_NAT (one packet each; sources 10.0.1.3.. x ports), at
# full pktgen rate. Logs the rate of new flows the real servers saw (pktgen's run time only).
populate() {
    local left=$1 k=0 n c0 c1 out kind u sent busy=0
    read -r c0 _ < <(rs_counts)
    while [ "$left" -gt 0 ]; do
        n=$((left > 50000 ? 50000 : left))
        out=$(pktgen "$VIP" "$VIP" "$UDP_NAT" "10.0.1.$((3 + k))" 10000 "$n" count "$n") ||
            { OBS+=("populate $BACKEND: pktgen failed: $out"); return 1; }
        read -r kind u sent <<<"$out"
        busy=$((busy + u))
        left=$((left - n)); k=$((k + 1))
    done
    sleep 0.2
    read -r c1 _ < <(rs_counts)
    sample new_flows "$BACKEND" "$(calc "int(($c1 - $c0) * 1000000 / $busy)")" "delivered=$((c1 - c0))/$1 secs=$(calc "$busy / 1000000")"
    [ $((c1 - c0)) -lt "$1" ] && OBS+=("populate $BACKEND: $((c1 - c0)) of $1 new flows reached a real server")
    return 0
}

# svc_conns PROTO VIP:PORT: the service's connection counter (--stats --exact).
svc_conns() { adm -Ln --stats --exact | awk -v p="$1" -v s="$2" '$1 == p && $2 == s {print $3}'; }

# slab FIELD NAME: /proc/slabinfo for cache NAME: objsize, or "eff" = bytes of slab pages per
# active object.
slab_line() { awk -v n="$1" '$1 == n' /proc/slabinfo; }

# ---------------------------------------------------------------- data-plane round of one backend
services_up() {
    local i ok=0
    adm -A -u "$VIP:$UDP_NAT" -s rr || ok=1
    adm -A -u "$VIP:$UDP_DR" -s rr || ok=1
    adm -A -t "$VIP:80" -s rr || ok=1
    for i in $(seq 1 "$NRS"); do
        adm -a -u "$VIP:$UDP_NAT" -r "10.0.2.$i:$UDP_NAT" -m || ok=1
        adm -a -u "$VIP:$UDP_DR" -r "10.0.2.$i:$UDP_DR" -g || ok=1
        adm -a -t "$VIP:80" -r "10.0.2.$i:80" -m || ok=1
    done
    return $ok
}

# tcp_retrans: TCP segments retransmitted by the client and the real servers together.
tcp_retrans() {
    local ns n=0 c
    for ns in fvs-cl $(seq -f 'fvs-rs%g' 1 "$NRS"); do
        c=$(ip netns exec "$ns" awk '/^Tcp:/ { if (!h) { for (i = 1; i <= NF; i++) if ($i == "RetransSegs") k = i; h = 1 } else print $k }' /proc/net/snmp)
        n=$((n + ${c:-0}))
    done
    echo "$n"
}
# cpu_idle: the VM's idle time so far, in CPU-seconds (USER_HZ 100).
cpu_idle() { awk '/^cpu / {print ($5 + $6) / 100}' /proc/stat; }

CPS_SAMPLE=0
cps_sample() {  # METRIC DSTS
    local out src=10.0.1.$((20 + CPS_SAMPLE))
    CPS_SAMPLE=$((CPS_SAMPLE + 1))
    if [ "$CPS_SAMPLE" -gt "$NCLIENT_ADDRS" ]; then OBS+=("out of client addresses for $1"); return 1; fi
    local rt0 rt1 idle0 idle1 t0 t1
    rt0=$(tcp_retrans); idle0=$(cpu_idle); t0=$(now)
    insn_begin
    out=$(timeout $((SECS + 60)) ip netns exec fvs-cl "${PIN_CL[@]}" "$CPS" client "$2" 80 "$SECS" "$CONC" "$src" "$WARM" "$BURSTS")
    t1=$(now); idle1=$(cpu_idle); rt1=$(tcp_retrans)
    out="$out retrans=$((rt1 - rt0)) vm_idle=$(calc "int(100 * ($idle1 - $idle0) / ($t1 - $t0) / $(nproc))")%"
    local v=${out#cps=}; v=${v%% *}
    if [ -z "$out" ] || [ -z "$v" ]; then OBS+=("$1 $BACKEND: the client reported nothing"); return 1; fi
    sample "$1" "$BACKEND" "$v" "$out"
    local started=${out#*started=}; started=${started%% *}
    insn_end "$1" "$started"
    local errs=${out#*errors=}; errs=${errs%% *}
    [ "${errs:-0}" -gt 0 ] && OBS+=("$1 $BACKEND: $errs connections failed ($out)")
    return 0
}

dataplane_round() {  # BACKEND ROUND
    local b=$1 r=$2 few many conns line
    assert_unloaded || return 1
    dmesg_mark
    backend_up "$b" || return 1
    log "round $r: $b"
    if [ "$b" = plain ]; then
        if [ "$HAVE_PKTGEN$HAVE_NFT" = 11 ] && { wanted udp_pps || wanted fwd_ceiling; }; then
            pps_sample udp_pps_plain 10.0.2.1 "10.0.2.$NRS" "$UDP_NAT" to_rs
        fi
        if [ "$HAVE_CPS" = 1 ] && wanted tcp_cps; then
            cps_sample tcp_cps_plain "$(seq -s, -f '10.0.2.%g' 1 "$NRS")"
        fi
        dmesg_check "plain forwarding, round $r"
        return 0
    fi
    if ! services_up; then
        OBS+=("$b round $r: configuring the services failed")
        backend_down; return 1
    fi
    if [ "$HAVE_PKTGEN$HAVE_NFT" = 11 ]; then
        if wanted udp_pps_nat || wanted fwd_ceiling || wanted lookup_scaling; then
            pps_sample udp_pps_nat "$VIP" "$VIP" "$UDP_NAT" to_rs
        fi
        wanted udp_pps_dr && pps_sample udp_pps_dr "$VIP" "$VIP" "$UDP_DR" to_vip
    fi
    [ "$HAVE_CPS" = 1 ] && wanted tcp_cps_nat && cps_sample tcp_cps_nat "$VIP"
    if [ "$HAVE_PKTGEN$HAVE_NFT" = 11 ] && { wanted lookup_scaling || wanted conn_bytes; }; then
        # Few entries (the 64 flows, plus the TCP ones in TIME_WAIT) -> NCONNS more, then the same
        # 64 flows again.
        few=${NAT_PPS:-}
        NAT_PPS=; LAST_PPS=
        populate "$NCONNS"
        if wanted lookup_scaling && [ -n "$few" ] && pps_sample udp_pps_nat_many "$VIP" "$VIP" "$UDP_NAT" to_rs && [ "${LAST_PPS:-0}" -gt 0 ]; then
            sample lookup_scaling "$b" "$(calc "$few / $LAST_PPS")" "few=$few many=$LAST_PPS"
        fi
        conns=$(svc_conns UDP "$VIP:$UDP_NAT")
        sample table_entries "$b" "${conns:-0}" "UDP service connections (--stats) after populating"
        if [ "$b" = ipvs ]; then
            line=$(slab_line ip_vs_conn)
        else
            line=$(slab_line fvs_conn)
        fi
        if [ -n "$line" ]; then
            # name active num objsize objperslab pagesperslab : tunables ... : slabdata active_slabs num_slabs 0
            sample conn_bytes "$b" "$(awk '{print $4}' <<<"$line")" "slabinfo: $line"
            sample conn_bytes_eff "$b" "$(awk '{n = $(NF-1) * $6 * 4096; print ($2 > 0 ? int(n / $2) : 0)}' <<<"$line")" "slab pages / active objects"
        fi
    fi
    backend_down || return 1
    dmesg_check "$b, round $r"
}

# ---------------------------------------------------------------- restore
# Rules: NRESTORE TCP services 10.100.0.0+i:80 (rr), each with 4 NAT real servers
# 10.(111..114).0.0+i:80.
gen_rules() {
    awk -v n="$1" 'function ip(a, i) { i += 1; return a "." int(i / 65536) "." int(i / 256) % 256 "." i % 256 }
        BEGIN { for (i = 0; i < n; i++) {
            v = ip(100, i)
            print "-A -t " v ":80 -s rr"
            for (j = 1; j <= 4; j++) print "-a -t " v ":80 -r " ip(110 + j, i) ":80 -m -w 1"
        } }'
}
RULES=/tmp/bench/rules
# restore_one LABEL CLI FAMILY: times `CLI -R < rules` in the namespace fvs-rst, checks that every
# service and real server arrived (/proc/net/ip_vs or /proc/net/fvs), flushes.
restore_one() {
    local label=$1 cli=$2 fam=$3 t0 t1 rc counts proc=/proc/net/ip_vs cmd
    [ "$fam" = FVS ] && proc=/proc/net/fvs
    if [ "$cli" = ipvsadm ]; then cmd=(ipvsadm); else cmd=(env "IPVSADM_RS_FAMILY=$fam" "$IPVSADM_RS"); fi
    t0=$(now)
    timeout 900 ip netns exec fvs-rst "${cmd[@]}" -R < "$RULES"
    rc=$?
    t1=$(now)
    counts=$(ip netns exec fvs-rst awk '/^TCP / {s++} /^  -> [0-9A-F]+:/ {d++} END {print s + 0, d + 0}' "$proc")
    if [ "$rc" != 0 ] || [ "$counts" != "$NRESTORE $((4 * NRESTORE))" ]; then
        OBS+=("restore $label: exit $rc, $counts services/real servers instead of $NRESTORE $((4 * NRESTORE))")
        log "restore $label failed: exit $rc, counts $counts"
    else
        sample "$label" "$BACKEND" "$(calc "$t1 - $t0")" "s for $NRESTORE services x 4"
    fi
    t0=$(now)
    timeout 300 ip netns exec fvs-rst "${cmd[@]}" -C
    t1=$(now)
    sample "flush_$label" "$BACKEND" "$(calc "$t1 - $t0")" "s, -C after restore"
}
# restore_round VARIANT ROUND: VARIANT ipvs:ipvsadm, ipvs:ipvsadm-rs or fvs:ipvsadm-rs, each on a
# freshly loaded module. (ip_vs keeps deleted real servers in a trash list for 2 minutes and
# searches it linearly for every real server added, so a restore right after flushing 40,000 of
# them is quadratic; a fresh module measures the restore itself.)
restore_round() {
    local b=${1%%:*} cli=${1#*:}
    assert_unloaded || return 1
    dmesg_mark
    backend_up "$b" || return 1
    log "restore round $2: $cli on $b"
    case $1 in
        ipvs:ipvsadm) restore_one restore ipvsadm IPVS ;;
        ipvs:ipvsadm-rs) restore_one restore_rs ipvsadm-rs IPVS ;;
        fvs:ipvsadm-rs) restore_one restore ipvsadm-rs FVS ;;
    esac
    backend_down || return 1
    dmesg_check "restore with $cli on $b, round $2"
}

# ---------------------------------------------------------------- run
cleanup() {
    dp_kill_all
    for ns in $(ip netns list | awk '{print $1}'); do ip netns del "$ns"; done
}
trap cleanup EXIT

dmesg_mark
BOOT_BAD=$(dmesg | grep -E "$dmesg_bad_re" | head -n 3)
[ -n "$BOOT_BAD" ] && OBS+=("kernel log before the benchmark (boot): $(tr '\n' '|' <<<"$BOOT_BAD")")

backends=()
[ "$have_ipvs" = 1 ] && backends+=(ipvs)
[ "$have_fvs" = 1 ] && backends+=(fvs)
[ "$have_fvs" = 1 ] && [ -n "$FVS_KO_B" ] && backends+=(fvsb)

setup_topology
[ "$HAVE_PKTGEN" = 1 ] || OBS+=("no pktgen module (CONFIG_NET_PKTGEN)")
[ "$HAVE_NFT" = 1 ] || OBS+=("no nftables (nft binary or nf_tables module) to count at the real servers")

if wanted 'udp_pps|tcp_cps|fwd_ceiling|lookup_scaling|conn_bytes'; then
    for r in $(seq 1 "$ROUNDS"); do
        # Alternate the order: odd rounds plain, ipvs, fvs; even rounds fvs, ipvs, plain.
        order=(plain "${backends[@]}")
        if [ $((r % 2)) = 0 ]; then order=(); for b in plain "${backends[@]}"; do order=("$b" "${order[@]}"); done; fi
        for b in "${order[@]}"; do
            if ! dataplane_round "$b" "$r"; then
                log "round $r $b did not complete"
                if lsmod | grep -qE '^(fvs|ip_vs) '; then OBS+=("data-plane rounds stopped: a module could not be unloaded"); break 2; fi
            fi
        done
    done
fi

if wanted restore; then
    # A namespace of its own, where the real servers' addresses are routable unicast (ip_vs
    # refuses a dest whose address type is not unicast or local, and fvs does the same).
    ip netns add fvs-rst
    ip -n fvs-rst link set lo up
    ip -n fvs-rst link add d0 type dummy && ip -n fvs-rst addr add 10.0.0.1/8 dev d0 && ip -n fvs-rst link set d0 up
    gen_rules "$NRESTORE" > "$RULES"
    log "restore rules: $(wc -l < "$RULES") lines"
    variants=()
    [ "$have_ipvs" = 1 ] && variants+=(ipvs:ipvsadm)
    [ "$have_ipvs$have_rs" = 11 ] && variants+=(ipvs:ipvsadm-rs)
    [ "$have_fvs" = 1 ] && variants+=(fvs:ipvsadm-rs)
    for r in $(seq 1 "$ROUNDS"); do
        order=("${variants[@]}")
        [ $((r % 2)) = 0 ] && mapfile -t order < <(printf '%s\n' "${variants[@]}" | tac)
        for v in "${order[@]}"; do
            restore_round "$v" "$r" || log "restore round $r $v did not complete"
        done
    done
fi

# ---------------------------------------------------------------- results
# fmt V: integers from 100 up, else 3 significant digits.
fmt() { awk -v v="$1" 'BEGIN { if (v >= 100) printf "%d", v + 0.5; else printf "%.3g", v }'; }
# result METRIC KIND UNIT FVS_KEY IPVS_KEY: KIND rate (ratio fvs/ipvs) or cost (ratio ipvs/fvs).
TABLE=()
result() {
    local m=$1 kind=$2 unit=$3 fk=$4 ik=$5 f i ratio
    if [ -n "${SKIP[$m]:-}" ]; then
        echo "RESULT $m skipped (${SKIP[$m]})"; TABLE+=("| \`$m\` | skipped: ${SKIP[$m]} | | | | |"); return
    fi
    # shellcheck disable=SC2086
    f=$(median ${S[$fk]:-}); i=$(median ${S[$ik]:-})
    if [ -z "$f" ] || [ -z "$i" ]; then
        local why="no samples for$([ -z "$f" ] && echo " fvs")$([ -z "$i" ] && echo " ip_vs")"
        echo "RESULT $m skipped ($why)"; TABLE+=("| \`$m\` | skipped: $why | | | | |"); return
    fi
    if [ "$kind" = rate ]; then
        ratio=$(calc "$i > 0 ? $f / $i : 0")
    else
        ratio=$(calc "$f > 0 ? $i / $f : 0")
    fi
    f=$(fmt "$f"); i=$(fmt "$i"); ratio=$(printf '%.2f' "$ratio")
    echo "RESULT $m fvs=$f ipvs=$i ratio=$ratio"
    # The ratio round by round (both measured minutes apart in the same round): a direction that
    # holds in every round is stronger evidence than the medians on a noisy host.
    local per="" k fa ia
    read -ra fa <<<"${S[$fk]:-}"; read -ra ia <<<"${S[$ik]:-}"
    if [ "${#fa[@]}" -gt 1 ] && [ "${#fa[@]}" -eq "${#ia[@]}" ]; then
        for k in "${!fa[@]}"; do
            if [ "$kind" = rate ]; then
                per+="${per:+, }$(printf '%.2f' "$(calc "${ia[$k]} > 0 ? ${fa[$k]} / ${ia[$k]} : 0")")"
            else
                per+="${per:+, }$(printf '%.2f' "$(calc "${fa[$k]} > 0 ? ${ia[$k]} / ${fa[$k]} : 0")")"
            fi
        done
    fi
    TABLE+=("| \`$m\` | $f | $i | **$ratio** | ${per:-—} | $unit |")
}

# Ceiling: each backend's NAT median over the plain-forwarding median, round by round medians.
plain=$(median ${S[udp_pps_plain:plain]:-})
if [ -n "$plain" ] && [ "$plain" != 0 ]; then
    for b in fvs ipvs; do
        v=$(median ${S[udp_pps_nat:$b]:-})
        [ -n "$v" ] && S[fwd_ceiling:$b]=$(calc "$v / $plain")
    done
fi
[ "$HAVE_PKTGEN" = 1 ] || for m in udp_pps_nat udp_pps_dr fwd_ceiling lookup_scaling conn_bytes; do SKIP[$m]="no pktgen (CONFIG_NET_PKTGEN) in the test kernel"; done
[ "$HAVE_NFT" = 1 ] || for m in udp_pps_nat udp_pps_dr fwd_ceiling lookup_scaling conn_bytes; do SKIP[$m]="${SKIP[$m]:-no nftables to count packets at the real servers}"; done
[ "$HAVE_CPS" = 1 ] || SKIP[tcp_cps_nat]="no target/release/fvs-cps (cargo build --release -p fvs-cps)"
if [ -z "${SKIP[conn_bytes]:-}" ] && [ -z "${S[conn_bytes:fvs]:-}" ] && [ -n "${S[table_entries:fvs]:-}" ]; then
    SKIP[conn_bytes]="fvs.ko has no fvs_conn slab cache, so /proc/slabinfo cannot tell its entry size; ip_vs_conn objsize=$(median ${S[conn_bytes:ipvs]:-}) bytes"
fi
for m in udp_pps_nat udp_pps_dr tcp_cps_nat fwd_ceiling conn_bytes lookup_scaling restore_10k restore_10k_cli; do
    wanted "$m" || SKIP[$m]=${SKIP[$m]:-"not selected (FVS_BENCH_ONLY=$ONLY)"}
done

RESULTS_START=${#TABLE[@]}
echo
result udp_pps_nat rate "packets/s at the real servers" udp_pps_nat:fvs udp_pps_nat:ipvs
result udp_pps_dr rate "packets/s at the real servers" udp_pps_dr:fvs udp_pps_dr:ipvs
result tcp_cps_nat rate "connections/s" tcp_cps_nat:fvs tcp_cps_nat:ipvs
result fwd_ceiling rate "NAT pps / plain-forwarding pps" fwd_ceiling:fvs fwd_ceiling:ipvs
result conn_bytes cost "bytes per entry (slab objsize)" conn_bytes:fvs conn_bytes:ipvs
result lookup_scaling cost "pps with few entries / pps with many" lookup_scaling:fvs lookup_scaling:ipvs
result restore_10k cost "s (ipvsadm-rs on fvs vs ipvsadm on ip_vs)" restore:fvs restore:ipvs
result restore_10k_cli cost "s (ipvsadm-rs vs ipvsadm, both on ip_vs)" restore_rs:ipvs restore:ipvs
if [ -n "$FVS_KO_B" ]; then
    for m in udp_pps_nat udp_pps_dr tcp_cps_nat; do
        # shellcheck disable=SC2086
        b=$(median ${S[$m:fvsb]:-}); a=$(median ${S[$m:fvs]:-})
        [ -n "$a" ] && [ -n "$b" ] && echo "RESULT-B $m fvsb=$(fmt "$b") fvs=$(fmt "$a") ratio=$(printf '%.2f' "$(calc "$a > 0 ? $b / $a : 0")") samples fvsb: ${S[$m:fvsb]} fvs: ${S[$m:fvs]}"
    done
fi

T_END=$(date +%s)
dmesg_all_bad=$(dmesg | grep -E "$dmesg_bad_re" | head -n 20)

# ---------------------------------------------------------------- report
settings=""
for v in $(env | grep -oE '^FVS_BENCH_[A-Z_]+' | sort); do
    case $v in FVS_BENCH_OUT|FVS_BENCH_HOST) continue ;; esac
    settings+="$v=${!v} "
done
rev=$(git -c safe.directory='*' rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git -c safe.directory='*' status --porcelain -- kmod uapi ipvsadm-rs 2>/dev/null | wc -l)
[ "$dirty" -gt 0 ] && rev="$rev (working tree: $dirty files of kmod/, uapi/, ipvsadm-rs/ differ from it)"
accel="TCG (no KVM)"
dmesg | grep -qi 'Hypervisor detected: KVM' && accel=KVM
samples_table() {
    local m b v row
    for m in udp_pps_plain udp_pps_nat udp_pps_dr udp_pps_nat_many lookup_scaling new_flows table_entries \
        conn_bytes conn_bytes_eff tcp_cps_plain tcp_cps_nat restore restore_rs flush_restore flush_restore_rs; do
        for b in plain ipvs fvs; do
            [ -n "${S[$m:$b]:-}" ] || continue
            row=""
            # shellcheck disable=SC2086
            for v in ${S[$m:$b]}; do row+="${row:+, }$(fmt "$v")"; done
            # shellcheck disable=SC2086
            echo "| \`$m\` | $b | $row | $(fmt "$(median ${S[$m:$b]})") |"
        done
    done
}
# noise: how far the measurements without any balancer moved between rounds.
noise() {
    local p=${S[udp_pps_plain:plain]:-} c=${S[tcp_cps_plain:plain]:-} lo hi
    [ -n "$p$c" ] || return 0
    echo
    echo "**Noise.** This VM runs under TCG on a shared host${FVS_BENCH_HOST:+ (${FVS_BENCH_HOST})}; the"
    echo "rates move with whatever else the host runs. Without any balancer loaded, the same measurement gave"
    if [ -n "$p" ]; then
        # shellcheck disable=SC2086
        read -r lo hi < <(printf '%s\n' $p | sort -g | sed -n '1p;$p' | xargs)
        echo "$(sed 's/ /, /g' <<<"$p") packets/s of plain forwarding in the successive rounds (max/min $(printf '%.2f' "$(calc "$hi / $lo")"))"
    fi
    if [ -n "$c" ]; then
        # shellcheck disable=SC2086
        read -r lo hi < <(printf '%s\n' $c | sort -g | sed -n '1p;$p' | xargs)
        echo "${p:+and }$(sed 's/ /, /g' <<<"$c") connections/s of the TCP client (max/min $(printf '%.2f' "$(calc "$hi / $lo")"))"
    fi
    echo "— a difference between fvs and ip_vs within that spread is not a result, and a ratio that"
    echo "changes direction from round to round is noise. Sizes (\`conn_bytes\`) do not depend on load."
}
{
    cat <<EOF
# Benchmarks: fvs.ko vs the kernel's ip_vs

Generated by \`make bench\` (\`qemu-tests/bench/run.sh\`, one VM boot) — regenerate, don't edit.
A measurement, not a test: nothing here fails a build, and missed goals are simply numbers.

- **Date**: $(date -u '+%Y-%m-%d %H:%M UTC'); $(( (T_END - T_START) / 60 )) min $(( (T_END - T_START) % 60 )) s inside the VM
- **Command**: \`${settings}make bench\`
- **Kernel**: $(uname -r) ($(uname -m)), the cached test kernel (\`qemu-tests/kernel.config\`); VM: $(nproc) vCPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(awk '/MemTotal/ {printf "%d MiB", $2 / 1024}' /proc/meminfo) RAM, $accel
- **Host**: ${FVS_BENCH_HOST:-not recorded (make bench records it)}
- **fvs**: revision $rev; fvs.ko sha256 $(sha256sum "$FVS_KO" 2>/dev/null | cut -c1-16)…, default parameters (conn_tab_bits=12); ipvsadm-rs release build
- **ip_vs**: the kernel's module (CONFIG_IP_VS_TAB_BITS=12; 7.x resizes its connection table), $(ipvsadm --version 2>/dev/null | head -n1)
- **Config**: $ROUNDS rounds; in each, plain forwarding, ip_vs and fvs one after the other (odd rounds in that order, even rounds reversed), only one balancer module loaded at a time (ip_vs flushed with \`ipvsadm -C\` and all its modules removed before fvs.ko goes in; fvs.ko removed before ip_vs loads). Reported value: the median over the rounds. The connection-rate client runs on CPU 0, the real servers' TCP servers on the other CPUs (fixed placement; see run.sh). Packet and connection rates: ${SECS} s per sample in ${BURSTS} bursts (windows) after ${WARM} s of warm-up, the sample being the best burst (the host is shared with other VMs, and preemption only ever slows a burst down). pktgen frames of ${PKT} bytes (18-byte UDP payload), ${FLOWS} flows, ${NRS} real servers (rr); ${NCONNS} extra entries for \`lookup_scaling\`; ${CONC} TCP connections in flight; restore of ${NRESTORE} services x 4 real servers.

## Results

Ratio > 1 is better for fvs in every row (rates: fvs/ip_vs; costs: ip_vs/fvs).

| metric | fvs | ip_vs | ratio | ratio in each round | unit |
|---|---|---|---|---|---|
EOF
    printf '%s\n' "${TABLE[@]:$RESULTS_START}"
    noise
    cat <<EOF

## What each metric measures

- \`udp_pps_nat\`, \`udp_pps_dr\`: pktgen in the client namespace sends ${PKT}-byte UDP frames from
  ${FLOWS} source ports (so ${FLOWS} connections) to VIP:${UDP_NAT} (NAT) or VIP:${UDP_DR} (DR; the real
  servers hold the VIP on lo) as fast as it can. The real servers count what arrives with an
  nftables counter at prerouting (priority -300) and drop it there. A burst's rate is pktgen's
  frames over its own time for them; the value is the best burst times the share of the frames
  that the real servers counted (1.0 unless something dropped them). pktgen transmits on the veth
  and the whole path (director's hooks, balancer, routing, the real server's drop) runs in the
  softirq that follows each frame, on the same vCPU: the rate is the inverse of the per-packet cost
  of that path, and nothing queues.
- \`fwd_ceiling\`: each balancer's \`udp_pps_nat\` median over the median of \`udp_pps_plain\`, the same
  traffic addressed to the real servers' own addresses and routed by the director with neither
  balancer module loaded. 1.0 would mean balancing costs nothing over routing.
- \`tcp_cps_nat\`: new TCP connections per second to VIP:80 (NAT): connect, send one request line,
  the server answers and closes, the client closes; ${CONC} in flight; every connection from a fresh
  source address:port, so no entry is ever reused. Client and servers are one epoll loop each
  (\`qemu-tests/bench/cps\`, Rust), $((NRS + 1)) processes on $(nproc) vCPUs, all in the one VM: the
  client's and servers' own TCP work shares the vCPUs with the director's (compare
  \`tcp_cps_plain\`, the same client to the real servers directly, below).
- \`conn_bytes\`: bytes per connection entry: \`objsize\` of the \`ip_vs_conn\` and \`fvs_conn\` slab
  caches in /proc/slabinfo, read with ${NCONNS}+ entries in the table. (\`conn_bytes_eff\` below:
  slab pages per active object, i.e. with the slab's own overhead.)
- \`lookup_scaling\`: \`udp_pps_nat\` with its ${FLOWS} flows (and the TCP entries of \`tcp_cps_nat\`) in
  the table, divided by the same measurement after ${NCONNS} more UDP entries were added (pktgen, one
  packet per new source address:port; \`new_flows\` is the rate at which they were accepted). 1.0
  means the per-packet cost does not grow with the table; 2.0, that a packet costs twice as much.
- \`restore_10k\`: wall time of \`-R\` from a file of ${NRESTORE} services x 4 NAT real servers
  ($((5 * NRESTORE)) lines) in a namespace of its own, on a freshly loaded module: \`ipvsadm-rs\`
  (IPVSADM_RS_FAMILY=FVS) on fvs.ko against Debian's \`ipvsadm\` on ip_vs; every service and real
  server is checked in /proc/net/fvs or /proc/net/ip_vs afterwards, then flushed (\`flush_*\`: that
  \`-C\`). \`restore_10k_cli\`: both CLIs against ip_vs (ipvsadm-rs with IPVSADM_RS_FAMILY=IPVS), the
  CLI alone. Fresh modules because ip_vs keeps deleted real servers in a trash list for two
  minutes and searches it linearly for every real server added: a restore right after flushing
  40,000 real servers is quadratic in ip_vs, whichever CLI sends it.

## All samples (one per round, in round order)

| sample | backend | rounds | median |
|---|---|---|---|
EOF
    samples_table
    cat <<EOF

\`table_entries\`: the UDP NAT service's connection counter after \`lookup_scaling\` filled the table.
The raw lines (every burst, pktgen's send rate, delivered frames, latency percentiles,
retransmissions, VM idle time) are in \`target/bench/samples.log\` after a run.

## Observations

EOF
    if [ ${#OBS[@]} -eq 0 ]; then echo "- Nothing unusual: no packet loss above 1 %, no misdirected packets, no failed connections, every restore complete."; fi
    for o in "${OBS[@]}"; do echo "- $o"; done
    if [ -n "$dmesg_all_bad" ]; then
        echo "- Kernel log reports (first lines):"; echo; echo '```'; echo "$dmesg_all_bad"; echo '```'
    else
        echo "- Kernel log: no WARNING/BUG/Oops/RCU/refcount reports during the run."
    fi
    # Figures measured by VM tests rather than by this script (real-server churn, tests
    # 77-79), kept in their own file and carried into the report.
    if [ -f docs/benchmarks-churn.md ]; then echo; cat docs/benchmarks-churn.md; fi
    # What profiling found and what each optimisation bought (`make profile`, A/B runs).
    if [ -f docs/benchmarks-optimisations.md ]; then echo; cat docs/benchmarks-optimisations.md; fi
} > "$OUT"
dmesg > "$RAW/dmesg.txt"
log "report: $OUT; samples: $SAMPLES; $(( (T_END - T_START) / 60 )) min $(( (T_END - T_START) % 60 )) s"
exit 0
