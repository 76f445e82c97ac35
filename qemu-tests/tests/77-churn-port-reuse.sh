#!/usr/bin/env bash
# backends: ipvs fvs
# Real-server churn (#10), port reuse: one client cycles through 50 fixed source ports
# (connect, read the server's line; the server closes first, so the director's entry ends in
# TIME_WAIT while the client's port is free at once) through a NAT VIP (rr over three real
# servers), while one of them is replaced (the new one added, the old one deleted). Counted:
# connects slower than 500 ms (a dropped SYN costs a 1-s retransmission), failed connections
# (reset, or timed out: the client waits 5 s for the server's line), and connections that
# reached the removed server after its removal. fvs resets the connection in flight to the
# deleted server (at most one: the client has one connection at a time), as it should. Two phases, each with the
# backend's own defaults otherwise:
#   1. 30 s, replacement after 10 s, default sysctls;
#   2. 15 s, replacement after 5 s, as kube-proxy's IPVS mode runs it: conntrack=1 with
#      conntrack in use in the director (an nftables rule with a ct match).
# fvs must show no slow connect, no timeout, at most one reset and nothing to the removed
# server in both; ip_vs's figures are reported (RESULT lines, recorded in
# docs/benchmarks-churn.md).
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh
command -v nft >/dev/null || skip "nft not installed"
dp_backend_up
topo_nat 4
churn=qemu-tests/churn/churn.py
for i in 1 2 3 4; do dp_bg "fvs-rs$i" python3 "$churn" tcpserver "rs$i" 80; done
for i in 1 2 3 4; do wait_listen "fvs-rs$i" 80; done
SYSCTL_DIR=/proc/sys/net/ipv4/vs
[ "$FVS_BACKEND" = fvs ] && SYSCTL_DIR=/proc/sys/net/fvs

# phase NAME SECONDS AT OLD NEW: a fresh service on every server but NEW (rr, weights 1); the
# client runs SECONDS; after AT seconds NEW is added and OLD deleted.
phase() {
    local name=$1 secs=$2 at=$3 old=$4 new=$5 i
    adm_ok -C
    adm_ok -A -t "$VIP:80" -s rr
    for i in 1 2 3 4; do [ "$i" = "$new" ] || adm_ok -a -t "$VIP:80" -r "10.0.2.$i:80" -m -w 1; done
    local mark=/tmp/churn-reuse.mark out=/tmp/churn-reuse.json client
    rm -f "$mark" "$out"
    ip netns exec fvs-cl python3 "$churn" reuse "$VIP" 80 10.0.1.2 50 "$secs" "$mark" > "$out" &
    client=$!
    sleep "$at"
    adm_ok -a -t "$VIP:80" -r "10.0.2.$new:80" -m -w 1
    adm_ok -d -t "$VIP:80" -r "10.0.2.$old:80"
    echo "rs$old $(date +%s.%N)" > "$mark"
    info "$name: rs$old replaced by rs$new after $at s"
    wait "$client" || fail "client failed"
    local r n slow failed resets timeouts after worst newn
    r=$(cat "$out")
    info "$name: $r"
    get() { python3 -c "import json,sys; print(json.loads(sys.argv[1])$1)" "$r"; }
    n=$(get "['connections']"); slow=$(get "['slow']"); failed=$(get "['failed']")
    resets=$(get "['resets']"); timeouts=$(get "['timeouts']")
    after=$(get "['after_removal']"); worst=$(get "['worst_s']"); newn=$(get "['servers'].get('rs$new', 0)")
    echo "RESULT churn_port_reuse_$name backend=$FVS_BACKEND connections=$n slow_over_500ms=$slow failed=$failed resets=$resets timeouts=$timeouts after_removal=$after worst_connect_s=$worst"
    [ "$n" -ge 50 ] || fail "$name: only $n connections"
    [ "$newn" -gt 0 ] || fail "$name: the new server rs$new got no connection"
    if [ "$FVS_BACKEND" = fvs ]; then
        assert_eq 0 "$slow" "$name: connects slower than 500 ms"
        assert_eq 0 "$timeouts" "$name: connections that timed out"
        [ "$resets" -le 1 ] || fail "$name: $resets connections reset (more than the one in flight)"
        assert_eq 0 "$after" "$name: connections to rs$old after its removal"
    fi
}

phase defaults 30 10 3 4
# kube-proxy: conntrack=1, and conntrack in use in the namespace.
ip netns exec fvs-dir sh -c "echo 1 > $SYSCTL_DIR/conntrack" || fail "set conntrack"
ip netns exec fvs-dir nft -f - <<'NFT' || fail "nft rules"
table inet fvschurn {
    chain pre { type filter hook prerouting priority 0; ct state new counter; }
}
NFT
phase conntrack 15 5 4 3
echo "port reuse through churn measured on $FVS_BACKEND (fvs: no stall, no failure, nothing to a removed server)"
