#!/usr/bin/env bash
# backends: ipvs fvs
# The FTP helper for NAT services (FVS_BACKEND=ipvs with ip_vs_ftp | fvs with its built-in
# helper): a virtual FTP service VIP:21 (rr) over two NAT real servers running
# qemu-tests/ftp/ftpd.py, fetched by qemu-tests/ftp/ftpc.py from the client:
#  * passive (PASV): the real server's "227 ... (10,0,2,I,p,p)" reaches the client as
#    "(10,0,1,100,p,p)" — two bytes longer, so the control connection stays in step only with
#    conntrack's sequence adjustment: three transfers and a NOOP on one control connection;
#    the data connections go to the VIP and the files arrive intact;
#  * active (PORT): the real server's data connection from port 20 reaches the client from
#    VIP:20;
#  * IPv6: EPSV ("229 (|||p|)", a data connection the director must expect) and EPRT.
#  * -Lnc lists the passive data connections' entries (client -> VIP:p -> real server:p);
#  * a connection to another port of the address without an entry is refused by the director.
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh
dp_backend_up
[ "$FVS_BACKEND" = ipvs ] && { modprobe ip_vs_ftp || fail "modprobe ip_vs_ftp"; }
topo_nat 2
ip -n fvs-dir addr add "$TOPO_VIP6/128" dev dir0 nodad
VIP6=$TOPO_VIP6
for i in 1 2; do
    dp_bg "fvs-rs$i" python3 qemu-tests/ftp/ftpd.py "rs$i" "10.0.2.$i"
    dp_bg "fvs-rs$i" python3 qemu-tests/ftp/ftpd.py "rs$i-6" "fd00:2::$i"
done
for i in 1 2; do wait_listen "fvs-rs$i" 21; done
adm_ok -A -t "$VIP:21" -s rr
adm_ok -A -t "[$VIP6]:21" -s rr
for i in 1 2; do
    adm_ok -a -t "$VIP:21" -r "10.0.2.$i:21" -m
    adm_ok -a -t "[$VIP6]:21" -r "[fd00:2::$i]:21" -m
done
ftpc() { ip netns exec fvs-cl timeout 120 python3 qemu-tests/ftp/ftpc.py "$@" 2>&1; }

# Passive, IPv4: first session to rs2 (rr starts with the last added), second to rs1.
for exp in rs2 rs1; do
    out=$(ftpc "$VIP" pasv 1000 150000 20)
    info "$(tr '\n' ';' <<<"$out")"
    n=$(grep -c "^$exp pasv [0-9]* ok $VIP\$" <<<"$out")
    assert_eq 3 "$n" "passive transfers from $exp, data connection to the VIP"
    r=$(grep -c "^reply 227 Entering Passive Mode ([0-9,]*)\.\$" <<<"$out")
    assert_eq 3 "$r" "227 replies"
    grep "^reply 227" <<<"$out" | grep -qv "(10,0,1,100," && fail "a 227 reply not rewritten to the VIP: $out"
    grep -q "^noop 200 ok NOOP" <<<"$out" || fail "control connection out of step after the rewrites: $out"
done
conns=$(dp_conns)
info "$(tr '\n' ';' <<<"$conns")"
grep -Eq "^TCP +[0-9:]+ +[A-Z_]+ +10\.0\.1\.2:[0-9]+ +$VIP:[0-9]{4,5} +10\.0\.2\.[12]:[0-9]{4,5}" <<<"$conns" ||
    fail "no passive data connection entry listed: $conns"

# Active, IPv4: the data connection comes from VIP:20.
out=$(ftpc "$VIP" port 5000 70000)
info "$(tr '\n' ';' <<<"$out")"
n=$(grep -Ec "^rs[12] port [0-9]+ ok $VIP:20\$" <<<"$out")
assert_eq 2 "$n" "active transfers, data connection from VIP:20"

# IPv6: EPSV and EPRT.
out=$(ftpc "$VIP6" pasv 3000 90000)
info "$(tr '\n' ';' <<<"$out")"
n=$(grep -Ec "^rs[12]-6 pasv [0-9]+ ok $VIP6\$" <<<"$out")
assert_eq 2 "$n" "EPSV transfers"
out=$(ftpc "$VIP6" port 4000)
info "$(tr '\n' ';' <<<"$out")"
n=$(grep -Ec "^rs[12]-6 port 4000 ok $VIP6:20\$" <<<"$out")
assert_eq 1 "$n" "EPRT transfer, data connection from [VIP6]:20"

# Without an entry, a connection to another port of the (not persistent) FTP service's address
# is not the service's ("port zero only supported in persistent services"): it goes on to the
# director's own stack, which refuses it.
out=$(ip netns exec fvs-cl python3 -c '
import socket, sys
try:
    socket.create_connection((sys.argv[1], 40000), timeout=3)
    print("connected")
except socket.timeout:
    print("timeout")
except OSError as e:
    print("error", e.errno)
' "$VIP")
assert_eq "error 111" "$out" "stray connection to VIP:40000"
echo "FTP through NAT works"
