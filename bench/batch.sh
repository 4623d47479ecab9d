#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Benchmark of batches: 2-D inputs at both extremes (a million short rows, a few very long
# rows) against the same bins as one 1-D histogram, and one reference against k candidates
# against k separate runs.
#
# Usage: bash bench/batch.sh            (from anywhere; prints a markdown report on stdout)
# Environment:
#   BINS=100000000           bins per input of the 2-D cases (rows x columns)
#   SHORT=100                columns of the short-row case ([BINS/SHORT, SHORT])
#   LONG_ROWS=4              rows of the long-row case ([LONG_ROWS, BINS/LONG_ROWS])
#   K=4 KBINS=25000000       candidates and their bins in the many-candidates case
#   H5DIV_BENCH_DIR=/tmp/h5div-bench   where the inputs are generated (kept between runs)
#   REPEAT=3                 runs per measurement; the median is reported
#   RANKS="1 2"              rank counts
#   PYTHON=/usr/bin/python3  numpy/h5py to write the inputs, scipy for the per-row reference
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BINS=${BINS:-100000000}
SHORT=${SHORT:-100}
LONG_ROWS=${LONG_ROWS:-4}
K=${K:-4}
KBINS=${KBINS:-25000000}
BENCH_DIR=${H5DIV_BENCH_DIR:-/tmp/h5div-bench}
REPEAT=${REPEAT:-3}
read -r -a ranks <<<"${RANKS:-1 2}"
PYTHON=${PYTHON:-/usr/bin/python3}
build=$root/build-bench

export OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1}
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}
export OMPI_MCA_btl_vader_single_copy_mechanism=${OMPI_MCA_btl_vader_single_copy_mechanism:-none}

log() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

for tool in cmake mpirun /usr/bin/time "$PYTHON"; do
  command -v "$tool" >/dev/null || die "$tool not found"
done
"$PYTHON" -c 'import numpy, h5py' 2>/dev/null || die "$PYTHON lacks numpy or h5py"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

log "building h5div (Release) in $build"
if ! { cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DH5DIV_BUILD_TESTS=OFF &&
       cmake --build "$build" -j 2 --target h5div_cli; } >"$tmp/build.log" 2>&1; then
  cat "$tmp/build.log" >&2
  die "h5div build failed"
fi
h5div=$build/h5div

# ---- inputs -------------------------------------------------------------------
# Counts 1..1000 and a candidate within 1% of them, float64, contiguous: the
# same values as [rows, cols] 2-D datasets and as one 1-D dataset.
mkdir -p "$BENCH_DIR"
short=$BENCH_DIR/rows-short-$BINS-$SHORT.h5
long=$BENCH_DIR/rows-long-$BINS-$LONG_ROWS.h5
many=$BENCH_DIR/candidates-$K-$KBINS.h5
make_inputs() {
  "$PYTHON" - "$@" <<'EOF'
import sys
import h5py
import numpy as np

path, kind, a, b = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rng = np.random.default_rng(7)
tmp = path + ".part"
with h5py.File(tmp, "w") as f:
    if kind == "rows":
        rows, cols = a, b
        P = rng.integers(1, 1001, rows * cols).astype(np.float64)
        f["P"] = P.reshape(rows, cols)
        f["P1d"] = P
        Q = P * (1.0 + 0.01 * rng.random(P.size))
        f["Q"] = Q.reshape(rows, cols)
        f["Q1d"] = Q
    else:
        k, n = a, b
        P = rng.integers(1, 1001, n).astype(np.float64)
        f["P"] = P
        for j in range(k):
            f[f"Q{j}"] = P * (1.0 + 0.01 * (j + 1) * rng.random(n))
import os
os.replace(tmp, path)
EOF
}
[[ -s $short ]] || { log "writing $short"; make_inputs "$short" rows $((BINS / SHORT)) "$SHORT"; }
[[ -s $long ]] || { log "writing $long"; make_inputs "$long" rows "$LONG_ROWS" $((BINS / LONG_ROWS)); }
[[ -s $many ]] || { log "writing $many"; make_inputs "$many" cands "$K" "$KBINS"; }
sync
for f in "$short" "$long" "$many"; do cat "$f" >/dev/null; done # warm page cache on purpose

# ---- helpers --------------------------------------------------------------------
commands=()
# run NAME RANKS ARGS...: REPEAT runs of h5div compare ARGS --json -v under mpirun;
# NAME.i.out/err, NAME.i.rank (per-rank "seconds maxrss_kib").
run() {
  local name=$1 n=$2 i
  shift 2
  commands+=("mpirun -q -n $n h5div compare $* --json -v")
  for ((i = 1; i <= REPEAT; i++)); do
    mpirun -q -n "$n" /usr/bin/time -a -o "$tmp/$name.$i.rank" -f '%e %M' \
      "$h5div" compare "$@" --json -v >"$tmp/$name.$i.out" 2>"$tmp/$name.$i.err" ||
      { cat "$tmp/$name.$i.err" >&2; die "failed: h5div compare $*"; }
  done
}
# Median of h5div's own timer (-v) over the runs; spread: "[min-max]".
times() {
  local i
  for ((i = 1; i <= REPEAT; i++)); do
    sed -n 's/.* on [0-9]* ranks in \([0-9.]*\) s.*/\1/p' "$tmp/$1.$i.err"
  done | sort -g
}
secs() { times "$1" | awk '{v[NR] = $1} END {printf "%.3f", v[int((NR + 1) / 2)]}'; }
spread() { times "$1" | awk 'NR == 1 {a = $1} {b = $1} END {printf "[%.2f-%.2f]", a, b}'; }
rss() { awk '{printf "%.0f\n", $2 / 1024}' "$tmp/$1".*.rank | sort -g | tail -1; }
calc() { awk "BEGIN {printf \"$1\", $2}"; }

# ---- 2-D extremes ---------------------------------------------------------------
for n in "${ranks[@]}"; do
  log "short rows, long rows and the same bins as 1-D, $n rank(s)"
  run "short2d.$n" "$n" "$short:/P" "$short:/Q"
  run "short1d.$n" "$n" "$short:/P1d" "$short:/Q1d"
  run "long2d.$n" "$n" "$long:/P" "$long:/Q"
  run "long1d.$n" "$n" "$long:/P1d" "$long:/Q1d"
  run "short2dlow.$n" "$n" "$short:/P" "$short:/Q" --memory-per-rank 64MiB
done

# ---- k candidates against k runs --------------------------------------------------
qs=()
for ((j = 0; j < K; j++)); do qs+=("$many:/Q$j"); done
for n in "${ranks[@]}"; do
  log "$K candidates at once and one at a time, $n rank(s)"
  run "batch.$n" "$n" "$many:/P" "${qs[@]}"
  run "batchlow.$n" "$n" "$many:/P" "${qs[@]}" --memory-per-rank 64MiB
  for ((j = 0; j < K; j++)); do
    run "single$j.$n" "$n" "$many:/P" "$many:/Q$j"
    run "singlelow$j.$n" "$n" "$many:/P" "$many:/Q$j" --memory-per-rank 64MiB
  done
done

# Bits: each candidate of the batch equals its own run (rows against their
# 1-D runs are checked by the tests).
same_batch=yes
"$PYTHON" - "$tmp" "$K" "${ranks[0]}" <<'EOF' || same_batch=no
import json, sys
tmp, k, n = sys.argv[1], int(sys.argv[2]), sys.argv[3]
b = json.load(open(f"{tmp}/batch.{n}.1.out"))["measures"]
for j in range(k):
    s = json.load(open(f"{tmp}/single{j}.{n}.1.out"))["measures"]
    for name, v in s.items():
        if b[name][j] != v:
            sys.exit(1)
EOF

# ---- per-row reference: numpy/scipy on the whole [rows, cols] array --------------
scipy_short=""
if "$PYTHON" -c 'import scipy' 2>/dev/null; then
  log "scipy.stats.entropy(p, q, axis=1) on the short-row input, 1 run"
  /usr/bin/time -o "$tmp/scipy.time" -f '%e %M' "$PYTHON" - "$short" <<'EOF' >"$tmp/scipy.out"
import sys, time
import h5py, numpy as np
from scipy import stats
t0 = time.perf_counter()
with h5py.File(sys.argv[1], "r") as f:
    P, Q = f["P"][...], f["Q"][...]
kl = stats.entropy(P, Q, axis=1, base=2)
print(f"{time.perf_counter() - t0:.3f}")
EOF
  scipy_short="$(cat "$tmp/scipy.out") s, $(awk '{printf "%.0f", $2 / 1024}' "$tmp/scipy.time") MiB (kl_pq only)"
fi

# ---- report ---------------------------------------------------------------------
rows_s=$((BINS / SHORT)); cols_l=$((BINS / LONG_ROWS))
cat <<EOF
# h5div batch benchmark

- date: $(date -u '+%Y-%m-%d %H:%M UTC'); git $(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)
- CPU: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores; load after: \`$(uptime | sed 's/^ *//')\`
- inputs (float64, contiguous, warm page cache): \`$short\` [$rows_s, $SHORT] and the same
  values as 1-D; \`$long\` [$LONG_ROWS, $cols_l] and as 1-D; \`$many\` P and $K candidates of $KBINS bins
- times: h5div's own timer (\`-v\`), median of $REPEAT runs; RSS: largest peak of any rank
- default measures (the ten of the contract)

## 2-D inputs: one result per row, against the same bins as one histogram

| input | ranks | 2-D s [min-max] | same bins 1-D s [min-max] | 2-D / 1-D | 2-D peak RSS MiB | 2-D, --memory-per-rank 64MiB s [min-max] (RSS MiB) |
|---|---|---|---|---|---|---|
EOF
for n in "${ranks[@]}"; do
  s2=$(secs "short2d.$n"); s1=$(secs "short1d.$n")
  l2=$(secs "long2d.$n"); l1=$(secs "long1d.$n")
  echo "| [$rows_s, $SHORT] | $n | $s2 $(spread "short2d.$n") | $s1 $(spread "short1d.$n") | $(calc %.2f "$s2 / $s1") | $(rss "short2d.$n") | $(secs "short2dlow.$n") $(spread "short2dlow.$n") ($(rss "short2dlow.$n")) |"
  echo "| [$LONG_ROWS, $cols_l] | $n | $l2 $(spread "long2d.$n") | $l1 $(spread "long1d.$n") | $(calc %.2f "$l2 / $l1") | $(rss "long2d.$n") | |"
done
cat <<EOF

Per-row reference, numpy/scipy in one process on the short-row input (read included):
${scipy_short:-not run (no scipy)}.

## One reference against $K candidates

| ranks | memory per rank | $K at once s [min-max] | $K separate runs s (sum of medians) | separate / at once | bits equal |
|---|---|---|---|---|---|
EOF
for n in "${ranks[@]}"; do
  for mode in default low; do
    if [[ $mode == low ]]; then b="batchlow"; s="singlelow"; mem="64MiB"; else b="batch"; s="single"; mem="1GiB (default)"; fi
    tb=$(secs "$b.$n"); sum=0
    for ((j = 0; j < K; j++)); do sum=$(calc %.3f "$sum + $(secs "$s$j.$n")"); done
    echo "| $n | $mem | $tb $(spread "$b.$n") | $sum | $(calc %.2f "$sum / $tb") | $same_batch |"
  done
done
echo
echo "Commands (each run $REPEAT times):"
echo
printf '    %s\n' "${commands[@]}" | sort -u
