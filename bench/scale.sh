#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# How h5div's memory, messages and collective calls grow with the rank count:
# `h5div compare` and `h5div entropy` at 1..64 ranks (oversubscribed) under
# the PMPI counter bench/mpicount.c, on a 1-D input and on 2-D [rows, cols] inputs.
#
# Usage: bash bench/scale.sh > bench/results-scale.md   (markdown on stdout, progress on stderr)
# Environment:
#   RANKS="1 2 4 8 16 32 64"  rank counts
#   BINS=10000000             bins of the 1-D pair (h5div-gen --kind near)
#   ROWS="1000 100000 1000000"  row counts of the 2-D pairs, COLS=100 bins each (written with h5py)
#   COLS=100
#   LONG_ROWS=10              rows of a 2-D pair of BINS bins in long rows [LONG_ROWS, BINS/LONG_ROWS]
#                             (rows shared by several ranks: per-row communicators; "" for none)
#   COMMANDS="compare entropy"
#   COLLMD_RANKS="2 64"       rank counts of the extra 1-D compare run with collective
#                             HDF5 metadata reads turned on by bench/collmd.c ("" for none)
#   PIECES_RANKS="2 64"       rank counts of the extra 1-D compare run in small pieces
#                             (PIECES_ARGS="--memory-per-rank 16MiB --piece-size 1MiB"):
#                             collective calls per round and pass ("" for none)
#   H5DIV_BENCH_DIR=/tmp/h5div-bench   where the inputs are written (kept between runs)
#   PYTHON=/usr/bin/python3   numpy/h5py for the 2-D inputs, and the report
#   NICE=10                   niceness of every run (the machine may be shared)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
read -r -a ranks <<<"${RANKS:-1 2 4 8 16 32 64}"
BINS=${BINS:-10000000}
read -r -a rows_list <<<"${ROWS-1000 100000 1000000}"
COLS=${COLS:-100}
LONG_ROWS=${LONG_ROWS-10}
read -r -a commands_list <<<"${COMMANDS:-compare entropy}"
read -r -a collmd_ranks <<<"${COLLMD_RANKS-2 64}"
read -r -a pieces_ranks <<<"${PIECES_RANKS-2 64}"
read -r -a pieces_args <<<"${PIECES_ARGS:---memory-per-rank 16MiB --piece-size 1MiB}"
BENCH_DIR=${H5DIV_BENCH_DIR:-/tmp/h5div-bench}
PYTHON=${PYTHON:-/usr/bin/python3}
NICE=${NICE:-10}
build=$root/build-bench

# As tests/CMakeLists.txt: root allowed, no CMA, oversubscription, shared memory only.
export OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1}
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}
export OMPI_MCA_btl_vader_single_copy_mechanism=${OMPI_MCA_btl_vader_single_copy_mechanism:-none}
export OMPI_MCA_rmaps_base_oversubscribe=${OMPI_MCA_rmaps_base_oversubscribe:-1}
export OMPI_MCA_btl=${OMPI_MCA_btl:-self,vader}
export OMPI_MCA_pml=${OMPI_MCA_pml:-ob1}

log() { printf 'scale: %s\n' "$*" >&2; }
die() { printf 'scale: error: %s\n' "$*" >&2; exit 1; }

for tool in cmake mpirun "$PYTHON"; do
  command -v "$tool" >/dev/null || die "$tool not found"
done
"$PYTHON" -c 'import numpy, h5py' 2>/dev/null || die "$PYTHON lacks numpy or h5py"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ---- build (as bench/run.sh: Release h5div in build-bench/, bench/ beside it) ----
log "building h5div (Release) in $build"
if ! { cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DH5DIV_BUILD_TESTS=OFF &&
       nice -n "$NICE" cmake --build "$build" -j 2 --target h5div_cli h5div-gen &&
       cmake -S "$root/bench" -B "$build/rawread" -DCMAKE_BUILD_TYPE=Release &&
       nice -n "$NICE" cmake --build "$build/rawread" --target mpicount collmd mpicount_check; } >"$tmp/build.log" 2>&1; then
  cat "$tmp/build.log" >&2
  die "build failed"
fi
h5div=$build/h5div
gen=$build/h5div-gen
mpicount=$build/rawread/libmpicount.so
collmd=$build/rawread/libcollmd.so

# The counter first counts a program whose calls are known (bench/mpicount_check.c).
if ! { mpirun -q -n 3 -x "LD_PRELOAD=$mpicount" -x "MPICOUNT_OUT=$tmp/check" "$build/rawread/mpicount_check" &&
       "$build/rawread/mpicount_check" --verify "$tmp/check" 3 >&2; }; then
  die "mpicount miscounts (bench/mpicount_check.c)"
fi

# ---- inputs ---------------------------------------------------------------------
mkdir -p "$BENCH_DIR"
pair1=$BENCH_DIR/scale-1d-$BINS.h5
gen_cmd=("$gen" "$pair1" --bins "$BINS" --dtype f64 --kind near --eps 0.01 --seed 1)
if [[ ! -s $pair1 ]]; then
  log "generating $pair1"
  nice -n "$NICE" "${gen_cmd[@]}" >/dev/null
fi
# 2-D: counts 1..1000 and a candidate within 1%, float64, contiguous, /P and /Q.
make_rows() {
  nice -n "$NICE" "$PYTHON" - "$@" <<'EOF'
import os
import sys

import h5py
import numpy as np

path, rows, cols = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(7)
with h5py.File(path + ".part", "w") as f:
    P = rng.integers(1, 1001, (rows, cols)).astype(np.float64)
    f["P"] = P
    f["Q"] = P * (1.0 + 0.01 * rng.random(P.shape))
os.replace(path + ".part", path)
EOF
}
inputs=("1-D $BINS bins|$pair1")
for r in "${rows_list[@]}"; do
  f=$BENCH_DIR/scale-2d-$r-$COLS.h5
  [[ -s $f ]] || { log "writing $f"; make_rows "$f" "$r" "$COLS"; }
  inputs+=("2-D [$r, $COLS]|$f")
done
if [[ -n $LONG_ROWS ]]; then
  f=$BENCH_DIR/scale-2d-$LONG_ROWS-$((BINS / LONG_ROWS)).h5
  [[ -s $f ]] || { log "writing $f"; make_rows "$f" "$LONG_ROWS" $((BINS / LONG_ROWS)); }
  inputs+=("2-D [$LONG_ROWS, $((BINS / LONG_ROWS))]|$f")
fi
sync
for i in "${inputs[@]}"; do cat "${i#*|}" >/dev/null; done # warm page cache on purpose

# ---- runs -------------------------------------------------------------------------
# run NAME LABEL COMMAND RANKS MODE FILE [OPTIONS...]: one line per run in
# $tmp/runs: name, input label, command and options, ranks, mode, wall s.
# MODE: count (mpicount only), collmd (collective metadata on the file and
# access lists), collmd-fapl (on the file access list only).
ran=()
run() {
  local name=$1 label=$2 cmd=$3 n=$4 mode=$5 file=$6 t0 t1 pre=$mpicount
  shift 6
  local env=(-x "MPICOUNT_OUT=$tmp/$name")
  case $mode in
    collmd) pre=$collmd:$mpicount ;;
    collmd-fapl) pre=$collmd:$mpicount env+=(-x COLLMD_APL=0) ;;
  esac
  local args=("$file:/P")
  [[ $label == 1-D* ]] && args=("$file:/reference")
  if [[ $cmd == compare ]]; then
    if [[ $label == 1-D* ]]; then args+=("$file:/generated"); else args+=("$file:/Q"); fi
  fi
  local cmdline=(nice -n "$NICE" mpirun -q -n "$n" -x "LD_PRELOAD=$pre" "${env[@]}"
                 "$h5div" "$cmd" "${args[@]}" "$@" -v)
  ran+=("${cmdline[*]//$tmp/OUT}")
  log "$label: h5div $cmd $*, $n rank(s), $mode"
  t0=$EPOCHREALTIME
  "${cmdline[@]}" >/dev/null 2>"$tmp/$name.err" || { cat "$tmp/$name.err" >&2; die "failed: ${cmdline[*]}"; }
  t1=$EPOCHREALTIME
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$label" "$cmd${*:+ $*}" "$n" "$mode" \
    "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')" >>"$tmp/runs"
}

uptime_before=$(uptime)
k=0
for i in "${inputs[@]}"; do
  for c in "${commands_list[@]}"; do
    for n in "${ranks[@]}"; do
      run "r$((k++))" "${i%%|*}" "$c" "$n" count "${i#*|}"
    done
  done
done
for n in "${collmd_ranks[@]}"; do
  run "r$((k++))" "${inputs[0]%%|*}" compare "$n" collmd-fapl "${inputs[0]#*|}"
  run "r$((k++))" "${inputs[0]%%|*}" compare "$n" collmd "${inputs[0]#*|}"
done
for n in "${pieces_ranks[@]}"; do
  run "r$((k++))" "${inputs[0]%%|*}" compare "$n" count "${inputs[0]#*|}" "${pieces_args[@]}"
done
uptime_after=$(uptime)

# ---- report -------------------------------------------------------------------------
cat <<EOF
# h5div at 1 to ${ranks[-1]} ranks: memory, messages and collective calls per rank

- date: $(date -u '+%Y-%m-%d %H:%M UTC')
- settings: RANKS="${ranks[*]}" BINS=$BINS ROWS="${rows_list[*]}" COLS=$COLS LONG_ROWS="$LONG_ROWS" COMMANDS="${commands_list[*]}" COLLMD_RANKS="${collmd_ranks[*]}" PIECES_RANKS="${pieces_ranks[*]}" PIECES_ARGS="${pieces_args[*]}"
- CPU: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores (every run oversubscribed beyond that); memory $(free -g | awk '/^Mem:/ {print $2}') GiB
- software: $(mpirun --version 2>&1 | head -1); $("$h5div" --version 2>&1 | head -1); git $(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)
- MPI settings: OMPI_MCA_btl=$OMPI_MCA_btl, OMPI_MCA_pml=$OMPI_MCA_pml, vader single copy $OMPI_MCA_btl_vader_single_copy_mechanism
- load before: \`${uptime_before# }\`
- load after: \`${uptime_after# }\`
- inputs (warm page cache): \`${gen_cmd[*]}\` (1-D pair /reference, /generated); 2-D pairs /P, /Q [rows, $COLS]
  float64 written with h5py (counts 1..1000, Q within 1% of P) as \`$BENCH_DIR/scale-2d-ROWS-COLS.h5\`
- every run: \`h5div CMD INPUTS -v\` with default options (ten default measures, 1 GiB per rank),
  under the PMPI counter \`bench/mpicount.c\` (\`LD_PRELOAD\`), table output discarded

EOF
"$PYTHON" - "$tmp" <<'EOF'
import json
import os
import re
import sys

tmp = sys.argv[1]
MiB = 1024.0 * 1024.0


def span(vals, fmt="{:.0f}"):
    lo, hi = min(vals), max(vals)
    return fmt.format(lo) if fmt.format(lo) == fmt.format(hi) else fmt.format(lo) + "-" + fmt.format(hi)


def calls(d, name, key="n"):
    return d["calls"].get(name, {}).get(key, 0)


rows = []
with open(os.path.join(tmp, "runs")) as f:
    for line in f:
        name, label, cmd, n, pre, wall = line.rstrip("\n").split("\t")
        n = int(n)
        ds = []
        for r in range(n):
            with open(os.path.join(tmp, f"{name}.{r}.json")) as g:
                ds.append(json.loads(g.read()))
        err = open(os.path.join(tmp, name + ".err")).read()
        m = re.search(r" on \d+ ranks? in ([0-9.]+) s", err)
        rows.append((label, cmd, n, pre, float(wall), m.group(1) if m else "?", ds))

print("| input | command | ranks | wall s | h5div s | peak RSS per rank MiB (rank 0) "
      "| collective calls per rank (on sub-communicators) | Allreduce + Exscan per rank "
      "| bytes in Allreduce/Exscan per rank | Bcast | Comm_split + Comm_dup | Gather + Gatherv "
      "| bytes sent in collectives per rank max (all ranks) | file collective calls per rank "
      "| MiB read collectively per rank | independent metadata reads per rank (bytes) | p2p calls |")
print("|" + "---|" * 17)
for label, cmd, n, pre, wall, hs, ds in rows:
    extra = {"count": "", "collmd": " + collmd", "collmd-fapl": " + collmd (file list only)"}[pre]
    rss = [d["vmhwm_kib"] / 1024.0 for d in ds]
    coll = [d["coll_calls"] for d in ds]
    sub = [sum(v["sub"] for k, v in d["calls"].items() if k in (
        "MPI_Allreduce", "MPI_Exscan", "MPI_Bcast", "MPI_Comm_split", "MPI_Comm_free",
        "MPI_Comm_dup", "MPI_Gather", "MPI_Gatherv", "MPI_Barrier")) for d in ds]
    ar = [calls(d, "MPI_Allreduce") + calls(d, "MPI_Exscan") for d in ds]
    arb = [calls(d, "MPI_Allreduce", "bytes") + calls(d, "MPI_Exscan", "bytes") for d in ds]
    bc = [calls(d, "MPI_Bcast") for d in ds]
    sp = [calls(d, "MPI_Comm_split") + calls(d, "MPI_Comm_dup") for d in ds]
    ga = [calls(d, "MPI_Gather") + calls(d, "MPI_Gatherv") for d in ds]
    cb = [d["coll_bytes"] for d in ds]
    fc = [d["file_coll_calls"] for d in ds]
    fb = [d["file_coll_bytes"] / MiB for d in ds]
    fi = [calls(d, "MPI_File_read_at") for d in ds]
    fib = [calls(d, "MPI_File_read_at", "bytes") for d in ds]
    p2p = sum(d["p2p_calls"] for d in ds)
    print(f"| {label} | {cmd}{extra} | {n} | {wall:.2f} | {hs} | {span(rss)} ({rss[0]:.0f}) "
          f"| {span(coll)} ({span(sub)}) | {span(ar)} | {span(arb)} | {span(bc)} | {span(sp)} "
          f"| {span(ga)} | {max(cb)} ({sum(cb)}) | {span(fc)} | {span(fb, '{:.1f}')} "
          f"| {span(fi)} ({span(fib)}) | {p2p} |")
EOF
cat <<'EOF'

Columns (per rank: the range over the ranks of one run, one number when all ranks agree):
- **wall s**: the whole `mpirun`; **h5div s**: h5div's own timer (`-v`). On 2 shared cores
  with up to 64 ranks these times measure oversubscription, not scaling; the counts do not
  depend on the machine.
- **peak RSS**: VmHWM of each rank at `MPI_Finalize` (`/proc/self/status`), rank 0 in brackets.
- **collective calls**: every collective on a communicator (Allreduce, Exscan, Bcast, Gather(v),
  Barrier, Comm_split, Comm_dup, Comm_free, ...) made through the MPI interface by h5div and
  by HDF5; in brackets the calls on communicators smaller than MPI_COMM_WORLD.
- **bytes in Allreduce/Exscan**: count x type size handed to the calls (the payload; the
  messages of the reduction algorithm are inside the MPI library and not seen).
- **bytes sent in collectives**: the same payload over all collectives (Bcast counted on its
  root, Gather(v) on each sender).
- **file collective calls**: MPI_File_open/close/set_view/read_at_all ... (HDF5's MPI-IO);
  **MiB read collectively**: the bytes requested by this rank's MPI_File_read_at_all.
- **independent metadata reads**: MPI_File_read_at calls (HDF5 reading superblock and object
  headers on its own), with their bytes.
- **p2p calls**: point-to-point calls through the MPI interface, summed over ranks.
- **+ collmd**: the same run with `bench/collmd.c` preloaded, which sets
  `H5Pset_all_coll_metadata_ops` / `H5Pset_coll_metadata_write` on the file access list and
  `H5Pset_all_coll_metadata_ops` on the link, dataset, group and attribute access lists
  h5div passes as `H5P_DEFAULT`; **(file list only)**: only the file access list
  (`COLLMD_APL=0`), which is what a one-line change to h5div's `H5Fopen` would do.
EOF

echo
echo "## Commands"
echo
echo '```'
echo "cmake -S $root -B $build -DCMAKE_BUILD_TYPE=Release -DH5DIV_BUILD_TESTS=OFF && cmake --build $build -j 2 --target h5div_cli h5div-gen"
echo "cmake -S $root/bench -B $build/rawread -DCMAKE_BUILD_TYPE=Release && cmake --build $build/rawread --target mpicount collmd mpicount_check"
echo "mpirun -q -n 3 -x LD_PRELOAD=$mpicount -x MPICOUNT_OUT=OUT/check $build/rawread/mpicount_check && $build/rawread/mpicount_check --verify OUT/check 3"
echo "${gen_cmd[*]}"
for c in "${ran[@]}"; do echo "$c"; done
echo '```'
echo
echo "OUT/rN is a per-run prefix: rank r writes OUT/rN.r.json."
