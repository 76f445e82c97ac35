#!/usr/bin/env bash
# backends: ipvs fvs
# schedule_icmp (FVS_BACKEND=ipvs|fvs), UDP NAT rr over two real servers: a client reports
# port unreachable about a "reply" VIP:53 -> client:40000 that belongs to no connection. With
# schedule_icmp 0 nothing happens; with 1 the flow client:40000 -> VIP:53 is scheduled as a new
# connection (left in its initial state with ip_vs's 3 s first timeout) and its real server
# receives the error, NAT-rewritten: "icmp 3/3 client>rsI inner=udp rsI:53>client:40000".
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh
dp_backend_up
topo_nat 2
dp_service -u 53 rr -m 1 1
SYSCTL_DIR=/proc/sys/net/ipv4/vs
[ "$FVS_BACKEND" = fvs ] && SYSCTL_DIR=/proc/sys/net/fvs
assert_eq 0 "$(ip netns exec fvs-dir cat "$SYSCTL_DIR/schedule_icmp")" "schedule_icmp default"
for i in 1 2; do dp_icmp_bg "fvs-rs$i" "/tmp/icmp-rs$i.out" listen 120; done
sleep 1
received() { grep -hv ready /tmp/icmp-rs1.out /tmp/icmp-rs2.out | tr '\n' ';'; }

dp_icmp fvs-cl send "$VIP" 3 3 0 udp "$VIP" 53 10.0.1.2 40000 || fail "sending the error"
sleep 1
assert_eq "" "$(dp_conns | grep ':40000 ')" "no entry with schedule_icmp 0"
assert_eq "" "$(received)" "no real server got the error with schedule_icmp 0"

ip netns exec fvs-dir sh -c "echo 1 > $SYSCTL_DIR/schedule_icmp" || fail "set schedule_icmp"
dp_icmp fvs-cl send "$VIP" 3 3 0 udp "$VIP" 53 10.0.1.2 40001 || fail "sending the error"
line=$(dp_conns | grep ':40001 ')
info "entry: $line"
[[ $line =~ ^UDP\ +00:0[0-3]\ +UDP\ +10\.0\.1\.2:40001\ +$VIP:53\ +10\.0\.2\.([12]):53 ]] ||
    fail "no new entry for the flow the error is about: $(dp_conns)"
rs=${BASH_REMATCH[1]}
want="icmp 3/3 mtu=0 10.0.1.2>10.0.2.$rs inner=udp 10.0.2.$rs:53>10.0.1.2:40001"
dp_wait_line "/tmp/icmp-rs$rs.out" "^${want//./\\.}$" || fail "rs$rs did not get \"$want\": $(received)"
info "rs$rs received: $want"
echo "schedule_icmp works"
