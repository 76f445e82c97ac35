#!/usr/bin/env bash
# backends: ipvs fvs
# Connection entries expire on time (FVS_BACKEND=ipvs|fvs): with `--set 5 3 2` (tcp, tcpfin,
# udp seconds), checked in `ipvsadm -Lnc` (state and the mm:ss expire column), NAT:
#  * UDP: an entry shows state UDP and 00:02 or less, and is gone about 2 s after the answer;
#  * TCP ESTABLISHED, idle (client and server keep the connection open): 00:05 or less, gone
#    about 5 s after the last packet (the TCP connection itself is still open);
#  * TCP FIN_WAIT: the real server closes first (its FIN is seen on the way out), the client
#    keeps its side open: FIN_WAIT with 00:03 or less, gone about 3 s later;
#  * TIME_WAIT after a complete close is not set by --set: 2 minutes (01:5x..02:00).
# "About" allows for the VM: gone no earlier than the timeout minus 1 s, and no later than the
# timeout plus 4 s after the traffic.
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh
dp_backend_up
topo_nat 3
dp_tcp_servers 1 80
dp_tcp_servers 1 81 close
dp_udp_servers 1 53
dp_service -t 80 rr -m 1
dp_service -t 81 rr -m 1
dp_service -u 53 rr -m 1
adm_ok --set 5 3 2
assert_eq "Timeout (tcp tcpfin udp): 5 3 2" "$(adm -L --timeout)" "timeouts"

now() { date +%s.%N; }
# entry REGEX: the -Lnc lines matching REGEX.
entry() { dp_conns | grep -E "$1"; }
# expires WHAT REGEX T0 TIMEOUT: polls until no entry matches REGEX; checks when (since T0).
expires() {
    local what=$1 re=$2 t0=$3 to=$4 dt i
    for i in $(seq 1 100); do
        entry "$re" >/dev/null || break
        sleep 0.2
    done
    dt=$(echo "$(now) - $t0" | bc)
    entry "$re" >/dev/null && fail "$what: entry still there after ${dt}s: $(entry "$re")"
    info "$what: gone after ${dt}s (timeout ${to}s)"
    [ "$(echo "$dt >= $to - 1 && $dt <= $to + 4" | bc)" = 1 ] || fail "$what expired after ${dt}s, timeout ${to}s"
}

# UDP.
out=$(dp_client udp "$VIP" 53 1); t0=$(now)
assert_eq "rs1 10.0.1.2 req0" "$out" "UDP answer"
e=$(entry "^UDP ")
info "$e"
grep -qE "^UDP 00:0[0-2] +UDP +10\.0\.1\.2:[0-9]+ +$VIP:53 +10\.0\.2\.1:53 *$" <<<"$e" || fail "UDP entry: $e"
expires UDP "^UDP " "$t0" 2

# TCP ESTABLISHED, idle.
dp_hold idle 80
assert_eq rs1 "$(dp_hold_server idle)" "held connection"
t0=$(now)
e=$(entry "^TCP .*:80 ")
info "$e"
grep -qE "^TCP 00:0[0-5] +ESTABLISHED +10\.0\.1\.2:[0-9]+ +$VIP:80 +10\.0\.2\.1:80 *$" <<<"$e" || fail "ESTABLISHED entry: $e"
expires ESTABLISHED "^TCP .*:80 " "$t0" 5
dp_release idle

# TCP FIN_WAIT: the server's FIN came first.
dp_hold fin 81
assert_eq rs1 "$(dp_hold_server fin)" "connection closed by the server"
t0=$(now)
e=$(entry "^TCP .*:81 ")
info "$e"
grep -qE "^TCP 00:0[0-3] +FIN_WAIT +10\.0\.1\.2:[0-9]+ +$VIP:81 +10\.0\.2\.1:81 *$" <<<"$e" || fail "FIN_WAIT entry: $e"
expires FIN_WAIT "^TCP .*:81 " "$t0" 3
dp_release fin

# TIME_WAIT: not shortened by --set.
out=$(dp_client tcp "$VIP" 80 1)
dp_check_lines nat 1 <<<"$out"
sleep 0.5
e=$(entry "^TCP .*:80 ")
info "$e"
grep -qE "^TCP ($DP_TW_MINUTES) +TIME_WAIT +10\.0\.1\.2:[0-9]+ +$VIP:80 +10\.0\.2\.1:80 *$" <<<"$e" || fail "TIME_WAIT entry: $e"
echo "entries expire on time"
