#!/usr/bin/env bash
# backends: ipvs fvs
# Real-server churn (#10), rolling UDP replacement: DNS-like queries (each answered within 1 s
# or failed) at a steady rate from 100 fixed source ports, through a NAT VIP (rr), while the
# three real servers rs1-rs3 are replaced one by one by rs4-rs6 (every 6 s: add the new one,
# delete an old one). Counted: failed queries and queries answered by a server after its
# removal. Each backend with its own default sysctls; fvs: under 0.5 % failed and none after
# removal; ip_vs's figures are reported (RESULT lines, recorded in docs/benchmarks-churn.md).
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh
dp_backend_up
topo_nat 6
churn=qemu-tests/churn/churn.py
for i in 1 2 3 4 5 6; do dp_bg "fvs-rs$i" python3 "$churn" udpserver "rs$i" 53; done
for i in 1 2 3 4 5 6; do wait_listen "fvs-rs$i" 53 udp; done
dp_service -u 53 rr -m 1 1 1

mark=/tmp/churn-udp.mark; out=/tmp/churn-udp.json
rm -f "$mark" "$out"
ip netns exec fvs-cl python3 "$churn" udp "$VIP" 53 10.0.1.2 100 50 26 "$mark" > "$out" &
client=$!
for k in 1 2 3; do
    sleep 6
    adm_ok -a -u "$VIP:53" -r "10.0.2.$((k + 3)):53" -m -w 1
    adm_ok -d -u "$VIP:53" -r "10.0.2.$k:53"
    echo "rs$k $(date +%s.%N)" >> "$mark"
    info "rs$k replaced by rs$((k + 3))"
done
wait "$client" || fail "client failed"
r=$(cat "$out")
info "client: $r"
get() { python3 -c "import json,sys; print(json.loads(sys.argv[1])$2)" "$r"; }
q=$(get "$r" "['queries']"); failed=$(get "$r" "['failed']"); pct=$(get "$r" "['failed_pct']")
after=$(get "$r" "['after_removal']")
echo "RESULT churn_udp_rolling backend=$FVS_BACKEND queries=$q failed=$failed failed_pct=$pct after_removal=$after"
[ "$q" -ge 500 ] || fail "only $q queries sent"
if [ "$FVS_BACKEND" = fvs ]; then
    python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < 0.5 else 1)" "$pct" || fail "$pct % of the queries failed"
    assert_eq 0 "$after" "queries answered by a removed server"
    for k in 4 5 6; do [ "$(get "$r" "['servers'].get('rs$k', 0)")" -gt 0 ] || fail "rs$k answered nothing"; done
fi
echo "rolling UDP replacement: $q queries, $failed failed ($pct %), $after from removed servers"
