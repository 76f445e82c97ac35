#!/usr/bin/env bash
# backends: ipvs fvs
# The tunables of /proc/sys/net/ipv4/vs (ip_vs) and /proc/sys/net/fvs (fvs), per namespace
# (FVS_BACKEND=ipvs|fvs), NAT with rr over three real servers:
#  * defaults: expire_nodest_conn 0, sloppy_tcp 0, sloppy_sctp 0, expire_quiescent_template 0,
#    conn_reuse_mode 1, run_estimation 1, lblc(r)_expiration 86400 s (fvs's own defaults differ
#    in three: expire_nodest_conn 1, expire_quiescent_template 1, conn_reuse_mode 5); a
#    non-number is refused; the behaviours below are tested from ip_vs's values, set explicitly;
#  * expire_nodest_conn: a UDP flow whose real server was deleted is dropped (0), or expired
#    and scheduled anew (1); with 1, deleting a server expires its entries within seconds;
#  * conn_reuse_mode: a new TCP connection from the port of a finished one (TIME_WAIT) is
#    scheduled anew (1: the next server in rr order) or follows the old entry (0);
#  * expire_quiescent_template: a persistence template of a weight-0 server keeps its clients
#    (0) or is dropped for another server (1);
#  * sloppy_tcp / sloppy_sctp: a bare TCP ACK / SCTP HEARTBEAT to the VIP starts an entry only
#    when set;
#  * run_estimation 0: rates stay 0 under traffic.
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh
modprobe sctp 2>/dev/null
dp_backend_up
topo_nat 3
dp_udp_servers 3 53
dp_udp_servers 3 54
dp_tcp_servers 3 80 close

SYSCTL_DIR=/proc/sys/net/ipv4/vs
[ "$FVS_BACKEND" = fvs ] && SYSCTL_DIR=/proc/sys/net/fvs
sysctl_get() { ip netns exec fvs-dir cat "$SYSCTL_DIR/$1"; }
sysctl_set() { ip netns exec fvs-dir sh -c "echo $2 > $SYSCTL_DIR/$1" 2>/dev/null; }

# ip_vs creates its sysctls with the first service; so does this test before reading them.
dp_service -u 53 rr -m 1 1 1
defaults="expire_nodest_conn=0 sloppy_tcp=0 sloppy_sctp=0 expire_quiescent_template=0 conn_reuse_mode=1 run_estimation=1"
[ "$FVS_BACKEND" = fvs ] && defaults="expire_nodest_conn=1 sloppy_tcp=0 sloppy_sctp=0 expire_quiescent_template=1 conn_reuse_mode=5 run_estimation=1"
for kv in $defaults; do
    assert_eq "${kv#*=}" "$(sysctl_get "${kv%=*}")" "default of ${kv%=*}"
done
nodest0=$(sysctl_get expire_nodest_conn)
sysctl_set expire_nodest_conn abc && fail "a non-number was accepted"
assert_eq "$nodest0" "$(sysctl_get expire_nodest_conn)" "expire_nodest_conn after a refused write"
# From here on ip_vs's values, whatever the backend's defaults.
for kv in expire_nodest_conn=0 expire_quiescent_template=0 conn_reuse_mode=1; do
    sysctl_set "${kv%=*}" "${kv#*=}" || fail "set ${kv%=*}"
done
# lblc_expiration / lblcr_expiration (ip_vs: with its lblc/lblcr modules): seconds, 24 h.
[ "$FVS_BACKEND" = ipvs ] && modprobe -a ip_vs_lblc ip_vs_lblcr
for n in lblc_expiration lblcr_expiration; do
    assert_eq 86400 "$(sysctl_get $n)" "default of $n"
    sysctl_set $n 3600 || fail "set $n"
    assert_eq 3600 "$(sysctl_get $n)" "$n after a write"
done
# Per namespace: the root namespace's values are its own (fvs: present with fvs loaded).
if [ "$FVS_BACKEND" = fvs ]; then
    [ "$(cat "$SYSCTL_DIR/conn_reuse_mode")" = 5 ] || fail "no $SYSCTL_DIR in the root namespace"
fi

# udp1 PORT VPORT MSG: one datagram from 10.0.1.2:PORT to VIP:VPORT; prints the answering
# server's name or "no-answer".
udp1() {
    ip netns exec fvs-cl python3 - "$VIP" "$1" "$2" "$3" <<'PY'
import socket, sys
vip, sport, vport, msg = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.0.1.2", sport))
s.settimeout(2)
s.sendto(msg.encode() + b"\n", (vip, vport))
try:
    print(s.recv(200).decode().split()[0])
except OSError:
    print("no-answer")
PY
}

# --- expire_nodest_conn
first=$(udp1 40001 53 a)
[[ $first == rs[123] ]] || fail "first datagram: $first"
adm_ok -d -u "$VIP:53" -r "10.0.2.${first#rs}:53"
assert_eq no-answer "$(udp1 40001 53 b)" "datagram of a flow whose server was deleted (expire_nodest_conn=0)"
sysctl_set expire_nodest_conn 1 || fail "set expire_nodest_conn"
again=$(udp1 40001 53 c)
info "first $first, after deletion with expire_nodest_conn=1: $again"
[[ $again == rs[123] && $again != "$first" ]] || fail "flow not rescheduled after its server was deleted: $again"
# ... and then, without another packet, connections of a deleted server are expired at once.
cport_srv() { dp_conns | awk -v p=":$1" '$1 == "UDP" && substr($4, length($4) - length(p) + 1) == p {print $6}'; }
[ -n "$(cport_srv 40001)" ] || fail "no entry for the rescheduled flow: $(dp_conns)"
srv=$(cport_srv 40001)
adm_ok -d -u "$VIP:53" -r "$srv"
for _ in $(seq 1 15); do [ -z "$(cport_srv 40001)" ] && break; sleep 0.2; done
assert_eq "" "$(cport_srv 40001)" "entry of a deleted server with expire_nodest_conn=1"
info "entry to $srv expired when its server was deleted"
sysctl_set expire_nodest_conn 0

# --- conn_reuse_mode: the server closes first, so the director's entry ends in TIME_WAIT
# while the client's port is free again at once.
tcp_from() { # tcp_from PORT: one connection from 10.0.1.2:PORT to VIP:80; the server's name
    ip netns exec fvs-cl python3 - "$VIP" "$1" <<'PY'
import socket, sys, time
vip, sport = sys.argv[1], int(sys.argv[2])
for attempt in range(50):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("10.0.1.2", sport))
        break
    except OSError:
        s.close()
        time.sleep(0.2)
s.settimeout(10)
s.connect((vip, 80))
data = b""
while True:
    d = s.recv(200)
    if not d:
        break
    data += d
s.close()
print(data.decode().split()[0] if data else "nothing")
PY
}
dp_service -t 80 rr -m 1 1 1
a=$(tcp_from 40002); sleep 1
st=$(dp_conns | awk '$4 ~ /:40002$/ {print $3}')
info "entry after the first connection: $st"
b=$(tcp_from 40002)
info "conn_reuse_mode=1: $a then $b"
assert_eq "rs3 rs2" "$a $b" "a new connection from a finished connection's port is scheduled anew"
sysctl_set conn_reuse_mode 0 || fail "set conn_reuse_mode"
sleep 1
c=$(tcp_from 40002)
info "conn_reuse_mode=0: then $c"
assert_eq rs2 "$c" "with conn_reuse_mode=0 the old entry is followed"
sysctl_set conn_reuse_mode 1

# --- expire_quiescent_template
adm_ok -A -u "$VIP:54" -s rr -p 60
for i in 1 2 3; do adm_ok -a -u "$VIP:54" -r "10.0.2.$i:54" -m -w 1; done
p=$(udp1 40010 54 p1)
[[ $p == rs[123] ]] || fail "persistent service: $p"
adm_ok -e -u "$VIP:54" -r "10.0.2.${p#rs}:54" -m -w 0
assert_eq "$p" "$(udp1 40011 54 p2)" "template of a weight-0 server still holds (expire_quiescent_template=0)"
sysctl_set expire_quiescent_template 1 || fail "set expire_quiescent_template"
q=$(udp1 40012 54 p3)
info "persistent client on $p, after weight 0 with expire_quiescent_template=1: $q"
[[ $q == rs[123] && $q != "$p" ]] || fail "template of a weight-0 server kept its client: $q"
sysctl_set expire_quiescent_template 0

# --- sloppy_tcp / sloppy_sctp: a packet that does not open a connection
raw() { # raw tcp|sctp SPORT
    ip netns exec fvs-cl python3 - "$VIP" "$1" "$2" <<'PY'
import socket, struct, sys
vip, kind, sport = sys.argv[1], sys.argv[2], int(sys.argv[3])
def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
if kind == "tcp":
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
    hdr = struct.pack("!HHIIBBHHH", sport, 80, 1000, 2000, 5 << 4, 0x10, 65535, 0, 0)
    pseudo = socket.inet_aton("10.0.1.2") + socket.inet_aton(vip) + struct.pack("!BBH", 0, 6, len(hdr))
    hdr = hdr[:16] + struct.pack("!H", csum(pseudo + hdr)) + hdr[18:]
    s.sendto(hdr, (vip, 0))
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_SCTP)
    hb = struct.pack("!BBH", 4, 0, 8) + struct.pack("!HH", 1, 4)
    s.sendto(struct.pack("!HHII", sport, 80, 1234, 0) + hb, (vip, 0))
PY
}
adm_ok -A --sctp-service "$VIP:80" -s rr
adm_ok -a --sctp-service "$VIP:80" -r 10.0.2.1:80 -m
has_entry() { dp_conns | grep -qE "^$1 .* 10\.0\.1\.2:$2 "; }
raw tcp 40020; raw sctp 40021; sleep 0.5
has_entry TCP 40020 && fail "a bare ACK started a connection with sloppy_tcp=0"
has_entry SCTP 40021 && fail "a HEARTBEAT started an association with sloppy_sctp=0"
sysctl_set sloppy_tcp 1 || fail "set sloppy_tcp"
sysctl_set sloppy_sctp 1 || fail "set sloppy_sctp"
raw tcp 40022; raw sctp 40023; sleep 0.5
info "$(dp_conns | grep -E ':4002[23] ')"
has_entry TCP 40022 || fail "a bare ACK started no connection with sloppy_tcp=1: $(dp_conns)"
has_entry SCTP 40023 || fail "a HEARTBEAT started no association with sloppy_sctp=1: $(dp_conns)"
sysctl_set sloppy_tcp 0; sysctl_set sloppy_sctp 0

# --- run_estimation 0: no rates
sysctl_set run_estimation 0 || fail "set run_estimation"
adm_ok -A -u "$VIP:55" -s rr
adm_ok -a -u "$VIP:55" -r 10.0.2.1:53 -m
for i in $(seq 1 20); do udp1 $((40100 + i)) 55 r >/dev/null; done
sleep 5
rate=$(adm -Ln --rate | awk -v v="$VIP:55" '$1 == "UDP" && $2 == v {print $3, $4, $5}')
info "rates with run_estimation=0: $rate"
assert_eq "0 0 0" "$rate" "CPS InPPS OutPPS with estimation off"
echo "sysctls work"
