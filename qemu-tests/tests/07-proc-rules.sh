#!/usr/bin/env bash
# /proc/net/fvs lists services and real servers exactly as /proc/net/ip_vs does: the same
# configuration is applied to ip_vs (with ipvsadm) and to fvs.ko (with ipvsadm-rs), one service
# kind at a time (ip_vs orders services by a per-namespace hash, so one service per round keeps
# the order comparable; dests are listed newest first by both).
. qemu-tests/lib.sh
ipvs_load
for m in ip_vs_rr ip_vs_wrr ip_vs_sh ip_vs_mh ip_vs_lc ip_vs_pe_sip; do modprobe "$m"; done
fvs_load
fvs() { IPVSADM_RS_FAMILY=FVS "$IPVSADM_RS" "$@"; }

rounds=(
    "-A -t 10.0.0.1:80 -s wrr|-a -t 10.0.0.1:80 -r 192.168.1.2:8080 -m -w 3|-a -t 10.0.0.1:80 -r 192.168.1.3 -g -w 0|-a -t 10.0.0.1:80 -r 192.168.1.4 -i -w 7"
    "-A -u 10.0.0.2:53 -s rr -o -p 120 -M 255.255.0.0|-a -u 10.0.0.2:53 -r 192.168.1.5:53 -m"
    "-A -f 42 -s mh -b mh-fallback,mh-port|-a -f 42 -r 192.168.1.6 -g -w 65535"
    "-A -f 43 -s sh -o|-a -f 43 -r 192.168.1.7 -g"
    "-A --sctp-service 10.0.0.3:9 -s lc -p 300 --pe sip|-a --sctp-service 10.0.0.3:9 -r 192.168.1.8:9 -m -x 100 -y 10"
    "-A -t [2001:db8::1]:443 -s sh -b sh-port -p 60 -M 64|-a -t [2001:db8::1]:443 -r [2001:db8::10]:443 -m -w 2|-a -t [2001:db8::1]:443 -r [2001:db8::11]:443 -g"
    "-A -t 10.0.0.4:80 -s none|-a -t 10.0.0.4:80 -r 10.0.0.4:80 -m"
)
for r in "${rounds[@]}"; do
    IFS='|' read -ra cmds <<<"$r"
    for c in "${cmds[@]}"; do
        # shellcheck disable=SC2086
        ipvsadm $c || fail "ipvsadm $c"
        # shellcheck disable=SC2086
        fvs $c || fail "ipvsadm-rs $c"
    done
    assert_eq "$(sed 1d /proc/net/ip_vs)" "$(sed 1d /proc/net/fvs)" "/proc/net/fvs after: $r"
    ipvsadm -C; fvs -C
done
# Zeroed counters print identically in the stats file too.
assert_eq "$(cat /proc/net/ip_vs_stats)" "$(cat /proc/net/fvs_stats)" "fvs_stats"
echo "${#rounds[@]} configurations listed identically"
