#!/usr/bin/env bash
# compat=1 takes over ip_vs's names only when ip_vs is absent, all or nothing:
#  - with ip_vs loaded, `insmod fvs.ko compat=1` fails with a clear message and leaves nothing
#    behind (no fvs files, ip_vs's files and family untouched and still working);
#  - without compat, fvs coexists with ip_vs under its own names (family FVS, /proc/net/fvs*,
#    /proc/sys/net/fvs), each driven by its own tool;
#  - with ip_vs absent, compat=1 registers family IPVS, /proc/net/ip_vs, ip_vs_conn, ip_vs_stats
#    and /proc/sys/net/ipv4/vs/* in every namespace (new ones too), the IPVS socket options answer,
#    and everything goes again at rmmod.
. qemu-tests/lib.sh
command -v ipvsadm >/dev/null || skip "ipvsadm not installed"
# Listing the families (`genl ctrl get` would autoload ip_vs for "IPVS").
family() { genl ctrl list 2>/dev/null | grep -qE "^Name: $1\$"; }
compat_names="/proc/net/ip_vs /proc/net/ip_vs_conn /proc/net/ip_vs_stats /proc/sys/net/ipv4/vs/expire_nodest_conn"
fvs_names="/proc/net/fvs /proc/net/fvs_conn /proc/net/fvs_stats /proc/sys/net/fvs/expire_nodest_conn"

# 1. ip_vs loaded: compat refused, ip_vs unharmed.
ipvs_load
ipvsadm -A -t 10.0.0.1:80 -s rr || fail "ipvsadm -A on ip_vs"
modprobe nf_nat
dmesg -C
insmod "$FVS_KO" compat=1 2>/dev/null && fail "compat=1 loaded while ip_vs is loaded"
lsmod | grep -q '^fvs ' && fail "fvs left loaded after a refused compat=1"
dmesg | grep -q 'compat=1: the IPVS socket options are taken (the kernel.s ip_vs is loaded)' \
    || fail "no clear message for compat=1 with ip_vs loaded: $(dmesg | tail -n 3)"
for f in $fvs_names; do [ -e "$f" ] && fail "$f left behind"; done
family FVS && fail "family FVS left behind"
[ "$(ipvsadm -Sn)" = "-A -t 10.0.0.1:80 -s rr" ] || fail "ip_vs's table changed: $(ipvsadm -Sn)"
grep -q '0A000001:0050 rr' /proc/net/ip_vs || fail "/proc/net/ip_vs no longer ip_vs's"
info "compat=1 refused while ip_vs is loaded; ip_vs intact"

# 2. Without compat: side by side under separate names.
fvs_load
for f in $fvs_names $compat_names; do [ -e "$f" ] || fail "$f missing with ip_vs and fvs side by side"; done
family FVS || fail "family FVS missing"
family IPVS || fail "family IPVS missing"
IPVSADM_RS_FAMILY=FVS "$IPVSADM_RS" -A -u 10.0.0.2:53 -s wrr || fail "ipvsadm-rs -A on fvs"
[ "$(IPVSADM_RS_FAMILY=FVS "$IPVSADM_RS" -Sn)" = "-A -u 10.0.0.2:53 -s wrr" ] || fail "fvs table: $(IPVSADM_RS_FAMILY=FVS "$IPVSADM_RS" -Sn)"
[ "$(ipvsadm -Sn)" = "-A -t 10.0.0.1:80 -s rr" ] || fail "ip_vs table after fvs changes: $(ipvsadm -Sn)"
grep -q '0A000002:0035 wrr' /proc/net/fvs || fail "/proc/net/fvs lacks fvs's service"
grep -q '0A000002' /proc/net/ip_vs && fail "fvs's service shows in /proc/net/ip_vs"
fvs_unload
ipvsadm -C
ipvs_unload
info "fvs and ip_vs coexist under their own names"

# 3. compat=1 with ip_vs absent.
for round in 1 2; do
    fvs_load compat=1
    dmesg | grep -q 'fvs loaded in ip_vs compat mode' || fail "no compat load message"
    for f in $fvs_names $compat_names; do [ -e "$f" ] || fail "round $round: $f missing in compat mode"; done
    family IPVS || fail "family IPVS missing in compat mode"
    family FVS && fail "family FVS present in compat mode (ipvsadm-rs must find fvs as IPVS)"
    ip netns add fvs-compat
    for f in /proc/net/ip_vs /proc/sys/net/ipv4/vs/conntrack; do
        ip netns exec fvs-compat test -e "$f" || fail "$f missing in a new namespace"
    done
    ipvsadm -A -t 10.0.0.3:443 -s sh || fail "ipvsadm -A on fvs compat"
    grep -q '0A000003:01BB sh' /proc/net/ip_vs || fail "/proc/net/ip_vs does not show the service"
    grep -q '0A000003:01BB sh' /proc/net/fvs || fail "/proc/net/fvs does not show the service"
    echo 0 > /proc/sys/net/ipv4/vs/expire_nodest_conn
    [ "$(cat /proc/sys/net/fvs/expire_nodest_conn)" = 0 ] || fail "net/ipv4/vs and net/fvs are not the same variables"
    [ "$(ip netns exec fvs-compat ipvsadm -Sn)" = "" ] || fail "the new namespace sees the initial one's table"
    ip netns del fvs-compat
    [ "$("$IPVSADM_RS" -Sn)" = "-A -t 10.0.0.3:443 -s sh" ] || fail "ipvsadm-rs (no forced family) on compat: $("$IPVSADM_RS" -Sn 2>&1)"
    fvs_unload
    for f in $fvs_names $compat_names; do [ -e "$f" ] && fail "round $round: $f left after rmmod"; done
    family IPVS && fail "family IPVS left after rmmod"
done
# After fvs compat goes, the kernel's ip_vs loads and works again.
ipvs_load
ipvsadm -A -t 10.0.0.4:80 -s rr && [ "$(ipvsadm -Sn)" = "-A -t 10.0.0.4:80 -s rr" ] || fail "ip_vs after fvs compat"
ipvsadm -C
ipvs_unload
echo "compat=1: refused beside ip_vs, coexistence without it, full takeover and clean removal"
