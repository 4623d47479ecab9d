#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# The Slurm scripts of jobs/ on a real, private, single-node Slurm (tests/slurm/private-slurm.sh):
# jobs/compare.sbatch once, then jobs/nightly.sh for three nights of three candidates each, and
# every result and the history checked bit for bit against direct mpirun runs
# (tests/slurm/check_slurm.py). Every daemon it started is stopped, also when it fails.
#
#   test_slurm.sh --h5div H5DIV --gen H5DIV_GEN --mpiexec MPIEXEC --source SRCDIR --workdir DIR
#
# Exit 0 pass, 1 fail, 77 skip: Slurm or munge is not installed (unless H5DIV_REQUIRE_SLURM=1,
# which .ci/run sets, makes that a failure).

set -euo pipefail

while (($#)); do
    case $1 in
    --h5div) h5div=$2 ;;
    --gen) gen=$2 ;;
    --mpiexec) mpiexec=$2 ;;
    --source) src=$2 ;;
    --workdir) work=$2 ;;
    *) echo "test_slurm: unknown argument $1" >&2; exit 2 ;;
    esac
    shift 2
done
: "${h5div:?--h5div}" "${gen:?--gen}" "${mpiexec:?--mpiexec}" "${src:?--source}" "${work:?--workdir}"
JOB_TIMEOUT=${JOB_TIMEOUT:-120} # seconds one job may take from submission to its end

# shellcheck source=tests/slurm/private-slurm.sh
source "$src/tests/slurm/private-slurm.sh"

rm -rf "$work"
mkdir -p "$work"
cd "$work"
# Unix socket paths are limited to 107 bytes: the daemons live under a short /tmp directory.
daemons=$(mktemp -d /tmp/h5div-slurm.XXXXXX)
cleanup() {
    local rc=$?
    private_slurm_down
    rm -rf "$daemons"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
    echo "test_slurm: FAIL: $*" >&2
    local f
    for f in "$work"/logs/*.out "$work"/*.out; do
        [[ -f "$f" ]] && { echo "----- $f" >&2; cat "$f" >&2; }
    done
    ps_dump_logs
    exit 1
}

t0=$SECONDS
rc=0
private_slurm_up "$daemons" || rc=$?
if ((rc == 77)); then
    if [[ "${H5DIV_REQUIRE_SLURM:-0}" == 1 ]]; then
        fail "Slurm or munge is not installed and H5DIV_REQUIRE_SLURM=1"
    fi
    echo "SKIP: Slurm or munge is not installed" >&2
    exit 77
fi
((rc == 0)) || fail "the private Slurm did not start"
echo "test_slurm: private Slurm up after $((SECONDS - t0)) s"

# srun --mpi=pmix is what the scripts use: Debian's Slurm must have the plugin.
mpi_list=$(srun --mpi=list 2>&1)
grep -qw pmix <<<"$mpi_list" || fail "srun --mpi=list has no pmix: $mpi_list"

# Wait for job ID (and all its array tasks) to leave the queue; it must have COMPLETED.
wait_job() {
    local id=$1 deadline=$((SECONDS + JOB_TIMEOUT)) states
    while [[ -n "$(squeue -h -j "$id" 2>/dev/null)" ]]; do
        ((SECONDS < deadline)) || fail "job $id still queued or running after $JOB_TIMEOUT s: $(squeue -j "$id")"
        sleep 0.5
    done
    states=$(scontrol -o show job "$id" | grep -o 'JobState=[A-Z_]*' | sort -u)
    [[ "$states" == "JobState=COMPLETED" ]] || fail "job $id ended as: $states"
    echo "test_slurm: job $id completed after $((SECONDS - t0)) s"
}

# Only the ranks count of the direct run differs from the Slurm jobs: two ranks each.
direct() { # OUTPUT P Q [Q2 ...]
    "$mpiexec" -q --oversubscribe -n 2 "$h5div" compare "${@:2}" -o "$1" -q >/dev/null ||
        fail "direct mpirun compare ${*:2} failed"
}

# Open MPI as root (CI) and without cross-memory attach (containers), for mpirun and srun alike.
export H5DIV="$h5div" OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_ALLOW_RUN_AS_ROOT=1 \
    OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
"$gen" ref.h5 --bins 20000 --kind random --seed 600 >/dev/null

# 1. jobs/compare.sbatch, one evaluation on two ranks.
"$gen" one.h5 --bins 20000 --kind near --seed 601 >/dev/null
id=$(P=ref.h5:/reference Q=one.h5:/generated OUTPUT=compare.h5:/runs/one \
    sbatch --parsable --ntasks=2 "$src/jobs/compare.sbatch")
wait_job "$id"
grep -q 'running: srun --mpi=pmix' "h5div-compare-$id.out" || fail "compare.sbatch did not echo its srun command"
direct direct.h5:/compare ref.h5:/reference one.h5:/generated
# ... and with two candidates in Q (P read once, results of shape (2,)).
id=$(P=ref.h5:/reference Q="one.h5:/generated one.h5:/reference" OUTPUT=compare.h5:/runs/two \
    sbatch --parsable --ntasks=2 "$src/jobs/compare.sbatch")
wait_job "$id"
direct direct.h5:/compare2 ref.h5:/reference one.h5:/generated one.h5:/reference

# 2. Three nights of jobs/nightly.sh, three candidates each. The candidate files keep their names
#    and change every night, like the latest checkpoint of three models.
printf '%s\n' '# one candidate per line' cand0.h5:/generated cand1.h5:/generated '' \
    cand2.h5:/generated >candidates.txt
for night in 1 2 3; do
    for c in 0 1 2; do
        "$gen" "cand$c.h5" --bins 20000 --kind near --seed $((night * 10 + c)) >/dev/null
        direct "direct.h5:/night$night/c$c" ref.h5:/reference "cand$c.h5:/generated"
    done
    out=$(P=ref.h5:/reference CANDIDATES=candidates.txt HISTORY=history.h5 RUN_ID="night$night" \
        NTASKS=2 TIME_LIMIT=00:05:00 "$src/jobs/nightly.sh" 2>&1) || fail "nightly.sh failed: $out"
    echo "$out"
    grep -q 'running: sbatch --parsable --array=0-2 ' <<<"$out" || fail "nightly.sh did not echo its sbatch command"
    array=$(sed -n 's/.*array job \([0-9]*\) .*/\1/p' <<<"$out")
    summary=$(sed -n 's/.*summary job \([0-9]*\) .*/\1/p' <<<"$out")
    [[ -n "$array" && -n "$summary" ]] || fail "no job ids in the output of nightly.sh"
    wait_job "$array"
    wait_job "$summary"
done

/usr/bin/python3 "$src/tests/slurm/check_slurm.py" --h5div "$h5div" --workdir "$work" ||
    fail "results differ from the direct runs"
echo "test_slurm: passed in $((SECONDS - t0)) s"
