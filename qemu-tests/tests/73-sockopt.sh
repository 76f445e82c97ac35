#!/usr/bin/env bash
# backends: ipvs fvs
# The legacy IPVS socket options (IP_VS_SO_SET_* / IP_VS_SO_GET_* by setsockopt/getsockopt on a
# raw IPv4 socket: what ipvsadm used before generic netlink, still served by ip_vs) against the
# backend (FVS_BACKEND=ipvs|fvs, see qemu-tests/compat/compat.sh). qemu-tests/compat/sockopt.py
# runs one deterministic scenario in a fresh network namespace -- version/info, services of
# every kind, real servers of every forwarding method, edits, deletes, every refusal (EEXIST,
# ESRCH, ENOENT, EFAULT, EINVAL, ERANGE, ENODEV, ENOPROTOOPT, EPERM for an unprivileged caller),
# listings with right and wrong sizes, timeouts, sync daemons, zero, flush -- interleaved with
# Debian's ipvsadm (netlink) listings of the result, and prints one line per call. The output
# must equal qemu-tests/compat/sockopt.expected, recorded on the kernel's ip_vs
# (FVS_SOCKOPT_RECORD=1 on the ipvs backend rewrites it).
set -uo pipefail
. qemu-tests/lib.sh
. qemu-tests/compat/compat.sh

expected=qemu-tests/compat/sockopt.expected
ns=fvs-sockopt
work=$(mktemp -d /tmp/fvs-sockopt.XXXXXX)
trap 'ip netns del "$ns" 2>/dev/null; rm -rf "$work"' EXIT

# ip_vs loads schedulers on demand; loading them first keeps the first ADD quick.
compat_up ip_vs_rr ip_vs_wrr ip_vs_wlc ip_vs_lc ip_vs_sh
ip netns add "$ns" || fail "ip netns add $ns"
ip -n "$ns" link set lo up
ip netns exec "$ns" timeout 120 python3 qemu-tests/compat/sockopt.py > "$work/out" 2> "$work/err"
rc=$?
[ -s "$work/err" ] && { echo "sockopt.py stderr:"; cat "$work/err"; }
[ $rc -eq 0 ] || { cat "$work/out"; fail "sockopt.py exit $rc"; }
info "$(grep -vc '^ ' "$work/out") calls, $(grep -c ' -> ok' "$work/out") ok"

if [ "${FVS_SOCKOPT_RECORD:-0}" = 1 ]; then
    [ "$FVS_BACKEND" = ipvs ] || fail "record the expected output on the ipvs backend only"
    cp "$work/out" "$expected"
    echo "recorded $expected ($(wc -l < "$expected") lines)"
fi
[ -f "$expected" ] || fail "$expected missing (record it: FVS_SOCKOPT_RECORD=1 on the ipvs backend)"
if ! diff -u "$expected" "$work/out" > "$work/diff"; then
    cat "$work/diff"
    fail "socket-option behaviour differs from ip_vs's ($expected): $(grep -c '^[-+][^-+]' "$work/diff") lines"
fi
# The scenario ends with an empty table and no sync daemon, in the namespace it used.
assert_eq "" "$(ip netns exec "$ns" ipvsadm -Sn)" "table left by sockopt.py"
ip netns del "$ns"
compat_down
echo "socket options behave as ip_vs's on $FVS_BACKEND"
