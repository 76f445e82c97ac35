#!/usr/bin/env bash
# `make demo`: runs inside the VM. Loads fvs.ko, builds client — director — bridge — 3 real
# servers in network namespaces, configures a virtual service with ipvsadm-rs and shows it.
set -uo pipefail
. qemu-tests/lib.sh
. qemu-tests/topo.sh
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "topology: client 10.0.1.2 -> director (VIP 10.0.1.1) -> bridge -> rs1..rs3 (10.0.2.1-3)"
topo_router 3
say "loading fvs.ko"
FVS_KO=kmod/fvs.ko fvs_load
dmesg | grep 'fvs' | tail -n 2
say "the director's view: /proc/net/fvs (ip_vs format) and ipvsadm-rs, talking to family FVS"
ip netns exec fvs-dir cat /proc/net/fvs
ip netns exec fvs-dir "$IPVSADM_RS" -Ln
say "virtual service 10.0.1.1:80 (wrr) with three NAT real servers"
ip netns exec fvs-dir "$IPVSADM_RS" -A -t 10.0.1.1:80 -s wrr || echo "(control plane not available yet)"
for i in 1 2 3; do
    ip netns exec fvs-dir "$IPVSADM_RS" -a -t 10.0.1.1:80 -r 10.0.2.$i:80 -m -w $i || true
done
ip netns exec fvs-dir "$IPVSADM_RS" -Ln
for i in 1 2 3; do
    ip netns exec fvs-rs$i socat -T 2 TCP-LISTEN:80,fork,reuseaddr SYSTEM:"echo rs$i" >/dev/null 2>&1 &
done
sleep 0.5
say "12 connections from the client to the VIP"
declare -A seen=()
for i in $(seq 1 12); do
    r=$(ip netns exec fvs-cl socat -T 2 - TCP:10.0.1.1:80,connect-timeout=2 </dev/null 2>/dev/null)
    seen[${r:-none}]=$(( ${seen[${r:-none}]:-0} + 1 ))
done
for k in "${!seen[@]}"; do echo "  $k: ${seen[$k]}"; done
ip netns exec fvs-dir "$IPVSADM_RS" -Ln --stats
say "unloading"
kill $(jobs -p) 2>/dev/null
fvs_unload && echo "fvs.ko unloaded cleanly"
