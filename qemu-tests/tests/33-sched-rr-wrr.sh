#!/usr/bin/env bash
# backends: ipvs fvs
# Scheduling of real traffic (FVS_BACKEND=ipvs|fvs): NAT, three real servers each answering with
# its own name. rr over 30 connections gives exactly 10/10/10 and wrr with weights 1:2:3 over 60
# connections gives exactly 10/20/30. The order is asserted too, since fvs must pick exactly what
# ip_vs picks: both walk the real servers newest first (rs3, rs2, rs1 when added rs1..rs3), and
# wrr's interleaving for 1:2:3 is rs3 rs3 rs2 rs3 rs2 rs1 per round of 6 -- after a first pass
# rs3 rs2 rs1: wrr's current weight (cw) was set to 1 when rs1 (weight 1) was added to the
# empty service and is kept while rs2 and rs3 raise the maximum weight, so scheduling starts
# with the cw=1 pass. Over 60: 3 + 9 rounds of 6 + rs3 rs3 rs2 = 10/20/30.
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh
# DP_MODE (nat, dr or tun; default nat) picks the forwarding method (tests 52, 53 run dr, tun).
mode=${DP_MODE:-nat}
case $mode in nat) fwd=-m ;; dr) fwd=-g ;; tun) fwd=-i ;; *) fail "DP_MODE $mode" ;; esac
dp_backend_up
"topo_$mode" 3
dp_tcp_servers 3

seq_of() { awk '{print $1}' | tr '\n' ' ' | sed 's/ $//'; }
repeat() { local i s=""; for i in $(seq 1 "$1"); do s+="$2 "; done; echo "${s% }"; }

dp_service -t 80 rr "$fwd" 1 1 1
out=$(dp_client tcp "$VIP" 80 30)
dp_check_lines "$mode" 30 <<<"$out"
assert_eq "rs1=10 rs2=10 rs3=10" "$(dp_count_names 3 <<<"$out")" "rr over 30 connections"
assert_eq "$(repeat 10 "rs3 rs2 rs1")" "$(seq_of <<<"$out")" "rr order"
info "rr: $(dp_count_names 3 <<<"$out")"
adm_ok -D -t "$VIP:80"

dp_service -t 80 wrr "$fwd" 1 2 3
out=$(dp_client tcp "$VIP" 80 60)
dp_check_lines "$mode" 60 <<<"$out"
info "wrr 1:2:3 first round: $(head -n6 <<<"$out" | seq_of)"
assert_eq "rs1=10 rs2=20 rs3=30" "$(dp_count_names 3 <<<"$out")" "wrr 1:2:3 over 60 connections"
assert_eq "rs3 rs2 rs1 $(repeat 9 "rs3 rs3 rs2 rs3 rs2 rs1") rs3 rs3 rs2" "$(seq_of <<<"$out")" "wrr order"
info "wrr: $(dp_count_names 3 <<<"$out")"
echo "$mode: rr 10/10/10, wrr 10/20/30"
