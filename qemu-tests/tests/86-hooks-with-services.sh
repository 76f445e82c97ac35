#!/usr/bin/env bash
# backends: ipvs fvs
# The balancer hooks a namespace's packets of a family only while the namespace has a service of
# that family (ip_vs since 5.x: `ip_vs_register_hooks` with the first service, unregistered
# with the last), so that namespaces without services pay nothing per packet. Observable: a
# NAT connection whose service is deleted, when it was the family's last one, is no longer the
# balancer's; its next packet reaches the director's own stack, which resets it. While another
# service of that family remains, the balancer still sees the packet and drops it (its real
# server is gone; expire_nodest_conn 0), so the client hears nothing.
#  1. IPv4 and IPv6 NAT services; one held connection each way works.
#  2. Delete the IPv4 service (the IPv6 one remains): the held IPv4 connection is reset; IPv6
#     still balances.
#  3. Two IPv4 services; delete one: a held connection of the deleted one is not reset (dropped:
#     the other service keeps the hooks).
#  4. The IPv4 service back: new connections balance again (hooks registered anew).
#  5. -C (flush) then services again: balance again; both families.
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh
dp_backend_up
topo_nat6 1
ip -n fvs-dir addr add "$VIP/32" dev dir0
dp_tcp_servers 1 80
dp_tcp_servers 1 81
dp6_tcp_servers 1 82  # (port 80 is the IPv4 server's: no dual bind)

# held FAMILY ADDR PORT: connects, reads the server's greeting, prints "greeting: <name>", then
# waits for a line on stdin ("go"), sends "ping" and reports within 4 s: "reset", "answer" or
# "silence".
HELD_PY='
import socket, sys, select
fam = socket.AF_INET6 if sys.argv[1] == "6" else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.settimeout(10)
s.connect((sys.argv[2], int(sys.argv[3])))
print("greeting:", s.recv(200).decode().split()[0], flush=True)
sys.stdin.readline()
try:
    s.send(b"ping\n")
    r, _, _ = select.select([s], [], [], 4)
    if not r:
        print("silence", flush=True)
    else:
        d = s.recv(200)
        print("answer" if d else "closed", flush=True)
except ConnectionResetError:
    print("reset", flush=True)
'
# hold NAME FAMILY ADDR PORT: starts `held` in the background (stdin a FIFO), waits for its
# greeting; go NAME releases it and prints its verdict.
hold() {
    local name=$1
    rm -f "/tmp/h-$name.in" "/tmp/h-$name.out"; mkfifo "/tmp/h-$name.in"
    ip netns exec fvs-cl python3 -c "$HELD_PY" "$2" "$3" "$4" < "/tmp/h-$name.in" > "/tmp/h-$name.out" 2>&1 &
    exec {fd}>"/tmp/h-$name.in"
    eval "HOLD_FD_$name=$fd"
    local i
    for i in $(seq 1 $((50 * FVS_TIME_SCALE))); do grep -q greeting "/tmp/h-$name.out" && break; sleep 0.2; done
    grep -q "greeting: rs1" "/tmp/h-$name.out" || fail "held connection $name: no greeting ($(cat "/tmp/h-$name.out"))"
}
go() {
    local v="HOLD_FD_$1" i
    echo go >&"${!v}"
    for i in $(seq 1 $((40 * FVS_TIME_SCALE))); do [ "$(wc -l < "/tmp/h-$1.out")" -ge 2 ] && break; sleep 0.2; done
    sed -n 2p "/tmp/h-$1.out"
}
svc4() { adm_ok -A -t "$VIP:80" -s rr; adm_ok -a -t "$VIP:80" -r 10.0.2.1:80 -m; }
svc6() { adm_ok -A -t "[$VIP6]:80" -s rr; adm_ok -a -t "[$VIP6]:80" -r "[fd00:2::1]:82" -m; }
greets() {  # FAMILY ADDR PORT: one fresh connection's greeting
    ip netns exec fvs-cl python3 -c '
import socket, sys
fam = socket.AF_INET6 if sys.argv[1] == "6" else socket.AF_INET
s = socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=5 * int(sys.argv[4]))
print(s.recv(200).decode().split()[0])' "$1" "$2" "$3" "$FVS_TIME_SCALE" 2>&1 | tail -n1
}

# expire_nodest_conn 0 (ip_vs's default): the balancer drops a packet of a connection whose
# real server went (fvs's default 1 would expire the connection, and the stack would reset it
# whether hooked or not). The namespace's state (and sysctls) exist once the module is loaded.
case $FVS_BACKEND in
    fvs) ip netns exec fvs-dir sysctl -qw net.fvs.expire_nodest_conn=0 ;;
    ipvs) ip netns exec fvs-dir sysctl -qw net.ipv4.vs.expire_nodest_conn=0 ;;
esac
svc4; svc6
assert_eq rs1 "$(greets 4 "$VIP" 80)" "IPv4 service balances"
assert_eq rs1 "$(greets 6 "$VIP6" 80)" "IPv6 service balances"

# 2. The IPv4 family's last service goes.
hold a 4 "$VIP" 80
adm_ok -D -t "$VIP:80"
r=$(go a)
assert_eq reset "$r" "held IPv4 connection after its family's last service was deleted"
assert_eq rs1 "$(greets 6 "$VIP6" 80)" "IPv6 service still balances"
info "step 2: $r"

# 3. Two IPv4 services, one deleted: the hooks stay.
svc4
adm_ok -A -t "$VIP:81" -s rr
adm_ok -a -t "$VIP:81" -r 10.0.2.1:81 -m
hold b 4 "$VIP" 80
adm_ok -D -t "$VIP:80"
r=$(go b)
assert_eq silence "$r" "held connection of a deleted service while another IPv4 service remains"
assert_eq rs1 "$(greets 4 "$VIP" 81)" "the remaining IPv4 service balances"
info "step 3: $r"

# 4. Back again.
adm_ok -D -t "$VIP:81"
svc4
assert_eq rs1 "$(greets 4 "$VIP" 80)" "IPv4 balances again with a new service"

# 5. Flush, then both families again.
adm_ok -C
svc4; svc6
assert_eq rs1 "$(greets 4 "$VIP" 80)" "IPv4 balances after a flush"
assert_eq rs1 "$(greets 6 "$VIP6" 80)" "IPv6 balances after a flush"
dp_backend_down
echo "hooks follow the services: reset without a service of the family, dropped with one"
