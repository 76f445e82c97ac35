#!/usr/bin/env bash
# backends: ipvs fvs
# lc and wlc follow their definitions on a controlled load of held-open connections
# (FVS_BACKEND=ipvs|fvs), NAT, three real servers added rs1, rs2, rs3. Overhead of a real
# server = 256 x ActiveConn + InActConn; lc picks the least overhead, wlc the least
# overhead/weight; ties go to the first in the server list, which is newest first (rs3, rs2,
# rs1), and weight-0 servers are skipped.
#  lc:  3 connections held to rs1 (rs2, rs3 at weight 0); rs2, rs3 back to weight 1; 6 more go
#       rs3 rs2 rs3 rs2 rs3 rs2 (never rs1, which leads); a 10th, all tied at 3, goes to rs3;
#       2 of rs1's connections closed (they turn inactive: rs1's overhead 256 + 2) -> the next 2
#       go to rs1.
#  wlc: weights 1:2:3, 12 connections held one after the other end 2/4/6.
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh
dp_backend_up
topo_nat 3
dp_tcp_servers 3

k=0
# hold N [PORT]: N more held connections, one after the other; HELD = their servers.
hold() {
    local i s=""
    for i in $(seq 1 "$1"); do
        k=$((k + 1))
        dp_hold "c$k" "${2:-80}"
        s+="$(dp_hold_server "c$k") "
    done
    HELD=${s% }
}
# active: "ActiveConn/InActConn" of rs1..rs3.
active() {
    adm -Ln -t "$VIP:${1:-80}" | awk '/^  -> 10\.0\.2\.[123]:80 / {split($2, a, "[.:]"); v[a[4]] = $5 "/" $6}
        END {print "rs1=" v[1], "rs2=" v[2], "rs3=" v[3]}'
}

dp_service -t 80 lc -m 1 0 0
hold 3; assert_eq "rs1 rs1 rs1" "$HELD" "lc: only rs1 has weight"
adm_ok -e -t "$VIP:80" -r 10.0.2.2:80 -m -w 1
adm_ok -e -t "$VIP:80" -r 10.0.2.3:80 -m -w 1
hold 6; assert_eq "rs3 rs2 rs3 rs2 rs3 rs2" "$HELD" "lc: new connections avoid the loaded rs1"
assert_eq "rs1=3/0 rs2=3/0 rs3=3/0" "$(active)" "lc: active connections"
hold 1; assert_eq "rs3" "$HELD" "lc: tie at 3 each goes to the first listed"
dp_release c1; dp_release c2
for i in $(seq 1 50); do [ "$(active)" = "rs1=1/2 rs2=3/0 rs3=4/0" ] && break; sleep 0.1; done
assert_eq "rs1=1/2 rs2=3/0 rs3=4/0" "$(active)" "lc: two of rs1's connections closed"
hold 2; assert_eq "rs1 rs1" "$HELD" "lc: rs1 has the least overhead (1x256+2, then 2x256+2 < 3x256)"
info "lc: $(active)"
for i in $(seq 1 $k); do dp_release "c$i"; done
adm_ok -C

# A new service (other port): ip_vs would otherwise revive the same real servers, with the
# counters of their closing connections, from its trash.
DP_RPORT=80 dp_service -t 8080 wlc -m 1 2 3
hold 6 8080; first=$HELD
info "wlc 1:2:3, 6 held: $first"
assert_eq "rs1=1/0 rs2=2/0 rs3=3/0" "$(active 8080)" "wlc: 6 connections by weight"
hold 6 8080; second=$HELD
info "wlc 1:2:3, 6 more: $second"
assert_eq "rs1=2/0 rs2=4/0 rs3=6/0" "$(active 8080)" "wlc: 12 connections by weight"
assert_eq "rs3 rs2 rs1 rs3 rs2 rs3" "$first" "wlc order"
echo "lc and wlc follow their definitions"
