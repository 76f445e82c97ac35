# Helpers for the data-plane VM tests (qemu-tests/tests/3N-*.sh); sourced after lib.sh and
# topo.sh. FVS_BACKEND selects what balances the traffic:
#   ipvs (default)  the kernel's ip_vs, configured with Debian's ipvsadm
#   fvs             kmod/fvs.ko, configured with ipvsadm-rs (IPVSADM_RS_FAMILY=FVS)
# Everything runs inside the topology's namespaces: client fvs-cl (10.0.1.2), director fvs-dir
# (VIP 10.0.1.100 on dir0, 10.0.2.254 on br0), real servers fvs-rsI (10.0.2.I).
# shellcheck shell=bash

FVS_BACKEND=${FVS_BACKEND:-ipvs}
# FVS_TIME_SCALE (default 1) stretches the clients' time limits and the expiry windows the
# tests accept, for slow kernels (`make test-debug` sets 5: KASAN and lockdep under TCG).
FVS_TIME_SCALE=${FVS_TIME_SCALE:-1}
export FVS_TIME_SCALE
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
        fvs) IPVSADM_RS_FAMILY=FVS ip netns exec fvs-dir "$IPVSADM_RS" "$@" ;;
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
# "rsI PEER-ADDRESS REQUEST-LINE", sent from the wildcard-bound socket (the source address is
# routing's choice, as socat's UDP4-RECVFROM answers). One python process per server: socat
# forks a child and a shell per datagram, too slow for the tests' time limits on the debug
# kernel.
DP_UDP_SERVER_PY='
import socket, sys
name, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", port))
while True:
    data, peer = s.recvfrom(65535)
    line = data.split(b"\n", 1)[0].decode("latin-1").strip(" \t")
    try:
        s.sendto(("%s %s %s\n" % (name, peer[0], line)).encode("latin-1"), peer)
    except OSError:
        pass
'
dp_udp_servers() {
    local n=$1 port=${2:-53} i
    for i in $(seq 1 "$n"); do
        dp_bg "fvs-rs$i" python3 -c "$DP_UDP_SERVER_PY" "rs$i" "$port" 2>>/tmp/dp-servers.log
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
scale = float(os.environ.get("FVS_TIME_SCALE", "1"))
mode, host, port, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
size = int(sys.argv[5]) if len(sys.argv) > 5 else 6
u = None
for i in range(count):
    if mode in ("udp", "udp1"):
        if u is None:
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.settimeout(5 * scale)
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
        s = socket.create_connection((host, port), timeout=10 * scale)
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
# Expiry shown for a 2-minute TIME_WAIT read soon after the close: 01:50..02:00, or on a slowed
# kernel (FVS_TIME_SCALE > 1) anything from 01:00.
DP_TW_MINUTES='01:5[0-9]|02:00'
[ "$FVS_TIME_SCALE" != 1 ] && DP_TW_MINUTES='01:[0-5][0-9]|02:00'
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
    [ "$(grep -cE "^TCP ($DP_TW_MINUTES) +TIME_WAIT +10\.0\.1\.2:[0-9]+ +$VIP:80 +10\.0\.2\.[123]:80 *$" <<<"$conns")" = 7 ] ||
        fail "connection entries (7 in TIME_WAIT expected): $conns"
    if [ "$mode" = nat ]; then
        # Port translation: VIP:8080 -> real servers' port 80.
        DP_RPORT=80 dp_service -t 8080 rr -m 1 1 1
        out=$(dp_client tcp "$VIP" 8080 3)
        dp_check_lines nat 3 <<<"$out"
        assert_eq "rs1=1 rs2=1 rs3=1" "$(dp_count_names 3 <<<"$out")" "rr over 3 connections to VIP:8080"
    fi
}

# ICMP tools for the ICMP/PMTU tests (qemu-tests/tests/4N-*.sh), on raw sockets. Modes:
#   listen SECONDS  prints "ready", then one line per ICMP error (types 3, 4, 11, 12) received,
#       until SECONDS have passed:
#         icmp TYPE/CODE mtu=MTU OUTER-SRC>OUTER-DST inner=PROTO SRC:SPORT>DST:DPORT
#       (mtu: the next-hop MTU of a frag-needed, else 0; an IPIP inner packet shows as
#       "inner=ipip SRC>DST PROTO SRC:SPORT>DST:DPORT").
#   send DST TYPE CODE MTU INNER...  sends one ICMP error to DST (the kernel picks the source)
#       quoting the packet INNER, given as
#         tcp SRC SPORT DST DPORT SEQ  |  udp SRC SPORT DST DPORT  |  ipip SRC DST INNER...
#       (IPv4 headers with DF set and valid checksums, 1400 bytes long for the innermost, and
#       the first 8 bytes of the TCP/UDP header).
#   tcpseq FROM FPORT LPORT SECONDS  prints "ready", then for every TCP segment received from
#       FROM (source port FPORT, to local port LPORT; 0 = any) "SPORT DPORT NEXT-SEQ" (its
#       sequence number plus its length): once the sender is idle, the last line's NEXT-SEQ is
#       its snd_nxt, the sequence number an ICMP error about its next packet must quote to be
#       accepted by its TCP (tcp_v4_err checks snd_una <= seq <= snd_nxt).
DP_ICMP_PY='
import socket, struct, sys, time
PNAME = {1: "icmp", 4: "ipip", 6: "tcp", 17: "udp"}
PNUM = {"tcp": 6, "udp": 17, "ipip": 4}
def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF
def a(s):
    return socket.inet_aton(s)
def n(b):
    return socket.inet_ntoa(b)
def describe(b):
    if len(b) < 20:
        return "short"
    ihl = (b[0] & 15) * 4
    p, s, d, l4 = b[9], n(b[12:16]), n(b[16:20]), b[ihl:]
    if p in (6, 17) and len(l4) >= 4:
        sp, dp = struct.unpack("!HH", l4[:4])
        return "%s %s:%d>%s:%d" % (PNAME[p], s, sp, d, dp)
    if p == 4:
        return "ipip %s>%s %s" % (s, d, describe(l4))
    return "%s %s>%s" % (PNAME.get(p, str(p)), s, d)
def iphdr(proto, src, dst, tot):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, tot, 0, 0x4000, 64, proto, 0, a(src), a(dst))
    return h[:10] + struct.pack("!H", csum(h)) + h[12:]
def build(v, tot=1400):
    kind = v[0]
    if kind == "ipip":
        return iphdr(4, v[1], v[2], tot + 20) + build(v[3:], tot)
    if kind == "gue":  # gue SRC DST PORT ...: UDP to PORT, GUE header (IPIP), no options
        inner = build(v[4:], tot)
        return (iphdr(17, v[1], v[2], tot + 32) + struct.pack("!HHHH", 40000, int(v[3]), tot + 12, 0)
                + struct.pack("!BBH", 0, 4, 0) + inner)
    if kind == "gre":  # gre SRC DST ...: GRE version 0, no checksum, IPv4 payload
        return iphdr(47, v[1], v[2], tot + 24) + struct.pack("!HH", 0, 0x0800) + build(v[3:], tot)
    if kind == "tcp":
        l4 = struct.pack("!HHI", int(v[2]), int(v[4]), int(v[5]) & 0xFFFFFFFF)
    elif kind == "udp":
        l4 = struct.pack("!HHHH", int(v[2]), int(v[4]), tot - 20, 0)
    else:
        sys.exit("unknown inner packet " + kind)
    return iphdr(PNUM[kind], v[1], v[3], tot) + l4
mode = sys.argv[1]
if mode == "listen":
    r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    print("ready", flush=True)
    end = time.time() + float(sys.argv[2])
    while time.time() < end:
        r.settimeout(max(end - time.time(), 0.01))
        try:
            pkt = r.recv(65535)
        except socket.timeout:
            break
        ihl = (pkt[0] & 15) * 4
        t, c = pkt[ihl], pkt[ihl + 1]
        if t not in (3, 4, 11, 12):
            continue
        mtu = struct.unpack("!H", pkt[ihl + 6:ihl + 8])[0] if (t, c) == (3, 4) else 0
        print("icmp %d/%d mtu=%d %s>%s inner=%s" % (t, c, mtu, n(pkt[12:16]), n(pkt[16:20]),
              describe(pkt[ihl + 8:])), flush=True)
elif mode == "send":
    dst, t, c, mtu = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    body = build(sys.argv[6:])
    rest = struct.pack("!HH", 0, mtu)
    m = struct.pack("!BBH", t, c, 0) + rest + body
    m = m[:2] + struct.pack("!H", csum(m)) + m[4:]
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.sendto(m, (dst, 0))
elif mode == "tcpseq":
    frm, fport, lport = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
    print("ready", flush=True)
    end = time.time() + float(sys.argv[5])
    while time.time() < end:
        r.settimeout(max(end - time.time(), 0.01))
        try:
            pkt = r.recv(65535)
        except socket.timeout:
            break
        ihl = (pkt[0] & 15) * 4
        if n(pkt[12:16]) != frm:
            continue
        sp, dp, seq = struct.unpack("!HHI", pkt[ihl:ihl + 8])
        if (fport and sp != fport) or (lport and dp != lport):
            continue
        doff, flags = (pkt[ihl + 12] >> 4) * 4, pkt[ihl + 13]
        tot = struct.unpack("!H", pkt[2:4])[0]
        ln = tot - ihl - doff + (flags & 1) + (flags >> 1 & 1)
        print(sp, dp, (seq + ln) & 0xFFFFFFFF, flush=True)
else:
    sys.exit("unknown mode " + mode)
'
# dp_icmp NS MODE ARGS...: DP_ICMP_PY in NS, in the foreground.
dp_icmp() { local ns=$1; shift; ip netns exec "$ns" python3 -c "$DP_ICMP_PY" "$@"; }
# dp_icmp_bg NS FILE MODE ARGS...: DP_ICMP_PY (listen or tcpseq) in NS in the background, its
# output in FILE; returns once it is ready (its raw socket open).
dp_icmp_bg() {
    local ns=$1 f=$2 i
    shift 2
    rm -f "$f"
    dp_bg "$ns" python3 -c "$DP_ICMP_PY" "$@" > "$f"
    for i in $(seq 1 200); do grep -q '^ready' "$f" 2>/dev/null && return 0; sleep 0.1; done
    fail "dp_icmp $* in $ns did not start"
}
# dp_wait_line FILE ERE [SECONDS]: waits (default 5 s) until a line of FILE matches ERE.
dp_wait_line() {
    local f=$1 re=$2 i
    for i in $(seq 1 $((${3:-5} * 10))); do grep -qE "$re" "$f" 2>/dev/null && return 0; sleep 0.1; done
    return 1
}
# dp_pmtu NS DST: the MTU that NS's route cache holds for DST (a PMTU exception), or "none".
dp_pmtu() {
    ip -n "$1" route get "$2" | sed -n 's/.* mtu \([0-9]*\).*/\1/p' | grep . || echo none
}
# dp_tcpseq_last FILE N: once `dp_icmp_bg NS FILE tcpseq ...` has reported N segments and the
# sender has stayed idle for a second, prints its last line "SPORT DPORT NEXT-SEQ".
dp_tcpseq_last() {
    local f=$1 n=$2 i last
    for i in $(seq 1 100); do [ "$(grep -c '^[0-9]' "$f")" -ge "$n" ] && break; sleep 0.1; done
    [ "$(grep -c '^[0-9]' "$f")" -ge "$n" ] || fail "fewer than $n TCP segments seen: $(tr '\n' ';' < "$f")"
    last=$(tail -n1 "$f")
    for i in $(seq 1 20); do
        sleep 1
        [ "$(tail -n1 "$f")" = "$last" ] && break
        last=$(tail -n1 "$f")
    done
    printf '%s\n' "$last"
}

# IPv6 (tests 49, 51; topologies topo_nat6, topo_dr6, topo_tun6): client fd00:1::2, virtual
# address VIP6 (fd00:1::100) on the director, real servers fd00:2::I.
VIP6=${TOPO_VIP6:-fd00:1::100}

# dp6_tcp_servers N [PORT]: dp_tcp_servers over IPv6 (socat TCP6-LISTEN; always "exec cat").
# socat names IPv6 addresses in full and bracketed ("[fd00:0001:0000:...:0002]"); dp6_client
# prints them compressed ("fd00:1::2").
dp6_tcp_servers() {
    local n=$1 port=${2:-80} i
    for i in $(seq 1 "$n"); do
        # shellcheck disable=SC2016
        dp_bg "fvs-rs$i" socat -t 10 "TCP6-LISTEN:$port,fork,reuseaddr" \
            "SYSTEM:echo rs$i \$SOCAT_PEERADDR \$SOCAT_SOCKADDR; exec cat" 2>>/tmp/dp-servers.log
    done
    for i in $(seq 1 "$n"); do wait_listen "fvs-rs$i" "$port"; done
}

# dp6_udp_servers N [PORT]: dp_udp_servers over IPv6: on fvs-rsI a UDP server answering each
# datagram with one datagram "rsI PEER-ADDRESS REQUEST-LINE" (compressed address). One python
# process per server: it answers at once, where socat's fork and shell per datagram can take
# seconds under TCG on a busy host, beyond the client's 5 s.
DP6_UDP_SERVER_PY='
import socket, sys
name, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind(("::", port))
while True:
    data, peer = s.recvfrom(1500)
    line = data.decode(errors="replace").partition("\n")[0]
    s.sendto(("%s %s %s\n" % (name, peer[0], line)).encode(), peer)
'
dp6_udp_servers() {
    local n=$1 port=${2:-53} i
    for i in $(seq 1 "$n"); do
        dp_bg "fvs-rs$i" python3 -c "$DP6_UDP_SERVER_PY" "rs$i" "$port" 2>>/tmp/dp-servers.log
    done
    for i in $(seq 1 "$n"); do wait_listen "fvs-rs$i" "$port" udp; done
}

# dp6_client MODE HOST PORT COUNT [SIZE]: dp_client's modes over IPv6 (AF_INET6 sockets; TCP
# resolves HOST anyway), with every bracketed address in its output printed compressed.
DP6_CLIENT_PY='
import builtins, ipaddress, re
def print(*a, **k):
    builtins.print(*(re.sub(r"\[([0-9A-Fa-f:.]+)\]", lambda m: ipaddress.ip_address(m.group(1)).compressed,
                            str(x)) for x in a), **k)
'"${DP_CLIENT_PY//socket.AF_INET,/socket.AF_INET6,}"
dp6_client() { ip netns exec fvs-cl python3 -c "$DP6_CLIENT_PY" "$@"; }

# dp6_service -t|-u PORT SCHED FWD W1 [W2...]: dp_service for [VIP6]:PORT with real servers
# [fd00:2::1..N]:DP_RPORT (default PORT).
dp6_service() {
    local proto=$1 port=$2 sched=$3 fwd=$4 i=1 w
    shift 4
    adm_ok -A "$proto" "[$VIP6]:$port" -s "$sched"
    for w in "$@"; do
        adm_ok -a "$proto" "[$VIP6]:$port" -r "[fd00:2::$i]:${DP_RPORT:-$port}" "$fwd" -w "$w"
        i=$((i + 1))
    done
}

# dp6_check_lines MODE COUNT: dp_check_lines for dp6_client's output: every connection echoed
# intact by a real server that saw the client's own fd00:1::2 and was reached at its own
# fd00:2::I (nat) or at the VIP (dr, tun).
dp6_check_lines() {
    local mode=$1 count=$2 n=0 name peer local ok
    while read -r name peer local ok; do
        n=$((n + 1))
        [[ $name =~ ^rs[0-9]+$ ]] || fail "connection $n: no answer: $name $peer $local $ok"
        [ "$ok" = echo-ok ] || fail "connection $n ($name): payload not echoed intact: $ok"
        [ "$peer" = fd00:1::2 ] || fail "connection $n: $name saw peer $peer, not the client fd00:1::2"
        if [ "$mode" = nat ]; then
            [ "$local" = "fd00:2::${name#rs}" ] || fail "connection $n: $name reached at $local"
        else
            [ "$local" = "$VIP6" ] || fail "connection $n: $name reached at $local, not the VIP $VIP6"
        fi
    done
    [ "$n" = "$count" ] || fail "$n answers for $count connections"
}

# dp6_forward_test nat|dr|tun [PORT]: dp_forward_test over IPv6 on TCP [VIP6]:PORT (default
# 80), given the backend, an IPv6 topology and dp6_tcp_servers on PORT: real servers listed as
# [fd00:2::I]:PORT, six connections rr (rs3 rs2 rs1 rs3 rs2 rs1: newest real server first),
# 200 kB each way in one connection, and seven entries [fd00:1::2]:CPORT -> [VIP6]:PORT ->
# [fd00:2::I]:PORT in TIME_WAIT (~2 minutes to live) in -Lnc.
dp6_forward_test() {
    local mode=$1 port=${2:-80} fwd fwname out conns
    case $mode in
        nat) fwd=-m; fwname=Masq ;;
        dr) fwd=-g; fwname=Route ;;
        tun) fwd=-i; fwname=Tunnel ;;
    esac
    dp6_service -t "$port" rr "$fwd" 1 1 1
    [ "$(adm -Ln | grep -c "^  -> \[fd00:2::[123]\]:$port *$fwname ")" = 3 ] || fail "listing: $(adm -Ln)"
    out=$(dp6_client tcp "$VIP6" "$port" 6)
    info "$mode, 6 connections: $(tr '\n' ';' <<<"$out")"
    dp6_check_lines "$mode" 6 <<<"$out"
    assert_eq "rs3 rs2 rs1 rs3 rs2 rs1" "$(awk '{print $1}' <<<"$out" | xargs)" "$mode: rr over 6 connections"
    out=$(dp6_client tcp "$VIP6" "$port" 1 200000)
    info "$mode, 200 kB: $out"
    dp6_check_lines "$mode" 1 <<<"$out"
    conns=$(dp_conns | grep -F "[$VIP6]:$port ")
    info "$mode: $(grep -c . <<<"$conns") entries, states: $(awk '{print $3}' <<<"$conns" | sort | uniq -c | xargs)"
    [ "$(grep -cE "^TCP (01:[2-5][0-9]|02:00) +TIME_WAIT +\[fd00:1::2\]:[0-9]+ +\[$VIP6\]:$port +\[fd00:2::[123]\]:$port *$" <<<"$conns")" = 7 ] ||
        fail "$mode: connection entries (7 in TIME_WAIT expected): $conns"
}
