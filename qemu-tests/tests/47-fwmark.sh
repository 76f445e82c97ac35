#!/usr/bin/env bash
# backends: ipvs fvs
# Firewall-mark services (-f) through NAT (FVS_BACKEND=ipvs|fvs): nftables in the director marks
# TCP to VIP:80 and VIP:8080 with mark 1; one service "-f 1" (rr) balances both ports as one
# service, real servers given with port 0 keep the packet's port:
#  * 6 connections alternating between ports 80 and 8080 reach rs3 rs2 rs1 rs3 rs2 rs1, each on
#    the port it was sent to, and -Ln lists "FWM  1 rr" with its three real servers;
#  * with persistence (-p), one client's connections to both ports stick to one real server
#    (one template <IP, client, 0, fwmark 1, 0>, listed by -Lnc as "IP ... 0.0.0.1:0").
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh
command -v nft >/dev/null || skip "nft not installed"
dp_backend_up
topo_nat 3
dp_tcp_servers 3 80
dp_tcp_servers 3 8080
ip netns exec fvs-dir nft -f - <<EOF2 || fail "nft rules"
table ip fvsmark {
    chain pre {
        type filter hook prerouting priority mangle;
        ip daddr $VIP tcp dport { 80, 8080 } meta mark set 1
    }
}
EOF2
adm_ok -A -f 1 -s rr
for i in 1 2 3; do adm_ok -a -f 1 -r "10.0.2.$i:0" -m; done
list=$(adm -Ln)
info "$(tr '\n' ';' <<<"$list")"
grep -q "^FWM  1 rr" <<<"$list" || fail "no FWM 1 service listed: $list"
out=""
for i in 1 2 3; do
    out+="$(dp_client tcp "$VIP" 80 1)"$'\n'
    out+="$(dp_client tcp "$VIP" 8080 1)"$'\n'
done
out=${out%$'\n'}
info "$(tr '\n' ';' <<<"$out")"
dp_check_lines nat 6 <<<"$out"
assert_eq "rs3 rs2 rs1 rs3 rs2 rs1" "$(awk '{print $1}' <<<"$out" | xargs)" "rr over both marked ports"
conns=$(dp_conns)
[ "$(grep -cE "^TCP .* $VIP:8080 +10\.0\.2\.[123]:8080 *$" <<<"$conns")" = 3 ] ||
    fail "connections to 8080 must keep port 8080: $conns"
adm_ok -D -f 1

adm_ok -A -f 1 -s rr -p 60
for i in 1 2 3; do adm_ok -a -f 1 -r "10.0.2.$i:0" -m; done
out=""
for i in 1 2 3; do
    out+="$(dp_client tcp "$VIP" 80 1)"$'\n'
    out+="$(dp_client tcp "$VIP" 8080 1)"$'\n'
done
out=${out%$'\n'}
info "persistent: $(awk '{print $1}' <<<"$out" | xargs)"
[ "$(awk '{print $1}' <<<"$out" | sort -u | wc -l)" = 1 ] || fail "persistent fwmark service: one client on several servers: $out"
conns=$(dp_conns)
grep -qE "^IP +[0-9:]+ +(NONE|ASSURED) +10\.0\.1\.2:0 +0\.0\.0\.1:0 +10\.0\.2\.[123]:0 *$" <<<"$conns" ||
    fail "no fwmark template in -Lnc: $conns"
echo "fwmark services balance marked traffic of several ports as one service"
