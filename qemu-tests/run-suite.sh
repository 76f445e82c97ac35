#!/usr/bin/env bash
# Host side of the VM suite: one boot of the test kernel runs qemu-tests/guest-suite.sh.
# FVS_TESTS=REGEX selects tests by name. The last line is "N passed, N failed[, N skipped]".
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
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
