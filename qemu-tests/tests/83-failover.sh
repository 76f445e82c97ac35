#!/usr/bin/env bash
# backends: ipvs fvs
# Director failover without losing connections (#9), NAT and DR (FVS_BACKEND=ipvs|fvs). Two
# directors share the client LAN (lanbr) and the real-server LAN (rsbr), both bridges in
# fvs-lan: fvs-dir (10.0.1.11, 10.0.2.251) and fvs-bk (10.0.1.12, 10.0.2.252), the same
# services on both, a master sync daemon on fvs-dir and a backup one on fvs-bk (over the
# real-server LAN). keepalived VRRP (VRRP only, one instance per director) holds the virtual
# address 10.0.1.100 and the real servers' gateway 10.0.2.254 on the master. Two long TCP
# streams (a line every 0.2 s for 16 s, echoed back), one per forwarding method, run through
# fvs-dir; after 5 s its links go down: keepalived moves the addresses to fvs-bk (gratuitous
# ARP), and the streams must go on through fvs-bk to the same real servers, no reset, every
# line echoed in order. Reported: how long the streams stalled.
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh

KEEPALIVED=${KEEPALIVED:-/usr/sbin/keepalived}
[ -x "$KEEPALIVED" ] || skip "keepalived not installed"
dp_backend_up
modprobe veth; modprobe bridge
work=$(mktemp -d /tmp/fvs-failover.XXXXXX)
trap 'for p in "$work"/*.pid; do [ -s "$p" ] && kill "$(cat "$p")" 2>/dev/null; done; rm -rf "$work"; dp_kill_all' EXIT

VIP=10.0.1.100
# fvs-lan: the two LANs. Client 10.0.1.2; real servers 10.0.2.1-2 (rs1 NAT, rs2 DR).
{
    echo "netns add fvs-lan"; echo "netns add fvs-cl"; echo "netns add fvs-dir"; echo "netns add fvs-bk"
    echo "netns add fvs-rs1"; echo "netns add fvs-rs2"
    echo "link add cl0 netns fvs-cl type veth peer name l-cl netns fvs-lan"
    echo "link add lan0 netns fvs-dir type veth peer name l-m netns fvs-lan"
    echo "link add rsn0 netns fvs-dir type veth peer name r-m netns fvs-lan"
    echo "link add lan0 netns fvs-bk type veth peer name l-b netns fvs-lan"
    echo "link add rsn0 netns fvs-bk type veth peer name r-b netns fvs-lan"
    echo "link add eth0 netns fvs-rs1 type veth peer name r-1 netns fvs-lan"
    echo "link add eth0 netns fvs-rs2 type veth peer name r-2 netns fvs-lan"
} | ip -batch - || fail "topology"
ip -n fvs-lan -batch - <<-EOT || fail "LAN bridges"
	link add lanbr type bridge mcast_snooping 0
	link add rsbr type bridge mcast_snooping 0
	link set lanbr up
	link set rsbr up
	link set l-cl master lanbr up
	link set l-m master lanbr up
	link set l-b master lanbr up
	link set r-m master rsbr up
	link set r-b master rsbr up
	link set r-1 master rsbr up
	link set r-2 master rsbr up
	EOT
ip -n fvs-cl -batch - <<-EOT || fail "client"
	addr add 10.0.1.2/24 dev cl0
	link set cl0 up
	link set lo up
	EOT
i=0
for d in fvs-dir fvs-bk; do
    i=$((i + 1))
    ip -n "$d" -batch - <<-EOT || fail "director $d"
	addr add 10.0.1.1$i/24 dev lan0
	addr add 10.0.2.25$i/24 dev rsn0
	link set lan0 up
	link set rsn0 up
	link set lo up
	EOT
    ip netns exec "$d" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
        net.ipv4.conf.rsn0.rp_filter=0 net.ipv4.conf.rsn0.accept_local=1
done
for r in 1 2; do
    ip -n "fvs-rs$r" -batch - <<-EOT || fail "real server $r"
	addr add 10.0.2.$r/24 dev eth0
	link set eth0 up
	link set lo up
	route add default via 10.0.2.254
	EOT
done
# rs2 takes DR traffic: the VIP on lo, neither answered nor announced by ARP.
ip netns exec fvs-rs2 sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
ip -n fvs-rs2 addr add "$VIP/32" dev lo
dp_tcp_servers 2 80

for d in fvs-dir fvs-bk; do
    for cmd in "-A -t $VIP:80 -s rr" "-a -t $VIP:80 -r 10.0.2.1:80 -m" \
        "-A -t $VIP:81 -s rr" "-a -t $VIP:81 -r 10.0.2.2:81 -g"; do
        # shellcheck disable=SC2086
        case $FVS_BACKEND in
            ipvs) ip netns exec "$d" ipvsadm $cmd ;;
            fvs) IPVSADM_RS_FAMILY=FVS ip netns exec "$d" "$IPVSADM_RS" $cmd ;;
        esac || fail "$d: ipvsadm $cmd"
    done
done
# The DR real server listens on 81 (its own port is the service's under DR).
dp_bg fvs-rs2 socat -t 10 "TCP4-LISTEN:81,fork,reuseaddr" "SYSTEM:echo rs2; exec cat" 2>>/tmp/dp-servers.log
wait_listen fvs-rs2 81
on() { local d=$1; shift; case $FVS_BACKEND in ipvs) ip netns exec "$d" ipvsadm "$@" ;; fvs) IPVSADM_RS_FAMILY=FVS ip netns exec "$d" "$IPVSADM_RS" "$@" ;; esac; }
on fvs-dir --start-daemon master --mcast-interface rsn0 || fail "master sync daemon"
on fvs-bk --start-daemon backup --mcast-interface rsn0 || fail "backup sync daemon"

# keepalived, VRRP only: fvs-dir starts as master (priority 150), fvs-bk as backup.
for d in fvs-dir fvs-bk; do
    if [ "$d" = fvs-dir ]; then st=MASTER; prio=150; else st=BACKUP; prio=100; fi
    cat > "$work/$d.conf" <<EOF
global_defs {
    router_id $d
    vrrp_garp_master_repeat 3
}
vrrp_instance fvs {
    state $st
    interface lan0
    virtual_router_id 51
    priority $prio
    advert_int 1
    virtual_ipaddress {
        $VIP/32 dev lan0
        10.0.2.254/24 dev rsn0
    }
}
EOF
    ip netns exec "$d" "$KEEPALIVED" -t -f "$work/$d.conf" > "$work/$d.test" 2>&1 || fail "keepalived rejects $d's configuration: $(cat "$work/$d.test")"
    setsid ip netns exec "$d" "$KEEPALIVED" -P -n -l -D -f "$work/$d.conf" -p "$work/$d-ka.pid" \
        -r "$work/$d-vrrp.pid" > "$work/$d.log" 2>&1 &
done
for i in $(seq 1 100); do ip -n fvs-dir -br addr show lan0 | grep -q "$VIP" && break; sleep 0.2; done
ip -n fvs-dir -br addr show lan0 | grep -q "$VIP" || fail "keepalived did not make fvs-dir master: $(tail -5 "$work/fvs-dir.log")"
info "fvs-dir holds the virtual address"

# Two streams, NAT (port 80) and DR (81): a line every 0.2 s, 80 lines.
for s in 80 81; do
    rm -f "/tmp/fo-$s.out"
    dp_bg fvs-cl sh -c "i=0; while [ \$i -lt 80 ]; do i=\$((i + 1)); echo tick\$i; sleep 0.2; done |
        socat -T 60 -t 30 - TCP4:$VIP:$s > /tmp/fo-$s.out 2>/tmp/fo-$s.err; echo \"end \$?\" >> /tmp/fo-$s.out"
done
sleep 5
for s in 80 81; do
    n=$(grep -c '^tick' "/tmp/fo-$s.out" 2>/dev/null)
    [ "${n:-0}" -ge 5 ] || fail "stream $s did not start through fvs-dir: $(cat "/tmp/fo-$s.out" "/tmp/fo-$s.err" 2>/dev/null)"
done
info "synced to fvs-bk before the failover: $(on fvs-bk -Lnc | sed 1,2d | awk '{print $1, $3, $4, $6}' | tr '\n' ';')"
# The master fails: both its links go down.
t0=$(date +%s.%N)
before80=$(grep -c '^tick' /tmp/fo-80.out); before81=$(grep -c '^tick' /tmp/fo-81.out)
ip -n fvs-dir link set lan0 down
ip -n fvs-dir link set rsn0 down
for i in $(seq 1 100); do ip -n fvs-bk -br addr show lan0 | grep -q "$VIP" && break; sleep 0.2; done
ip -n fvs-bk -br addr show lan0 | grep -q "$VIP" || fail "keepalived did not move the address to fvs-bk: $(tail -5 "$work/fvs-bk.log")"
t1=$(date +%s.%N)
info "fvs-bk took the virtual address after $(echo "$t1 - $t0" | bc | cut -c1-4) s"
# Streams resume: the echo grows again.
resumed=""
for i in $(seq 1 150); do
    if [ "$(grep -c '^tick' /tmp/fo-80.out)" -gt "$before80" ] && [ "$(grep -c '^tick' /tmp/fo-81.out)" -gt "$before81" ]; then
        resumed=$(date +%s.%N); break
    fi
    sleep 0.2
done
[ -n "$resumed" ] || fail "streams did not resume through fvs-bk: $(tail -n 2 /tmp/fo-80.out /tmp/fo-81.out)"
echo "RESULT failover_stall_s backend=$FVS_BACKEND $(echo "$resumed - $t0" | bc | cut -c1-4)"
# Both streams end normally with every line echoed, in order, from the same real server.
for s in 80 81; do
    for i in $(seq 1 300); do grep -q '^end ' "/tmp/fo-$s.out" && break; sleep 0.2; done
    grep -q '^end 0$' "/tmp/fo-$s.out" || fail "stream $s did not end cleanly: $(tail -n 3 "/tmp/fo-$s.out") $(cat "/tmp/fo-$s.err")"
    assert_eq "$(seq 1 80 | sed 's/^/tick/')" "$(grep '^tick' "/tmp/fo-$s.out")" "stream $s's echo"
done
assert_eq rs1 "$(head -n1 /tmp/fo-80.out | awk '{print $1}')" "NAT stream's server"
assert_eq rs2 "$(head -n1 /tmp/fo-81.out | awk '{print $1}')" "DR stream's server"
on fvs-bk -Lnc | sed 1,2d | grep -q ":80 .*10.0.2.1:80" || fail "fvs-bk has no entry for the NAT stream"
echo "failover: both streams went on through the backup director, every line echoed"
