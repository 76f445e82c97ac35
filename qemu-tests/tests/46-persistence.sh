#!/usr/bin/env bash
# backends: ipvs fvs
# Persistence (-p, -M) through NAT (FVS_BACKEND=ipvs|fvs), rr over three real servers, UDP
# with a 1 s UDP timeout (--set) and a 3 s persistence timeout:
#  * 20 datagrams, each from a new client port, all reach one real server; -Lnc shows the
#    persistence template "UDP mm:ss ASSURED 10.0.1.2:0 VIP:53 RS:53" (assured: its
#    connections were answered);
#  * a second client address (10.0.1.3) is another client: the next server (rr);
#  * once the connections and then the template have expired (within 20 s), the first client
#    is scheduled afresh: the next server in rr order;
#  * with -M 255.255.255.0 both client addresses share one template and one server;
#  * TCP: 10 connections of one client all reach one server, which counts them (ActiveConn +
#    InActConn) and the template (PersistConn 1 with --persistent-conn).
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh
dp_backend_up
topo_nat 3
ip -n fvs-cl addr add 10.0.1.3/24 dev cl0
dp_udp_servers 3
dp_tcp_servers 3
adm_ok --set 0 0 1

# send FROM N: N datagrams to VIP:53 from client address FROM, each from a new port; prints the
# answering servers' names, one per line.
send() {
    ip netns exec fvs-cl python3 - "$1" "$2" "$VIP" <<'PY'
import socket, sys
src, n, vip = sys.argv[1], int(sys.argv[2]), sys.argv[3]
for i in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    s.bind((src, 0))
    s.sendto(b"req%d\n" % i, (vip, 53))
    try:
        print(s.recv(200).decode().split()[0], flush=True)
    except OSError as e:
        print("no-answer", e, flush=True)
    s.close()
PY
}
one_server() { # one_server WHAT OUTPUT -> the server's name
    local names
    names=$(sort -u <<<"$2")
    [ "$(wc -l <<<"$names")" = 1 ] && [[ $names == rs[123] ]] || fail "$1: not one server: $(sort <<<"$2" | uniq -c | xargs)"
    echo "$names"
}
next_rr() { case $1 in rs3) echo rs2 ;; rs2) echo rs1 ;; rs1) echo rs3 ;; esac; }

adm_ok -A -u "$VIP:53" -s rr -p 3
for i in 1 2 3; do adm_ok -a -u "$VIP:53" -r "10.0.2.$i:53" -m; done
a=$(one_server "client 10.0.1.2" "$(send 10.0.1.2 20)") || exit 1
info "client 10.0.1.2: 20 datagrams to $a"
conns=$(dp_conns)
tmpl=$(grep -E "^UDP +[0-9:]+ +ASSURED +10\.0\.1\.2:0 +$VIP:53 +10\.0\.2\.[123]:53" <<<"$conns" || true)
[ -n "$tmpl" ] || fail "no persistence template in -Lnc: $conns"
info "template: $tmpl"
b=$(one_server "client 10.0.1.3" "$(send 10.0.1.3 5)") || exit 1
assert_eq "$(next_rr "$a")" "$b" "another client address gets the next server"
# Connections expire 1 s after their last packet, the template 3 s after its last use (were
# connections still using it then, it would get 60 s more, as in ip_vs): wait until it has gone.
for i in $(seq 1 40); do
    dp_conns | grep -q "10\.0\.1\.2:0 " || break
    sleep 0.5
done
dp_conns | grep -q "10\.0\.1\.2:0 " && fail "template still there 20 s later: $(dp_conns)"
info "template gone after about $((i / 2)) s more"
c=$(one_server "client 10.0.1.2 after expiry" "$(send 10.0.1.2 5)") || exit 1
assert_eq "$(next_rr "$b")" "$c" "after the template expired the client is scheduled afresh"
adm_ok -D -u "$VIP:53"

adm_ok -A -u "$VIP:54" -s rr -p 3 -M 255.255.255.0
for i in 1 2 3; do adm_ok -a -u "$VIP:54" -r "10.0.2.$i:53" -m; done
sendp() { ip netns exec fvs-cl python3 -c '
import socket, sys
for src in sys.argv[1:3]:
    for i in range(3):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5); s.bind((src, 0))
        s.sendto(b"q\n", (sys.argv[3], 54))
        print(s.recv(200).decode().split()[0], flush=True)
' 10.0.1.2 10.0.1.3 "$VIP"; }
d=$(one_server "-M 255.255.255.0, two client addresses" "$(sendp)") || exit 1
info "netmask /24: both client addresses to $d"

adm_ok -A -t "$VIP:80" -s rr -p 30
for i in 1 2 3; do adm_ok -a -t "$VIP:80" -r "10.0.2.$i:80" -m; done
out=$(dp_client tcp "$VIP" 80 10)
dp_check_lines nat 10 <<<"$out"
e=$(one_server "TCP" "$(awk '{print $1}' <<<"$out")") || exit 1
list=$(adm -Ln -t "$VIP:80")
info "$(tr '\n' ';' <<<"$list")"
awk -v rs="10.0.2.${e#rs}:80" '$2 == rs {exit !($5 + $6 == 10)}' <<<"$list" ||
    fail "the 10 connections are not counted on $e: $list"
plist=$(adm -Ln --persistent-conn -t "$VIP:80")
awk -v rs="10.0.2.${e#rs}:80" '$2 == rs {exit !($4 == 1)}' <<<"$plist" || fail "PersistConn of $e is not 1: $plist"
echo "persistence keeps clients on one real server and lets go after the timeout"
