#!/usr/bin/env bash
# `make demo`: runs inside the VM. Loads fvs.ko, builds client — director — bridge — 3 real
# servers in network namespaces, configures a virtual service with ipvsadm-rs and shows what fvs
# does so far. (Balancing traffic arrives with the data-plane issue; the demo says so.)
set -uo pipefail
. qemu-tests/lib.sh
. qemu-tests/topo.sh
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
dir() { ip netns exec fvs-dir "$@"; }

say "topology: client 10.0.1.2 -> director 10.0.1.1 -> bridge -> rs1..rs3 (10.0.2.1-3)"
topo_router 3
say "loading fvs.ko (bindings checked against the running kernel at load)"
fvs_load
dmesg | grep 'fvs' | tail -n 1
say "ipvsadm-rs talks to fvs.ko (generic netlink family FVS) in the director's namespace"
dir "$IPVSADM_RS" -Ln
say "a virtual service 10.0.1.1:80 (wrr) with three NAT real servers, weights 1:2:3"
dir "$IPVSADM_RS" -A -t 10.0.1.1:80 -s wrr
for i in 1 2 3; do dir "$IPVSADM_RS" -a -t 10.0.1.1:80 -r 10.0.2.$i:80 -m -w $i; done
dir "$IPVSADM_RS" -A -u 10.0.1.1:53 -s sh -b sh-port -p 60
dir "$IPVSADM_RS" -a -u 10.0.1.1:53 -r 10.0.2.1:53 -m
dir "$IPVSADM_RS" -Ln
say "the same table as /proc/net/fvs (the /proc/net/ip_vs format)"
dir cat /proc/net/fvs
say "ipvsadm's own error messages"
dir "$IPVSADM_RS" -A -t 10.0.1.1:80 -s wrr
dir "$IPVSADM_RS" -a -t 10.0.1.1:80 -r 10.0.2.9:80 -w -1
dir "$IPVSADM_RS" -E -t 10.0.1.1:80 -s nosuch
say "save, flush, restore"
dir "$IPVSADM_RS" -S -n | tee /tmp/fvs-demo.rules
dir "$IPVSADM_RS" -C && dir "$IPVSADM_RS" -Ln | tail -n +4 | wc -l | sed 's/^/services+dests after flush: /'
dir "$IPVSADM_RS" -R < /tmp/fvs-demo.rules && dir "$IPVSADM_RS" -Ln
say "JSON listing (ipvsadm-rs extension)"
dir "$IPVSADM_RS" -Ln --json | head -c 600; echo
say "per namespace: a second namespace has its own, empty table"
ip netns add fvs-other; ip netns exec fvs-other "$IPVSADM_RS" -Ln; ip netns del fvs-other
say "traffic: with fvs loaded, routed traffic still crosses the director untouched"
ip netns exec fvs-rs1 socat -u TCP-LISTEN:8080,reuseaddr SYSTEM:'cat >/dev/null' &
wait_listen fvs-rs1 8080
echo hello | ip netns exec fvs-cl socat -u - TCP:10.0.2.1:8080 && echo "client -> rs1 through the director: ok"
say "connections to the VIP are scheduled (wrr 1:2:3) and tracked; forwarding them is next"
for i in $(seq 1 12); do
    ip netns exec fvs-cl socat -T 1 - TCP:10.0.1.1:80,connect-timeout=1 </dev/null >/dev/null 2>&1
done
dir "$IPVSADM_RS" -Lnc | head -n 8
dir "$IPVSADM_RS" -Ln -t 10.0.1.1:80
dir "$IPVSADM_RS" -Ln --stats -t 10.0.1.1:80
echo "(the packets themselves still go to the director's own stack: transmit to the real servers"
echo " by NAT/DR/TUN is the next step of the data-plane issue)"
say "unloading"
dir "$IPVSADM_RS" -C
kill $(jobs -p) 2>/dev/null; wait 2>/dev/null
fvs_unload && echo "fvs.ko unloaded cleanly"
