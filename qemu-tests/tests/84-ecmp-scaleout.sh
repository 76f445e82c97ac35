#!/usr/bin/env bash
# backends: ipvs fvs
# Scale-out past one director (#9), direct routing (FVS_BACKEND=ipvs|fvs): a router (fvs-rt)
# reaches the virtual address 10.0.8.100 (routed, on no link) through an ECMP route over two active directors
# (fvs-d1 10.0.2.251, fvs-d2 10.0.2.252; layer-4 multipath hash), both with the VIP on lo, the
# same mh service (hashing source address and port) over the same three real servers, and a master and a backup sync daemon
# each (the masters with syncids 1 and 2, the backups taking any). Sixteen long TCP streams
# (a line every 0.25 s for 12 s, echoed back) from as many client ports spread over both
# directors; every flow must be in both directors' tables with the same real server (mh: same
# list, same choice; sync: the other director's flows). Then fvs-d1 is withdrawn from the
# route: its flows go on through fvs-d2 to the same real servers, every stream ends intact.
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh

dp_backend_up
[ "$FVS_BACKEND" = ipvs ] && { modprobe ip_vs_mh || skip "ip_vs_mh not available"; }
modprobe veth; modprobe bridge
VIP=10.0.8.100
{
    for n in fvs-lan fvs-cl fvs-rt fvs-d1 fvs-d2 fvs-rs1 fvs-rs2 fvs-rs3; do echo "netns add $n"; done
    echo "link add cl0 netns fvs-cl type veth peer name rt-cl netns fvs-rt"
    echo "link add core0 netns fvs-rt type veth peer name c-rt netns fvs-lan"
    for d in 1 2; do echo "link add core0 netns fvs-d$d type veth peer name c-d$d netns fvs-lan"; done
    for r in 1 2 3; do echo "link add eth0 netns fvs-rs$r type veth peer name c-r$r netns fvs-lan"; done
} | ip -batch - || fail "topology"
{
    echo "link add core type bridge mcast_snooping 0"; echo "link set core up"
    for p in c-rt c-d1 c-d2 c-r1 c-r2 c-r3; do echo "link set $p master core up"; done
} | ip -n fvs-lan -batch - || fail "LAN"
ip -n fvs-cl -batch - <<-EOT || fail "client"
	addr add 10.0.1.2/24 dev cl0
	link set cl0 up
	link set lo up
	route add default via 10.0.1.1
	EOT
ip -n fvs-rt -batch - <<-EOT || fail "router"
	addr add 10.0.1.1/24 dev rt-cl
	addr add 10.0.2.254/24 dev core0
	link set rt-cl up
	link set core0 up
	link set lo up
	EOT
ip netns exec fvs-rt sysctl -qw net.ipv4.ip_forward=1 net.ipv4.fib_multipath_hash_policy=1 \
    net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.core0.rp_filter=0
ip -n fvs-rt route add "$VIP/32" nexthop via 10.0.2.251 dev core0 nexthop via 10.0.2.252 dev core0 ||
    fail "ECMP route"
for d in 1 2; do
    ip -n "fvs-d$d" -batch - <<-EOT || fail "director $d"
	addr add 10.0.2.25$d/24 dev core0
	addr add $VIP/32 dev lo
	link set core0 up
	link set lo up
	route add default via 10.0.2.254
	EOT
    ip netns exec "fvs-d$d" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 \
        net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.core0.rp_filter=0
done
for r in 1 2 3; do
    ip -n "fvs-rs$r" -batch - <<-EOT || fail "real server $r"
	addr add 10.0.2.$r/24 dev eth0
	addr add $VIP/32 dev lo
	link set eth0 up
	link set lo up
	route add default via 10.0.2.254
	EOT
    ip netns exec "fvs-rs$r" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
done
dp_tcp_servers 3 80

on() { local d=$1; shift; case $FVS_BACKEND in ipvs) ip netns exec "$d" ipvsadm "$@" ;; fvs) IPVSADM_RS_FAMILY=FVS ip netns exec "$d" "$IPVSADM_RS" "$@" ;; esac; }
for d in 1 2; do
    on "fvs-d$d" -A -t "$VIP:80" -s mh -b mh-port || fail "d$d: -A"
    for r in 1 2 3; do on "fvs-d$d" -a -t "$VIP:80" -r "10.0.2.$r:80" -g || fail "d$d: -a rs$r"; done
    on "fvs-d$d" --start-daemon master --mcast-interface core0 --syncid "$d" || fail "d$d: master daemon"
    on "fvs-d$d" --start-daemon backup --mcast-interface core0 --syncid 0 || fail "d$d: backup daemon"
done

N=16
for s in $(seq 1 $N); do
    rm -f "/tmp/ecmp-$s.out"
    dp_bg fvs-cl sh -c "i=0; while [ \$i -lt 48 ]; do i=\$((i + 1)); echo tick\$i; sleep 0.25; done |
        socat -T 60 -t 30 - TCP4:$VIP:80 > /tmp/ecmp-$s.out 2>/tmp/ecmp-$s.err; echo \"end \$?\" >> /tmp/ecmp-$s.out"
done
sleep 4
# flows D: "CLIENT-PORT REAL-SERVER" of the director's entries, sorted.
flows() { on "$1" -Lnc | awk '$1 == "TCP" && $3 == "ESTABLISHED" {split($4, c, ":"); print c[2], $6}' | sort; }
for i in $(seq 1 25); do
    f1=$(flows fvs-d1); f2=$(flows fvs-d2)
    [ "$(grep -c . <<<"$f1")" -ge $N ] && [ "$f1" = "$f2" ] && break
    sleep 0.2
done
[ "$(grep -c . <<<"$f1")" -ge $N ] || fail "fvs-d1 knows $(grep -c . <<<"$f1") of the $N flows: $f1"
assert_eq "$f1" "$f2" "the flows and their real servers in fvs-d1's and fvs-d2's tables"
p1=$(on fvs-d1 -Ln --stats --exact | awk '$1 == "TCP" {print $4}')
p2=$(on fvs-d2 -Ln --stats --exact | awk '$1 == "TCP" {print $4}')
info "packets in: fvs-d1 $p1, fvs-d2 $p2; real servers: $(awk '{print $2}' <<<"$f1" | sort | uniq -c | tr -s ' ' | tr '\n' ';')"
[ "$(awk '{print $2}' <<<"$f1" | sort -u | wc -l)" -ge 2 ] || fail "mh-port sent all $N flows to one real server: $f1"
[ "${p1:-0}" -gt 0 ] && [ "${p2:-0}" -gt 0 ] || fail "the ECMP route did not spread the flows over both directors ($p1, $p2)"

# fvs-d1 leaves the route: its flows now reach fvs-d2.
ip -n fvs-rt route replace "$VIP/32" via 10.0.2.252 dev core0 || fail "withdrawing fvs-d1"
# ip_vs updates the counters -L --stats shows every 2 s (its estimator): read them after that.
sleep 2.5
q1=$(on fvs-d1 -Ln --stats --exact | awk '$1 == "TCP" {print $4}')
for s in $(seq 1 $N); do
    for i in $(seq 1 250); do grep -q '^end ' "/tmp/ecmp-$s.out" && break; sleep 0.2; done
    grep -q '^end 0$' "/tmp/ecmp-$s.out" || fail "stream $s did not end cleanly: $(tail -n 3 "/tmp/ecmp-$s.out") $(cat "/tmp/ecmp-$s.err")"
    assert_eq "$(seq 1 48 | sed 's/^/tick/')" "$(grep '^tick' "/tmp/ecmp-$s.out")" "stream $s's echo"
done
sleep 2.5
r1=$(on fvs-d1 -Ln --stats --exact | awk '$1 == "TCP" {print $4}')
[ "$r1" -le $((q1 + 2)) ] || fail "fvs-d1 still received traffic after its withdrawal ($q1 -> $r1 packets)"
echo "ECMP over two directors: every flow on the same real server through either, withdrawal lost none"
