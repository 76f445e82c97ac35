#!/usr/bin/env bash
# `make demo`: runs inside the VM. Loads fvs.ko, builds client — director — bridge — 3 real
# servers in network namespaces, configures virtual services with ipvsadm-rs and balances real
# TCP and UDP traffic across the real servers by NAT, then by direct routing.
set -uo pipefail
. qemu-tests/lib.sh
. qemu-tests/topo.sh
FVS_BACKEND=fvs
. qemu-tests/dataplane.sh
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
dir() { ip netns exec fvs-dir "$@"; }

say "topology: client 10.0.1.2 -> director (VIP 10.0.1.100) -> bridge -> rs1..rs3 (10.0.2.1-3)"
topo_nat 3
say "loading fvs.ko (bindings checked against the running kernel at load)"
fvs_load
dmesg | grep 'fvs' | tail -n 1
say "ipvsadm-rs talks to fvs.ko (generic netlink family FVS) in the director's namespace"
dir "$IPVSADM_RS" -Ln
say "a virtual service 10.0.1.100:80 (wrr) with three NAT real servers, weights 1:2:3"
dir "$IPVSADM_RS" -A -t 10.0.1.100:80 -s wrr
for i in 1 2 3; do dir "$IPVSADM_RS" -a -t 10.0.1.100:80 -r 10.0.2.$i:80 -m -w $i; done
dir "$IPVSADM_RS" -A -u 10.0.1.100:53 -s sh -b sh-port -p 60
dir "$IPVSADM_RS" -a -u 10.0.1.100:53 -r 10.0.2.1:53 -m
dir "$IPVSADM_RS" -Ln
say "the same table as /proc/net/fvs (the /proc/net/ip_vs format)"
dir cat /proc/net/fvs
say "ipvsadm's own error messages"
dir "$IPVSADM_RS" -A -t 10.0.1.100:80 -s wrr
dir "$IPVSADM_RS" -a -t 10.0.1.100:80 -r 10.0.2.9:80 -w -1
dir "$IPVSADM_RS" -E -t 10.0.1.100:80 -s nosuch
say "save, flush, restore"
dir "$IPVSADM_RS" -S -n | tee /tmp/fvs-demo.rules
dir "$IPVSADM_RS" -C && dir "$IPVSADM_RS" -Ln | tail -n +4 | wc -l | sed 's/^/services+dests after flush: /'
dir "$IPVSADM_RS" -R < /tmp/fvs-demo.rules && dir "$IPVSADM_RS" -Ln
say "JSON listing (ipvsadm-rs extension)"
dir "$IPVSADM_RS" -Ln --json | head -c 600; echo
say "per namespace: a second namespace has its own, empty table"
ip netns add fvs-other; ip netns exec fvs-other "$IPVSADM_RS" -Ln; ip netns del fvs-other
say "balancing: 60 TCP connections from the client to the VIP (wrr 1:2:3, NAT)"
dp_tcp_servers 3
dir "$IPVSADM_RS" -C
dir "$IPVSADM_RS" -A -t 10.0.1.100:80 -s wrr
for i in 1 2 3; do dir "$IPVSADM_RS" -a -t 10.0.1.100:80 -r 10.0.2.$i:80 -m -w $i; done
out=$(dp_client tcp 10.0.1.100 80 60)
echo "first answers (real server, the client address it saw, its own address):"
head -n 6 <<<"$out" | sed 's/^/  /'
echo "connections per real server: $(dp_count_names 3 <<<"$out")"
dir "$IPVSADM_RS" -Ln --stats
dir "$IPVSADM_RS" -Lnc | head -n 6
say "UDP through NAT: one datagram from each of six client ports (rr)"
dp_udp_servers 3
dir "$IPVSADM_RS" -A -u 10.0.1.100:53 -s rr
for i in 1 2 3; do dir "$IPVSADM_RS" -a -u 10.0.1.100:53 -r 10.0.2.$i:53 -m; done
dp_client udp 10.0.1.100 53 6 | sed 's/^/  /'
say "draining: weight 0 on rs3 — no new connections reach it"
dir "$IPVSADM_RS" -e -t 10.0.1.100:80 -r 10.0.2.3:80 -m -w 0
echo "connections per real server: $(dp_client tcp 10.0.1.100 80 12 | dp_count_names 3)"
say "unloading"
dir "$IPVSADM_RS" -C
dp_kill_all
fvs_unload && echo "fvs.ko unloaded cleanly"
