#!/usr/bin/env bash
# backends: ipvs fvs
# cache_bypass (FVS_BACKEND=ipvs|fvs): a transparent-cache setup. The director marks TCP to
# port 80 of any address with mark 1 and delivers marked packets locally (policy routing), so
# a firewall-mark service "-f 1" sees them; its only real server has weight 0, so nothing can
# be scheduled. The client connects to 10.0.2.1:80 (an origin server beyond the director):
#  * cache_bypass 0 (default): not scheduled, nothing answers (the port unreachable the
#    director sends would come from 10.0.2.1, not one of its addresses: no route), a timeout;
#  * cache_bypass 1: the connection goes on to its own destination, which answers, and -Lnc
#    lists the bypass entries "client -> 10.0.2.1:80 -> 0.0.0.0:0", in TIME_WAIT once closed
#    (the origin's replies, routed through the director, are the entries' output).
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh
command -v nft >/dev/null || skip "nft not installed"
dp_backend_up
topo_nat 2
dp_tcp_servers 1 80
ip netns exec fvs-dir nft -f - <<'EOF2' || fail "nft rules"
table ip fvscache {
    chain pre {
        type filter hook prerouting priority mangle;
        iifname "dir0" tcp dport 80 meta mark set 1
    }
}
EOF2
ip -n fvs-dir rule add fwmark 1 lookup 100 pref 100 || fail "ip rule"
ip -n fvs-dir route add local 0.0.0.0/0 dev lo table 100 || fail "local route"
adm_ok -A -f 1 -s rr
adm_ok -a -f 1 -r 10.0.2.2:0 -m -w 0
SYSCTL=/proc/sys/net/ipv4/vs/cache_bypass
[ "$FVS_BACKEND" = fvs ] && SYSCTL=/proc/sys/net/fvs/cache_bypass
assert_eq 0 "$(ip netns exec fvs-dir cat "$SYSCTL")" "cache_bypass default"
out=$(dp_client tcp 10.0.2.1 80 1)
info "cache_bypass 0: $out"
assert_eq "error timed out" "$out" "cache_bypass 0"
ip netns exec fvs-dir sh -c "echo 1 > $SYSCTL" || fail "set cache_bypass 1"
out=$(dp_client tcp 10.0.2.1 80 2)
info "cache_bypass 1: $(tr '\n' ';' <<<"$out")"
assert_eq 2 "$(grep -c '^rs1 10.0.1.2 10.0.2.1 echo-ok$' <<<"$out")" "bypassed connections answered by the origin"
conns=$(dp_conns)
info "$(tr '\n' ';' <<<"$conns")"
# The origin's replies (routed through the director) count for the entries too: closed
# connections are in TIME_WAIT, as with ip_vs.
assert_eq 2 "$(grep -Ec '^TCP +01:[0-9]{2} +TIME_WAIT +10\.0\.1\.2:[0-9]+ +10\.0\.2\.1:80 +0\.0\.0\.0:0$' <<<"$conns")" \
    "bypass entries listed"
echo "cache_bypass works"
