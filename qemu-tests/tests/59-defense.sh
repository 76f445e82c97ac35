#!/usr/bin/env bash
# backends: ipvs fvs
# ip_vs's defences against memory exhaustion (FVS_BACKEND=ipvs|fvs; sysctls under
# /proc/sys/net/ipv4/vs or /proc/sys/net/fvs), NAT:
#  * defaults amemthresh 1024, am_droprate 10, drop_entry/drop_packet/secure_tcp 0; a mode
#    outside 0..3 is refused;
#  * automatic mode 1 turns into 2 while available memory is under amemthresh (set absurdly
#    high here) and back to 1 when it is not;
#  * drop_packet 3: of 20 new UDP flows the 1st and the 11th are dropped (one in am_droprate);
#  * secure_tcp 3: a SYN then an ACK from the client, with the real server silent, leave the
#    entry in SYN_RECV (the attack table) instead of ESTABLISHED;
#  * drop_entry 3: half-open entries are dropped at random (a 32nd of the table a second)
#    well before their 60 s SYN_RECV timeout.
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh
dp_backend_up
topo_nat 2
dp_udp_servers 2 53
# rs2 never answers on TCP port 80: its connections stay half-open.
ip netns exec fvs-rs2 nft -f - <<'NFT' || fail "nft on rs2"
table inet silent {
    chain in {
        type filter hook input priority 0;
        tcp dport 80 drop
    }
}
NFT
dp_service -u 53 rr -m 1
adm_ok -A -t "$VIP:80" -s rr
adm_ok -a -t "$VIP:80" -r 10.0.2.2:80 -m

SYSCTL_DIR=/proc/sys/net/ipv4/vs
[ "$FVS_BACKEND" = fvs ] && SYSCTL_DIR=/proc/sys/net/fvs
sysctl_get() { ip netns exec fvs-dir cat "$SYSCTL_DIR/$1"; }
sysctl_set() { ip netns exec fvs-dir sh -c "echo $2 > $SYSCTL_DIR/$1" 2>/dev/null; }
wait_sysctl() { # wait_sysctl NAME VALUE: up to 5 s
    local i
    for i in $(seq 1 25); do [ "$(sysctl_get "$1")" = "$2" ] && return 0; sleep 0.2; done
    fail "$1 is $(sysctl_get "$1"), expected $2"
}

for kv in amemthresh=1024 am_droprate=10 drop_entry=0 drop_packet=0 secure_tcp=0; do
    assert_eq "${kv#*=}" "$(sysctl_get "${kv%=*}")" "default of ${kv%=*}"
done
sysctl_set drop_packet 4 && fail "drop_packet 4 was accepted"
sysctl_set secure_tcp -1 && fail "secure_tcp -1 was accepted"
assert_eq 0 "$(sysctl_get drop_packet)" "drop_packet after a refused write"

# Automatic modes.
for m in drop_entry drop_packet secure_tcp; do sysctl_set "$m" 1 || fail "set $m 1"; done
sysctl_set amemthresh 2000000000
for m in drop_entry drop_packet secure_tcp; do wait_sysctl "$m" 2; done
sysctl_set amemthresh 1024
for m in drop_entry drop_packet secure_tcp; do wait_sysctl "$m" 1; done
for m in drop_entry drop_packet secure_tcp; do sysctl_set "$m" 0; done
info "automatic modes went 1 -> 2 -> 1 with the memory threshold"

# drop_packet 3: one new flow in am_droprate (10) is dropped, the first included.
sysctl_set drop_packet 3 || fail "set drop_packet 3"
sleep 2
out=$(ip netns exec fvs-cl python3 - "$VIP" <<'PY'
import socket, sys
res = []
for i in range(20):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1.5)
    s.sendto(b"r\n", (sys.argv[1], 53))
    try:
        s.recv(100)
        res.append(".")
    except OSError:
        res.append("x")
    s.close()
print("".join(res))
PY
)
info "20 new UDP flows with drop_packet 3 (x: dropped): $out"
assert_eq "x.........x........." "$out" "one new flow in ten dropped"
sysctl_set drop_packet 0

# secure_tcp: SYN then ACK from the client, nothing from the server.
# raw_tcp FLAGS SPORT...: one segment from each source port, all from one process (a python
# start per segment took long enough on a loaded host for the first SYN_RECV entries to expire
# before the last was sent).
raw_tcp() {
    ip netns exec fvs-cl python3 - "$VIP" "$@" <<'PY'
import socket, struct, sys
vip, flags = sys.argv[1], int(sys.argv[2], 0)
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
for sport in map(int, sys.argv[3:]):
    seq = 1000 if flags == 0x02 else 1001
    h = struct.pack("!HHIIBBHHH", sport, 80, seq, 0 if flags == 0x02 else 5000, 5 << 4, flags, 65535, 0, 0)
    ph = socket.inet_aton("10.0.1.2") + socket.inet_aton(vip) + struct.pack("!BBH", 0, 6, len(h))
    h = h[:16] + struct.pack("!H", csum(ph + h)) + h[18:]
    raw.sendto(h, (vip, 0))
PY
}
# The client's own kernel would reset these half-open connections: not with this rule.
ip netns exec fvs-cl nft -f - <<'NFT'
table inet norst {
    chain out {
        type filter hook output priority 0;
        tcp flags rst drop
    }
}
NFT
state_of() { dp_conns | awk -v p=":$1" '$1 == "TCP" && substr($4, length($4) - length(p) + 1) == p {print $3}'; }
raw_tcp 0x02 41000; raw_tcp 0x10 41000; sleep 0.5
assert_eq ESTABLISHED "$(state_of 41000)" "SYN, ACK with secure_tcp 0"
sysctl_set secure_tcp 3 || fail "set secure_tcp 3"
sleep 2
raw_tcp 0x02 41001; raw_tcp 0x10 41001; sleep 0.5
assert_eq SYN_RECV "$(state_of 41001)" "SYN, ACK with secure_tcp 3 (attack table)"
sysctl_set secure_tcp 0
sleep 2

# drop_entry 3: 30 half-open entries; some go long before their 60 s timeout.
raw_tcp 0x02 $(seq 42000 42029)
sleep 0.5
n0=$(dp_conns | grep -c ' SYN_RECV ')
[ "$n0" -ge 30 ] || fail "expected 30 half-open entries: $(dp_conns)"
sysctl_set drop_entry 3 || fail "set drop_entry 3"
n=$n0
for _ in $(seq 1 45); do
    sleep 1
    n=$(dp_conns | grep -c ' SYN_RECV ')
    [ "$n" -lt "$n0" ] && break
done
info "half-open entries: $n0, after drop_entry 3 for up to 45 s: $n"
[ "$n" -lt "$n0" ] || fail "drop_entry 3 dropped no half-open entry in 45 s"
sysctl_set drop_entry 0
echo "defences work"
