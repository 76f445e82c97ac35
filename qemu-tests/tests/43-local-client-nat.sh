#!/usr/bin/env bash
# backends: ipvs fvs
# Locally originated clients (ip_vs hooks LOCAL_OUT, and translates the replies at LOCAL_IN): a
# process in the director's own namespace connecting to VIP:port of a NAT service is balanced
# to the real servers like a remote client and gets its answers.
#   - Six TCP connections from the director to VIP:80 (source address: the VIP itself, the
#     kernel's choice for a local destination): rr over rs1..rs3, two each, payload echoed, each
#     real server reached at its own address and seeing the VIP as peer; -Lnc lists them as
#     VIP:port -> VIP:80 -> 10.0.2.x:80.
#   - A 100 kB stream both ways in one connection.
#   - Three UDP datagrams to VIP:53 from three sockets: answered by rs3, rs2, rs1.
# Without LOCAL_OUT handling the connections reach the director's own (empty) port 80 and are
# refused; if they are only scheduled at LOCAL_IN (the packets, looped back, pass it) and the
# replies are not translated back at LOCAL_IN, they time out.
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh
dp_backend_up
topo_nat 3
dp_tcp_servers 3
dp_service -t 80 rr -m 1 1 1
dp_udp_servers 3
dp_service -u 53 rr -m 1 1 1
dir_client() { ip netns exec fvs-dir python3 -c "$DP_CLIENT_PY" "$@"; }

# check_lines COUNT: stdin = TCP client output: every connection answered and echoed intact,
# the real server reached at its own address, the peer it saw being the VIP.
check_lines() {
    local n=0 name peer local ok
    while read -r name peer local ok; do
        n=$((n + 1))
        [[ $name =~ ^rs[0-9]+$ ]] || fail "connection $n from the director: no answer: $name $peer $local $ok"
        [ "$ok" = echo-ok ] || fail "connection $n ($name): payload not echoed intact: $ok"
        [ "$peer" = "$VIP" ] || fail "connection $n: $name saw peer $peer, not the director's VIP"
        [ "$local" = "10.0.2.${name#rs}" ] || fail "connection $n: $name reached at $local"
    done
    [ "$n" = "$1" ] || fail "$n answers for $1 connections"
}

# One connection first, to fail fast, then five more.
out=$(dir_client tcp "$VIP" 80 1)
info "$out"
check_lines 1 <<<"$out"
out+=$'\n'$(dir_client tcp "$VIP" 80 5)
info "$(tr '\n' ';' <<<"$out")"
check_lines 6 <<<"$out"
assert_eq "rs1=2 rs2=2 rs3=2" "$(dp_count_names 3 <<<"$out")" "rr over 6 connections from the director"
conns=$(dp_conns)
[ "$(grep -cE "^TCP [0-9:]+ +TIME_WAIT +${VIP//./\\.}:[0-9]+ +${VIP//./\\.}:80 +10\.0\.2\.[123]:80 *$" <<<"$conns")" = 6 ] ||
    fail "connection entries (6 in TIME_WAIT, VIP:port -> VIP:80 -> rsN expected): $conns"

out=$(dir_client tcp "$VIP" 80 1 100000)
info "100 kB: $out"
check_lines 1 <<<"$out"

out=$(dir_client udp "$VIP" 53 3)
info "$(tr '\n' ';' <<<"$out")"
assert_eq "rs3 $VIP req0
rs2 $VIP req1
rs1 $VIP req2" "$out" "UDP answers to the director"
echo "clients on the director are balanced to the real servers"
