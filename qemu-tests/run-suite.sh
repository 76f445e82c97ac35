#!/usr/bin/env bash
# Host side of the VM suite: boots of the test kernel run qemu-tests/guest-suite.sh.
# FVS_TESTS=REGEX selects tests by name. FVS_VM_SHARDS=N (default 1) boots N VMs at once that
# take the runs from one queue: the longest runs of the previous sharded run
# (target/vm-durations.txt) are queued first, and tests 20-22, which share ipvsadm's reference
# run, stay together. Each VM's output is printed when all are done. For hosts with cores to
# spare: on the 2-core build host, two TCG VMs of 2 vCPUs ran each test 2.5-3 times slower
# than one VM alone (2026-11-22), a net loss, and the slowed tests missed their time limits.
# The last line is "N passed, N failed[, N skipped]".
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
shards=${FVS_VM_SHARDS:-1}

if [ "$shards" -le 1 ]; then
    log=$(mktemp)
    bash "$here/vm-run" bash qemu-tests/guest-suite.sh 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    if ! grep -qE '^[0-9]+ passed, [0-9]+ failed' "$log"; then
        echo "VM suite did not complete (exit $rc)"
        echo "0 passed, 1 failed"
        rm -f "$log"; exit 1
    fi
    rm -f "$log"
    exit "$rc"
fi

cd "$repo"
. qemu-tests/suite-runs.sh
CACHE=${FVS_CACHE:-$HOME/.cache/fvs}
mkdir -p "$CACHE/vm"
q=$(mktemp -d "$CACHE/vm/queue.XXXXXX")
trap 'rm -rf "$q"' EXIT
mkdir -p "$q/todo" "$q/taken"
durations=target/vm-durations.txt
# One queue item per run (tests 20-22 together), named so that `sort` takes the longest first:
# a run's last duration, unknown ones (new tests) before all.
i=0
compat=()
while IFS= read -r run; do
    case $run in qemu-tests/tests/2[012]-*) compat+=("$run"); continue ;; esac
    name=$(basename "${run%%:*}" .sh); b=${run#*:}; name=$name${b:+@$b}
    d=$(awk -v n="$name" '$1 == n {print $2}' "$durations" 2>/dev/null)
    i=$((i + 1))
    printf '%s\n' "$run" > "$q/todo/$(printf '%06d-%04d' $((999999 - ${d:-999998})) $i)"
done < <(suite_runs "${FVS_TESTS:-}")
if [ ${#compat[@]} -gt 0 ]; then
    d=0
    for run in "${compat[@]}"; do
        name=$(basename "${run%%:*}" .sh)
        d=$((d + $(awk -v n="$name" '$1 == n {print $2}' "$durations" 2>/dev/null || echo 0) + 0))
    done
    printf '%s\n' "${compat[@]}" > "$q/todo/$(printf '%06d-%04d' $((999999 - (d > 0 ? d : 999998))) 0)"
fi
echo "VM suite: $(ls "$q/todo" | wc -l) queue items on $shards VMs"
pids=()
for s in $(seq 1 "$shards"); do
    FVS_QUEUE=$q FVS_SHARD=$s FVS_VM_RWDIRS="$q" bash "$here/vm-run" bash qemu-tests/guest-suite.sh \
        > "$q/vm$s.log" 2>&1 &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
np=0; nf=0; ns=0; failed=(); incomplete=0
for s in $(seq 1 "$shards"); do
    echo "--- VM $s"
    cat "$q/vm$s.log"
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$q/vm$s.log" | tail -n1)
    if [ -z "$line" ]; then echo "VM $s did not complete"; incomplete=1; continue; fi
    read -r p _ f _ k _ < <(tr -d , <<<"$line")
    np=$((np + p)); nf=$((nf + f)); ns=$((ns + ${k:-0}))
    mapfile -t -O "${#failed[@]}" failed < <(sed -n 's/^failed: //p' "$q/vm$s.log" | tr ' ' '\n' | grep .)
done
# What the VMs claimed but never reported (a VM that died) counts as failed.
if [ "$(ls "$q/todo" | wc -l)" -gt 0 ] || [ "$incomplete" = 1 ]; then
    echo "VM suite did not complete: $(ls "$q/todo" | wc -l) queue items never run"
    nf=$((nf + 1))
fi
cat "$q"/vm*.log | sed -n 's/^\(PASS\|FAIL\) \([^ ]*\) (\([0-9]*\)s.*/\2 \3/p' > "$durations.new" &&
    [ -s "$durations.new" ] && mv "$durations.new" "$durations"
rm -f "$durations.new"
echo "VM suite on $shards VMs"
[ ${#failed[@]} -gt 0 ] && echo "failed: ${failed[*]}"
echo "$np passed, $nf failed, $ns skipped"
[ "$nf" -eq 0 ]
