#!/usr/bin/env bash
# State is per network namespace: a namespace created after the module loads gets its own
# /proc/net/fvs and answers GET_INFO; deleting it while loaded is clean; rmmod afterwards too.
. qemu-tests/lib.sh
fvs_load
ip netns add fvs-a
ip netns exec fvs-a test -e /proc/net/fvs || fail "no /proc/net/fvs in new netns"
ip netns exec fvs-a head -n1 /proc/net/fvs | grep -q 'size=4096' || fail "header in netns"
ip netns exec fvs-a "$IPVSADM_RS" -Ln >/dev/null 2>&1 || fail "ipvsadm-rs -Ln inside netns"
ip netns add fvs-b
ip netns del fvs-a
ip netns exec fvs-b test -e /proc/net/fvs || fail "netns b lost its state"
fvs_unload
ip netns exec fvs-b test -e /proc/net/fvs && fail "/proc/net/fvs left in netns after rmmod"
ip netns del fvs-b
echo "per-netns lifecycle clean"
