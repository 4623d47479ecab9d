#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# h5div compare --bootstrap B against B separate runs and against numpy+scipy
# doing the same Poisson bootstrap, on a pair of integer count histograms.
#
# Usage: bash bench/bootstrap.sh             (writes bench/results-bootstrap.md; progress on stderr)
#        BINS=1000000 B=20 bash bench/bootstrap.sh   (quick check: the report on stdout only)
# Environment:
#   BINS=10000000            bins per histogram
#   B=200                    bootstrap replicates
#   RANKS="1 2"              rank counts of the h5div runs
#   LOWMEM=64MiB             --memory-per-rank of one more --bootstrap run at the largest
#                            rank count, streamed (read in every pass); LOWMEM= skips it
#   MEAN=100                 counts per bin: P_i ~ Poisson(MEAN), Q_i ~ Poisson(MEAN (1 + 0.05 sin))
#   NP_REPS=10               numpy+scipy replicates actually run (and timed); the time is
#                            extrapolated to B
#   SEED=1                   seed of the input, of h5div's --seed and of numpy's draws
#   H5DIV_BENCH_DIR=/tmp/h5div-bench   the work directory is its bootstrap/ (kept between runs)
#   PYTHON=/usr/bin/python3  interpreter with numpy, scipy, h5py
#   REBUILD=0                1: rebuild build-bench even if it exists (as bench/run.sh does)
#   OUT=...                  file the report is also written to (once the run succeeded):
#                            bench/results-bootstrap.md at the default BINS and B, else none
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BINS=${BINS:-10000000}
B=${B:-200}
read -r -a ranks <<<"${RANKS:-1 2}"
LOWMEM=${LOWMEM-64MiB}
MEAN=${MEAN:-100}
NP_REPS=${NP_REPS:-10}
SEED=${SEED:-1}
work=${H5DIV_BENCH_DIR:-/tmp/h5div-bench}/bootstrap
PYTHON=${PYTHON:-/usr/bin/python3}
REBUILD=${REBUILD:-0}
if ((BINS == 10000000 && B == 200)); then
  OUT=${OUT-$root/bench/results-bootstrap.md}
else
  OUT=${OUT-}
fi
build=$root/build-bench
npy=$root/bench/bootstrap_numpy.py

export OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1}
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}
export OMPI_MCA_btl_vader_single_copy_mechanism=${OMPI_MCA_btl_vader_single_copy_mechanism:-none}

log() { printf 'bootstrap: %s\n' "$*" >&2; }
die() { printf 'bootstrap: error: %s\n' "$*" >&2; exit 1; }

for tool in cmake mpirun /usr/bin/time; do
  command -v "$tool" >/dev/null || die "$tool not found"
done
"$PYTHON" -c 'import numpy, scipy, h5py' 2>/dev/null || die "$PYTHON lacks numpy, scipy or h5py"
((NP_REPS >= 2)) || die "NP_REPS must be at least 2"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ---- build (only what is missing; bench/run.sh's way) -----------------------
if ((REBUILD)) || [[ ! -x $build/h5div || ! -x $build/h5div-gen ]]; then
  log "building h5div (Release) in $build"
  if ! { cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DH5DIV_BUILD_TESTS=OFF &&
         cmake --build "$build" -j 2 --target h5div_cli h5div-gen; } >"$tmp/build.log" 2>&1; then
    cat "$tmp/build.log" >&2
    die "h5div build failed"
  fi
fi
# libmpicount.so counts the bytes every rank reads from the file (bench/mpicount.c).
if ((REBUILD)) || [[ ! -f $build/rawread/libmpicount.so ]]; then
  log "building bench/CMakeLists.txt (rawread, libmpicount.so) in $build/rawread"
  if ! { cmake -S "$root/bench" -B "$build/rawread" -DCMAKE_BUILD_TYPE=Release &&
         cmake --build "$build/rawread"; } >"$tmp/build.log" 2>&1; then
    cat "$tmp/build.log" >&2
    die "bench/CMakeLists.txt build failed"
  fi
fi
h5div=$build/h5div
mpicount=$build/rawread/libmpicount.so
# A build-bench/ left from an older checkout is used as it is: say so.
stale=
newest=$(find "$root/src" "$root/include" -type f -newer "$h5div" 2>/dev/null | head -1)
[[ -n $newest ]] && stale="**older than ${newest#"$root"/}: REBUILD=1 rebuilds it**"

# ---- input ------------------------------------------------------------------
mkdir -p "$work"
pair=$work/pair-$BINS.h5
rep=$work/replicate-$BINS.h5
P=$pair:/reference
Q=$pair:/generated
gen_cmd=("$PYTHON" "$npy" gen "$pair" "$BINS" "$MEAN" "$SEED")
if [[ ! -s $pair || ! -f $pair.args || $(<"$pair.args") != "${gen_cmd[*]:2}" ]]; then
  log "generating $pair"
  rm -f "$pair" "$pair.args" "$pair.gen"
  "${gen_cmd[@]}" >"$pair.gen"
  printf '%s\n' "${gen_cmd[*]:2}" >"$pair.args"
fi
data_bytes=$((16 * BINS)) # two int64 datasets
sync
cat "$pair" >/dev/null # warm page cache on purpose: every approach reads from memory

# ---- helpers ----------------------------------------------------------------
commands=()
kv() { sed -n "s/.* $2=\\([^ ]*\\).*/\\1/p" "$1" | head -1; }
calc() { awk "BEGIN {printf \"$1\", $2}"; }

# h5div_run NAME RANKS ARGS...: one run of h5div under mpirun, every rank in
# GNU time and with libmpicount preloaded, H5DIV_DEBUG=1 and -v. Leaves
# NAME.out, NAME.err, NAME.rank ("wall maxrss_kib user sys" per rank),
# NAME.wall (the whole mpirun) and NAME.mc.RANK.json.
h5div_run() {
  local name=$1 n=$2 t0 t1
  shift 2
  commands+=("H5DIV_DEBUG=1 mpirun -n $n $h5div $*")
  t0=$EPOCHREALTIME
  H5DIV_DEBUG=1 mpirun -q -n "$n" -x H5DIV_DEBUG -x LD_PRELOAD="$mpicount" -x MPICOUNT_OUT="$tmp/$name.mc" \
    /usr/bin/time -a -o "$tmp/$name.rank" -f '%e %M %U %S' "$h5div" "$@" \
    >"$tmp/$name.out" 2>"$tmp/$name.err" || { cat "$tmp/$name.err" >&2; die "failed: mpirun -n $n h5div $*"; }
  t1=$EPOCHREALTIME
  calc '%.3f\n' "$t1 - $t0" >"$tmp/$name.wall"
}
inproc() { sed -n 's/.* on [0-9]* ranks* in \([0-9.]*\) s.*/\1/p' "$tmp/$1.err"; }
cpu() { awk '{s += $3 + $4} END {printf "%.1f", s}' "$tmp/$1.rank"; }
rss() { awk '{printf "%.0f\n", $2 / 1024}' "$tmp/$1.rank" | sort -g | paste -sd, | sed 's/,/, /g'; }
passes() { grep -c '^h5div: pass [0-9]*: 100.0%' "$tmp/$1.err" || true; }
# Bytes read from the file by all ranks (MPI_File_read*, iread*), over the input's data bytes.
read_ratio() {
  cat "$tmp/$1".mc.*.json | grep -o '"MPI_File_i*read[a-z_]*": {[^}]*}' |
    sed 's/.*"bytes": \([0-9]*\).*/\1/' | awk -v d="$data_bytes" '{s += $1} END {printf "%.2f", s / d}'
}
# "yes" when the JSON measures (17 significant digits: equal text is equal doubles) are equal.
same() {
  if cmp -s <(sed 's/"ranks": *[0-9]*//' "$tmp/$1.out") <(sed 's/"ranks": *[0-9]*//' "$tmp/$2.out"); then
    echo yes
  else
    echo "**no**"
  fi
}

# ---- runs -------------------------------------------------------------------
uptime_before=$(uptime)
max_ranks=0
for n in "${ranks[@]}"; do
  ((n > max_ranks)) && max_ranks=$n
  log "h5div compare --bootstrap $B, $n rank(s)"
  h5div_run "boot$n" "$n" compare "$P" "$Q" --bootstrap "$B" --seed "$SEED" --json -v \
    -o "$work/result-$n.h5" --overwrite --keep-replicates
done
if [[ -n $LOWMEM ]]; then
  log "h5div compare --bootstrap $B --memory-per-rank $LOWMEM, $max_ranks rank(s)"
  h5div_run lowmem "$max_ranks" compare "$P" "$Q" --bootstrap "$B" --seed "$SEED" --json -v \
    -o "$work/result-lowmem.h5" --overwrite --keep-replicates --memory-per-rank "$LOWMEM"
fi

log "separate runs: numpy draws one replicate pair to $rep"
draw_cmd=("$PYTHON" "$npy" draw "$P" "$Q" "$rep" "$SEED")
commands+=("${draw_cmd[*]}")
"${draw_cmd[@]}" >"$tmp/draw.out"
sync
for n in "${ranks[@]}"; do
  log "separate runs: h5div compare of the replicate pair, $n rank(s)"
  h5div_run "sep$n" "$n" compare "$rep:/reference" "$rep:/generated" --json -v
done

log "numpy+scipy: $NP_REPS replicates of the bootstrap"
np_cmd=("$PYTHON" "$npy" boot "$P" "$Q" "$NP_REPS" "$B" "$SEED" "$work/result-${ranks[0]}.h5")
commands+=("/usr/bin/time -f '%e %M' ${np_cmd[*]}")
t0=$EPOCHREALTIME
/usr/bin/time -o "$tmp/np.time" -f '%e %M' "${np_cmd[@]}" >"$tmp/np.out"
t1=$EPOCHREALTIME
uptime_after=$(uptime)

# ---- numbers ----------------------------------------------------------------
np_wall=$(calc '%.3f' "$t1 - $t0")
np_per=$(kv "$tmp/np.out" s_per_rep)
# The whole process as run (start-up, imports, read, NP_REPS replicates,
# summary), plus the B - NP_REPS replicates not run at the measured rate.
np_est=$(calc '%.1f' "$np_wall + ($B - $NP_REPS) * $np_per")
draw_read=$(kv "$tmp/draw.out" read_s)
draw_one=$(calc '%.3f' "$(kv "$tmp/draw.out" draw_s) + $(kv "$tmp/draw.out" write_s)")
declare -A sep_est
for n in "${ranks[@]}"; do
  sep_est[$n]=$(calc '%.1f' "$B * ($draw_one + $(cat "$tmp/sep$n.wall")) + $draw_read")
done

# ---- report -----------------------------------------------------------------
{
if [[ $BINS == 10000000 ]]; then label=1e7; else label=$BINS; fi
cat <<EOF
# h5div compare --bootstrap $B on $label bins: against B separate runs and numpy+scipy

- date: $(date -u '+%Y-%m-%d %H:%M UTC')
- CPU: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores; memory $(free -g | awk '/^Mem:/ {print $2}') GiB
- software: $(mpirun --version 2>&1 | head -1); $("$h5div" --version 2>&1 | head -1); $(sed -n 's/^boot .*\(scipy=[^ ]*\) \(numpy=[^ ]*\).*/\1 \2/p' "$tmp/np.out"); git $(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)
- binary: \`$h5div\` (Release)${stale:+; $stale}
- load before: \`${uptime_before# }\`
- load after: \`${uptime_after# }\`
- input: \`$pair\` ($(du -h "$pair" | cut -f1)), two int64 count histograms of $BINS bins,
  P_i ~ Poisson($MEAN), Q_i ~ Poisson($MEAN (1 + 0.05 sin(2 pi i / 1000))), written by
  \`${gen_cmd[*]}\` (smallest counts: $(sed -n 's/.*min_p=\([0-9]*\) min_q=\([0-9]*\).*/P \1, Q \2/p' "$pair.gen" 2>/dev/null || true);
  no replicate draws an empty bin, so every measure, KL included, stays finite)
- warm page cache: the input is read once untimed first; every approach reads it from memory.
- every run once (no repeats): on a loaded machine the times are noisy.

| approach | ranks | replicates run | seconds for B = $B (wall) | h5div in-process s | CPU s (all ranks) | input read (x data bytes) in passes | peak RSS MiB per rank | numpy+scipy / this | separate runs / this |
|---|---|---|---|---|---|---|---|---|---|
EOF
boot_row() {
  local name=$1 n=$2 what=$3 w
  w=$(cat "$tmp/$name.wall")
  printf '| %s | %s | %s | %s | %s | %s | %s in %s | %s | %s | %s |\n' "$what" "$n" "$B" "$w" \
    "$(inproc "$name")" "$(cpu "$name")" "$(read_ratio "$name")" "$(passes "$name")" "$(rss "$name")" \
    "$(calc '%.2f' "$np_est / $w")" "$(calc '%.2f' "${sep_est[$n]} / $w")"
}
for n in "${ranks[@]}"; do
  boot_row "boot$n" "$n" "h5div \`compare --bootstrap $B\`"
done
if [[ -n $LOWMEM ]]; then
  # It streams only when the shard (32 bytes a bin of int64 input) exceeds the bound.
  if awk -v r="$(read_ratio lowmem)" 'BEGIN {exit !(r >= 1.5)}'; then how="streamed"; else how="shard still fits: kept"; fi
  boot_row lowmem "$max_ranks" "h5div \`compare --bootstrap $B --memory-per-rank $LOWMEM\` ($how)"
fi
for n in "${ranks[@]}"; do
  printf '| %s | %s | 1 | %s (estimate: %s x (%s + %s) + %s) | %s | %s | %s in %s | %s | | |\n' \
    "B separate runs: numpy draws a replicate pair to a file, h5div \`compare\` on it" "$n" \
    "${sep_est[$n]}" "$B" "$draw_one" "$(cat "$tmp/sep$n.wall")" "$draw_read" "$(inproc "sep$n")" \
    "$(cpu "sep$n")" "$(read_ratio "sep$n")" "$(passes "sep$n")" "$(rss "sep$n")"
done
printf '| %s | 1 | %s | %s (estimate: %s + (%s - %s) x %s) | | | | %s | | |\n' \
  "numpy+scipy, same bootstrap (\`bench/bootstrap_numpy.py boot\`)" "$NP_REPS" "$np_est" "$np_wall" "$B" \
  "$NP_REPS" "$np_per" "$(awk '{printf "%.0f", $2 / 1024}' "$tmp/np.time")"

cat <<EOF

- **h5div rows**: measured, one \`mpirun\` each (start-up and \`MPI_Init\` included in "wall";
  "in-process" is h5div's own \`-v\` timer). \`-o ... --keep-replicates\` writes the $B replicate
  values of each measure (for the check below; a few KiB). "input read" is the bytes all ranks
  read from the file through MPI-IO (\`MPI_File_read*\`/\`iread*\`, counted by
  \`build-bench/rawread/libmpicount.so\`, HDF5's metadata reads included) over the two datasets'
  $data_bytes bytes, and the passes are those \`-v\` reports: 1.00 in 2 passes is read once, the
  shard kept in memory for the second pass; 2.00 in 2 passes is read once per pass (streamed).
- **B separate runs**: an estimate, not $B runs: numpy draws one replicate pair and writes it to
  an HDF5 file (\`draw_s + write_s\` = $draw_one s, once; reading the input, $draw_read s, is paid
  once), and one \`mpirun h5div compare\` (no \`--bootstrap\`) of that pair takes the wall time
  shown; the estimate is $B times both, plus the read. Computing the se and interval from the
  $B results is not counted.
- **numpy+scipy**: one Python process (\`/usr/bin/python3\`, 1 core) runs $NP_REPS of the $B
  replicates (Philox draws of both inputs, normalisation, the ten measures with
  \`scipy.special\` and \`scipy.spatial.distance.jensenshannon\`, then se and interval); the
  estimate is the whole process's wall time ($np_wall s: start-up, imports, read, $NP_REPS
  replicates, summary) plus $((B - NP_REPS)) more replicates at the measured $np_per s each
  (draws $(kv "$tmp/np.out" draw_s_per_rep) s, measures $(kv "$tmp/np.out" eval_s_per_rep) s).
- **ratios**: estimated seconds of numpy+scipy (1 core) or of the separate runs (at the same rank
  count) over h5div's wall seconds. The issue's target is numpy+scipy / h5div >= 20.

Same JSON output (value, se, interval; 17 significant digits) on every rank count and memory bound:
EOF
for n in "${ranks[@]}"; do
  ((n == max_ranks)) && continue
  echo "- $n vs $max_ranks ranks: $(same "boot$n" "boot$max_ranks")"
done
[[ -n $LOWMEM ]] && echo "- \`--memory-per-rank $LOWMEM\` vs default, $max_ranks ranks: $(same lowmem "boot$max_ranks")"
((${#ranks[@]} > 1)) || [[ -n $LOWMEM ]] || echo "- one run only: nothing to compare"

cat <<EOF

What rank 0 said about reading (\`H5DIV_DEBUG=1\`, \`-v\`):

\`\`\`
EOF
for name in $(for n in "${ranks[@]}"; do echo "boot$n"; done) ${LOWMEM:+lowmem}; do
  echo "# $name"
  grep '^h5div: ' "$tmp/$name.err" | grep -v '^h5div: pass [0-9]*: *[0-9.]*% ' || true
done
cat <<EOF
\`\`\`

Agreement in distribution, h5div's $B replicates (\`compare --bootstrap $B\` at ${ranks[0]} rank(s),
\`--keep-replicates\`) against numpy's $NP_REPS (same scheme, numpy's own Philox streams). z is the
difference over its Monte-Carlo error (mean: se sqrt(1/$B + 1/$NP_REPS); se: se sqrt(1/(2($B - 1)) +
1/(2($NP_REPS - 1))), normal replicates). The ten measures are strongly correlated (one draw
moves all divergences together), so read the rows as about three independent checks;
with $NP_REPS numpy replicates the se is known to about $(calc '%.0f' "100 / sqrt(2 * ($NP_REPS - 1))")% only (NP_REPS raises it).

EOF
sed -n '/^| measure/,/^largest/p' "$tmp/np.out"
worst=$(sed -n 's/^largest |z| = //p' "$tmp/np.out")
echo
if awk -v z="$worst" 'BEGIN {exit !(z <= 3)}'; then
  echo "Verdict: agree (every |z| <= 3)."
else
  echo "Verdict: **|z| = $worst > 3: check** (rerun with a larger NP_REPS before concluding)."
fi

echo
echo "Commands (\`BINS=$BINS B=$B RANKS=\"${ranks[*]}\" LOWMEM=$LOWMEM MEAN=$MEAN NP_REPS=$NP_REPS SEED=$SEED bash bench/bootstrap.sh\`):"
echo
echo '```'
printf '%s\n' "${gen_cmd[*]}"
printf '%s\n' "${commands[@]}"
echo '```'
echo
echo "(every h5div run: under \`/usr/bin/time -f '%e %M %U %S'\` per rank, with \`-x LD_PRELOAD=$mpicount -x MPICOUNT_OUT=...\`)"
echo
} >"$tmp/report.md"
cat "$tmp/report.md"
if [[ -n $OUT ]]; then
  cp "$tmp/report.md" "$OUT"
  log "wrote $OUT"
fi
