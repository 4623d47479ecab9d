#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Nightly h5div evaluation: submits jobs/array.sbatch (one task per candidate histogram, each
# against the reference) and then jobs/summary.sbatch with --dependency=afterany on the whole
# array, which merges the night's results into the history file, reports the candidates that
# failed and redraws the history plot. One failed candidate does not stop the merge, history and
# plot of the others; the summary job then ends FAILED (exit 5) and its output names the failed
# task. The script only submits and returns; it runs where sbatch works (a login node, from cron or
# scrontab).
#
# cron (crontab -e on a login node; cron has a bare environment, so set PATH and the variables):
#
#   30 2 * * * cd $HOME/eval && PATH=/usr/bin:/bin:$HOME/h5div/build P=ref.h5:/hist CANDIDATES=candidates.txt $HOME/h5div/jobs/nightly.sh >>nightly.log 2>&1
#
# scrontab (scrontab -e, on sites whose Slurm has it; the line runs as a small Slurm job):
#
#   #SCRON --job-name=h5div-nightly --time=00:05:00
#   30 2 * * * cd $HOME/eval && P=ref.h5:/hist CANDIDATES=candidates.txt $HOME/h5div/jobs/nightly.sh
#
# Where things go: tonight's per-task files in results/<RUN_ID>/ (with a task<i>.failed record for
# each failed task), the history in history.h5, history.csv and history.png, the jobs' output in
# logs/. jobs/array.sbatch and jobs/summary.sbatch used alone keep to the same results/ tree.
#
# Environment (defaults in brackets); the variables of jobs/array.sbatch and jobs/summary.sbatch
# (H5DIV, H5DIV_ARGS, SRUN_ARGS, H5COPY, HISTORY_CSV, HISTORY_PLOT, PLOT_MEASURES, CHECK) pass
# through:
#
#   P            reference histogram FILE:/dataset [data/example.h5:/reference]
#   CANDIDATES   file with one candidate FILE:/dataset per line [candidates.txt]
#   REF_SAMPLES  reference samples FILE:/dataset: the night starts from samples [none]. With
#                SAMPLES (one candidate's samples FILE:/dataset per line) a first job,
#                jobs/histogram.sbatch, bins them all with the same edges (HIST_ARGS, e.g.
#                "--range 0:1 --bins 50": fix the edges so the nights compare) into
#                HIST_DIR/RUN_ID.h5 [histograms/], and the comparisons run on those histograms
#                once it has succeeded; P and CANDIDATES are then set by this script
#   HISTORY      history file the night's runs are added to [history.h5]
#   RUN_ID       prefix of tonight's run ids [UTC date and time now, e.g. 20250131T023000Z]
#   RESULTS_DIR  directory of tonight's per-task result files [results/RUN_ID]
#   LOG_DIR      directory of the jobs' output files [logs]
#   PARTITION    Slurm partition [the cluster's default]
#   ACCOUNT      Slurm account [the user's default]
#   NTASKS       MPI ranks of each comparison [4]
#   NODES        nodes of each comparison [1]
#   TIME_LIMIT   time limit of each comparison [00:30:00]
#   MAX_PARALLEL array tasks running at once, the %N of --array [unlimited]
#   SBATCH_ARGS  extra sbatch options for both jobs, split at whitespace [none]; a memory request
#                here (--mem, --mem-per-cpu) also sets h5div's --memory-per-rank
#   H5DIV_JOBS   directory holding array.sbatch and summary.sbatch [this script's directory]

set -euo pipefail

H5DIV_JOBS=${H5DIV_JOBS:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
P=${P:-data/example.h5:/reference}
CANDIDATES=${CANDIDATES:-candidates.txt}
HISTORY=${HISTORY:-history.h5}
RUN_ID=${RUN_ID:-$(date -u +%Y%m%dT%H%M%SZ)}
RESULTS_DIR=${RESULTS_DIR:-results/$RUN_ID}
LOG_DIR=${LOG_DIR:-logs}
NTASKS=${NTASKS:-4}
NODES=${NODES:-1}
TIME_LIMIT=${TIME_LIMIT:-00:30:00}
export P CANDIDATES HISTORY RUN_ID RESULTS_DIR

# From samples: the histograms are tonight's P and candidates; their job runs first.
hist_dep=()
if [[ -n "${REF_SAMPLES:-}${SAMPLES:-}" ]]; then
    if [[ -z "${REF_SAMPLES:-}" || ! -r "${SAMPLES:-}" ]]; then
        echo "h5div-nightly: error: a night from samples needs REF_SAMPLES and a readable SAMPLES list" >&2
        exit 2
    fi
    HIST_DIR=${HIST_DIR:-histograms}
    HIST_OUT=$HIST_DIR/$RUN_ID.h5
    mkdir -p "$HIST_DIR"
    CANDIDATES=$HIST_DIR/$RUN_ID.candidates.txt
    P=$HIST_OUT:/hists/ref
    grep -v -e '^[[:space:]]*$' -e '^[[:space:]]*#' "$SAMPLES" |
        awk -v f="$HIST_OUT" '{print f ":/hists/c" NR - 1}' >"$CANDIDATES"
    export REF_SAMPLES SAMPLES HIST_OUT P CANDIDATES
fi

if [[ ! -r "$CANDIDATES" ]]; then
    echo "h5div-nightly: error: cannot read the candidate list CANDIDATES=$CANDIDATES" >&2
    exit 2
fi
n=$(grep -c -v -e '^[[:space:]]*$' -e '^[[:space:]]*#' "$CANDIDATES" || true)
if ((n == 0)); then
    echo "h5div-nightly: error: no candidates in $CANDIDATES" >&2
    exit 2
fi
mkdir -p "$RESULTS_DIR" "$LOG_DIR"

common=()
[[ -n "${PARTITION:-}" ]] && common+=(--partition="$PARTITION")
[[ -n "${ACCOUNT:-}" ]] && common+=(--account="$ACCOUNT")
read -r -a extra <<<"${SBATCH_ARGS:-}"
common+=("${extra[@]}")

# Print a command (quoted so it can be pasted into a shell), then run it.
run() {
    printf 'h5div-nightly: running:' >&2
    printf ' %q' "$@" >&2
    printf '\n' >&2
    "$@"
}

if [[ -n "${HIST_OUT:-}" ]]; then
    hist=$(run sbatch --parsable "${common[@]}" --nodes="$NODES" --ntasks="$NTASKS" \
        --time="$TIME_LIMIT" --output="$LOG_DIR/h5div-histogram-%j.out" \
        "$H5DIV_JOBS/histogram.sbatch")
    hist=${hist%%;*}
    # afterok: no comparison runs on histograms that were not made; the array is then cancelled
    # and the summary reports every candidate as failed.
    hist_dep=(--dependency="afterok:$hist" --kill-on-invalid-dep=yes)
    echo "h5div-nightly: run $RUN_ID: histogram job $hist -> $HIST_OUT"
fi

array=$(run sbatch --parsable "${common[@]}" "${hist_dep[@]}" --array="0-$((n - 1))${MAX_PARALLEL:+%$MAX_PARALLEL}" \
    --nodes="$NODES" --ntasks="$NTASKS" --time="$TIME_LIMIT" \
    --output="$LOG_DIR/h5div-array-%A_%a.out" "$H5DIV_JOBS/array.sbatch")
array=${array%%;*} # "jobid;cluster" on multi-cluster sites
# afterany: the summary runs when every task has ended, succeeded or not; it merges the good runs
# and reports the failed ones (ARRAY_TASKS lets it notice a task killed before it could record).
export ARRAY_TASKS=$n
summary=$(run sbatch --parsable "${common[@]}" --dependency="afterany:$array" \
    --kill-on-invalid-dep=yes --output="$LOG_DIR/h5div-summary-%j.out" \
    "$H5DIV_JOBS/summary.sbatch")
summary=${summary%%;*}
echo "h5div-nightly: run $RUN_ID: array job $array ($n candidate(s)), summary job $summary -> $HISTORY"
echo "h5div-nightly: the night succeeded if job $summary ends COMPLETED" \
    "(sacct -j $summary, or $LOG_DIR/h5div-summary-$summary.out)"
