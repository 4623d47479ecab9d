#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# The Slurm scripts of jobs/ on a real, private, single-node Slurm (tests/slurm/private-slurm.sh),
# each used as its own comment documents it:
#  - jobs/compare.sbatch, also with a memory allocation (--mem gives --memory-per-rank);
#  - jobs/nightly.sh for three nights of three candidates, the third night with a fourth candidate
#    that fails: the summary still merges, lists and plots the others, reports the failed task and
#    ends FAILED; the task rerun by hand and the summary run by hand then complete the night;
#  - jobs/array.sbatch alone, followed by a plain jobs/summary.sbatch that finds its results by
#    default, on a PATH without gnuplot (no plot, no failure).
# Every result and the histories are checked bit for bit against direct mpirun runs
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

# Wait for job ID (and all its array tasks) to leave the queue; the states its tasks ended in must
# be exactly STATES (sorted, space-separated; default COMPLETED).
wait_job() {
    local id=$1 want=${2:-COMPLETED} deadline=$((SECONDS + JOB_TIMEOUT)) states
    while [[ -n "$(squeue -h -j "$id" 2>/dev/null)" ]]; do
        ((SECONDS < deadline)) || fail "job $id still queued or running after $JOB_TIMEOUT s: $(squeue -j "$id")"
        sleep 0.5
    done
    states=$(scontrol -o show job "$id" | grep -o 'JobState=[A-Z_]*' | sed 's/JobState=//' | sort -u |
        tr '\n' ' ')
    [[ "${states% }" == "$want" ]] || fail "job $id ended as: $states, want $want"
    echo "test_slurm: job $id ended $want after $((SECONDS - t0)) s"
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

# ... and with a memory allocation: 400 MB for the node's two ranks, half of 200 MiB each.
id=$(P=ref.h5:/reference Q=one.h5:/generated OUTPUT=compare.h5:/runs/mem \
    sbatch --parsable --ntasks=2 --mem=400 "$src/jobs/compare.sbatch")
wait_job "$id"
grep -q 'running: srun .* --memory-per-rank 100MiB$' "h5div-compare-$id.out" ||
    fail "compare.sbatch --mem=400 on 2 ranks did not pass --memory-per-rank 100MiB"

# 2. Three nights of jobs/nightly.sh, three candidates each. The candidate files keep their names
#    and change every night, like the latest checkpoint of three models. Night 2 asks for memory
#    per CPU; night 3 has a fourth candidate whose file does not exist yet.
printf '%s\n' '# one candidate per line' cand0.h5:/generated cand1.h5:/generated '' \
    cand2.h5:/generated >candidates.txt
for night in 1 2 3; do
    for c in 0 1 2; do
        "$gen" "cand$c.h5" --bins 20000 --kind near --seed $((night * 10 + c)) >/dev/null
        direct "direct.h5:/night$night/c$c" ref.h5:/reference "cand$c.h5:/generated"
    done
    sbatch_args="" ntasks=3
    ((night == 2)) && sbatch_args="--mem-per-cpu=300"
    ((night == 3)) && echo cand3.h5:/generated >>candidates.txt && ntasks=4
    out=$(P=ref.h5:/reference CANDIDATES=candidates.txt HISTORY=history.h5 RUN_ID="night$night" \
        NTASKS=2 TIME_LIMIT=00:05:00 SBATCH_ARGS="$sbatch_args" "$src/jobs/nightly.sh" 2>&1) ||
        fail "nightly.sh failed: $out"
    echo "$out"
    grep -q "running: sbatch --parsable.* --array=0-$((ntasks - 1)) " <<<"$out" || fail "nightly.sh did not echo its sbatch command"
    grep -q "running: sbatch --parsable.* --dependency=afterany:" <<<"$out" || fail "nightly.sh did not use afterany"
    array=$(sed -n 's/.*array job \([0-9]*\) .*/\1/p' <<<"$out")
    summary=$(sed -n 's/.*summary job \([0-9]*\) .*/\1/p' <<<"$out")
    [[ -n "$array" && -n "$summary" ]] || fail "no job ids in the output of nightly.sh"
    if ((night < 3)); then
        wait_job "$array"
        wait_job "$summary"
    else
        wait_job "$array" "COMPLETED FAILED" # task 3 failed, the others completed
        wait_job "$summary" FAILED
    fi
    if ((night == 2)); then
        grep -q 'running: srun .* --memory-per-rank 150MiB$' "logs/h5div-array-${array}_0.out" ||
            fail "array.sbatch with --mem-per-cpu=300 did not pass --memory-per-rank 150MiB"
    fi
done

# Night 3: the failed task is recorded and reported, the others merged and plotted anyway.
slog=logs/h5div-summary-$summary.out
record=results/night3/task3.failed
[[ -f "$record" ]] || fail "no failure record $record"
grep -qx 'candidate=cand3.h5:/generated' "$record" || fail "$record does not name the candidate"
grep -qx 'status=3' "$record" || fail "$record does not hold h5div's exit status 3"
grep -q '^error=h5div: error: .*cand3\.h5' "$record" || fail "$record does not hold h5div's error line"
grep -q 'FAILED candidate.*task3.failed' "$slog" || fail "the summary did not report the failure record"
grep -q '1 candidate(s) failed (task(s) 3)' "$slog" || fail "the summary did not name failed task 3"
grep -q 'h5div-summary: added 3 run(s) to history.h5' "$slog" || fail "the summary did not merge the 3 good runs"
grep -q 'h5div-summary: done: history.h5, history.csv, history.png' "$slog" ||
    fail "the summary did not write the CSV and the plot after a failed candidate"
# The fix and the reruns by hand, as the scripts document them.
"$gen" cand3.h5 --bins 20000 --kind near --seed 33 >/dev/null
direct direct.h5:/night3/c3 ref.h5:/reference cand3.h5:/generated
id=$(P=ref.h5:/reference CANDIDATES=candidates.txt RUN_ID=night3 RESULTS_DIR=results/night3 \
    sbatch --parsable --array=3 --ntasks=2 --output="logs/h5div-array-%A_%a.out" "$src/jobs/array.sbatch")
wait_job "$id"
[[ ! -e "$record" ]] || fail "the successful rerun of task 3 left $record"
id=$(RESULTS_DIR=results/night3 HISTORY=history.h5 sbatch --parsable "$src/jobs/summary.sbatch")
wait_job "$id"
grep -q 'h5div-summary: added 1 run(s) to history.h5' "h5div-summary-$id.out" ||
    fail "the summary by hand did not add exactly the rerun task"
# Thresholds: CHECK that every run meets passes; one that every run crosses fails the job (exit
# 5) and its log names each failing run; nothing more is added either way.
id=$(CHECK='kl_pq<inf,hellinger<=1' RESULTS_DIR=results/night3 HISTORY=history.h5 \
    sbatch --parsable "$src/jobs/summary.sbatch")
wait_job "$id"
grep -q "h5div-summary: tonight's 4 run(s) meet --check" "h5div-summary-$id.out" ||
    fail "the summary with a CHECK every run meets did not say so"
id=$(CHECK='kl_pq<0' RESULTS_DIR=results/night3 HISTORY=history.h5 \
    sbatch --parsable "$src/jobs/summary.sbatch")
wait_job "$id" FAILED
n=$(grep -c 'h5div: check failed: run .*kl_pq' "h5div-summary-$id.out" || true)
((n == 4)) || fail "the summary with CHECK='kl_pq<0' named $n failing runs, want 4"
grep -q "fail --check 'kl_pq<0' (exit 5)" "h5div-summary-$id.out" ||
    fail "the summary with a crossed CHECK did not report exit 5"
grep -q 'h5div-summary: added 0 run(s) to history.h5' "h5div-summary-$id.out" ||
    fail "a second summary added runs again"

# 2b. A night from samples (jobs/histogram.sbatch first): the reference and two candidates of
#     data/samples.h5 binned with quantile edges of the reference, then compared. The histograms
#     are the bits of a direct h5div histogram run; the summary merges both runs. Then a night
#     whose samples cannot be read: the histogram job fails, no comparison runs, and the summary
#     reports both candidates as failed.
printf '%s\n' "$src/data/samples.h5:/candidate_a" "$src/data/samples.h5:/candidate_b" >samples.txt
for night in samples1 samples2; do
    ref=$src/data/samples.h5:/reference
    [[ $night == samples2 ]] && ref=$src/data/samples.h5:/no_such_dataset
    out=$(REF_SAMPLES=$ref SAMPLES=samples.txt HIST_ARGS="--quantile-bins 20" HISTORY=history-samples.h5 \
        RUN_ID=$night NTASKS=2 TIME_LIMIT=00:05:00 "$src/jobs/nightly.sh" 2>&1) ||
        fail "nightly.sh from samples failed: $out"
    echo "$out"
    hist=$(sed -n 's/.*histogram job \([0-9]*\) .*/\1/p' <<<"$out")
    array=$(sed -n 's/.*array job \([0-9]*\) .*/\1/p' <<<"$out")
    summary=$(sed -n 's/.*summary job \([0-9]*\) .*/\1/p' <<<"$out")
    [[ -n "$hist" && -n "$array" && -n "$summary" ]] || fail "no job ids from nightly.sh from samples"
    grep -q "running: sbatch --parsable.* --dependency=afterok:$hist " <<<"$out" ||
        fail "the array of a night from samples does not wait for the histogram job"
    if [[ $night == samples1 ]]; then
        wait_job "$hist"
        wait_job "$array"
        wait_job "$summary"
    else
        wait_job "$hist" FAILED
        wait_job "$array" CANCELLED
        wait_job "$summary" FAILED
    fi
done
"$mpiexec" -q --oversubscribe -n 2 "$h5div" histogram --quantile-bins 20 \
    "ref=$src/data/samples.h5:/reference" "c0=$src/data/samples.h5:/candidate_a" \
    "c1=$src/data/samples.h5:/candidate_b" -o direct.h5:/hists -q ||
    fail "direct mpirun histogram failed"
for d in ref c0 c1 edges; do
    h5diff histograms/samples1.h5 direct.h5 "/hists/$d" "/hists/$d" ||
        fail "histograms/samples1.h5:/hists/$d differs from the direct run"
done
grep -qx "histograms/samples1.h5:/hists/c1" histograms/samples1.candidates.txt ||
    fail "nightly.sh wrote no candidate list of the histograms"
slog=logs/h5div-summary-$summary.out
grep -q '2 candidate(s) failed (task(s) 0 1)' "$slog" ||
    fail "the summary of a night whose histograms failed did not report both candidates"
n=$("$h5div" history history-samples.h5 --csv | grep -c "^samples1-" || true)
((n == 2)) || fail "history-samples.h5 holds $n runs of the night from samples, want 2"

# 3. jobs/array.sbatch alone as its usage shows, and then a plain jobs/summary.sbatch after it,
#    which must find the array's results by default. gnuplot is hidden from the summary's PATH.
mkdir -p solo/nognuplot
for f in ref.h5 cand0.h5 cand1.h5 cand2.h5; do ln -s "../$f" "solo/$f"; done
for f in /usr/bin/*; do [[ "$f" == */gnuplot* ]] || ln -s "$f" solo/nognuplot/; done
cd solo
printf '%s\n' cand0.h5:/generated cand1.h5:/generated cand2.h5:/generated >candidates.txt
array=$(P=ref.h5:/reference sbatch --parsable --array=0-2 --ntasks=2 "$src/jobs/array.sbatch")
summary=$(PATH="$work/solo/nognuplot:/usr/sbin:/sbin" "$(command -v sbatch)" --parsable \
    --dependency="afterany:$array" "$src/jobs/summary.sbatch")
wait_job "$array"
wait_job "$summary"
n=$(find "results/$array" -name '*.h5' | wc -l)
((n == 3)) || fail "array.sbatch alone: $n files in results/$array, want 3"
grep -q 'gnuplot is not on PATH' "h5div-summary-$summary.out" || fail "the summary did not say gnuplot is missing"
[[ ! -e history.png && -f history.csv ]] || fail "without gnuplot: want history.csv and no history.png"
cd "$work"

/usr/bin/python3 "$src/tests/slurm/check_slurm.py" --h5div "$h5div" --workdir "$work" ||
    fail "results differ from the direct runs"
echo "test_slurm: passed in $((SECONDS - t0)) s"
