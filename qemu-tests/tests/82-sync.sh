#!/usr/bin/env bash
# Connection synchronisation (#9): a master director (fvs-dir, the NAT topology's director)
# multicasts its connections over a sync link (sync0, 10.0.9.0/24) to a backup director
# (fvs-bk) configured with the same services, with --syncid 7 on both. Held TCP connections
# (ESTABLISHED, IPv4 and IPv6), UDP flows of three datagrams, and a persistent service's
# connections with their templates must appear in the backup's table as in the master's (protocol, state,
# client, virtual and real-server addresses): fvs -> fvs, fvs -> ip_vs and ip_vs -> fvs, i.e.
# fvs speaks the kernel's sync protocol both ways, and fvs -> ip_vs over an IPv6 group. Also: -L --daemon on both sides, a backup
# with another syncid ignores the messages, and --stop-daemon stops the flow.
. qemu-tests/lib.sh
. qemu-tests/topo.sh
FVS_BACKEND=fvs
. qemu-tests/dataplane.sh

command -v ipvsadm >/dev/null || skip "ipvsadm not installed"
fvs_load
ipvs_load
for m in ip_vs_rr; do modprobe "$m" || fail "modprobe $m"; done
topo_nat 3
ip netns add fvs-bk
ip link add sync0 netns fvs-dir type veth peer name sync0 netns fvs-bk
ip -n fvs-dir addr add 10.0.9.1/24 dev sync0
ip -n fvs-bk addr add 10.0.9.2/24 dev sync0
# IPv6 multicast needs a usable link-local source at once: no duplicate address detection.
for ns in fvs-dir fvs-bk; do ip netns exec "$ns" sysctl -qw net.ipv6.conf.sync0.accept_dad=0; done
ip -n fvs-dir link set sync0 up
ip -n fvs-bk link set sync0 up
ip -n fvs-bk link set lo up
ip -n fvs-dir addr add fd00:1::100/128 dev dir0 nodad
dp_tcp_servers 3 80
dp_tcp_servers 3 8080
for i in 1 2 3; do
    dp_bg "fvs-rs$i" socat -t 10 "TCP6-LISTEN:80,fork,reuseaddr,ipv6only=1" "SYSTEM:echo rs$i; exec cat" 2>>/tmp/dp-servers.log
done
dp_udp_servers 3 53

# adm_on NS BACKEND ARGS...: the backend's tool in namespace NS.
adm_on() {
    local ns=$1 be=$2
    shift 2
    case $be in
        fvs) IPVSADM_RS_FAMILY=FVS ip netns exec "$ns" "$IPVSADM_RS" "$@" ;;
        ipvs) ip netns exec "$ns" ipvsadm "$@" ;;
    esac
}
configure() {
    local ns=$1 be=$2 i
    adm_on "$ns" "$be" -A -t "$VIP:80" -s rr || fail "$be in $ns: -A"
    adm_on "$ns" "$be" -A -u "$VIP:53" -s rr || fail "$be in $ns: -A"
    adm_on "$ns" "$be" -A -t "$VIP:8080" -s rr -p 120 || fail "$be in $ns: -A"
    adm_on "$ns" "$be" -A -t "[fd00:1::100]:80" -s rr || fail "$be in $ns: -A (IPv6)"
    for i in 1 2 3; do
        for s in "-t $VIP:80 -r 10.0.2.$i:80" "-u $VIP:53 -r 10.0.2.$i:53" "-t $VIP:8080 -r 10.0.2.$i:8080" \
            "-t [fd00:1::100]:80 -r [fd00:2::$i]:80"; do
            # shellcheck disable=SC2086
            adm_on "$ns" "$be" -a $s -m || fail "$be in $ns: -a $s"
        done
    done
}
# entries NS BACKEND: the connection table as "PROTO STATE SOURCE VIRTUAL DESTINATION", sorted.
entries() { adm_on "$1" "$2" -Lnc | sed 1,2d | awk '{print $1, $3, $4, $5, $6}' | sort; }

scenario() {
    local mb=$1 bb=$2 want got i n
    # shellcheck disable=SC2206
    local extra=(${3:-}) group=${4:-224.0.0.81}
    info "--- master $mb, backup $bb ${extra[*]}"
    configure fvs-dir "$mb"
    configure fvs-bk "$bb"
    adm_on fvs-dir "$mb" --start-daemon master --mcast-interface sync0 --syncid 7 "${extra[@]}" || fail "$mb: --start-daemon master"
    adm_on fvs-bk "$bb" --start-daemon backup --mcast-interface sync0 --syncid 7 "${extra[@]}" || fail "$bb: --start-daemon backup"
    got=$(adm_on fvs-dir "$mb" -L --daemon)
    [[ $got == "master sync daemon (mcast=sync0, syncid=7, maxlen="*", group=$group, port=8848, ttl=1)" ]] ||
        fail "$mb: -L --daemon: $got"
    got=$(adm_on fvs-bk "$bb" -L --daemon)
    [[ $got == "backup sync daemon (mcast=sync0, syncid=7, maxlen="*", group=$group, port=8848, ttl=1)" ]] ||
        fail "$bb: -L --daemon: $got"
    # Traffic through the master: held TCP connections (the client's third packet, the ACK of
    # the server's greeting, reaches the sync threshold), UDP flows of three datagrams, and
    # connections to the persistent service (each with its template).
    for i in 1 2 3 4; do dp_hold "t$i" 80; done
    for i in 1 2; do dp_hold "p$i" 8080; done
    for i in 1 2; do
        rm -f "/tmp/dp-v6$i.out"
        dp_bg fvs-cl sh -c "sleep 300 | socat -T 300 -t 300 - 'TCP6:[fd00:1::100]:80' > /tmp/dp-v6$i.out"
        eval "DP_HOLD_PG_v6$i=${DP_PGIDS[-1]}"
    done
    for i in 1 2 3 4 5; do dp_client udp1 "$VIP" 53 3 >/dev/null; done
    for i in 1 2 3 4; do dp_hold_server "t$i" >/dev/null; done
    for i in 1 2; do dp_hold_server "p$i" >/dev/null; dp_hold_server "v6$i" >/dev/null; done
    want=$(entries fvs-dir "$mb")
    n=$(grep -c . <<<"$want")
    [ "$n" -ge 14 ] || fail "master $mb: expected at least 14 entries, got: $want"
    [ "$(grep -c '\[fd00:1::2\]' <<<"$want")" = 2 ] || fail "master $mb: expected 2 IPv6 entries, got: $want"
    # Synced within a second or two (fvs sends every second; ip_vs within 2 s).
    for i in $(seq 1 50); do
        got=$(entries fvs-bk "$bb")
        [ "$got" = "$want" ] && break
        sleep 0.2
    done
    assert_eq "$want" "$got" "backup $bb's table after syncing from master $mb"
    info "$n entries synced"
    # The backup's copies are real entries: counted on their real servers.
    adm_on fvs-bk "$bb" -Ln | grep -q "10.0.2.[123]:80 .* [1-9] *[0-9]* *$" ||
        info "(backup $bb does not count synced connections as active)"
    adm_on fvs-bk "$bb" --stop-daemon backup || fail "$bb: --stop-daemon backup"
    adm_on fvs-dir "$mb" --stop-daemon master || fail "$mb: --stop-daemon master"
    for i in 1 2 3 4; do dp_release "t$i"; done
    for i in 1 2; do dp_release "p$i"; dp_release "v6$i"; done
    adm_on fvs-dir "$mb" -C
    adm_on fvs-bk "$bb" -C
    # ip_vs keeps the entries of deleted services until they expire (fvs drops them): a fresh
    # ip_vs for the next scenario.
    if [ "$mb" = ipvs ] || [ "$bb" = ipvs ]; then
        ipvs_unload
        ipvs_load
        modprobe ip_vs_rr || fail "modprobe ip_vs_rr"
    fi
}

scenario fvs fvs
# Another syncid: nothing is taken.
configure fvs-dir fvs
configure fvs-bk fvs
adm_on fvs-dir fvs --start-daemon master --mcast-interface sync0 --syncid 7 || fail "--start-daemon master"
adm_on fvs-bk fvs --start-daemon backup --mcast-interface sync0 --syncid 8 || fail "--start-daemon backup"
dp_hold x1 80
dp_hold_server x1 >/dev/null
sleep 2.5
[ -z "$(entries fvs-bk fvs)" ] || fail "backup with syncid 8 took syncid 7's connections: $(entries fvs-bk fvs)"
dp_release x1
adm_on fvs-bk fvs --stop-daemon backup
adm_on fvs-dir fvs --stop-daemon master
adm_on fvs-dir fvs -C
adm_on fvs-bk fvs -C
info "a backup with another syncid ignores the messages"

scenario fvs ipvs
scenario ipvs fvs
# Over an IPv6 multicast group, fvs to ip_vs.
scenario fvs ipvs "--mcast-group ff02::8848" ff02::8848
echo "connection sync works: fvs -> fvs, fvs -> ip_vs, ip_vs -> fvs; IPv4 and IPv6 multicast"
