#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# A crash inside MPI_Finalize after a complete run ends h5div with the status
# it decided (0, or 3 for an input error), not with SIGSEGV.
# Usage: finalize_crash.sh H5DIV PRELOAD_LIBRARY DATA_FILE
set -u
h5div=$1 preload=$2 data=$3
failures=0
expect() {
    local want=$1 rc
    shift
    LD_PRELOAD=$preload "$h5div" "$@" >/dev/null 2>&1
    rc=$?
    if [ "$rc" -ne "$want" ]; then
        echo "FAIL: h5div $*: exit $rc with a crash in MPI_Finalize, want $want" >&2
        failures=$((failures + 1))
    else
        echo "ok: h5div $*: exit $rc"
    fi
}
expect 0 compare "$data:/reference" "$data:/generated"
expect 3 compare "$data" "$data:/generated"
expect 3 compare "$data:/reference" "$data:/no_such_dataset"
exit $((failures > 0))
