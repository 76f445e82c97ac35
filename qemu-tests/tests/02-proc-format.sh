#!/usr/bin/env bash
# /proc/net/fvs and /proc/net/fvs_stats print exactly what /proc/net/ip_vs and ip_vs_stats print
# for the same (empty) state and table size.
. qemu-tests/lib.sh
ipvs_load
fvs_load
# Line 1 carries the connection table size: ip_vs 7.x allocates a resizable table with the first
# service and prints size=0 until then; fvs has a fixed table of 2^conn_tab_bits buckets.
head -n1 /proc/net/ip_vs | grep -qx 'IP Virtual Server version 1.2.1 (size=[0-9]*)' || fail "ip_vs line 1: $(head -n1 /proc/net/ip_vs)"
head -n1 /proc/net/fvs | grep -qx 'IP Virtual Server version 1.2.1 (size=4096)' || fail "fvs line 1: $(head -n1 /proc/net/fvs)"
assert_eq "$(sed 1d /proc/net/ip_vs)" "$(sed 1d /proc/net/fvs)" "/proc/net/fvs differs from /proc/net/ip_vs"
assert_eq "$(cat /proc/net/ip_vs_stats)" "$(cat /proc/net/fvs_stats)" "/proc/net/fvs_stats differs from ip_vs_stats"
fvs_unload
# Table size follows conn_tab_bits.
fvs_load conn_tab_bits=16
head -n1 /proc/net/fvs | grep -qx 'IP Virtual Server version 1.2.1 (size=65536)' || fail "size line: $(head -n1 /proc/net/fvs)"
echo "proc formats identical"
