#!/usr/bin/env bash
# backends: ipvs fvs
# The kernel's own IPVS selftest, tools/testing/selftests/net/netfilter/ipvs.sh from the source
# tree the test kernel is built from, run unmodified (with its lib.sh) against the backend
# (FVS_BACKEND=ipvs|fvs, see qemu-tests/compat/compat.sh): DR, NAT and tunnel forwarding of a
# TCP stream between three namespaces, configured with Debian's ipvsadm. It must exit 0 and
# print PASS; its skip status (4, e.g. no /proc/sys/net/ipv4/vs and `modprobe ip_vs` failing)
# counts as a failure. The selftest ignores ipvsadm's exit status, so ipvsadm (and modprobe) are
# wrapped on PATH to log each call and its status, and to list the table after each real
# server is added: all calls must succeed and the listings show the one real server with Route,
# Masq and Tunnel forwarding in turn. `sleep` and `timeout` are wrapped as well, against the
# selftest's own timing assumptions under TCG (see below). On fvs, ip_vs must never get loaded.
set -uo pipefail
. qemu-tests/lib.sh
. qemu-tests/compat/compat.sh

command -v socat >/dev/null || skip "socat not installed"
src=$(compat_linux_src) || exit 1
stdir=$src/tools/testing/selftests/net/netfilter
for f in ipvs.sh lib.sh ../lib.sh; do [ -f "$stdir/$f" ] || fail "no $f in $stdir"; done

work=$(mktemp -d /tmp/fvs-selftest.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir "$work/bin"
# Wrappers: run the real tool, log "rc=N tool ARGS"; ipvsadm -a also logs the table it made.
wrap() {
    local name=$1 real
    real=$(command -v "$name") || fail "$name not found"
    cat > "$work/bin/$name" <<EOF
#!/bin/sh
"$real" "\$@"; rc=\$?
echo "rc=\$rc $name \$*" >> "$work/calls.log"
if [ "$name" = ipvsadm ] && [ "\$1" = -a ]; then "$real" -Ln >> "$work/calls.log" 2>&1; fi
exit \$rc
EOF
    chmod +x "$work/bin/$name"
}
wrap ipvsadm
wrap modprobe
# ipvs.sh starts its server (`ip netns exec ns2 timeout 5 socat TCP-LISTEN:8080 ...` in the
# background), then sleeps 0.2 s and connects: in the slow (TCG) guest the server may not be
# listening yet, and the connection is refused whatever the balancer does. So `sleep` is
# wrapped too: after a `sleep 0.2` it waits (up to 25 s) until some namespace listens on TCP
# port 8080, and logs how long that took.
real_sleep=$(command -v sleep) || fail "sleep not found"
cat > "$work/bin/sleep" <<EOF
#!/bin/sh
"$real_sleep" "\$@" || exit
[ "\$*" = 0.2 ] || exit 0
t0=\$(date +%s)
while [ \$(( \$(date +%s) - t0 )) -lt 25 ]; do
    for ns in \$(ip netns list | awk '{print \$1}'); do
        if ip netns exec "\$ns" ss -Hltn 'sport = :8080' | grep -q .; then
            echo "sleep 0.2: server listening in \$ns, \$(( \$(date +%s) - t0 )) s later" >> "$work/calls.log"
            exit 0
        fi
    done
    "$real_sleep" 0.1
done
echo "sleep 0.2: no server listening after 25 more seconds" >> "$work/calls.log"
EOF
chmod +x "$work/bin/sleep"
# Its servers and clients run under `timeout 5` / `timeout 2`, wall-clock limits meant for real
# hardware: a TCG guest on a busy host can take longer than that just to start socat. `timeout`
# is wrapped to scale them (FVS_SELFTEST_TIME_SCALE, default 6); a passing run ends when the
# transfer does, so only a failing one waits longer.
real_timeout=$(command -v timeout) || fail "timeout not found"
scale=${FVS_SELFTEST_TIME_SCALE:-6}
cat > "$work/bin/timeout" <<EOF
#!/bin/sh
case "\$1" in
    ''|*[!0-9]*) exec "$real_timeout" "\$@" ;;
esac
d=\$1; shift
exec "$real_timeout" \$((d * $scale)) "\$@"
EOF
chmod +x "$work/bin/timeout"
indent() { sed 's/^/    | /'; }
: > "$work/calls.log"

compat_up ip_vs_rr
start=$(date +%s)
# ipvs.sh does `source lib.sh` (which sources ../lib.sh): run it from its own directory. Its
# data files are mktemp'ed in /tmp; it writes nothing into the source tree.
out=$(cd "$stdir" && timeout 480 env PATH="$work/bin:$PATH" bash ./ipvs.sh 2>&1)
rc=$?
info "ipvs.sh exit $rc after $(( $(date +%s) - start ))s:"
indent <<<"$out"
info "calls:"
indent < "$work/calls.log"

[ $rc -ne 4 ] || fail "ipvs.sh skipped (ksft_skip)"
[ $rc -eq 0 ] || fail "ipvs.sh exit $rc"
grep -q 'ipvs.sh: .*PASS' <<<"$out" || fail "ipvs.sh printed no PASS"
for m in DR NAT Tunnel; do
    grep -q "^Testing $m mode\.\.\.\$" <<<"$out" || fail "ipvs.sh did not run its $m test"
done
# Every ipvsadm call succeeded: -v (its tool check), then -A and -a for each of the three modes.
grep -v '^rc=0 ' "$work/calls.log" | grep '^rc=' && fail "a wrapped call failed"
[ "$(grep -c '^rc=0 ipvsadm -A -t 207\.175\.44\.110:8080 -s rr$' "$work/calls.log")" = 3 ] ||
    fail "expected 3 successful ipvsadm -A"
[ "$(grep -c '^rc=0 ipvsadm -a ' "$work/calls.log")" = 3 ] || fail "expected 3 successful ipvsadm -a"
fwds=$(grep -oE '^  -> 172\.16\.0\.2:8080 +(Route|Masq|Tunnel) ' "$work/calls.log" | awk '{print $3}' | xargs)
assert_eq "Route Masq Tunnel" "$fwds" "real server listed after each ipvsadm -a"
[ "$(grep -c '^TCP  207\.175\.44\.110:8080 rr$' "$work/calls.log")" = 3 ] || fail "service not listed as TCP 207.175.44.110:8080 rr"
grep -q '^rc=0 modprobe .*ip_vs' "$work/calls.log" && [ "$FVS_BACKEND" = fvs ] &&
    fail "ipvs.sh modprobe'd ip_vs on the fvs backend (no /proc/sys/net/ipv4/vs?)"

compat_down
echo "kernel selftest ipvs.sh passes (DR, NAT, tunnel) on $FVS_BACKEND"
