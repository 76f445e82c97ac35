#!/usr/bin/env bash
# backends: ipvs fvs
# Teardown while traffic flows (FVS_BACKEND=ipvs|fvs; the suite runner fails the test on any
# WARN/BUG/Oops, and on the debug kernel on any KASAN/lockdep/RCU/kmemleak report). Traffic, in
# the background for the whole test: TCP clients (connect, echo, close) and UDP requests through
# a NAT VIP, plus a stream of SYNs from spoofed sources (every one a new entry). While it runs:
#   1. real servers are deleted and re-added, one after another, twice;
#   2. `ipvsadm -C`, then the service is configured again;
#   3. the director's network namespace is deleted (with its services and entries);
#   4. a new director namespace is built and loaded with traffic, then the backend is unloaded
#      (fvs: rmmod directly; ip_vs: ipvsadm -C, then its modules).
# After each step the surviving configuration still balances traffic. No entry may leak: at
# rmmod the entry cache must be empty (kmem_cache_destroy would report leftovers) and the
# namespace's exit must free everything it held.
set -uo pipefail
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh
command -v gcc >/dev/null || skip "gcc not installed (needed to build the SYN generator)"
work=$(mktemp -d /tmp/fvs-teardown.XXXXXX)
gcc -O2 -o "$work/synflood" qemu-tests/flood/synflood.c || fail "building synflood"

setup() {
    topo_nat 3
    dp_tcp_servers 3
    dp_udp_servers 3
    ip -n fvs-dir route add 100.64.0.0/10 via 10.0.1.2
    dp_service -t 80 rr -m 1 1 1
    dp_service -u 53 rr -m 1 1 1
}
load() {
    cat > "$work/load.sh" <<LOAD
while :; do
    python3 -c "\$DP_CLIENT_PY" tcp $VIP 80 3 >/dev/null 2>&1
    python3 -c "\$DP_CLIENT_PY" udp $VIP 53 3 >/dev/null 2>&1
done
LOAD
    dp_bg fvs-cl env DP_CLIENT_PY="$DP_CLIENT_PY" bash "$work/load.sh"
    dp_bg fvs-cl bash -c "while :; do '$work/synflood' $VIP 80 20000 100.64.0.1 >/dev/null 2>&1 || sleep 0.2; done"
}
served() { # served WHAT: a few clients through the VIP must all succeed
    local out
    out=$(dp_client tcp "$VIP" 80 3)
    [ "$(grep -c echo-ok <<<"$out")" = 3 ] || fail "$1: TCP clients: $out"
    out=$(dp_client udp "$VIP" 53 3)
    [ "$(grep -c ' 10\.0\.1\.2 req' <<<"$out")" = 3 ] || fail "$1: UDP clients: $out"
}
entries() { adm -Ln | awk '$1 == "->" && $5 ~ /^[0-9]+$/ {n += $5 + $6} END {print n + 0}'; }

dp_backend_up
setup
load
sleep 3
[ "$(entries)" -gt 10 ] || fail "the load made no entries: $(adm -Ln)"
info "under load: $(entries) entries"

# 1. Real servers deleted and re-added while they carry traffic.
for round in 1 2; do
    for i in 1 2 3; do
        adm_ok -d -t "$VIP:80" -r "10.0.2.$i:80"
        adm_ok -d -u "$VIP:53" -r "10.0.2.$i:53"
        sleep 0.5
        adm_ok -a -t "$VIP:80" -r "10.0.2.$i:80" -m
        adm_ok -a -u "$VIP:53" -r "10.0.2.$i:53" -m
    done
done
served "after deleting and re-adding real servers"
info "real servers replaced twice under load ($(entries) entries)"

# 2. Flush under load, then configure again.
adm_ok -C
sleep 1
dp_service -t 80 rr -m 1 1 1
dp_service -u 53 rr -m 1 1 1
sleep 1
served "after ipvsadm -C and reconfiguring"
info "flushed and reconfigured under load"

# 3. The director's namespace goes while traffic flows into it.
ip netns del fvs-dir
sleep 3
info "director namespace deleted under load"
dp_kill_all
for ns in $(ip netns list | awk '{print $1}'); do ip netns del "$ns"; done
sleep 1

# 4. A new director, loaded, then the backend unloaded under load.
setup
load
sleep 3
served "new director namespace"
n=$(entries)
info "new director under load: $n entries"
case $FVS_BACKEND in
    ipvs)
        adm_ok -C
        ipvs_unload
        ! lsmod | grep -q '^ip_vs' || fail "ip_vs modules still loaded under load: $(lsmod | grep '^ip_vs')"
        ;;
    fvs)
        rmmod fvs || fail "rmmod fvs under load"
        ;;
esac
sleep 2
dp_kill_all
rm -rf "$work"
echo "replaced real servers, flushed, deleted the namespace and unloaded, all under load"
