#!/usr/bin/env bash
# backends: ipvs fvs
# Debian's keepalived (checker only, -C) manages the backend (FVS_BACKEND=ipvs|fvs, see
# qemu-tests/compat/compat.sh) in the director's namespace of topo_nat: one NAT virtual service
# VIP:80 (rr) with the three real servers, each health-checked by TCP_CHECK every second.
#   - keepalived installs the service with all three real servers (ipvsadm -Ln);
#   - rs2's listener stops: keepalived removes rs2 from the table within a few check intervals,
#     and while it is out every client connection through the VIP succeeds, none on rs2;
#   - rs2's listener comes back: keepalived re-adds it, and traffic reaches all three again;
#   - keepalived stops (SIGTERM): it removes what it installed, the table ends empty.
# keepalived's files (config, pid files, log) live in a temporary directory.
set -uo pipefail
. qemu-tests/lib.sh
. qemu-tests/compat/compat.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh

KEEPALIVED=${KEEPALIVED:-/usr/sbin/keepalived}
[ -x "$KEEPALIVED" ] || skip "keepalived not installed"
command -v socat >/dev/null || skip "socat not installed"
# Seconds allowed for keepalived to notice a change: checks run every second (delay_loop 1,
# connect_timeout 1; a failed check is retried once, 1 s later, so that one slow check in the
# TCG guest does not take a server out), the rest is margin for the slow guest.
SETTLE=${FVS_KEEPALIVED_SETTLE:-20}

work=$(mktemp -d /tmp/fvs-keepalived.XXXXXX)
KA_PG=
cleanup() {
    local rc=$?
    if [ $rc -ne 0 ] && [ -s "$work/keepalived.log" ]; then
        echo "--- keepalived log (last 40 lines):"; tail -n 40 "$work/keepalived.log"
    fi
    [ -n "$KA_PG" ] && kill -- "-$KA_PG" 2>/dev/null
    dp_kill_all
    rm -rf "$work"
}
trap cleanup EXIT

dir_adm() { ip netns exec fvs-dir ipvsadm "$@"; }

# Real server I's listener (dp_tcp_servers' server: answers "rsI PEER LOCAL", then echoes),
# in its own process group RS_PG[I] so that it can be stopped alone.
declare -A RS_PG
rs_start() {
    local i=$1
    # shellcheck disable=SC2016
    dp_bg "fvs-rs$i" socat -t 10 TCP4-LISTEN:80,fork,reuseaddr \
        'SYSTEM:echo rs'"$i"' $SOCAT_PEERADDR $SOCAT_SOCKADDR; exec cat' 2>>/tmp/dp-servers.log
    RS_PG[$i]=${DP_PGIDS[-1]}
    wait_listen "fvs-rs$i" 80
}
rs_stop() {
    local i=$1 n
    kill -- "-${RS_PG[$i]}" 2>/dev/null
    for n in $(seq 1 100); do
        ip netns exec "fvs-rs$i" ss -H -ltn 'sport = :80' | grep -q . || return 0
        sleep 0.1
    done
    fail "rs$i still listening"
}

# The real servers in the table: "10.0.2.I:80 FORWARD WEIGHT" lines, sorted.
table_rs() {
    dir_adm -Ln | awk '$1 == "->" && $2 ~ /^10\.0\.2\./ {print $2, $3, $4}' | sort
}
# wait_table WANT WHAT: polls (up to SETTLE s) until table_rs is WANT; prints the seconds taken.
wait_table() {
    local want=$1 what=$2 t0 now
    t0=$(date +%s.%N)
    while :; do
        [ "$(table_rs)" = "$want" ] && break
        now=$(date +%s.%N)
        if awk -v a="$t0" -v b="$now" -v s="$SETTLE" 'BEGIN {exit !(b - a > s)}'; then
            echo "table:" >&2; dir_adm -Ln >&2
            fail "$what: not within ${SETTLE}s"
        fi
        sleep 0.2
    done
    awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f\n", b - a}'
}
all3=$'10.0.2.1:80 Masq 1\n10.0.2.2:80 Masq 1\n10.0.2.3:80 Masq 1'
no2=$'10.0.2.1:80 Masq 1\n10.0.2.3:80 Masq 1'

compat_up ip_vs_rr
topo_nat 3
for i in 1 2 3; do rs_start "$i"; done

cat > "$work/keepalived.conf" <<EOF
global_defs {
    router_id fvs-test
}
virtual_server $VIP 80 {
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
$(for i in 1 2 3; do printf '    real_server 10.0.2.%d 80 {\n        weight 1\n        TCP_CHECK {\n            connect_timeout 1\n            retry 1\n            delay_before_retry 1\n            warmup 0\n        }\n    }\n' "$i"; done)
}
EOF
"$KEEPALIVED" -t -f "$work/keepalived.conf" > "$work/config-test.log" 2>&1 ||
    fail "keepalived rejects the configuration: $(cat "$work/config-test.log")"

# -C: the checker only (no VRRP, no BFD); -n: no daemon (the parent stays, in our process group);
# -l -G: log to the console only. The pid files would otherwise go to /run.
setsid ip netns exec fvs-dir "$KEEPALIVED" -C -n -l -G -D -f "$work/keepalived.conf" \
    -p "$work/keepalived.pid" -c "$work/checkers.pid" -r "$work/vrrp.pid" -b "$work/bfd.pid" \
    > "$work/keepalived.log" 2>&1 &
KA_PG=$!
t=$(wait_table "$all3" "keepalived installs the three real servers") || exit 1
info "keepalived installed the service with 3 real servers after ${t}s"
svc=$(dir_adm -Ln | grep -E '^(TCP|UDP|FWM)')
assert_eq "TCP  $VIP:80 rr" "$svc" "virtual service installed by keepalived"
[ -s "$work/keepalived.pid" ] || fail "keepalived wrote no pid file"
KA_PID=$(cat "$work/keepalived.pid")

out=$(dp_client tcp "$VIP" 80 6)
dp_check_lines nat 6 <<<"$out"
assert_eq "rs1=2 rs2=2 rs3=2" "$(dp_count_names 3 <<<"$out")" "rr over 6 connections, all real servers up"

# rs2 goes down: keepalived takes it out of the table.
rs_stop 2
t=$(wait_table "$no2" "keepalived removes rs2 after its listener stopped") || exit 1
info "rs2 removed ${t}s after its listener stopped"
out=$(dp_client tcp "$VIP" 80 6)
info "$(tr '\n' ';' <<<"$out")"
dp_check_lines nat 6 <<<"$out"
assert_eq "rs1=3 rs2=0 rs3=3" "$(dp_count_names 3 <<<"$out")" "rr over 6 connections with rs2 down"

# rs2 comes back: keepalived re-adds it.
rs_start 2
t=$(wait_table "$all3" "keepalived re-adds rs2 after its listener restarted") || exit 1
info "rs2 back ${t}s after its listener restarted"
out=$(dp_client tcp "$VIP" 80 6)
dp_check_lines nat 6 <<<"$out"
assert_eq "rs1=2 rs2=2 rs3=2" "$(dp_count_names 3 <<<"$out")" "rr over 6 connections, rs2 back"

# keepalived stops: it removes its service on the way out.
kill -TERM "$KA_PID" || fail "keepalived (pid $KA_PID) is gone before the end"
for n in $(seq 1 $((SETTLE * 5))); do kill -0 "$KA_PID" 2>/dev/null || break; sleep 0.2; done
! kill -0 "$KA_PID" 2>/dev/null || fail "keepalived still running ${SETTLE}s after SIGTERM"
wait "$KA_PG" 2>/dev/null
KA_PG=
assert_eq "" "$(dir_adm -Sn)" "table after keepalived stopped"
# keepalived's IPVS failures: "IPVS: Can't initialize ipvs", "IPVS cmd ... error", "Failed to
# set ipvs timeouts" (ipvswrapper.c).
if grep -E "IPVS: Can't initialize|IPVS cmd .* error|Failed to set ipvs" "$work/keepalived.log"; then
    fail "keepalived reports IPVS errors"
fi
info "keepalived log: $(grep -ciE 'ipvs|check' "$work/keepalived.log") ipvs/check lines, e.g."
grep -iE 'TCP connection to|Removing service|Adding service|ipvs' "$work/keepalived.log" | head -n 8 | sed 's/^/    | /'

dp_kill_all
compat_down
echo "keepalived manages the $FVS_BACKEND table: install, remove/re-add on health changes, clean stop"
