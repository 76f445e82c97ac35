#!/usr/bin/env bash
# backends: ipvs fvs
# Locality-based schedulers lblc and lblcr (FVS_BACKEND=ipvs|fvs), NAT. They balance by the
# packet's destination address, so each runs as a firewall-mark service over many addresses:
# the director holds 10.0.1.101..10.0.1.140 on dir0 and nftables marks UDP/TCP to them (lblc:
# mark 1, ports 1053/1080; lblcr: mark 2, ports 2053/2080). Real servers rs1..rs3 (port 0: the
# packet's port is kept), weights 1:2:3, added in that order (listed rs3 rs2 rs1).
#
# A plan of flows (each from a new client port; UDP flows send one datagram and read the answer,
# which names the real server; TCP flows stay open, so they count as active connections) and of
# real-server edits is generated together with its expected outcome by a model written here from
# ip_vs_lblc.c / ip_vs_lblcr.c (the weighted least-connection choice with overhead
# 256 * active + active + inactive, the cache per destination address, is_overloaded, lblcr's
# dest sets and set_min). The same plan runs on the backend; every flow's real server and the
# real servers' weights and connection counters at the check points must be the model's:
#  1. destinations 101..109, new: each goes to the weighted least-loaded server;
#  2. the same destinations again: each sticks to its server (UDP flows are never active, so no
#     server is overloaded);
#  3. the server of 103 edited to weight 0: 103 moves; weight restored;
#  4. TCP connections held open to 110: they stick to its server until it has more active
#     connections than its weight (while another is below half its weight), then lblc moves 110
#     to the least-loaded server and lblcr adds that server to 110's set and uses the set's least
#     loaded member;
#  5. a server X with several destinations (and not more active connections than its weight)
#     deleted: its
#     destinations move, the others stay; one destination of X is not asked for;
#  6. X added again: that destination goes back to X (ip_vs finds X in its trash, still held by
#     the cache entry; fvs keys entries by real-server address and port), and a destination
#     that moved in 5 (from an overloaded server) stays where it went.
# Results on both backends are compared with the model (and so with each other).
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh
command -v nft >/dev/null || skip "nft not installed"
DP_SCHED_MODULES="ip_vs_lblc ip_vs_lblcr"
OUT=/tmp/sched-lblc
rm -rf "$OUT"; mkdir -p "$OUT"

# The plan and the model. Prints plan lines, then "expect" lines after "--".
# Plan: "udp S D PORT", "tcp S D PORT", "adm S ARGS...", "check S MARK".
MODEL_PY='
import sys
W0 = {1: 1, 2: 2, 3: 3}

class Dest:
    def __init__(s, i, w):
        s.i, s.w, s.act, s.inact = i, w, 0, 0
    def oh(s):
        return (s.act << 8) + s.act + s.inact

def least(dests):
    it = iter(dests)
    for d in it:
        if d.w > 0:
            least, loh = d, d.oh()
            break
    else:
        return None
    for d in it:
        if loh * d.w > d.oh() * least.w:
            least, loh = d, d.oh()
    return least

def overloaded(d, dests):
    return d.act > d.w and any(x.act * 2 < x.w for x in dests)

class Svc:
    def __init__(s, sched, mark, uport, tport):
        s.sched, s.mark, s.uport, s.tport = sched, mark, uport, tport
        s.dests = []          # list order: newest first
        s.cache = {}          # daddr -> server number (lblc) or list of numbers (lblcr)
        s.plan, s.expect = [], []
        for i in (1, 2, 3):
            s.add(i, W0[i])
    def find(s, i):
        return next((d for d in s.dests if d.i == i), None)
    def add(s, i, w):
        s.dests.insert(0, Dest(i, w))
        s.plan.append("adm %s -a -f %d -r 10.0.2.%d:0 -m -w %d" % (s.sched, s.mark, i, w))
    def delete(s, i):
        s.dests.remove(s.find(i))
        s.plan.append("adm %s -d -f %d -r 10.0.2.%d:0" % (s.sched, s.mark, i))
    def edit(s, i, w):
        s.find(i).w = w
        s.plan.append("adm %s -e -f %d -r 10.0.2.%d:0 -m -w %d" % (s.sched, s.mark, i, w))
    def pick(s, daddr):
        ds = s.dests
        if s.sched == "lblc":
            en = s.cache.get(daddr)
            d = s.find(en) if en else None
            if d and d.w > 0 and not overloaded(d, ds):
                return d
            d = least(ds)
            if d:
                s.cache[daddr] = d.i
            return d
        st = s.cache.get(daddr)
        if st is not None:
            d = None
            for i in st:                       # set_min, newest member first
                m = s.find(i)
                if m is None:
                    continue
                if d is None:
                    if m.w > 0:
                        d = m
                elif d.oh() * m.w > m.oh() * d.w:
                    d = m
            if d and not overloaded(d, ds):
                return d
            d = least(ds)
            if d and d.i not in st:
                st.insert(0, d.i)
            return d
        d = least(ds)
        if d:
            s.cache[daddr] = [d.i]
        return d
    def flow(s, proto, daddr):
        d = s.pick(daddr)
        if d:
            if proto == "tcp":
                d.act += 1
            else:
                d.inact += 1
        s.plan.append("%s %s %d %d" % (proto, s.sched, daddr, s.uport if proto == "udp" else s.tport))
        s.expect.append("%s %s %d %s" % (s.sched, proto, daddr, "rs%d" % d.i if d else "-"))
        return d
    def check(s):
        s.plan.append("check %s %d" % (s.sched, s.mark))
        s.expect.append("%s check %s" % (s.sched, " ".join(
            "rs%d=%d/%d/%d" % (d.i, d.w, d.act, d.inact) for d in sorted(s.dests, key=lambda d: d.i))))
    def served(s, i):
        # destinations whose cached choice is server i (lblc), or whose set is just {i}
        return sorted(a for a, v in s.cache.items() if v == i or v == [i])

out_plan, out_expect = [], []
for sched, mark, uport, tport in (("lblc", 1, 1053, 1080), ("lblcr", 2, 2053, 2080)):
    s = Svc(sched, mark, uport, tport)
    s.check()
    dst = list(range(101, 110))
    for a in dst:                               # 1. new destinations
        s.flow("udp", a)
    s.check()
    for a in dst:                               # 2. sticky
        s.flow("udp", a)
    y = s.cache[103]                            # 3. weight 0
    y = y if isinstance(y, int) else y[0]
    s.edit(y, 0)
    s.flow("udp", 103)
    s.check()
    s.edit(y, W0[y])
    s.flow("udp", 103)
    first = None                                # 4. held TCP connections to 110
    moved = 0
    for k in range(14):
        d = s.flow("tcp", 110)
        first = first or d.i
        if d.i != first:
            moved += 1
        if moved == 3:
            break
    s.check()
    # 5. delete a server with at least two destinations, not overloaded (ip_vs brings it back
    # from the trash with its connections, fvs as a new dest: both must keep it in step 6)
    cand = [d.i for d in s.dests if d.act <= d.w and len(s.served(d.i)) >= 2]
    if not cand:
        sys.exit("model: no server to delete for " + sched)
    x = max(cand, key=lambda i: len(s.served(i)))
    keep = s.served(x)[-1]
    was_x = set(s.served(x))
    s.delete(x)
    for a in dst:
        if a != keep:
            s.flow("udp", a)
    s.check()
    s.add(x, W0[x])                             # 6. back: its remaining destination returns
    s.flow("udp", keep)
    # ... while one that moved away from an overloaded server stays where it went (the new dest
    # of fvs, with no connections, would be the least loaded: a cache miss would pick it). Not
    # one that moved away from X: lblcr would weigh the counters of X, which ip_vs keeps in the trash.
    s.flow("udp", [a for a in dst if a not in was_x][0])
    out_plan += s.plan
    out_expect += s.expect
print("\n".join(out_plan))
print("--")
print("\n".join(out_expect))
'

# The client: runs the plan (stdin) with the director's ipvsadm (argv prefix); prints one line
# per flow "S PROTO D SERVER" (SERVER "-" when refused, "timeout"/"error-..." otherwise) and per
# check "S check rsI=WEIGHT/ACTIVE/INACTIVE...".
CLIENT_PY='
import errno, re, socket, subprocess, sys, time
adm = sys.argv[1:]
held, cport = [], 30000
for line in sys.stdin:
    w = line.split()
    if not w:
        continue
    cmd, s = w[0], w[1]
    if cmd == "adm":
        r = subprocess.run(adm + w[2:])
        if r.returncode != 0:
            sys.exit("ipvsadm %s failed" % " ".join(w[2:]))
        continue
    if cmd == "check":
        out = subprocess.run(adm + ["-Ln"], capture_output=True, text=True).stdout
        cur, got = None, []
        for l in out.splitlines():
            m = re.match(r"FWM\s+(\d+)\s", l)
            if m:
                cur = m.group(1)
                continue
            m = re.match(r"\s+->\s+10\.0\.2\.(\d+):0\s+\S+\s+(\d+)\s+(\d+)\s+(\d+)", l)
            if m and cur == w[2]:
                got.append("rs%s=%s/%s/%s" % m.groups())
        print(s, "check", " ".join(sorted(got)), flush=True)
        continue
    proto, daddr, port = cmd, "10.0.1." + w[2], int(w[3])
    cport += 1
    so = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM)
    so.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    so.bind(("10.0.1.2", cport))
    so.settimeout(3 if proto == "udp" else 10)
    tries = 0
    while True:
        tries += 1
        try:
            if tries == 1:
                so.connect((daddr, port))
            if proto == "udp":
                so.send(b"x\n")
                ans = so.recv(1500)
            else:
                ans = b""
                while not ans.endswith(b"\n"):
                    b = so.recv(1500)
                    if not b:
                        break
                    ans += b
            a = ans.split()
            r = a[0].decode(errors="replace") if a else "empty"
        except socket.timeout:
            # the same socket (source port) meets the same connection entry again
            if proto == "udp" and tries < 3:
                continue
            r = "timeout"
        except OSError as e:
            r = "-" if e.errno == errno.ECONNREFUSED else "error-%s" % errno.errorcode.get(e.errno, e.errno)
        break
    if proto == "udp":
        so.close()
    else:
        held.append(so)
    print(s, proto, w[2], r, flush=True)
for so in held:
    so.close()
'

# A UDP server answering each datagram with "NAME PEER".
UDP_SERVER_PY='
import socket, sys
name, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", port))
while True:
    d, a = s.recvfrom(1500)
    s.sendto(("%s %s\n" % (name, a[0])).encode(), a)
'

python3 -c "$MODEL_PY" > "$OUT/model" || fail "model: $(tail -3 "$OUT/model")"
sed '/^--$/,$d' "$OUT/model" > "$OUT/plan"
sed '1,/^--$/d' "$OUT/model" > "$OUT/expect"
[ -s "$OUT/plan" ] && [ -s "$OUT/expect" ] || fail "empty plan"

dp_backend_up
topo_nat 3
for a in $(seq 101 140); do ip -n fvs-dir addr add "10.0.1.$a/32" dev dir0; done
ip netns exec fvs-dir nft -f - <<EOF2 || fail "nft rules"
table ip fvsmark {
    chain pre {
        type filter hook prerouting priority mangle;
        ip daddr 10.0.1.101-10.0.1.140 udp dport 1053 meta mark set 1
        ip daddr 10.0.1.101-10.0.1.140 tcp dport 1080 meta mark set 1
        ip daddr 10.0.1.101-10.0.1.140 udp dport 2053 meta mark set 2
        ip daddr 10.0.1.101-10.0.1.140 tcp dport 2080 meta mark set 2
    }
}
EOF2
for i in 1 2 3; do
    for p in 1053 2053; do dp_bg "fvs-rs$i" python3 -c "$UDP_SERVER_PY" "rs$i" "$p"; done
done
for i in 1 2 3; do for p in 1053 2053; do wait_listen "fvs-rs$i" "$p" udp; done; done
dp_tcp_servers 3 1080
dp_tcp_servers 3 2080
adm_ok -A -f 1 -s lblc
adm_ok -A -f 2 -s lblcr
info "$(adm -Ln | grep FWM | xargs)"

case $FVS_BACKEND in
    ipvs) cmd=(ip netns exec fvs-dir ipvsadm) ;;
    fvs) cmd=(ip netns exec fvs-dir env IPVSADM_RS_FAMILY=FVS "$IPVSADM_RS") ;;
esac
start=$(date +%s)
ip netns exec fvs-cl python3 -c "$CLIENT_PY" "${cmd[@]}" < "$OUT/plan" > "$OUT/got" ||
    fail "client failed: $(tail -3 "$OUT/got")"
info "client: $(( $(date +%s) - start )) s for $(grep -c . "$OUT/plan") steps"
# One character per flow (1 2 3 = rs1..rs3, - refused, ? other), per scheduler.
compact() { awk -v s="$2" '$1 == s && $2 != "check" {c = $4; if (c ~ /^rs[0-9]$/) c = substr(c, 3); else if (c != "-") c = "?"; r = r c} END {print r}' "$1"; }
for s in lblc lblcr; do
    info "$s expected $(compact "$OUT/expect" $s)"
    info "$s got      $(compact "$OUT/got" $s)"
done
if ! diff "$OUT/expect" "$OUT/got" > "$OUT/diff"; then
    sed 's/^/    /' "$OUT/diff"
    fail "$FVS_BACKEND differs from the lblc/lblcr model (diff: expected < > got)"
fi
grep "check" "$OUT/got" | while read -r l; do info "$l"; done
dp_kill_all
echo "lblc and lblcr on $FVS_BACKEND choose as the model of ip_vs_lblc.c / ip_vs_lblcr.c"
