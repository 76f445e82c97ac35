# shellcheck shell=bash
# suite_runs [FILTER]: the suite's runs, one per line, "qemu-tests/tests/NN-name.sh:BACKEND"
# (BACKEND empty for a test without a "# backends:" line), in file order, keeping those whose
# name ("NN-name" or "NN-name@BACKEND") matches the extended regex FILTER. Sourced by the host
# runner (to fill the shards' queue) and by guest-suite.sh.
suite_runs() {
    local filter=${1:-} t b backends name
    for t in qemu-tests/tests/[0-9][0-9]-*.sh; do
        backends=$(sed -n 's/^# backends: *//p' "$t" | head -n1)
        [ -n "$backends" ] || backends="-"
        for b in $backends; do
            [ "$b" = - ] && b=""
            name=$(basename "$t" .sh)${b:+@$b}
            if [ -n "$filter" ] && ! [[ $name =~ $filter ]]; then continue; fi
            echo "$t:$b"
        done
    done
}
