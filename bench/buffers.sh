#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Page faults and times of two h5div builds on one input pair, runs interleaved
# (old, new, old, new, ...) so that a change of load hits both alike.
#
# Usage: OLD=/path/h5div-old NEW=/path/h5div bash bench/buffers.sh PAIR.h5
# Environment:
#   RANKS="2"          rank counts
#   REPEAT=5           runs of every row; medians are reported
#   MODES="default|--memory-per-rank 64MiB"   h5div options of each mode, '|'-separated
#   NEW_ENV="H5DIV_DEBUG=1"   environment of the new build's runs (H5DIV_DEBUG=1 logs how
#                      many pieces of the shard were kept, shown in the last column; add
#                      H5DIV_SHARD=keep or =stream to fix the choice, H5DIV_HUGEPAGES=1 for
#                      transparent huge pages)
# Prints a markdown table: in-process seconds (h5div -v), the slowest rank's
# wall seconds (/usr/bin/time %e, MPI start-up included), minor and major
# page faults and peak RSS of one rank (/usr/bin/time %R %F %M).
set -euo pipefail
pair=${1:?usage: OLD=... NEW=... bash bench/buffers.sh PAIR.h5}
: "${OLD:?OLD=h5div binary before}" "${NEW:?NEW=h5div binary after}"
read -r -a ranks <<<"${RANKS:-2}"
REPEAT=${REPEAT:-5}
IFS='|' read -r -a modes <<<"${MODES:-default|--memory-per-rank 64MiB}"
read -r -a new_env <<<"${NEW_ENV-H5DIV_DEBUG=1}"
export OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1}
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run NAME RANKS BINARY [ENV...] -- OPTIONS...: one run; appends
# "inprocess wall minflt majflt rss_mib" to $tmp/NAME.
run() {
  local name=$1 n=$2 bin=$3 envs=() opts=()
  shift 3
  while (($#)) && [[ $1 != -- ]]; do envs+=(-x "$1"); shift; done
  shift
  opts=("$@")
  rm -f "$tmp/rank"
  mpirun -q -n "$n" "${envs[@]}" /usr/bin/time -a -o "$tmp/rank" -f '%e %M %R %F' \
    "$bin" compare "$pair:/reference" "$pair:/generated" --json -v "${opts[@]}" \
    >"$tmp/$name.json" 2>"$tmp/err"
  sed -n 's/.* of \([0-9]*\): .*: \([0-9]*\) pieces kept in memory$/\2\/\1/p' "$tmp/err" >>"$tmp/$name.choice"
  local t
  t=$(sed -n 's/.* ranks* in \([0-9.]*\) s.*/\1/p' "$tmp/err")
  awk -v t="$t" '{w = $1 > w ? $1 : w; m = $2 > m ? $2 : m; r = $3 > r ? $3 : r; f = $4 > f ? $4 : f}
    END {printf "%s %.2f %d %d %.0f\n", t, w, r, f, m / 1024}' "$tmp/rank" >>"$tmp/$name"
  if [[ -f $tmp/ref.json ]]; then
    cmp -s <(sed 's/"ranks": *[0-9]*//' "$tmp/ref.json") <(sed 's/"ranks": *[0-9]*//' "$tmp/$name.json") ||
      echo "DIFFERENT BITS: $name" >&2
  else
    cp "$tmp/$name.json" "$tmp/ref.json"
  fi
}
med() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
rng() { sort -g | awk 'NR == 1 {a = $1} {b = $1} END {printf "%s-%s", a, b}'; }
col() { awk -v c="$2" '{print $c}' "$tmp/$1"; }

for n in "${ranks[@]}"; do
  for ((i = 1; i <= REPEAT; i++)); do
    for m in "${!modes[@]}"; do
      o=${modes[$m]}
      [[ $o == default ]] && o=
      read -r -a oa <<<"$o"
      run "old.$n.$m" "$n" "$OLD" -- "${oa[@]}"
      run "new.$n.$m" "$n" "$NEW" "${new_env[@]}" -- "${oa[@]}"
    done
  done
done

echo "| build | ranks | options | in-process s median [min-max] | wall s median | minor faults per rank (median) | major faults | peak RSS per rank MiB (max) | pieces kept / pieces, each run (H5DIV_DEBUG) |"
echo "|---|---|---|---|---|---|---|---|---|"
for n in "${ranks[@]}"; do
  for m in "${!modes[@]}"; do
    for b in old new; do
      f=$b.$n.$m
      touch "$tmp/$f.choice"
      printf '| %s | %s | %s | %s [%s] | %s | %s | %s | %s | %s |\n' "$b" "$n" "${modes[$m]}" \
        "$(col "$f" 1 | med)" "$(col "$f" 1 | rng)" "$(col "$f" 2 | med)" \
        "$(col "$f" 3 | med)" "$(col "$f" 4 | med)" "$(col "$f" 5 | sort -g | tail -1)" \
        "$(paste -sd' ' "$tmp/$f.choice")"
    done
  done
done
echo
echo "uptime after: $(uptime)"
