#!/usr/bin/env bash
# backends: ipvs fvs
# Persistence across ports through direct routing (FVS_BACKEND=ipvs|fvs), no helper involved:
#  * a persistent FTP service VIP:21 (-p, rr, two DR real servers running
#    qemu-tests/ftp/ftpd.py): passive data connections go to VIP:<port the server chose>, a
#    port no service has; the FTP service takes them (ip_vs's service lookup falls back to the
#    address's FTP service for TCP to port 20 or an unprivileged port) and the FTP template
#    <client, 0, VIP, 0> sends them to the server of the control connection. Two sessions,
#    two transfers each, all intact;
#  * a persistent port-zero service VIP:0 (-p, rr, real servers with port 0): connections to
#    ports 80 and 8080 both reach one real server (its servers on both ports answer), and -Lnc
#    lists the template "TCP ... NONE|ASSURED 10.0.1.2:0 VIP:0 RS:0".
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh
dp_backend_up
topo_dr 2
for i in 1 2; do dp_bg "fvs-rs$i" python3 qemu-tests/ftp/ftpd.py "rs$i" 0.0.0.0; done
for i in 1 2; do wait_listen "fvs-rs$i" 21; done
adm_ok -A -t "$VIP:21" -s rr -p 60
for i in 1 2; do adm_ok -a -t "$VIP:21" -r "10.0.2.$i:21" -g; done
ftpc() { ip netns exec fvs-cl timeout 120 python3 qemu-tests/ftp/ftpc.py "$@" 2>&1; }
for k in 1 2; do
    out=$(ftpc "$VIP" pasv 2000 80000)
    info "$(tr '\n' ';' <<<"$out")"
    n=$(grep -Ec "^rs[12] pasv [0-9]+ ok $VIP\$" <<<"$out")
    assert_eq 2 "$n" "session $k: passive transfers through the persistent FTP service"
done
adm_ok -C

dp_tcp_servers 2 80
dp_tcp_servers 2 8080
adm_ok -A -t "$VIP:0" -s rr -p 60
for i in 1 2; do adm_ok -a -t "$VIP:0" -r "10.0.2.$i:0" -g; done
a=$(dp_client tcp "$VIP" 80 2)
b=$(dp_client tcp "$VIP" 8080 2)
info "80: $(tr '\n' ';' <<<"$a") 8080: $(tr '\n' ';' <<<"$b")"
rs=$(awk '{print $1}' <<<"$a" | sort -u)
[ "$(wc -l <<<"$rs")" = 1 ] && [[ $rs == rs[12] ]] || fail "port 80 connections not on one real server: $a"
assert_eq "$rs $rs" "$(awk '{print $1}' <<<"$b" | xargs)" "port 8080 on the same real server"
assert_eq 2 "$(grep -c "^rs[12] 10.0.1.2 $VIP echo-ok\$" <<<"$a")" "port 80 answers"
assert_eq 2 "$(grep -c "^rs[12] 10.0.1.2 $VIP echo-ok\$" <<<"$b")" "port 8080 answers"
conns=$(dp_conns)
info "$(tr '\n' ';' <<<"$conns")"
grep -Eq "^TCP +[0-9:]+ +(NONE|ASSURED) +10\.0\.1\.2:0 +$VIP:0 +10\.0\.2\.${rs#rs}:0\$" <<<"$conns" ||
    fail "no port-zero template listed: $conns"
echo "persistent FTP and port-zero services take every port"
