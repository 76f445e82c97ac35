#!/usr/bin/env bash
# backends: ipvs fvs
# Cached routes of real servers (ip_vs's dest_dst; fvs's per-real-server route cache): routing
# changes on the director take effect for the next packet, and a device that cached routes go
# through can be removed (FVS_BACKEND=ipvs|fvs). NAT, UDP, rr over three real servers.
#  - Traffic first, so that every real server's route is cached.
#  - A blackhole route to rs1 on the director: the datagram scheduled to rs1 gets no answer,
#    the others do (a stale cached route would still deliver it). Route removed: all answer.
#  - rs3's link on the director deleted while its route is cached: `ip link del` returns at
#    once (a route still held would keep the device: "unregister_netdevice: waiting for rs3"),
#    rs3's datagram gets no answer; rs3 deleted from the service: rs1 and rs2 answer.
#  - The same with IPv6 (blackhole route to fd00:2::1, link of rs2 deleted).
#  - Finally the director's namespace is deleted with routes cached and traffic just sent.
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh
dp_backend_up
topo_nat 3
ip -n fvs-dir addr add "$VIP6/128" dev dir0 nodad
# A bridge takes the lowest MAC address of its ports: deleting a port below would change it, and
# the real servers' neighbour entries for the gateway would point at the old one for seconds.
# Pinned, so that what is measured is the balancer.
ip -n fvs-dir link set br0 address "$(ip netns exec fvs-dir cat /sys/class/net/br0/address)"
dp_udp_servers 3
dp6_udp_servers 3 54
dp_service -u 53 rr -m 1 1 1

# rr from the newest real server: rs3 rs2 rs1.
out=$(dp_client udp "$VIP" 53 3)
info "routes cached: $(tr '\n' ';' <<<"$out")"
assert_eq "rs3 rs2 rs1" "$(awk '{print $1}' <<<"$out" | xargs)" "three datagrams, rr"

ip -n fvs-dir route add blackhole 10.0.2.1/32 || fail "blackhole route"
out=$(dp_client udp "$VIP" 53 3)
info "blackhole to rs1: $(tr '\n' ';' <<<"$out")"
assert_eq "rs3 rs2 no-answer" "$(awk '{print $1}' <<<"$out" | xargs)" "rs1 unreachable while the blackhole route is in place"
ip -n fvs-dir route del blackhole 10.0.2.1/32 || fail "removing the blackhole route"
out=$(dp_client udp "$VIP" 53 3)
info "route back: $(tr '\n' ';' <<<"$out")"
assert_eq "rs3 rs2 rs1" "$(awk '{print $1}' <<<"$out" | xargs)" "all answer once the route is gone"

t0=$(date +%s)
timeout 60 ip -n fvs-dir link del rs3 || fail "ip link del rs3 did not return"
t1=$(date +%s)
info "link of rs3 deleted in $((t1 - t0)) s"
[ $((t1 - t0)) -le 10 ] || fail "deleting rs3's link took $((t1 - t0)) s"
out=$(dp_client udp "$VIP" 53 3)
info "rs3's link gone: $(tr '\n' ';' <<<"$out")"
assert_eq "no-answer rs2 rs1" "$(awk '{print $1}' <<<"$out" | xargs)" "rs3 unreachable without its link"
adm_ok -d -u "$VIP:53" -r 10.0.2.3:53
out=$(dp_client udp "$VIP" 53 4)
assert_eq "rs2 rs1 rs2 rs1" "$(awk '{print $1}' <<<"$out" | xargs)" "rs1 and rs2 after rs3's removal"

# IPv6.
adm_ok -A -u "[$VIP6]:54" -s rr
for i in 1 2; do adm_ok -a -u "[$VIP6]:54" -r "[fd00:2::$i]:54" -m; done
out=$(dp6_client udp "$VIP6" 54 2)
info "IPv6 routes cached: $(tr '\n' ';' <<<"$out")"
assert_eq "rs2 rs1" "$(awk '{print $1}' <<<"$out" | xargs)" "IPv6: two datagrams, rr"
ip -n fvs-dir -6 route add blackhole fd00:2::1/128 || fail "IPv6 blackhole route"
out=$(dp6_client udp "$VIP6" 54 2)
info "IPv6 blackhole to rs1: $(tr '\n' ';' <<<"$out")"
assert_eq "rs2 no-answer" "$(awk '{print $1}' <<<"$out" | xargs)" "IPv6: rs1 unreachable while the blackhole route is in place"
ip -n fvs-dir -6 route del blackhole fd00:2::1/128 || fail "removing the IPv6 blackhole route"
out=$(dp6_client udp "$VIP6" 54 2)
assert_eq "rs2 rs1" "$(awk '{print $1}' <<<"$out" | xargs)" "IPv6: all answer once the route is gone"
t0=$(date +%s)
timeout 60 ip -n fvs-dir link del rs2 || fail "ip link del rs2 did not return"
t1=$(date +%s)
[ $((t1 - t0)) -le 10 ] || fail "deleting rs2's link took $((t1 - t0)) s"
out=$(dp6_client udp "$VIP6" 54 2)
info "IPv6, rs2's link gone: $(tr '\n' ';' <<<"$out")"
assert_eq "no-answer rs1" "$(awk '{print $1}' <<<"$out" | xargs)" "IPv6: rs2 unreachable without its link"

# The namespace goes with routes cached (the test's cleanup then unloads the module).
dp_client udp "$VIP" 53 2 >/dev/null
t0=$(date +%s)
ip netns del fvs-dir
for _ in $(seq 1 100); do
    grep -q "waiting for .* to become free" <(dmesg) && fail "a device of the deleted namespace stays referenced: $(dmesg | grep 'to become free' | tail -n 1)"
    [ -z "$(ip netns list | grep fvs-dir)" ] && break
    sleep 0.2
done
sleep 2
if dmesg | grep -q "waiting for .* to become free"; then
    fail "a device of the deleted namespace stays referenced: $(dmesg | grep 'to become free' | tail -n 1)"
fi
echo "cached routes follow routing changes and let devices go"
