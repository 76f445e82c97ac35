#!/usr/bin/env bash
# ipvsadm-rs -Ln prints what ipvsadm -Ln prints for an empty table: against fvs.ko (family FVS)
# and against the kernel's ip_vs when fvs is absent (family IPVS).
. qemu-tests/lib.sh
ipvs_load
want=$(ipvsadm -Ln 2>&1); want_rc=$?
[ $want_rc -eq 0 ] || fail "ipvsadm -Ln failed: $want"
got=$($IPVSADM_RS -Ln 2>&1) || fail "ipvsadm-rs -Ln on ip_vs failed: $got"
assert_eq "$want" "$got" "ipvsadm-rs -Ln on ip_vs"
fvs_load
got=$($IPVSADM_RS -Ln 2>&1) || fail "ipvsadm-rs -Ln on fvs failed: $got"
# Same text apart from the version line, which names the same version and size here anyway.
assert_eq "$(sed 1d <<<"$want")" "$(sed 1d <<<"$got")" "ipvsadm-rs -Ln on fvs"
head -n1 <<<"$got" | grep -q '^IP Virtual Server version 1.2.1 (size=4096)$' || fail "version line: $(head -n1 <<<"$got")"
$IPVSADM_RS --version >/dev/null || fail "--version"
$IPVSADM_RS -h >/dev/null 2>&1; [ $? -le 2 ] || fail "-h"
echo "empty listings identical"
