# Shared helpers for the VM test scripts (sourced; run inside the guest as root from the repo root).
# shellcheck shell=bash

FVS_KO=${FVS_KO:-kmod/fvs.ko}
IPVSADM_RS=${IPVSADM_RS:-target/release/ipvsadm-rs}

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*" >&2; exit 77; }
info() { echo "  $*"; }

# assert_eq EXPECTED ACTUAL WHAT
assert_eq() {
    if [ "$1" != "$2" ]; then
        echo "FAIL: $3" >&2
        diff -u <(printf '%s\n' "$1") <(printf '%s\n' "$2") >&2 || true
        exit 1
    fi
}

# fvs.ko uses conntrack and its NAT helpers (as ip_vs does): insmod needs them loaded first
# (modprobe resolves that itself once fvs is installed under /lib/modules).
fvs_load() {
    lsmod | grep -q '^fvs ' && return 0
    modprobe nf_nat || fail "modprobe nf_nat"
    insmod "$FVS_KO" "$@" || fail "insmod $FVS_KO $*"
}
fvs_unload() { if lsmod | grep -q '^fvs '; then rmmod fvs || fail "rmmod fvs"; fi; }
ipvs_load() { modprobe ip_vs || fail "modprobe ip_vs"; }
# Unloads ip_vs and its scheduler modules; a configured service pins its scheduler module, so
# the table is flushed and the sync daemons stopped first.
ipvs_unload() {
    local m
    if lsmod | grep -q '^ip_vs '; then
        ipvsadm -C 2>/dev/null
        ipvsadm --stop-daemon master 2>/dev/null
        ipvsadm --stop-daemon backup 2>/dev/null
    fi
    for m in $(lsmod | awk '/^ip_vs/ {print $1}' | sort -r); do rmmod "$m" 2>/dev/null || true; done
    rmmod ip_vs 2>/dev/null || true
    ! lsmod | grep -q '^ip_vs ' || echo "warning: ip_vs still loaded" >&2
}

# Kernel log lines that mean a test broke the kernel.
# Besides WARN/BUG/Oops: sanitizer and debug-kernel reports (KASAN, UBSAN, kmemleak, lockdep and
# RCU, which print "WARNING:"/"BUG:" headers, SLUB debug's "BUG <cache> (Not tainted): ...",
# debugobjects' ODEBUG, the netdev/netns reference trackers).
dmesg_bad_re='WARNING:|BUG:|Oops|Call Trace|general protection|KASAN|UBSAN|kmemleak|possible recursive locking|suspicious RCU usage|INFO: rcu|refcount_t:|list_add corruption|list_del corruption|BUG [^ ]+ \((Not tainted|Tainted)|ODEBUG:|ref_tracker|unregister_netdevice: waiting|Kernel panic'

# wait_listen NETNS PORT [tcp|udp]: waits (up to 10 s) until something listens on PORT in NETNS.
wait_listen() {
    local ns=$1 port=$2 proto=${3:-tcp} i flag=-ltn
    [ "$proto" = udp ] && flag=-lun
    for i in $(seq 1 100); do
        ip netns exec "$ns" ss -H "$flag" "sport = :$port" 2>/dev/null | grep -q . && return 0
        sleep 0.1
    done
    fail "nothing listening on $proto port $port in $ns"
}
