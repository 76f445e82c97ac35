#!/usr/bin/env bash
# Scheduler parity with ip_vs: the same flows, in the same order and from the same client ports,
# go to the same real servers on ip_vs and on fvs, for every scheduler fvs implements (rr wrr lc
# wlc sed nq fo ovf dh sh mh twos), for the sh/mh flags (sh-port, sh-fallback, mh-port,
# mh-fallback) with and without a weight-0 server, and across changes of the real servers
# between flows. NAT, three real servers rs1..rs3 (added in that order, so listed rs3 rs2 rs1),
# weights given as rs1:rs2:rs3.
#
# Each configuration is its own service (UDP VIP:1001.., TCP VIP:2001.., all set up at once with
# ipvsadm -R) with its own real servers, and its own client ports (configuration k uses
# 20001+100(k-1)..): no flow meets the connection entries of another configuration (UDP entries
# stay for 5 minutes; and ip_vs matches a real server's reply by client and real server only,
# so a reply for an older entry with the same client port and real server would be translated
# to that entry's VIP port). Each flow is one client socket bound to its port: UDP flows send one
# datagram and read the answer, which names the real server (resent from the same socket after
# 3 s without one); TCP flows (for the schedulers that count active connections: lc wlc sed nq
# ovf) connect, read the server's first line, and stay open until the configuration's last
# flow has been answered. A flow no real server takes (weight 0 without fallback, ovf full) is
# refused by ICMP port unreachable on both backends ("-" below).
#
# Deterministic schedulers: the "port server" lists must be identical line for line. twos
# (random): only servers with weight > 0, each within [0.3, 2.0] x its weight share, on both.
# Mappings are printed one character per flow (1 2 3 = rs1 rs2 rs3, - refused, ? anything else,
# | a change of the real servers).
# For debugging: FVS_PAR_ONLY=REGEX runs only the configurations it matches, FVS_PAR_DEBUG=1
# prints each backend's mappings as they are recorded.
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh

DP_SCHED_MODULES="ip_vs_rr ip_vs_wrr ip_vs_lc ip_vs_wlc ip_vs_sed ip_vs_nq ip_vs_fo ip_vs_ovf ip_vs_dh ip_vs_sh ip_vs_mh ip_vs_twos"
OUT=/tmp/sched-parity
rm -rf "$OUT"

# name proto sched sched-flags weights(rs1,rs2,rs3) steps
# steps, in order: N = N flows (one per new client port); eI=W = rsI's weight set to W (-e);
# dI = rsI deleted (-d); aI=W = rsI added again with weight W (-a).
#  sh: the client address alone (no sh-port) hashes to bucket 82, rs2's with 1:2:3 and with
#      2:0:2 (where sh-fallback must move it); sh-port spreads the flows over the table.
#  mh: the client address alone picks rs3 with 1:2:3; rs3 (or rs2) edited to weight 0 keeps its
#      last_weight and so its table slots (refused without mh-fallback, moved with it); a server
#      added with weight 0 gets no slots at all.
#  rr-chg: the cursor is on rs2 when rs2 is deleted (it moves back to rs3, so rs1 is next).
#  dh-chg: the VIP's bucket (192) holds rs3, then with two servers bucket 192 % 2 = rs2.
CONFIGS="
rr          udp rr   -                    2,0,1 30
wrr         udp wrr  -                    2,3,5 30
wrr-w0      udp wrr  -                    4,6,0 20
lc          udp lc   -                    1,2,3 20
wlc         udp wlc  -                    1,2,3 30
sed         udp sed  -                    1,2,3 10
nq          udp nq   -                    1,2,3 10
fo          udp fo   -                    3,2,1 10
ovf         udp ovf  -                    1,3,2 10
dh          udp dh   -                    1,2,3 10
sh          udp sh   -                    1,2,3 10
sh-port     udp sh   sh-port              1,2,3 60
sh-port-w0  udp sh   sh-port              1,0,3 60
sh-fb-port  udp sh   sh-fallback,sh-port  1,0,3 60
sh-fb       udp sh   sh-fallback          2,0,2 10
sh-fb-edit  udp sh   sh-fallback,sh-port  1,2,3 e3=0,60
mh          udp mh   -                    1,2,3 10
mh-port     udp mh   mh-port              1,2,3 60
mh-port-e0  udp mh   mh-port              1,2,3 e2=0,60
mh-fb-port  udp mh   mh-fallback,mh-port  1,2,3 e2=0,60
mh-fb-add0  udp mh   mh-fallback,mh-port  1,0,3 60
mh-fb       udp mh   mh-fallback          1,2,3 e3=0,10
mh-e0       udp mh   -                    1,2,3 e3=0,10
twos        udp twos -                    1,2,3 60
rr-chg      udp rr   -                    1,1,1 5,d2,4,a2=1,6,e3=0,6
wrr-chg     udp wrr  -                    1,2,3 7,e1=4,14,e3=0,10,d2,6,a2=2,10
wlc-chg     udp wlc  -                    1,2,3 12,e3=1,12,e1=5,12
dh-chg      udp dh   -                    1,2,3 3,d3,3,a3=1,3
sh-chg      udp sh   sh-port              1,2,3 20,e2=5,20,d1,20,a1=2,20
mh-chg      udp mh   mh-port              1,2,3 20,d1,20,a1=2,20,e3=6,20
lc-tcp      tcp lc   -                    1,2,3 12
wlc-tcp     tcp wlc  -                    1,2,3 18
sed-tcp     tcp sed  -                    1,2,3 18
nq-tcp      tcp nq   -                    1,2,3 18
ovf-tcp     tcp ovf  -                    1,2,3 12
ovf-tcp-chg tcp ovf  -                    1,2,3 9,e1=4,3,e3=5,3
"

# The client. Argument: the director's ipvsadm command (argv prefix). stdin, one per line:
#   flows NAME PROTO VPORT FIRST COUNT  COUNT flows from ports FIRST.. to VIP:VPORT; prints
#       "NAME PORT SERVER [retried]" for each (SERVER: the first word of the answer, "-" for a
#       refusal, "timeout" or "error-ERRNO" otherwise)
#   adm NAME ARGS...  runs ipvsadm ARGS; prints "NAME | |"
#   done NAME  closes NAME's held TCP connections; prints "time NAME MILLISECONDS" (since the
#       first line of NAME)
PAR_CLIENT_PY='
import errno, socket, subprocess, sys, time
vip, adm = "10.0.1.100", sys.argv[1:]
held, t0 = [], {}
for line in sys.stdin:
    words = line.split()
    if not words:
        continue
    cmd, name = words[0], words[1]
    t0.setdefault(name, time.monotonic())
    if cmd == "adm":
        r = subprocess.run(adm + words[2:])
        if r.returncode != 0:
            sys.exit("ipvsadm %s failed" % " ".join(words[2:]))
        print(name, "|", "|", flush=True)
        continue
    if cmd == "done":
        for s in held:
            s.close()
        held = []
        print("time", name, int((time.monotonic() - t0[name]) * 1000), flush=True)
        continue
    proto, port, first, count = words[2], int(words[3]), int(words[4]), int(words[5])
    for p in range(first, first + count):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("10.0.1.2", p))
        s.settimeout(3 if proto == "udp" else 10)
        tries = 0
        while True:
            tries += 1
            try:
                if tries == 1:
                    s.connect((vip, port))
                if proto == "udp":
                    s.send(b"p%d\n" % p)
                    ans = s.recv(1500)
                else:
                    ans = b""
                    while not ans.endswith(b"\n"):
                        b = s.recv(1500)
                        if not b:
                            break
                        ans += b
                w = ans.split()
                r = w[0].decode(errors="replace") if w else "empty"
            except socket.timeout:
                # A datagram lost before ip_vs scheduled it changed nothing, one lost after
                # went to the entry it made: either way the same socket (source port) finds the
                # same real server again.
                if proto == "udp" and tries < 3:
                    continue
                r = "timeout"
            except OSError as e:
                r = "-" if e.errno == errno.ECONNREFUSED else "error-%s" % errno.errorcode.get(e.errno, e.errno)
            break
        if proto == "udp":
            s.close()
        else:
            held.append(s)
        print(name, p, r, "retried" if tries > 1 else "", flush=True)
'
# A UDP server that answers every datagram at once with "NAME PEER REQUEST" (one process, no
# fork per datagram as with socat: hundreds of flows stay fast under TCG).
PAR_UDP_SERVER_PY='
import socket, sys
name, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", port))
while True:
    d, a = s.recvfrom(1500)
    s.sendto(("%s %s %s\n" % (name, a[0], d.decode(errors="replace").strip())).encode(), a)
'

# compact FILE: the mapping, one character per flow.
compact() {
    awk '{c = $2; if (c ~ /^rs[0-9]$/) c = substr(c, 3); else if (c != "-" && c != "|") c = "?"; s = s c} END {print s}' "$1"
}

# run_backend ipvs|fvs: every configuration on that backend; the mappings go to OUT/BACKEND/NAME
# ("PORT SERVER [retried]" lines), the client's time per configuration to OUT/BACKEND.times.
run_backend() {
    local i name proto sched flags weights steps k=0 vport rport p w st port n rules="" plan="" counts=""
    local -a cmd
    FVS_BACKEND=$1
    mkdir -p "$OUT/$1"
    dp_backend_up
    topo_nat 3
    # Refusals are ICMP errors from the director: not rate-limited here (the default, 1/s per
    # client after a burst of 6, would leave refused flows waiting for their timeout).
    ip netns exec fvs-dir sysctl -qw net.ipv4.icmp_ratelimit=0
    for i in 1 2 3; do
        dp_bg "fvs-rs$i" python3 -c "$PAR_UDP_SERVER_PY" "rs$i" 53
    done
    for i in 1 2 3; do wait_listen "fvs-rs$i" 53 udp; done
    dp_tcp_servers 3 80
    while read -r name proto sched flags weights steps; do
        [ -n "$name" ] || continue
        k=$((k + 1))
        [[ $name =~ ${FVS_PAR_ONLY:-.} ]] || continue
        if [ "$proto" = udp ]; then vport=$((1000 + k)) rport=53 p=-u
        else vport=$((2000 + k)) rport=80 p=-t; fi
        rules+="-A $p $VIP:$vport -s $sched"
        [ "$flags" = - ] || rules+=" -b $flags"
        rules+=$'\n'
        i=1
        for w in ${weights//,/ }; do
            rules+="-a $p $VIP:$vport -r 10.0.2.$i:$rport -m -w $w"$'\n'
            i=$((i + 1))
        done
        port=$((20001 + 100 * (k - 1))) n=0
        for st in ${steps//,/ }; do
            case $st in
                [0-9]*) plan+="flows $name $proto $vport $port $st"$'\n'; port=$((port + st)) n=$((n + st)) ;;
                e*=*) i=${st#e}; plan+="adm $name -e $p $VIP:$vport -r 10.0.2.${i%=*}:$rport -m -w ${i#*=}"$'\n'; n=$((n + 1)) ;;
                a*=*) i=${st#a}; plan+="adm $name -a $p $VIP:$vport -r 10.0.2.${i%=*}:$rport -m -w ${i#*=}"$'\n'; n=$((n + 1)) ;;
                d*) plan+="adm $name -d $p $VIP:$vport -r 10.0.2.${st#d}:$rport"$'\n'; n=$((n + 1)) ;;
                *) fail "bad step $st of $name" ;;
            esac
        done
        plan+="done $name"$'\n'
        counts+="$name $n"$'\n'
    done <<<"$CONFIGS"
    adm -R <<<"${rules%$'\n'}" || fail "$1: ipvsadm -R failed on: $rules"
    [ "$(adm -Ln | grep -c '^  -> 10\.0\.2\.')" = $(( 3 * $(grep -c . <<<"$counts") )) ] ||
        fail "$1: services not as configured: $(adm -Ln)"
    case $1 in
        ipvs) cmd=(ip netns exec fvs-dir ipvsadm) ;;
        fvs) cmd=(ip netns exec fvs-dir env IPVSADM_RS_FAMILY=FVS "$IPVSADM_RS") ;;
    esac
    ip netns exec fvs-cl python3 -c "$PAR_CLIENT_PY" "${cmd[@]}" <<<"$plan" > "$OUT/$1.all" ||
        fail "$1: client failed: $(tail -3 "$OUT/$1.all")"
    awk -v d="$OUT/$1" '$1 == "time" {print $2, $3 > (d ".times"); next} {print $2, $3, $4 > (d "/" $1)}' "$OUT/$1.all"
    while read -r name n; do
        [ "$(wc -l < "$OUT/$1/$name")" = "$n" ] || fail "$1 $name: $(wc -l < "$OUT/$1/$name") lines, $n expected"
        [ -z "${FVS_PAR_DEBUG:-}" ] || echo "DEBUG $1 $name $(compact "$OUT/$1/$name")"
    done <<<"${counts%$'\n'}"
    dp_kill_all
    for i in $(ip netns list | awk '/^fvs-/ {print $1}'); do ip netns del "$i"; done
    dp_backend_down
}

start=$(date +%s)
run_backend ipvs
t_ipvs=$(( $(date +%s) - start ))
run_backend fvs
t_fvs=$(( $(date +%s) - start - t_ipvs ))
info "ip_vs ${t_ipvs}s, fvs ${t_fvs}s"

bad=()
# show NAME DESC TEXT: one info line, NAME and DESC in columns.
show() { info "$(printf '%-11s %-29s %s' "$1" "$2" "$3")"; }
resent() { [ "$retried" = 0 ] || show "" "" "($retried datagram(s) resent after 3 s without an answer)"; }
while read -r name proto sched flags weights steps; do
    [ -n "$name" ] || continue
    [[ $name =~ ${FVS_PAR_ONLY:-.} ]] || continue
    desc=$sched
    [ "$flags" = - ] || desc+=" $flags"
    desc+=" ${weights//,/:}"
    [[ $steps =~ ^[0-9]+$ ]] || desc+=" $steps"
    a=$OUT/ipvs/$name.map b=$OUT/fvs/$name.map
    awk '{print $1, $2}' "$OUT/ipvs/$name" > "$a"
    awk '{print $1, $2}' "$OUT/fvs/$name" > "$b"
    ca=$(compact "$a") cb=$(compact "$b")
    retried=$(cat "$OUT/ipvs/$name" "$OUT/fvs/$name" | grep -c ' retried$')
    # Every flow answered by a real server or refused: anything else (a timeout even after
    # resending) leaves nothing to compare.
    odd=$(cat "$a" "$b" | awk '$2 !~ /^(rs[123]|-|\|)$/' | xargs)
    if [ -n "$odd" ]; then
        show "$name" "$desc" "ipvs $ca"
        show "" "" "fvs  $cb   BROKEN: $odd"
        resent
        bad+=("$name")
        continue
    fi
    if [ "$sched" = twos ]; then
        show "$name" "$desc" "ipvs $ca"
        show "" "" "fvs  $cb"
        show "" "" "ipvs $(awk '{print $2}' "$a" | dp_count_names 3), fvs $(awk '{print $2}' "$b" | dp_count_names 3)"
        for f in "$a" "$b"; do
            awk -v w="$weights" -v n="$steps" '
                BEGIN {split(w, ws, ","); for (i = 1; i <= 3; i++) sum += ws[i]}
                {c[$2]++}
                END {
                    for (i = 1; i <= 3; i++) {
                        got = c["rs" i] + 0; want = n * ws[i] / sum
                        if (ws[i] == 0 && got > 0) bad = 1
                        if (ws[i] > 0 && (got < 0.3 * want || got > 2.0 * want)) bad = 1
                    }
                    if (c["-"] > 0) bad = 1
                    exit bad
                }' "$f" || { show "" "" "$(basename "$(dirname "$f")"): shares not by weight"; bad+=("$name"); }
        done
        resent
        continue
    fi
    if cmp -s "$a" "$b"; then
        show "$name" "$desc" "same $ca"
    else
        show "$name" "$desc" "ipvs $ca"
        show "" "" "fvs  $cb   DIFFERENT"
        show "" "" "port ip_vs/fvs: $(paste -d' ' "$a" "$b" | awk '$2 != $4 {printf "%s %s/%s  ", $1, $2, $4}')"
        bad+=("$name")
    fi
    resent
done <<<"$CONFIGS"
info "client seconds per configuration (ip_vs/fvs): $(paste -d' ' "$OUT/ipvs.times" "$OUT/fvs.times" | awk '{printf "%s %.1f/%.1f  ", $1, $2 / 1000, $4 / 1000}')"
[ ${#bad[@]} = 0 ] || fail "fvs and ip_vs disagree (or flows went unanswered) in: ${bad[*]}"
echo "every scheduler picks what ip_vs picks"
