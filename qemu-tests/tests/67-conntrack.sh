#!/usr/bin/env bash
# backends: ipvs fvs
# The conntrack sysctl (FVS_BACKEND=ipvs|fvs), NAT, seen by nftables counters in the director:
#  * conntrack 0 (default): balanced packets leave conntrack's view, so a real server's replies
#    start conntrack entries of their own (direction original), never replies of the client's;
#  * conntrack 1: the client's entry learns the real server's side (its reply tuple becomes
#    RS -> client), so the real server's packets are that entry's replies;
#  * conntrack 1, UDP with a 2 s timeout: when the connection expires its conntrack entry goes
#    with it, so the client's next datagram from the same port is NEW again (2 NEW in all).
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh
command -v nft >/dev/null || skip "nft not installed"
dp_backend_up
topo_nat 1
dp_tcp_servers 1 80
dp_udp_servers 1 53
dp_service -t 80 rr -m 1
dp_service -u 53 rr -m 1
SYSCTL=/proc/sys/net/ipv4/vs/conntrack
[ "$FVS_BACKEND" = fvs ] && SYSCTL=/proc/sys/net/fvs/conntrack
assert_eq 0 "$(ip netns exec fvs-dir cat "$SYSCTL")" "conntrack default"
ip netns exec fvs-dir nft -f - <<EOF2 || fail "nft rules"
table inet fvsct {
    counter rs_reply {}
    counter rs_orig {}
    counter cl_new {}
    chain forward_c {
        type filter hook forward priority 0; policy accept;
        ip saddr 10.0.2.1 tcp sport 80 ct direction reply counter name "rs_reply"
        ip saddr 10.0.2.1 tcp sport 80 ct direction original counter name "rs_orig"
    }
    chain prerouting_c {
        type filter hook prerouting priority 0; policy accept;
        ip daddr $VIP udp dport 53 ct state new counter name "cl_new"
    }
}
EOF2
cnt() { ip netns exec fvs-dir nft list counter inet fvsct "$1" | sed -n 's/.*packets \([0-9]*\).*/\1/p'; }
reset() { local c; for c in rs_reply rs_orig cl_new; do ip netns exec fvs-dir nft reset counter inet fvsct "$c" >/dev/null; done; }

out=$(dp_client tcp "$VIP" 80 2)
assert_eq 2 "$(grep -c "^rs1 10.0.1.2 .* echo-ok" <<<"$out")" "conntrack 0: answers"
info "conntrack 0: reply $(cnt rs_reply) original $(cnt rs_orig)"
assert_eq 0 "$(cnt rs_reply)" "conntrack 0: real server packets as conntrack replies"
[ "$(cnt rs_orig)" -gt 0 ] || fail "conntrack 0: no real server packet in its own conntrack entry"

reset
ip netns exec fvs-dir sh -c "echo 1 > $SYSCTL" || fail "set conntrack 1"
out=$(dp_client tcp "$VIP" 80 2)
assert_eq 2 "$(grep -c "^rs1 10.0.1.2 .* echo-ok" <<<"$out")" "conntrack 1: answers"
info "conntrack 1: reply $(cnt rs_reply) original $(cnt rs_orig)"
[ "$(cnt rs_reply)" -ge 6 ] || fail "conntrack 1: real server packets are not the client entry's replies ($(cnt rs_reply))"
assert_eq 0 "$(cnt rs_orig)" "conntrack 1: real server packets in entries of their own"

adm_ok --set 0 0 2
out=$(ip netns exec fvs-cl python3 - "$VIP" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.0.1.2", 40053))
s.settimeout(5)
for i in range(2):
    if i:
        time.sleep(5)
    s.sendto(b"q%d\n" % i, (sys.argv[1], 53))
    try:
        print(s.recv(200).decode().split()[0])
    except OSError as e:
        print("no answer", e)
PY
)
assert_eq "rs1 rs1" "$(xargs <<<"$out")" "UDP answers"
info "UDP NEW: $(cnt cl_new)"
assert_eq 2 "$(cnt cl_new)" "conntrack entry dropped with its expired connection"
echo "conntrack sysctl works"
