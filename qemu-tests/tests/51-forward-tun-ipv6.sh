#!/usr/bin/env bash
# backends: ipvs fvs
# IPv6 service through TUN, end to end (FVS_BACKEND=ipvs|fvs, see qemu-tests/dataplane.sh):
# client fd00:1::2, VIP fd00:1::100 on the director and on the real servers' lo, real servers
# fd00:2::1..3 decapsulating IPv6-in-IPv6 on ip6tnl0 (topo_tun6). dp6_forward_test: six TCP
# connections rr (rs3 rs2 rs1 rs3 rs2 rs1), each echoed byte for byte by a real server that saw
# the client's own address and was reached at the VIP; 200 kB each way in one connection (the
# 40-byte outer header makes full-size packets too big for the real servers' link: the client
# learns the path MTU 1460 from the director's ICMPv6 Packet Too Big, as with ip_vs); -Lnc
# lists [fd00:1::2]:CPORT -> [VIP]:80 -> [fd00:2::I]:80 in TIME_WAIT for all seven.
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh
dp_backend_up
topo_tun6 3
dp6_tcp_servers 3 80
dp6_forward_test tun 80
# The director answered the client's full-size segments (1500 bytes, 1540 tunnelled) with
# ICMPv6 Packet Too Big, MTU 1500 - 40, from the VIP; the client holds that path MTU.
assert_eq 1460 "$(dp_pmtu fvs-cl "$VIP6")" "client's path MTU to the VIP after the 200 kB stream"
echo "IPv6 TUN (ip6ip6) forwarding works end to end"
