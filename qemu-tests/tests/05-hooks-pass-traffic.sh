#!/usr/bin/env bash
# With fvs.ko loaded (hooks registered on LOCAL_IN and FORWARD, IPv4 and IPv6), traffic that is
# not for a virtual service still crosses a router namespace untouched.
. qemu-tests/lib.sh
. qemu-tests/topo.sh
topo_router
fvs_load
for ns in fvs-dir; do ip netns exec "$ns" test -e /proc/net/fvs || fail "no fvs state in $ns"; done
ip netns exec fvs-cl ping -c 2 -W 2 10.0.2.1 >/dev/null || fail "IPv4 forwarding broken with fvs loaded"
ip netns exec fvs-cl ping -6 -c 2 -W 2 fd00:2::1 >/dev/null || fail "IPv6 forwarding broken with fvs loaded"
ip netns exec fvs-rs1 socat -u TCP-LISTEN:8080,reuseaddr OPEN:/tmp/fvs-rx,creat,trunc &
wait_listen fvs-rs1 8080
echo hello-through-router | ip netns exec fvs-cl socat -u - TCP:10.0.2.1:8080 || fail "TCP through router"
wait
assert_eq "hello-through-router" "$(cat /tmp/fvs-rx)" "TCP payload"
echo "traffic unaffected"
