#!/usr/bin/env bash
# backends: ipvs fvs
# The SIP persistence engine (--pe sip; FVS_BACKEND=ipvs with ip_vs_pe_sip | fvs), NAT, UDP
# VIP:5060 persistent (-p 60) rr over two real servers:
#  * one client sends SIP messages, each from a new port: calls A, B, A, B, C. Persistence is
#    per call (the Call-ID is part of the template): A and C reach one server, B the other,
#    where plain persistence would send everything to one;
#  * a message without a Call-ID header is dropped;
#  * -Lnc --persistent-conn lists each call's template with "sip <Call-ID>";
#  * a real server's own request (INVITE from rs2:5060 to the client, no connection yet) gets
#    a connection and a template for its call: it reaches the client from VIP:5060, and the
#    client's answer and a new message of that call from another port go to rs2.
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh
dp_backend_up
[ "$FVS_BACKEND" = ipvs ] && { modprobe ip_vs_pe_sip || fail "modprobe ip_vs_pe_sip"; }
topo_nat 2
dp_udp_servers 2 5060
adm_ok -A -u "$VIP:5060" -s rr -p 60 --pe sip
for i in 1 2; do adm_ok -a -u "$VIP:5060" -r "10.0.2.$i:5060" -m; done
list=$(adm -Ln)
info "$(tr '\n' ';' <<<"$list")"
grep -Eq "^UDP  $VIP:5060 rr persistent 60 pe sip\$" <<<"$list" || fail "service not listed with pe sip: $list"
out=$(ip netns exec fvs-cl python3 - "$VIP" <<'PY'
import socket, sys
vip = sys.argv[1]
calls = [(40001, "call-a@client"), (40002, "call-b@client"), (40003, "call-a@client"),
         (40004, "call-b@client"), (40005, "c0ffee.42"), (40006, None)]
for port, cid in calls:
    msg = "OPTIONS sip:svc@%s SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.1.2:%d\r\n" % (vip, port)
    if cid:
        msg += "Call-ID: %s\r\n" % cid
    msg += "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("10.0.1.2", port))
    s.settimeout(10)  # socat forks per datagram: slow under TCG
    s.sendto(msg.encode(), (vip, 5060))
    try:
        print(cid, s.recv(500).decode().split()[0], flush=True)
    except OSError:
        print(cid, "no-answer", flush=True)
    s.close()
PY
)
info "$(tr '\n' ';' <<<"$out")"
a=$(awk '$1 == "call-a@client" {print $2}' <<<"$out" | sort -u)
b=$(awk '$1 == "call-b@client" {print $2}' <<<"$out" | sort -u)
c=$(awk '$1 == "c0ffee.42" {print $2}' <<<"$out")
[[ $a == rs[12] ]] || fail "call A not on one real server: $a"
[[ $b == rs[12] ]] || fail "call B not on one real server: $b"
[ "$a" != "$b" ] || fail "calls A and B on the same real server ($a): the Call-ID is not in the template"
assert_eq "$a" "$c" "call C (rr after A and B)"
assert_eq "None no-answer" "$(grep '^None' <<<"$out")" "message without a Call-ID"
conns=$(adm -Lnc --persistent-conn)
info "$(tr '\n' ';' <<<"$conns")"
for x in "call-a@client ${a#rs}" "call-b@client ${b#rs}" "c0ffee.42 ${c#rs}"; do
    set -- $x
    grep -Eq "^UDP +[0-9:]+ +(NONE|ASSURED) +10\.0\.1\.2:0 +$VIP:5060 +10\.0\.2\.$2:5060 +sip +$1\$" <<<"$conns" ||
        fail "no template for $1 on rs$2: $conns"
done

# A real server's own request: rs2 sends an INVITE of a new call D from its 5060 to the
# client's port 40010. It reaches the client from VIP:5060; the client's answer from 40010
# goes back to rs2, and so does a message of call D from a new port (rr alone would pick rs1).
f=/tmp/t68-client.out
rm -f "$f"
cat > /tmp/t68-client.py <<'PY'
import socket, sys, time
vip = sys.argv[1]
msg = lambda cid, port: ("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.1.2:%d\r\nCall-ID: %s\r\n"
                         "CSeq: 1 INVITE\r\n\r\n" % (port, cid)).encode()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.0.1.2", 40010))
s.settimeout(20)
print("ready", flush=True)
data, peer = s.recvfrom(2000)
print("from %s:%d" % peer, flush=True)
# Answer once rs2's sending socket (bound to 10.0.2.2:5060, more specific than socat's
# 0.0.0.0:5060) is surely closed, or the answer could land in it and be lost.
time.sleep(2)
# Generous: socat forks a process per datagram, slow under TCG with other guests running.
s.settimeout(10)
for port in (40010, 40011):
    t = s if port == 40010 else socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if port != 40010:
        t.bind(("10.0.1.2", port))
        t.settimeout(10)
    t.sendto(msg("call-d@rs", port), (vip, 5060))
    try:
        print(port, t.recv(500).decode().split()[0], flush=True)
    except OSError:
        print(port, "no-answer", flush=True)
PY
dp_bg fvs-cl python3 /tmp/t68-client.py "$VIP" > "$f"
dp_wait_line "$f" '^ready' 10 || fail "client not ready: $(cat "$f")"
ip netns exec fvs-rs2 python3 - <<'PY' || fail "rs2 could not send"
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.0.2.2", 5060))
s.sendto(b"INVITE sip:alice@10.0.1.2 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.2.2:5060\r\n"
         b"Call-ID: call-d@rs\r\nCSeq: 1 INVITE\r\n\r\n", ("10.0.1.2", 40010))
s.close()
PY
dp_wait_line "$f" '^40011 ' 40 || fail "client did not finish: $(cat "$f")"
out=$(cat "$f")
info "$(tr '\n' ';' <<<"$out")"
info "$(adm -Lnc --persistent-conn | tr "\n" ";")"
assert_eq "from $VIP:5060" "$(grep '^from' <<<"$out")" "real server's request comes from the VIP"
assert_eq "40010 rs2" "$(grep '^40010' <<<"$out")" "answer to the request"
assert_eq "40011 rs2" "$(grep '^40011' <<<"$out")" "call D from a new port"
echo "SIP persistence engine works"
