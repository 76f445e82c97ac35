#!/usr/bin/env bash
# Runs every qemu-tests/tests/NN-*.sh inside one VM boot. A test passes with exit 0, is skipped
# with 77, and fails otherwise or when it leaves a WARN/BUG/Oops (or any other report) in dmesg.
# A test with a "# backends: ipvs fvs" line runs once per backend (FVS_BACKEND, see
# dataplane.sh), reported as NN-name@backend. Ends with "N passed, N failed".
# With FVS_QUEUE (set by run-suite.sh for parallel VMs) the runs come from a queue directory
# shared with the other VMs instead: each file in $FVS_QUEUE/todo holds one or more runs
# ("path:backend" lines) and is claimed by renaming it into $FVS_QUEUE/taken.
# Reference runs (NN-name@ipvs: the kernel's ip_vs driven by Debian's ipvsadm) show that a test
# encodes ip_vs's behaviour; their outcome depends on the test and its helpers, the kernel and
# ipvsadm, not on fvs. A passed one is recorded in FVS_REF_CACHE (default target/ref-cache) under
# a key over all of those and reused while none of them changes ("PASS ... reused"): a fresh
# clone, a rebuilt kernel or an edited test runs them again. FVS_REF_REUSE=0 runs them all.
set -uo pipefail
cd "$(dirname "$0")/.."
. qemu-tests/lib.sh
. qemu-tests/suite-runs.sh
filter=${FVS_TESTS:-}
pass=0; failn=0; skipn=0; failed=()
dmesg -n 1 2>/dev/null || true
runs=()
if [ -z "${FVS_QUEUE:-}" ]; then mapfile -t runs < <(suite_runs "$filter"); fi
# next_run: sets `run` to the next run to do; fails when there is none left.
next_run() {
    local f
    while [ ${#runs[@]} -eq 0 ] && [ -n "${FVS_QUEUE:-}" ]; do
        f=$(ls "$FVS_QUEUE/todo" 2>/dev/null | sort | head -n1)
        [ -n "$f" ] || return 1
        # Another VM may claim it first: then try the next one.
        mv "$FVS_QUEUE/todo/$f" "$FVS_QUEUE/taken/${FVS_SHARD:-0}.$f" 2>/dev/null &&
            mapfile -t runs < "$FVS_QUEUE/taken/${FVS_SHARD:-0}.$f"
    done
    [ ${#runs[@]} -gt 0 ] || return 1
    run=${runs[0]}; runs=("${runs[@]:1}")
}
refcache=${FVS_REF_CACHE:-target/ref-cache}
helper_re='qemu-tests/[a-z0-9_-]+/[A-Za-z0-9_.-]+'
# ref_key TEST: the key of a reference run: the test, the helpers it names (and theirs), the
# shared libraries, the kernel build, ipvsadm, the time scale, and ipvsadm-rs and fvs.ko too when
# the test or a helper of it mentions them.
ref_key() {
    local t=$1 f files=() helpers=()
    mapfile -t helpers < <(grep -ohE "$helper_re" "$t" | sort -u)
    for f in "${helpers[@]}"; do
        [ -f "$f" ] && mapfile -t -O "${#helpers[@]}" helpers < <(grep -ohE "$helper_re" "$f" | sort -u)
    done
    files=("$t" qemu-tests/lib.sh qemu-tests/topo.sh qemu-tests/dataplane.sh "${helpers[@]}")
    {
        for f in "${files[@]}"; do [ -f "$f" ] && { echo "== $f"; cat "$f"; }; done
        cat /proc/version; md5sum "$(command -v ipvsadm)"; echo "time scale ${FVS_TIME_SCALE:-1}"
        if cat "$t" "${helpers[@]}" 2>/dev/null | grep -qE 'IPVSADM_RS|ipvsadm-rs|fvs_load|FVS_KO'; then
            md5sum "$IPVSADM_RS" "$FVS_KO"
        fi
    } | md5sum | cut -c1-32
}
while next_run; do
    t=${run%%:*}; backend=${run#*:}
    name=$(basename "$t" .sh)${backend:+@$backend}
    if [ -n "$filter" ] && ! [[ $name =~ $filter ]]; then continue; fi
    key=""
    if [ "$backend" = ipvs ] && [ "${FVS_REF_REUSE:-1}" != 0 ]; then
        key=$(ref_key "$t")
        if [ -f "$refcache/$name.$key" ]; then
            echo "=== $name"
            echo "PASS $name (0s, reference run reused: passed $(cat "$refcache/$name.$key") with this test, helpers, kernel and ipvsadm)"
            pass=$((pass + 1)); reused=$((${reused:-0} + 1))
            continue
        fi
    fi
    dmesg -C
    start=$(date +%s)
    echo "=== $name"
    env ${backend:+FVS_BACKEND=$backend} timeout --foreground "${FVS_TEST_TIMEOUT:-600}" bash "$t" > "/tmp/$name.log" 2>&1
    rc=$?
    # Leave a clean slate for the next test: processes, namespaces, then modules. Before the
    # kernel-log check, so that what the teardown (netns exit, rmmod) reports counts for this test.
    pkill -f 'socat|fvs-fuzz-genl' 2>/dev/null; sleep 0.2
    for ns in $(ip netns list | awk '{print $1}'); do ip netns del "$ns"; done
    if lsmod | grep -q '^fvs '; then rmmod fvs 2>/dev/null || echo "  ! rmmod fvs failed after $name"; fi
    ipvs_unload
    if [ "$(wc -l < "/tmp/$name.log")" -gt 60 ]; then
        grep -E '^(FAIL|XFAIL|XPASS)' "/tmp/$name.log" | sed 's/^/  | /'
        echo "  | ... (last 60 lines)"
    fi
    sed 's/^/  | /' "/tmp/$name.log" | tail -n 60
    bad=$(dmesg | grep -E "$dmesg_bad_re" || true)
    dur=$(( $(date +%s) - start ))
    if [ -n "$bad" ]; then
        echo "FAIL $name (${dur}s): kernel log reports:"; dmesg | tail -n 60 | sed 's/^/  ! /'
        # FVS_DMESG_DIR (e.g. set by `make test-debug`): the whole kernel log of a failed test.
        [ -n "${FVS_DMESG_DIR:-}" ] && mkdir -p "$FVS_DMESG_DIR" && dmesg > "$FVS_DMESG_DIR/$name.dmesg"
        failn=$((failn + 1)); failed+=("$name")
    elif [ $rc -eq 0 ]; then
        echo "PASS $name (${dur}s)"; pass=$((pass + 1))
        if [ -n "$key" ] && mkdir -p "$refcache"; then
            rm -f "$refcache/$name".*; echo "$(date -u '+%Y-%m-%d %H:%M UTC') in ${dur}s" > "$refcache/$name.$key"
        fi
    elif [ $rc -eq 77 ]; then
        echo "SKIP $name (${dur}s)"; skipn=$((skipn + 1))
    else
        [ $rc -eq 124 ] && echo "  (timed out)"
        echo "FAIL $name (${dur}s, exit $rc)"; failn=$((failn + 1)); failed+=("$name")
    fi
done
[ -n "${reused:-}" ] && echo "($reused reference runs on ip_vs reused from $refcache; FVS_REF_REUSE=0 reruns them)"
[ ${#failed[@]} -gt 0 ] && echo "failed: ${failed[*]}"
echo "$pass passed, $failn failed, $skipn skipped"
[ $failn -eq 0 ]
