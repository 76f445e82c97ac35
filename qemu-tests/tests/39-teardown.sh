#!/usr/bin/env bash
# backends: ipvs fvs
# Unloading the backend while it carries connections is clean (FVS_BACKEND=ipvs|fvs; the suite
# runner fails the test on any WARN/BUG in dmesg). Twice: NAT TCP and UDP services, established
# connections held open, closed ones (TIME_WAIT), UDP entries; then ip_vs: `ipvsadm -C` and
# rmmod of its modules; fvs: rmmod fvs directly, services and connections in place. The held
# connections are closed afterwards (their packets now meet a director without the backend).
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh
topo_nat 3
dp_tcp_servers 3
dp_udp_servers 3
for round in 1 2; do
    dp_backend_up
    dp_service -t 80 rr -m 1 1 1
    dp_service -u 53 rr -m 1 1 1
    for c in 1 2 3; do dp_hold "r${round}c$c"; dp_hold_server "r${round}c$c" >/dev/null; done
    out=$(dp_client tcp "$VIP" 80 6)
    dp_check_lines nat 6 <<<"$out"
    out=$(dp_client udp "$VIP" 53 3)
    [ "$(grep -c ' 10\.0\.1\.2 req' <<<"$out")" = 3 ] || fail "UDP: $out"
    states=$(dp_conns | awk '{print $1 "/" $3}' | sort | uniq -c | xargs)
    info "round $round: entries before unload: $states"
    [ "$(dp_conns | grep -c ESTABLISHED)" = 3 ] || fail "round $round: 3 held connections expected: $(dp_conns)"
    case $FVS_BACKEND in
        ipvs)
            adm_ok -C
            ipvs_unload
            ! lsmod | grep -q '^ip_vs' || fail "ip_vs modules still loaded: $(lsmod | grep '^ip_vs')"
            ;;
        fvs)
            rmmod fvs || fail "rmmod fvs with connections"
            ;;
    esac
    for c in 1 2 3; do dp_release "r${round}c$c"; done
    # Traffic to the VIP after the unload meets the director's own stack (nothing listens there).
    out=$(dp_client tcp "$VIP" 80 1)
    grep -q '^error' <<<"$out" || fail "round $round: VIP still answers after unload: $out"
    sleep 0.5
done
dmesg | grep -E "$dmesg_bad_re" && fail "kernel log"
echo "unloaded twice with connections in place, cleanly"
