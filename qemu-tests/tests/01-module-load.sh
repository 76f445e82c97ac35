#!/usr/bin/env bash
# fvs.ko loads and unloads 20 times cleanly (the runner fails the test on any WARN/BUG in dmesg),
# with its hooks, /proc files and generic netlink family coming and going each time.
. qemu-tests/lib.sh
modinfo "$FVS_KO" | grep -q '^license: *GPL' || fail "modinfo: no GPL license"
for i in $(seq 1 20); do
    fvs_load
    [ -e /proc/net/fvs ] || fail "round $i: /proc/net/fvs missing after insmod"
    grep -q '^FVS$' <(awk '{print $2}' /proc/net/genetlink 2>/dev/null) 2>/dev/null || true
    fvs_unload
    [ -e /proc/net/fvs ] && fail "round $i: /proc/net/fvs still present after rmmod"
done
dmesg | grep -c 'fvs loaded' | grep -qx 20 || fail "expected 20 'fvs loaded' messages"
# Bad parameter: refused, nothing left behind.
insmod "$FVS_KO" conn_tab_bits=3 2>/dev/null && fail "conn_tab_bits=3 accepted"
lsmod | grep -q '^fvs ' && fail "module left loaded after failed init"
dmesg | grep -q 'conn_tab_bits=3 out of range' || fail "no message for bad conn_tab_bits"
echo "20 load/unload cycles clean"
