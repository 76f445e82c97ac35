# Helpers for the data-plane VM tests (qemu-tests/tests/3N-*.sh); sourced after lib.sh and
# topo.sh. FVS_BACKEND selects what balances the traffic:
#   ipvs (default)  the kernel's ip_vs, configured with Debian's ipvsadm
#   fvs             kmod/fvs.ko, configured with ipvsadm-rs (IPVSADM_RS_FAMILY=FVS)
# Everything runs inside the topology's namespaces: client fvs-cl (10.0.1.2), director fvs-dir
# (VIP 10.0.1.100 on dir0, 10.0.2.254 on br0), real servers fvs-rsI (10.0.2.I).
# shellcheck shell=bash

FVS_BACKEND=${FVS_BACKEND:-ipvs}
VIP=${TOPO_VIP:-10.0.1.100}
DP_SCHED_MODULES="ip_vs_rr ip_vs_wrr ip_vs_lc ip_vs_wlc"
DP_PGIDS=()

case $FVS_BACKEND in
    ipvs|fvs) ;;
    *) fail "FVS_BACKEND must be ipvs or fvs, not '$FVS_BACKEND'" ;;
esac

dp_backend_up() {
    case $FVS_BACKEND in
        ipvs)
            command -v ipvsadm >/dev/null || skip "ipvsadm not installed"
            ipvs_load
            local m
            for m in $DP_SCHED_MODULES; do modprobe "$m" || fail "modprobe $m"; done
            ;;
        fvs)
            [ -x "$IPVSADM_RS" ] || fail "$IPVSADM_RS missing (cargo build --release -p ipvsadm-rs)"
            fvs_load
            ;;
    esac
}

# dp_backend_down: ip_vs needs an empty table before its modules unload (services pin their
# scheduler modules); fvs.ko is meant to unload with services and connections in place.
dp_backend_down() {
    case $FVS_BACKEND in
        ipvs)
            if lsmod | grep -q '^ip_vs '; then
                local ns
                for ns in $(ip netns list | awk '{print $1}'); do ip netns exec "$ns" ipvsadm -C 2>/dev/null; done
                ipvsadm -C 2>/dev/null
            fi
            ipvs_unload
            ! lsmod | grep -q '^ip_vs' || fail "ip_vs modules still loaded: $(lsmod | awk '/^ip_vs/ {print $1}' | xargs)"
            ;;
        fvs)
            fvs_unload
            ! lsmod | grep -q '^fvs ' || fail "fvs still loaded"
            ;;
    esac
}

# adm ARGS...: the backend's ipvsadm in the director's namespace.
adm() {
    case $FVS_BACKEND in
        ipvs) ip netns exec fvs-dir ipvsadm "$@" ;;
        fvs) ip netns exec fvs-dir env IPVSADM_RS_FAMILY=FVS "$IPVSADM_RS" "$@" ;;
    esac
}
adm_ok() { adm "$@" || fail "ipvsadm $*"; }

# dp_bg NS CMD...: runs CMD in NS in the background in its own process group, killed at exit.
dp_bg() {
    local ns=$1; shift
    setsid ip netns exec "$ns" "$@" &
    DP_PGIDS+=("$!")
}
dp_kill_all() {
    local p
    for p in "${DP_PGIDS[@]}"; do kill -- "-$p" 2>/dev/null; done
    DP_PGIDS=()
    wait 2>/dev/null
}
trap dp_kill_all EXIT

# Servers' complaints (socat reports its children killed at the end of a test) go to
# /tmp/dp-servers.log, not into the test's output.
# dp_tcp_servers N [PORT [close]]: on fvs-rs1..N a TCP server that, for every connection, first
# sends one line "rsI PEER-ADDRESS LOCAL-ADDRESS" and then echoes everything it receives until
# EOF -- or, with "close", closes the connection right after that line (the server sends the
# first FIN).
dp_tcp_servers() {
    local n=$1 port=${2:-80} then="exec cat" i
    [ "${3:-}" = close ] && then="exit 0"
    for i in $(seq 1 "$n"); do
        # shellcheck disable=SC2016
        # -t 10: after the client's FIN, wait for the (slow to start, under TCG) answer rather
        # than socat's default 0.5 s.
        dp_bg "fvs-rs$i" socat -t 10 "TCP4-LISTEN:$port,fork,reuseaddr" \
            "SYSTEM:echo rs$i \$SOCAT_PEERADDR \$SOCAT_SOCKADDR; $then" 2>>/tmp/dp-servers.log
    done
    for i in $(seq 1 "$n"); do wait_listen "fvs-rs$i" "$port"; done
}

# dp_udp_servers N [PORT]: on fvs-rsI a UDP server answering each datagram with one datagram
# "rsI PEER-ADDRESS REQUEST-LINE".
dp_udp_servers() {
    local n=$1 port=${2:-53} i
    for i in $(seq 1 "$n"); do
        # shellcheck disable=SC2016
        dp_bg "fvs-rs$i" socat "UDP4-RECVFROM:$port,fork,reuseaddr" \
            "SYSTEM:read l; echo rs$i \$SOCAT_PEERADDR \$l" 2>>/tmp/dp-servers.log
    done
    for i in $(seq 1 "$n"); do wait_listen "fvs-rs$i" "$port" udp; done
}

# The client: one python process makes many connections (one socat per connection is slow under
# TCG). Modes:
#   tcp HOST PORT COUNT [SIZE]  COUNT sequential connections; each sends SIZE bytes (default 6,
#       "hello\n"), shuts down its sending side and reads until EOF; prints per connection the
#       server's first line plus "echo-ok" when the rest is exactly what was sent ("echo-bad
#       GOT/SENT" otherwise), or "error ..." when the connection failed.
#   udp HOST PORT COUNT  COUNT request datagrams, each from a new socket (new source port);
#       prints each answer, or "no-answer ERROR" (timeout, ICMP unreachable).
#   udp1 HOST PORT COUNT  the same from one socket (one source port).
DP_CLIENT_PY='
import os, socket, sys, threading
mode, host, port, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
size = int(sys.argv[5]) if len(sys.argv) > 5 else 6
u = None
for i in range(count):
    if mode in ("udp", "udp1"):
        if u is None:
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.settimeout(5)
            u.connect((host, port))
        u.send(b"req%d\n" % i)
        try:
            print(u.recv(1500).decode().strip(), flush=True)
        except OSError as e:
            print("no-answer", e, flush=True)
        if mode == "udp":
            u.close()
            u = None
        continue
    payload = b"hello\n" if size == 6 else os.urandom(size)
    try:
        s = socket.create_connection((host, port), timeout=10)
        got = []
        def rx():
            try:
                while True:
                    b = s.recv(65536)
                    if not b:
                        break
                    got.append(b)
            except OSError as e:
                got.append(b"\0rx-error " + str(e).encode())
        t = threading.Thread(target=rx)
        t.start()
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        t.join()
        s.close()
    except OSError as e:
        print("error", e, flush=True)
        continue
    data = b"".join(got)
    line, _, rest = data.partition(b"\n")
    ok = "echo-ok" if rest == payload else "echo-bad %d/%d" % (len(rest), len(payload))
    print(line.decode(errors="replace"), ok, flush=True)
'
dp_client() { ip netns exec fvs-cl python3 -c "$DP_CLIENT_PY" "$@"; }

# dp_service -t|-u PORT SCHED FWD W1 [W2...]: virtual service VIP:PORT with real servers
# 10.0.2.1..N (port DP_RPORT, default PORT) of weights W1..WN, added in that order.
dp_service() {
    local proto=$1 port=$2 sched=$3 fwd=$4 i=1 w
    shift 4
    adm_ok -A "$proto" "$VIP:$port" -s "$sched"
    for w in "$@"; do
        adm_ok -a "$proto" "$VIP:$port" -r "10.0.2.$i:${DP_RPORT:-$port}" "$fwd" -w "$w"
        i=$((i + 1))
    done
}

# dp_count_names: stdin = client output; prints "rs1=N rs2=N ..." for rs1..rs$1 (0 included).
dp_count_names() {
    local n=$1
    awk -v n="$n" '{c[$1]++} END {s=""; for (i = 1; i <= n; i++) s = s (i > 1 ? " " : "") "rs" i "=" (c["rs" i] + 0); print s}'
}

# dp_hold NAME [PORT]: a held-open TCP connection from the client to the VIP (socat; the server
# answers its name first). Its output goes to /tmp/dp-NAME.out; it stays open and idle until
# dp_release NAME (which ends the client: its socket closes with a FIN) or the end of the test.
# dp_hold_server NAME waits for the answer and prints the server's name.
dp_hold() {
    local name=$1 port=${2:-80}
    rm -f "/tmp/dp-$name.out"
    dp_bg fvs-cl sh -c "sleep 300 | socat -T 300 -t 300 - TCP4:$VIP:$port > /tmp/dp-$name.out"
    eval "DP_HOLD_PG_$name=${DP_PGIDS[-1]}"
}
dp_release() { local v="DP_HOLD_PG_$1"; kill -- "-${!v}" 2>/dev/null; }
dp_hold_server() {
    local i
    for i in $(seq 1 100); do
        if [ -s "/tmp/dp-$1.out" ]; then head -n1 "/tmp/dp-$1.out" | awk '{print $1}'; return 0; fi
        sleep 0.1
    done
    fail "held connection $1 got no answer"
}

# dp_conns: the backend's connection entries (ipvsadm -Lnc without its two header lines).
dp_conns() { adm -Lnc | sed 1,2d; }

# dp_stats: `ipvsadm -Ln --stats --exact` once the counters have settled. ip_vs (7.x) publishes
# its per-CPU counters to the values ipvsadm reads only from the estimator, every 2 s, so a read
# right after the traffic can lag: read until two reads 2.5 s apart agree (at most ~15 s).
dp_stats() {
    local a b i
    a=$(adm -Ln --stats --exact)
    for i in 1 2 3 4 5 6; do
        sleep 2.5
        b=$(adm -Ln --stats --exact)
        [ "$a" = "$b" ] && break
        a=$b
    done
    printf '%s\n' "$b"
}

# dp_check_lines MODE COUNT: stdin = `dp_client tcp` output. Every connection must have been
# answered ("echo-ok": the payload came back byte for byte) by a real server that saw the
# client's own address (10.0.2.x servers see 10.0.1.2: no SNAT in any method) and was reached at
# its own address (nat) or at the VIP (dr, tun: the packet still carries the VIP).
dp_check_lines() {
    local mode=$1 count=$2 n=0 name peer local ok
    while read -r name peer local ok; do
        n=$((n + 1))
        [[ $name =~ ^rs[0-9]+$ ]] || fail "connection $n: no answer: $name $peer $local $ok"
        [ "$ok" = echo-ok ] || fail "connection $n ($name): payload not echoed intact: $ok"
        [ "$peer" = 10.0.1.2 ] || fail "connection $n: $name saw peer $peer, not the client 10.0.1.2"
        if [ "$mode" = nat ]; then
            [ "$local" = "10.0.2.${name#rs}" ] || fail "connection $n: $name reached at $local"
        else
            [ "$local" = "$VIP" ] || fail "connection $n: $name reached at $local, not the VIP"
        fi
    done
    [ "$n" = "$count" ] || fail "$n answers for $count connections"
}

# dp_forward_test nat|dr|tun: TCP through one forwarding method, end to end.
dp_forward_test() {
    local mode=$1 fwd fwname out conns
    case $mode in
        nat) fwd=-m; fwname=Masq ;;
        dr) fwd=-g; fwname=Route ;;
        tun) fwd=-i; fwname=Tunnel ;;
    esac
    dp_backend_up
    "topo_$mode" 3
    dp_tcp_servers 3
    dp_service -t 80 rr "$fwd" 1 1 1
    [ "$(adm -Ln | grep -c "^  -> 10\.0\.2\.[123]:80 *$fwname ")" = 3 ] || fail "listing: $(adm -Ln)"
    # Six short connections, rr: two per real server.
    out=$(dp_client tcp "$VIP" 80 6)
    info "$(tr '\n' ';' <<<"$out")"
    dp_check_lines "$mode" 6 <<<"$out"
    assert_eq "rs1=2 rs2=2 rs3=2" "$(dp_count_names 3 <<<"$out")" "rr over 6 connections"
    # 200 kB each way in one connection: many full-size segments (and, for tun, encapsulation
    # of full-size packets).
    out=$(dp_client tcp "$VIP" 80 1 200000)
    info "200 kB: $out"
    dp_check_lines "$mode" 1 <<<"$out"
    # The connection table has the seven, client -> VIP:80 -> a real server, all in TIME_WAIT:
    # the client's FIN (ESTABLISHED -> CLOSE_WAIT), then the server's (-> TIME_WAIT). For dr and
    # tun too: here the real servers' answers pass the director (their gateway), and ip_vs
    # (7.x) matches them to the connection (by VIP:port as source, for non-NAT connections), so
    # the full TCP state table applies, not the input-only one (which would leave FIN_WAIT).
    conns=$(dp_conns)
    info "$(grep -c . <<<"$conns") entries, states: $(awk '{print $3}' <<<"$conns" | sort | uniq -c | xargs)"
    [ "$(grep -cE "^TCP (01:5[0-9]|02:00) +TIME_WAIT +10\.0\.1\.2:[0-9]+ +$VIP:80 +10\.0\.2\.[123]:80 *$" <<<"$conns")" = 7 ] ||
        fail "connection entries (7 in TIME_WAIT expected): $conns"
    if [ "$mode" = nat ]; then
        # Port translation: VIP:8080 -> real servers' port 80.
        DP_RPORT=80 dp_service -t 8080 rr -m 1 1 1
        out=$(dp_client tcp "$VIP" 8080 3)
        dp_check_lines nat 3 <<<"$out"
        assert_eq "rs1=1 rs2=1 rs3=1" "$(dp_count_names 3 <<<"$out")" "rr over 3 connections to VIP:8080"
    fi
}
