#!/usr/bin/env bash
# With fvs.ko loaded, traffic that is not for a virtual service crosses a router namespace
# untouched: first with no service (fvs hooks no namespace then, as ip_vs), then with an IPv4 and
# an IPv6 service in the router's namespace (hooks on LOCAL_IN, LOCAL_OUT and FORWARD of both
# families).
. qemu-tests/lib.sh
. qemu-tests/topo.sh
topo_router
fvs_load
for ns in fvs-dir; do ip netns exec "$ns" test -e /proc/net/fvs || fail "no fvs state in $ns"; done
crosses() {  # WHEN
    ip netns exec fvs-cl ping -c 2 -W 2 10.0.2.1 >/dev/null || fail "IPv4 forwarding broken with fvs loaded ($1)"
    ip netns exec fvs-cl ping -6 -c 2 -W 2 fd00:2::1 >/dev/null || fail "IPv6 forwarding broken with fvs loaded ($1)"
    rm -f /tmp/fvs-rx
    ip netns exec fvs-rs1 socat -u TCP-LISTEN:8080,reuseaddr OPEN:/tmp/fvs-rx,creat,trunc &
    wait_listen fvs-rs1 8080
    echo hello-through-router | ip netns exec fvs-cl socat -u - TCP:10.0.2.1:8080 || fail "TCP through router ($1)"
    wait
    assert_eq "hello-through-router" "$(cat /tmp/fvs-rx)" "TCP payload ($1)"
}
crosses "no service"
adm() { IPVSADM_RS_FAMILY=FVS ip netns exec fvs-dir "$IPVSADM_RS" "$@" || fail "ipvsadm-rs $*"; }
adm -A -t 10.0.1.1:80 -s rr
adm -a -t 10.0.1.1:80 -r 10.0.2.1:80 -m
adm -A -t "[fd00:1::1]:80" -s rr
adm -a -t "[fd00:1::1]:80" -r "[fd00:2::1]:80" -m
crosses "with services"
echo "traffic unaffected"
