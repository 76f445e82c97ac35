#!/usr/bin/env bash
# /proc/net/fvs and /proc/net/fvs_stats print exactly what /proc/net/ip_vs and ip_vs_stats print
# for the same (empty) state and table size.
. qemu-tests/lib.sh
ipvs_load
fvs_load
assert_eq "$(cat /proc/net/ip_vs)" "$(cat /proc/net/fvs)" "/proc/net/fvs differs from /proc/net/ip_vs"
assert_eq "$(cat /proc/net/ip_vs_stats)" "$(cat /proc/net/fvs_stats)" "/proc/net/fvs_stats differs from ip_vs_stats"
fvs_unload
# Table size follows conn_tab_bits.
fvs_load conn_tab_bits=16
head -n1 /proc/net/fvs | grep -qx 'IP Virtual Server version 1.2.1 (size=65536)' || fail "size line: $(head -n1 /proc/net/fvs)"
echo "proc formats identical"
