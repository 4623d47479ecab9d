#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Benchmark of h5div histogram: float32 samples x 1 feature and x 10 features at 1 and 2 ranks,
# against a raw read of the same dataset, numpy.histogram and fast_histogram on one core.
#
# Usage: bash bench/histogram.sh      (prints a markdown table on stdout, progress on stderr)
# Environment:
#   N1=100000000       samples of the 1-feature dataset
#   N10=10000000       samples of the 10-feature dataset
#   K=50               bins
#   RANKS="1 2"        rank counts of the h5div rows
#   MEM=1GiB           --memory-per-rank
#   H5DIV=...          an h5div binary to use (default: build Release in build-bench)
#   H5DIV_BENCH_DIR=/tmp/h5div-bench   where the inputs are generated (kept between runs)
#   PYTHON=/usr/bin/python3            numpy and h5py; fast_histogram (Debian
#                      python3-fast-histogram) is used when installed
# Not run in CI. Times are seconds of one run each, file in the page cache (an
# untimed read first): wall (for h5div including mpirun and MPI start-up) and
# in-process (h5div's -v time, from after MPI start-up to the output renamed
# into place); samples/s counts every sample of the inputs once.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
N1=${N1:-100000000}
N10=${N10:-10000000}
K=${K:-50}
read -r -a ranks <<<"${RANKS:-1 2}"
MEM=${MEM:-1GiB}
BENCH_DIR=${H5DIV_BENCH_DIR:-/tmp/h5div-bench}
PYTHON=${PYTHON:-/usr/bin/python3}

export OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1}
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}
export OMPI_MCA_btl_vader_single_copy_mechanism=${OMPI_MCA_btl_vader_single_copy_mechanism:-none}

log() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [[ -z ${H5DIV:-} ]]; then
  build=$root/build-bench
  log "building h5div (Release) in $build"
  { cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DH5DIV_BUILD_TESTS=OFF &&
    cmake --build "$build" -j 2 --target h5div_cli; } >"$tmp/build.log" 2>&1 ||
    { cat "$tmp/build.log" >&2; die "build failed"; }
  H5DIV=$build/h5div
fi

mkdir -p "$BENCH_DIR"
data=$BENCH_DIR/samples-$N1-$N10.h5
if [[ ! -s $data ]]; then
  log "generating $data"
  "$PYTHON" - "$data" "$N1" "$N10" <<'EOF'
import sys, h5py, numpy as np
path, n1, n10 = sys.argv[1], int(float(sys.argv[2])), int(float(sys.argv[3]))
rng = np.random.default_rng(1)
with h5py.File(path + ".tmp", "w") as f:
    d = f.create_dataset("x1", (n1,), "<f4")
    for s in range(0, n1, 1 << 24):
        e = min(n1, s + (1 << 24))
        d[s:e] = rng.normal(size=e - s).astype("<f4")
    d = f.create_dataset("x10", (n10, 10), "<f4")
    for s in range(0, n10, 1 << 21):
        e = min(n10, s + (1 << 21))
        d[s:e] = rng.gamma(2.0, size=(e - s, 10)).astype("<f4")
import os
os.rename(path + ".tmp", path)
EOF
fi
"$PYTHON" - "$data" "$K" <<'EOF'
import sys, h5py, numpy as np
path, k = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(2)
with h5py.File(path, "a") as f:
    for name, lo, hi in (("v1", -6.0, 6.0), ("v10", 0.0, 40.0)):
        e = np.sort(np.concatenate([[lo, hi], rng.uniform(lo, hi, size=k - 1)]))
        if name in f:
            del f[name]
        f[name] = e
EOF
cat "$data" >/dev/null  # into the page cache

# run NAME CMD...: wall seconds and peak RSS (MiB, largest rank) of one run.
run() {
  local name=$1 t0 t1
  shift
  t0=$EPOCHREALTIME
  "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" || { cat "$tmp/$name.err" >&2; die "failed: $*"; }
  t1=$EPOCHREALTIME
  awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}'
}
rss() { sort -n "$tmp/$1.rss" 2>/dev/null | awk '{m = $1 > m ? $1 : m} END {printf "%.0f", m / 1024}'; }
# user + system seconds of all ranks: hardly grows when other work competes for the cores
cpu() { awk '{s += $2 + $3} END {printf "%.2f", s}' "$tmp/$1.rss" 2>/dev/null; }

echo "| data | tool | ranks | wall s | in-process s | samples/s per rank (in-process) | CPU s (all ranks) | peak RSS MiB |"
echo "|---|---|---:|---:|---:|---:|---:|---:|"
row() { # data tool ranks wall in-process samples name
  local per
  per=$(awk -v n="$6" -v t="$5" -v r="$3" 'BEGIN {printf "%.0f M", n / t / r / 1e6}')
  echo "| $1 | $2 | $3 | $4 | $5 | $per | $(cpu "$7") | $(rss "$7") |"
}

for spec in "x1:$N1:v1" "x10:$((N10 * 10)):v10"; do
  IFS=: read -r ds n vedges <<<"$spec"
  label="$ds ($n values)"
  # Python baselines on one core: raw h5py read (as float32 and converted to
  # float64 like h5div reads), numpy.histogram, fast_histogram.
  for what in read_f4 read_f8 numpy fast; do
    log "$ds $what"
    out=$("$PYTHON" - "$data" "$ds" "$what" "$K" <<'EOF'
import sys, time, resource, h5py, numpy as np
path, ds, what, k = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
t0 = time.perf_counter()
with h5py.File(path, "r") as f:
    x = f[ds][()] if what != "read_f8" else f[ds].astype("f8")[()]
t1 = time.perf_counter()
cols = [x] if x.ndim == 1 else [x[:, i] for i in range(x.shape[1])]
if what == "numpy":
    for c in cols:
        np.histogram(c, bins=k, range=(float(c.min()), float(c.max())))
elif what == "fast":
    try:
        from fast_histogram import histogram1d
    except ImportError:
        print("skip"); sys.exit(0)
    for c in cols:
        histogram1d(c, bins=k, range=(float(c.min()), float(c.max())))
t2 = time.perf_counter()
ru = resource.getrusage(resource.RUSAGE_SELF)
print(f"{t1 - t0:.2f} {t2 - t1:.2f} {ru.ru_maxrss} {ru.ru_utime + ru.ru_stime:.2f} 0")
EOF
)
    [[ $out == skip ]] && continue
    read -r tread tbin maxrss cpus <<<"$out"
    echo "$maxrss $cpus" >"$tmp/py.rss"
    case $what in
      read_f4) row "$label" "h5py read (float32)" 1 "$tread" "$tread" "$n" py ;;
      read_f8) row "$label" "h5py read as float64" 1 "$tread" "$tread" "$n" py ;;
      numpy) row "$label" "numpy.histogram (min/max + bins, in memory)" 1 "$tbin" "$tbin" "$n" py ;;
      fast) row "$label" "fast_histogram.histogram1d (min/max + bins, in memory)" 1 "$tbin" "$tbin" "$n" py ;;
    esac
  done
  for r in "${ranks[@]}"; do
    for mode in "uniform --range" "uniform" "edges" "quantile"; do
      case $mode in
        "uniform --range") opts=(--bins "$K" --range "$([[ $ds == x1 ]] && echo -6:6 || echo 0:40)") ;;
        uniform) opts=(--bins "$K") ;;
        edges) opts=(--edges "$data:/$vedges") ;;
        quantile) opts=(--quantile-bins "$K") ;;
      esac
      name="h_${ds}_${r}_${mode// /_}"
      log "$name"
      t=$(run "$name" mpirun -q -n "$r" /usr/bin/time -a -o "$tmp/$name.time" -f '%M %U %S' \
        "$H5DIV" histogram -v "${opts[@]}" --memory-per-rank "$MEM" "$data:/$ds" \
        -o "$tmp/out.h5" --overwrite)
      cp "$tmp/$name.time" "$tmp/$name.rss"
      # h5div's own time (-v): from after MPI start-up to the output in place
      inproc=$(sed -n 's/.* ranks in \([0-9.]*\) s.*/\1/p' "$tmp/$name.err" | tail -1)
      row "$label" "h5div histogram ${opts[*]/$data:/}" "$r" "$t" "$inproc" "$n" "$name"
    done
  done
done
echo
echo "Command: \`N1=$N1 N10=$N10 K=$K RANKS=\"${ranks[*]}\" MEM=$MEM bash bench/histogram.sh\`"
