#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Reading ahead on and off: h5div compare with H5DIV_OVERLAP=1 and =0,
# alternating run by run, warm and (optionally) cold page cache.
#
#   bash bench/overlap.sh [H5DIV] > bench/results-overlap.md
#
# H5DIV defaults to build/h5div (h5div-gen next to it, or GEN). Environment: BINS
# (2e7), REPEAT (5), H5DIV_BENCH_DIR (/tmp/h5div-bench), COLD (1: also with
# the input evicted before each run by POSIX_FADV_DONTNEED on the input file
# only, `dd iflag=nocache`; other files keep their cache).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
h5div=$(realpath "${1:-$root/build/h5div}")
gen=${GEN:-$(dirname "$h5div")/h5div-gen}
BINS=${BINS:-20000000}
REPEAT=${REPEAT:-5}
COLD=${COLD:-1}
dir=${H5DIV_BENCH_DIR:-/tmp/h5div-bench}
export OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1}
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}
export OMPI_MCA_btl_vader_single_copy_mechanism=${OMPI_MCA_btl_vader_single_copy_mechanism:-none}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$dir"
pair=$dir/pair-$BINS.h5
gen_cmd=("$gen" "$pair" --bins "$BINS" --dtype f64 --kind near --eps 0.01 --seed 1)
if [[ ! -s $pair || ! -f $pair.args || $(<"$pair.args") != "${gen_cmd[*]:1}" ]]; then
  printf 'overlap: generating %s\n' "$pair" >&2
  rm -f "$pair" "$pair.args"
  "${gen_cmd[@]}" >/dev/null
  printf '%s\n' "${gen_cmd[*]:1}" >"$pair.args"
fi
P=$pair:/reference
Q=$pair:/generated
cat "$pair" >/dev/null # warm

# CONFIGS: name|ranks|options
configs=(
  "1 rank, default (shard kept, measured)|1|"
  "1 rank, --memory-per-rank 64MiB (streamed)|1|--memory-per-rank 64MiB"
  "2 ranks, --memory-per-rank 64MiB (streamed)|2|--memory-per-rank 64MiB"
)

# run NAME I OVERLAP COLD RANKS OPTIONS...: one timed run; appends
# "in-process wall cpu maxrss_mib" to $tmp/NAME.OVERLAP.COLD
run() {
  local name=$1 i=$2 ov=$3 cold=$4 n=$5 t0 t1
  shift 5
  ((cold)) && { sync; dd if="$pair" iflag=nocache count=0 status=none; }
  t0=$EPOCHREALTIME
  H5DIV_OVERLAP=$ov mpirun -q -n "$n" /usr/bin/time -a -o "$tmp/rank" -f '%e %M %U %S' \
    "$h5div" compare "$P" "$Q" --json -v "$@" >"$tmp/out.$name.$ov.$cold.$i" 2>"$tmp/err"
  t1=$EPOCHREALTIME
  local inproc cpu rss
  inproc=$(sed -n 's/.* on [0-9]* ranks* in \([0-9.]*\) s.*/\1/p' "$tmp/err")
  cpu=$(awk '{s += $3 + $4} END {print s}' "$tmp/rank")
  rss=$(awk '{if ($2 > m) m = $2} END {printf "%.0f", m / 1024}' "$tmp/rank")
  rm -f "$tmp/rank"
  printf '%s %s %s %s\n' "$inproc" "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}')" \
    "$cpu" "$rss" >>"$tmp/$name.$ov.$cold"
}

colds=(0)
((COLD)) && colds+=(1)
uptime_before=$(uptime)
for cold in "${colds[@]}"; do
  for c in "${!configs[@]}"; do
    IFS='|' read -r label n opts <<<"${configs[$c]}"
    read -r -a o <<<"$opts"
    printf 'overlap: %s, cold=%s\n' "$label" "$cold" >&2
    for ((i = 1; i <= REPEAT; i++)); do
      # Alternate which goes first, so a change of load hits both alike.
      if ((i % 2)); then order="1 0"; else order="0 1"; fi
      for ov in $order; do run "c$c" "$i" "$ov" "$cold" "$n" "${o[@]}"; done
    done
  done
done
uptime_after=$(uptime)

median() { sort -g | awk '{v[NR] = $1} END {printf "%.3f", v[int((NR + 1) / 2)]}'; }
col() { awk -v k="$2" '{print $k}' "$1"; }
all() { col "$1" "$2" | paste -sd' '; }

cat <<EOF
# h5div reading ahead on and off: compare of ${BINS} float64 bins

- date: $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores; git $(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)
- binary: \`$h5div\`
- input: \`$pair\` ($(du -h "$pair" | cut -f1)), \`${gen_cmd[*]}\`
- load before: \`${uptime_before# }\`
- load after: \`${uptime_after# }\`
- ${REPEAT} runs of each, \`H5DIV_OVERLAP=1\` and \`=0\` alternating (which goes first
  alternates too); "cold": the input evicted before each run with
  \`dd if=FILE iflag=nocache count=0\` (this file only).
- in-process: h5div's \`-v\` time; wall: the whole \`mpirun\`; CPU: user + system of all
  ranks (GNU time); RSS: the largest peak RSS of a rank over the runs.

| run | cache | overlap | in-process s, median | wall s, median | CPU s, median | peak RSS MiB | in-process s, every run |
|---|---|---|---|---|---|---|---|
EOF
same=yes
for cold in "${colds[@]}"; do
  for c in "${!configs[@]}"; do
    IFS='|' read -r label n opts <<<"${configs[$c]}"
    for ov in 1 0; do
      f=$tmp/c$c.$ov.$cold
      printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$label" "$( ((cold)) && echo cold || echo warm)" \
        "$( ((ov)) && echo on || echo off)" "$(col "$f" 1 | median)" "$(col "$f" 2 | median)" \
        "$(col "$f" 3 | median)" "$(col "$f" 4 | sort -g | tail -1)" "$(all "$f" 1)"
    done
    for f in "$tmp"/out.c$c.*; do
      cmp -s "$f" "$tmp/out.c$c.0.0.1" || same=no
    done
  done
done
echo
echo "Same JSON output (bits) in every run of a configuration, overlap on and off: $same"
echo
echo "Command: \`BINS=$BINS REPEAT=$REPEAT COLD=$COLD bash bench/overlap.sh $h5div\`; each run is"
echo "\`H5DIV_OVERLAP=0|1 mpirun -q -n N /usr/bin/time -a -o FILE -f '%e %M %U %S' $h5div compare $P $Q --json -v [OPTIONS]\`."
