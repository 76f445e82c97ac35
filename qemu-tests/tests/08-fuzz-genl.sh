#!/usr/bin/env bash
# Control-plane fuzzing: fvs-fuzz-genl sends malformed messages and random well-formed command
# sequences to fvs.ko's FVS family, then the module must still work normally (-C, add a service
# and two dests, -Ln exactly, -S/-R round trip, clean rmmod). The same fuzzer (same seed) runs
# against the kernel's own IPVS family as a reference: it must survive too, and the per-message
# outcomes of the two are compared (differences are printed; FVS_FUZZ_STRICT=1 fails on them).
# The runner fails the test on any WARN/BUG/Oops in dmesg.
#
# Counts: the full 100000 malformed messages + 10000 sequences by default (seconds even under
# TCG); FVS_FUZZ_FULL=0 runs FVS_FUZZ_MALFORMED / FVS_FUZZ_SEQUENCES (default 20000 / 2000)
# instead. FVS_FUZZ_SEED picks the seed (default 1).
. qemu-tests/lib.sh
FUZZ=${FVS_FUZZ:-target/release/fvs-fuzz-genl}
[ -x "$FUZZ" ] || fail "$FUZZ missing (cargo build --release -p fvs-fuzz-genl)"
if [ "${FVS_FUZZ_FULL:-1}" = 1 ]; then
    malformed=100000 sequences=10000
else
    malformed=${FVS_FUZZ_MALFORMED:-20000} sequences=${FVS_FUZZ_SEQUENCES:-2000}
fi
seed=${FVS_FUZZ_SEED:-1}
fvs() { IPVSADM_RS_FAMILY=FVS "$IPVSADM_RS" "$@"; }

# 1. fvs.ko
fvs_load
start=$(date +%s)
"$FUZZ" FVS --seed "$seed" --malformed "$malformed" --sequences "$sequences" \
    --trace /tmp/fuzz-fvs.trace || fail "fuzzer against FVS failed (exit $?)"
echo "FVS run: $(( $(date +%s) - start )) s"
lsmod | grep -q '^fvs ' || fail "fvs.ko gone after fuzzing"

# Still works normally.
fvs -C || fail "ipvsadm-rs -C"
fvs -A -t 10.1.1.1:80 -s wrr || fail "add service"
fvs -a -t 10.1.1.1:80 -r 192.168.10.2:8080 -m -w 3 || fail "add dest 1"
fvs -a -t 10.1.1.1:80 -r 192.168.10.3 -g -w 1 || fail "add dest 2"
# (ipvsadm pads the last column: each dest line ends in spaces.)
want=$(printf '%s\n' "IP Virtual Server version 1.2.1 (size=4096)" \
    "Prot LocalAddress:Port Scheduler Flags" \
    "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn" \
    "TCP  10.1.1.1:80 wrr" \
    "  -> 192.168.10.2:8080            Masq    3      0          0         " \
    "  -> 192.168.10.3:80              Route   1      0          0         ")
assert_eq "$want" "$(fvs -Ln)" "ipvsadm-rs -Ln after fuzzing"
saved=$(fvs -Sn) || fail "-Sn"
fvs -C || fail "-C before restore"
[ -z "$(fvs -Sn)" ] || fail "-C left rules"
fvs -R <<<"$saved" || fail "-R"
assert_eq "$saved" "$(fvs -Sn)" "-S/-R round trip"
fvs -C || fail "final -C"
fvs_unload

# 2. The kernel's ip_vs, same seed.
ipvs_load
start=$(date +%s)
"$FUZZ" IPVS --seed "$seed" --malformed "$malformed" --sequences "$sequences" \
    --trace /tmp/fuzz-ipvs.trace || fail "fuzzer against IPVS failed (exit $?)"
echo "IPVS run: $(( $(date +%s) - start )) s"
ipvsadm -Ln >/dev/null || fail "ipvsadm -Ln on ip_vs after fuzzing"
ipvs_unload

# 3. Per-message outcomes, FVS vs IPVS.
ndiff=$(diff /tmp/fuzz-ipvs.trace /tmp/fuzz-fvs.trace | grep -c '^[<>]')
mdiff=$(paste -d'|' /tmp/fuzz-ipvs.trace /tmp/fuzz-fvs.trace | awk -F'|' '$1 != $2 && $1 ~ /^M /' | wc -l)
echo "outcome differences (IPVS | FVS): $mdiff malformed messages; $ndiff differing trace lines in all"
paste -d'|' /tmp/fuzz-ipvs.trace /tmp/fuzz-fvs.trace | awk -F'|' '$1 != $2' | head -n 25 | sed 's/^/  /'
if [ "${FVS_FUZZ_STRICT:-0}" = 1 ] && [ "$ndiff" -gt 0 ]; then fail "FVS and IPVS answered differently"; fi
echo "fuzzing survived: FVS and IPVS"
