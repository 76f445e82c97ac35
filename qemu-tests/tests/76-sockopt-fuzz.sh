#!/usr/bin/env bash
# The IPVS socket options under fuzzing (fvs.ko compat=1, then the kernel's ip_vs with the same
# seed): FVS_SOCKOPT_FUZZ calls (default 20,000) from qemu-tests/compat/sockopt_fuzz.py, half
# malformed (option numbers around the IPVS range, random lengths and bytes), half shaped (set
# commands with their exact length and random fields, gets of right and wrong sizes), in a test
# namespace. Afterwards: no kernel report (the runner checks the log), fvs still serves a normal
# configuration, and every call whose outcome depends only on the call itself (option number and
# length checks) got the same result from fvs as from ip_vs.
set -uo pipefail
. qemu-tests/lib.sh
command -v ipvsadm >/dev/null || skip "ipvsadm not installed"
N=${FVS_SOCKOPT_FUZZ:-20000}
SEED=${FVS_SOCKOPT_SEED:-1}
work=$(mktemp -d /tmp/fvs-sofuzz.XXXXXX)
trap 'ip netns del fvs-sofuzz 2>/dev/null; rm -rf "$work"' EXIT

run() { # run BACKEND
    ip netns add fvs-sofuzz
    ip -n fvs-sofuzz link set lo up
    ip netns exec fvs-sofuzz python3 qemu-tests/compat/sockopt_fuzz.py "$SEED" "$N" > "$work/$1.out" 2> "$work/$1.err" ||
        fail "$1: the fuzzer failed: $(tail -n 5 "$work/$1.err")"
    [ "$(wc -l < "$work/$1.out")" = "$N" ] || fail "$1: $(wc -l < "$work/$1.out") results for $N calls"
    # Still serving: a normal configuration through netlink, exact listing.
    ip netns exec fvs-sofuzz ipvsadm -C || fail "$1: ipvsadm -C after fuzzing"
    ip netns exec fvs-sofuzz ipvsadm -A -t 10.9.0.1:80 -s wrr || fail "$1: ipvsadm -A after fuzzing"
    ip netns exec fvs-sofuzz ipvsadm -a -t 10.9.0.1:80 -r 10.9.0.2:8080 -m -w 3 || fail "$1: ipvsadm -a after fuzzing"
    assert_eq $'-A -t 10.9.0.1:80 -s wrr\n-a -t 10.9.0.1:80 -r 10.9.0.2:8080 -m -w 3' \
        "$(ip netns exec fvs-sofuzz ipvsadm -Sn)" "$1: table after fuzzing"
    ip netns exec fvs-sofuzz ipvsadm -C
    ip netns exec fvs-sofuzz ipvsadm --stop-daemon master 2>/dev/null
    ip netns exec fvs-sofuzz ipvsadm --stop-daemon backup 2>/dev/null
    ip netns del fvs-sofuzz
}

ipvs_unload
fvs_load compat=1
t0=$(date +%s)
run fvs
t1=$(date +%s)
fvs_unload
ipvs_load
run ipvs
t2=$(date +%s)
ipvs_unload

summary() { awk '{print $2 "/" $3 " " $NF}' "$1" | sort | uniq -c | sort -rn | head -n 12 | xargs -L1 echo "   "; }
info "fvs ($((t1 - t0)) s), outcomes by kind:"; summary "$work/fvs.out"
info "ip_vs ($((t2 - t1)) s), outcomes by kind:"; summary "$work/ipvs.out"
awk '$2 == "det"' "$work/fvs.out" > "$work/fvs.det"
awk '$2 == "det"' "$work/ipvs.out" > "$work/ipvs.det"
ndet=$(wc -l < "$work/fvs.det")
if ! cmp -s "$work/fvs.det" "$work/ipvs.det"; then
    diff "$work/ipvs.det" "$work/fvs.det" | head -n 20
    fail "fvs and ip_vs differ on calls checked by option number and length alone"
fi
same=$(paste -d'|' "$work/fvs.out" "$work/ipvs.out" | awk -F'|' '$1 == $2' | wc -l)
info "$ndet calls decided by number and length: identical; all calls: $same of $N identical"
echo "$N socket-option calls fuzzed on fvs and ip_vs: no kernel report, fvs still serves"
