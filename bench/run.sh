#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The h5div benchmark: h5div compare against a raw parallel-HDF5 read of the same bytes and against scipy.
#
# Usage: bash bench/run.sh            (from anywhere; prints a markdown report on stdout)
# Environment:
#   BINS=100000000           bins per histogram (BINS=1000000 for a quick check)
#   H5DIV_BENCH_DIR=/tmp/h5div-bench   where the input pair is generated (kept between runs)
#   GEN_ARGS="--kind near --eps 0.01 --seed 1"   h5div-gen options besides --bins/--dtype
#   REPEAT=3                 runs per h5div/raw-read measurement; the median is reported
#   RANKS="1 2"              rank counts of the main rows
#   LOWMEM=64MiB             --memory-per-rank of the bounded-memory row (at the largest rank count)
#   PYTHON=/usr/bin/python3  interpreter for the scipy comparison (skipped without scipy/h5py)
#   COLD=1                   also measure with a cold page cache (COLD=0: warm only)
#   COLD_METHOD=auto         how the input leaves the page cache before each cold run:
#                            drop (echo 3 > /proc/sys/vm/drop_caches, root; the whole machine),
#                            fadvise (dd iflag=nocache count=0: POSIX_FADV_DONTNEED on the input
#                            file only), auto (drop where permitted, else fadvise)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BINS=${BINS:-100000000}
BENCH_DIR=${H5DIV_BENCH_DIR:-/tmp/h5div-bench}
GEN_ARGS=${GEN_ARGS:---kind near --eps 0.01 --seed 1}
REPEAT=${REPEAT:-3}
read -r -a ranks <<<"${RANKS:-1 2}"
LOWMEM=${LOWMEM:-64MiB}
PYTHON=${PYTHON:-/usr/bin/python3}
COLD=${COLD:-1}
COLD_METHOD=${COLD_METHOD:-auto}
build=$root/build-bench

# Running as root in a container needs these; they change nothing elsewhere.
export OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1}
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}
export OMPI_MCA_btl_vader_single_copy_mechanism=${OMPI_MCA_btl_vader_single_copy_mechanism:-none}

log() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

for tool in cmake mpirun /usr/bin/time; do
  command -v "$tool" >/dev/null || die "$tool not found"
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ---- build ----------------------------------------------------------------
log "building h5div (Release) in $build"
if ! { cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DH5DIV_BUILD_TESTS=OFF &&
       cmake --build "$build" -j 2 --target h5div_cli h5div-gen; } >"$tmp/build.log" 2>&1; then
  cat "$tmp/build.log" >&2
  die "h5div build failed"
fi
log "building rawread in $build/rawread"
if ! { cmake -S "$root/bench" -B "$build/rawread" -DCMAKE_BUILD_TYPE=Release &&
       cmake --build "$build/rawread"; } >"$tmp/build.log" 2>&1; then
  cat "$tmp/build.log" >&2
  die "rawread build failed"
fi
h5div=$build/h5div
gen=$build/h5div-gen
rawread=$build/rawread/rawread

# ---- input ----------------------------------------------------------------
mkdir -p "$BENCH_DIR"
if [[ $BINS == 100000000 ]]; then label=1e8; else label=$BINS; fi
pair=$BENCH_DIR/pair-$label.h5
P=$pair:/reference
Q=$pair:/generated
read -r -a gen_args <<<"$GEN_ARGS"
gen_cmd=("$gen" "$pair" --bins "$BINS" --dtype f64 "${gen_args[@]}")
# The options used are kept next to the file so a change regenerates it.
if [[ ! -s $pair || ! -f $pair.args || $(<"$pair.args") != "${gen_cmd[*]:1}" ]]; then
  log "generating $pair"
  rm -f "$pair" "$pair.args"
  "${gen_cmd[@]}"
  printf '%s\n' "${gen_cmd[*]:1}" >"$pair.args"
fi
sync
# Warm cache on purpose: one untimed read so every timed run finds the file in memory.
log "warm-up read of $pair"
mpirun -q -n 1 "$rawread" "$P" "$Q" >/dev/null

# ---- measurement helpers ----------------------------------------------------
commands=()

# timed NAME I RANKS CMD...: run I of a measurement under mpirun, every rank
# wrapped in /usr/bin/time. Leaves NAME.I.out (stdout), NAME.I.err,
# NAME.I.rank ("seconds maxrss_kib user_s system_s" per rank) and NAME.I.wall (mpirun seconds).
timed() {
  local name=$1 i=$2 n=$3 t0 t1
  shift 3
  ((i == 1)) && commands+=("mpirun -q -n $n $*")
  t0=$EPOCHREALTIME
  mpirun -q -n "$n" /usr/bin/time -a -o "$tmp/$name.$i.rank" -f '%e %M %U %S' "$@" \
    >"$tmp/$name.$i.out" 2>"$tmp/$name.$i.err" ||
    { cat "$tmp/$name.$i.err" >&2; die "failed: mpirun -n $n $*"; }
  t1=$EPOCHREALTIME
  awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f\n", b - a}' >"$tmp/$name.$i.wall"
}

# measure H5DIV_NAME RAW_NAME RANKS [OPTIONS...]: REPEAT runs of h5div compare
# and of rawread with the same options, alternating so that a change of
# load on the machine hits both alike.
measure() {
  local hname=$1 rname=$2 n=$3 i
  shift 3
  for ((i = 1; i <= REPEAT; i++)); do
    timed "$hname" "$i" "$n" "$h5div" compare "$P" "$Q" --json -v "$@"
    timed "$rname" "$i" "$n" "$rawread" "$P" "$Q" "$@"
  done
}

# evict: the input leaves the page cache (COLD_METHOD), so the next read comes
# from the disk. The first call settles "auto" and records how much of the
# file is still resident afterwards (fincore), which shows it worked.
cold_method=
evict() {
  sync
  if [[ -z $cold_method ]]; then
    cold_method=$COLD_METHOD
    if [[ $cold_method == auto ]]; then
      if { echo 3 >/proc/sys/vm/drop_caches; } 2>/dev/null; then cold_method=drop; else cold_method=fadvise; fi
    fi
  fi
  case $cold_method in
    drop) { echo 3 >/proc/sys/vm/drop_caches; } 2>/dev/null || die "cannot write /proc/sys/vm/drop_caches (try COLD_METHOD=fadvise)" ;;
    fadvise) dd if="$pair" iflag=nocache count=0 status=none || die "dd iflag=nocache failed on $pair" ;;
    *) die "COLD_METHOD must be auto, drop or fadvise ($cold_method)" ;;
  esac
  if [[ -z ${resident_after_evict:-} ]]; then
    if command -v fincore >/dev/null; then
      resident_after_evict=$(fincore -n -o RES "$pair" | tr -d ' ')
    else
      resident_after_evict="unknown (no fincore)"
    fi
  fi
}

# measure_cold H5DIV_NAME RAW_NAME RANKS [OPTIONS...]: as measure, with the
# input evicted from the page cache before every run.
measure_cold() {
  local hname=$1 rname=$2 n=$3 i
  shift 3
  for ((i = 1; i <= REPEAT; i++)); do
    evict
    timed "$hname" "$i" "$n" "$h5div" compare "$P" "$Q" --json -v "$@"
    evict
    timed "$rname" "$i" "$n" "$rawread" "$P" "$Q" "$@"
  done
}

# Per-run numbers of measurement NAME, one line per run.
vals_wall() { local i; for ((i = 1; i <= REPEAT; i++)); do cat "$tmp/$1.$i.wall"; done; }
vals_h5div() {
  local i
  for ((i = 1; i <= REPEAT; i++)); do
    sed -n 's/.* on [0-9]* ranks in \([0-9.]*\) s.*/\1/p' "$tmp/$1.$i.err"
  done
}
vals_raw() {
  local i
  for ((i = 1; i <= REPEAT; i++)); do
    sed -n 's/.* seconds=\([0-9.]*\) .*/\1/p' "$tmp/$1.$i.out"
  done
}
# CPU seconds (user + system) of all ranks together: unlike the times above
# it hardly grows when other work competes for the cores.
vals_cpu() {
  local i
  for ((i = 1; i <= REPEAT; i++)); do
    awk '{s += $3 + $4} END {print s}' "$tmp/$1.$i.rank"
  done
}
median() { sort -g | awk '{v[NR] = $1} END {printf "%.3f\n", v[int((NR + 1) / 2)]}'; }
spread() { sort -g | awk 'NR == 1 {a = $1} {b = $1} END {printf "%.2f-%.2f\n", a, b}'; }
# "read once" or "read twice", from rawread's plan (the same as h5div's).
reads() {
  case $(sed -n 's/.* passes=\([0-9]*\) .*/\1/p' "$tmp/$1.1.out") in
    1) echo "read once" ;;
    2) echo "read twice" ;;
    *) echo "?" ;;
  esac
}
# Peak RSS of each rank in MiB, the largest over the runs, e.g. "812, 815".
rss() { cat "$tmp/$1".*.rank | awk '{printf "%.0f\n", $2 / 1024}' | sort -g | tail -n "$2" | paste -sd, | sed 's/,/, /g'; }

calc() { awk "BEGIN {printf \"$1\n\", $2}"; }

# ---- runs -----------------------------------------------------------------
# How fast the machine hands out fresh memory: dd fills one new 256 MiB
# buffer, so its rate is that of first-touch page faults. In some VMs it is
# 100 times slower than rewriting mapped memory, and then every program that
# allocates a big buffer (h5div's read-once cache, numpy's temporaries) pays.
touch_rate=$(dd if=/dev/zero of=/dev/null bs=256M count=1 2>&1 | awk -F', ' 'END {print $NF}')
uptime_before=$(uptime)
first_ranks=${ranks[0]}
max_ranks=0
for n in "${ranks[@]}"; do
  ((n > max_ranks)) && max_ranks=$n
  log "h5div compare and rawread, $n rank(s), $REPEAT run(s) each"
  measure "h5div$n" "raw$n" "$n"
done
log "h5div compare and rawread --memory-per-rank $LOWMEM, $max_ranks ranks, $REPEAT run(s) each"
measure lowmem rawlowmem "$max_ranks" --memory-per-rank "$LOWMEM"

have_scipy=0
if [[ -x $PYTHON ]] && "$PYTHON" -c 'import scipy, h5py, numpy' 2>/dev/null; then
  have_scipy=1
  log "scipy, 1 run"
  scipy_cmd=("$PYTHON" "$root/bench/scipy_compare.py" "$P" "$Q" "$tmp/h5div$max_ranks.1.out")
  commands+=("/usr/bin/time -f '%e %M' ${scipy_cmd[*]:0:4}")
  /usr/bin/time -o "$tmp/scipy.time" -f '%e %M' "${scipy_cmd[@]}" >"$tmp/scipy.out"
fi
if ((COLD)); then
  # Last, so that the warm runs and scipy above find the file in memory.
  commands+=("# cold page cache: the input is evicted before each of the following runs")
  for n in "${ranks[@]}"; do
    log "cold cache: h5div compare and rawread, $n rank(s), $REPEAT run(s) each"
    measure_cold "cold_h5div$n" "cold_raw$n" "$n"
  done
  log "cold cache: h5div compare and rawread --memory-per-rank $LOWMEM, $max_ranks ranks"
  measure_cold cold_lowmem cold_rawlowmem "$max_ranks" --memory-per-rank "$LOWMEM"
fi
uptime_after=$(uptime)

# ---- report -----------------------------------------------------------------
same() {
  # JSON measures printed with 17 significant digits are equal as text
  # exactly when the doubles are equal; "ranks" is allowed to differ.
  if cmp -s <(sed 's/"ranks": *[0-9]*//' "$1") <(sed 's/"ranks": *[0-9]*//' "$2"); then
    echo "yes"
  else
    echo "**no**"
  fi
}

# shellcheck disable=SC2016 # backquotes are markdown here
case ${cold_method:-} in
  drop) cold_desc='drop, `echo 3 > /proc/sys/vm/drop_caches`' ;;
  fadvise) cold_desc='fadvise, `dd if=FILE iflag=nocache count=0`: POSIX_FADV_DONTNEED on the input file' ;;
  *) cold_desc=none ;;
esac
cat <<EOF
# h5div benchmark: compare of ${BINS} float64 bins

- date: $(date -u '+%Y-%m-%d %H:%M UTC')
- CPU: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores; memory $(free -g | awk '/^Mem:/ {print $2}') GiB
- software: $(mpirun --version 2>&1 | head -1); $("$h5div" --version 2>&1 | head -1); HDF5 $(sed -n 's/.* hdf5=\([^ ]*\) .*/\1/p' "$tmp/raw$first_ranks.1.out"); git $(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)
- first touch of fresh memory: ${touch_rate} (\`dd if=/dev/zero of=/dev/null bs=256M count=1\`:
  page faults on a new buffer; a few GB/s on typical hardware)
- load before: \`${uptime_before# }\`
- load after: \`${uptime_after# }\`
- input: \`$pair\` ($(du -h "$pair" | cut -f1)), generated by \`${gen_cmd[*]}\`
- **warm page cache** (first table): one untimed read comes first, so every read is served
  from memory. These are not disk numbers.
- **cold page cache** (second table$( ((COLD)) || printf ', skipped: COLD=0')): before each run the input leaves the page cache
  (method: ${cold_desc}; resident after
  eviction: ${resident_after_evict:-n/a} of $(du -h "$pair" | cut -f1)). A virtual disk may still be cached by the host.
- h5div and raw-read times: median of ${REPEAT} runs each; scipy: a single run.
  "in-process" is h5div's own timer (\`-v\`: open, read, compute, close) and rawread's
  (open, read, close); "wall" is the whole \`mpirun\` (start-up and MPI_Init included).

| run | ranks | h5div s [min-max] | h5div wall s | raw read s [min-max] | h5div bins/s | h5div / raw read | compute ns/bin/core | CPU s h5div / raw | compute CPU ns/bin | peak RSS per rank MiB |
|---|---|---|---|---|---|---|---|---|---|---|
EOF
row() {
  local name=$1 raw=$2 n=$3 what=$4 t w r hc rc
  t=$(vals_h5div "$name" | median)
  w=$(vals_wall "$name" | median)
  r=$(vals_raw "$raw" | median)
  hc=$(vals_cpu "$name" | median)
  rc=$(vals_cpu "$raw" | median)
  printf '| %s | %s | %s [%s] | %s | %s [%s] | %s | %s | %s | %s / %s | %s | %s |\n' \
    "$what" "$n" "$t" "$(vals_h5div "$name" | spread)" "$w" "$r" "$(vals_raw "$raw" | spread)" \
    "$(calc '%.3g' "$BINS / $t")" "$(calc '%.2f' "$t / $r")" \
    "$(calc '%.1f' "($t - $r) * $n * 1e9 / $BINS")" "$hc" "$rc" \
    "$(calc '%.1f' "($hc - $rc) * 1e9 / $BINS")" "$(rss "$name" "$n")"
}
for n in "${ranks[@]}"; do
  row "h5div$n" "raw$n" "$n" "default, 1GiB/rank ($(reads "raw$n"))"
done
row lowmem rawlowmem "$max_ranks" "\`--memory-per-rank $LOWMEM\` ($(reads rawlowmem))"
if ((COLD)); then
  echo
  echo "Cold page cache (input evicted before every run, method: $cold_method):"
  echo
  echo "| run | ranks | h5div s [min-max] | h5div wall s | raw read s [min-max] | h5div bins/s | h5div / raw read | compute ns/bin/core | CPU s h5div / raw | compute CPU ns/bin | peak RSS per rank MiB |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  for n in "${ranks[@]}"; do
    row "cold_h5div$n" "cold_raw$n" "$n" "default, cold ($(reads "cold_raw$n"))"
  done
  row cold_lowmem cold_rawlowmem "$max_ranks" "\`--memory-per-rank $LOWMEM\`, cold ($(reads cold_rawlowmem))"
  echo
  echo "h5div / raw read, warm and cold (medians):"
  for n in "${ranks[@]}"; do
    echo "- default, $n rank(s): warm $(calc '%.2f' "$(vals_h5div "h5div$n" | median) / $(vals_raw "raw$n" | median)"), cold $(calc '%.2f' "$(vals_h5div "cold_h5div$n" | median) / $(vals_raw "cold_raw$n" | median)")"
  done
  echo "- \`--memory-per-rank $LOWMEM\`, $max_ranks ranks: warm $(calc '%.2f' "$(vals_h5div lowmem | median) / $(vals_raw rawlowmem | median)"), cold $(calc '%.2f' "$(vals_h5div cold_lowmem | median) / $(vals_raw cold_rawlowmem | median)")"
fi

echo
echo "Raw-read peak RSS per rank (MiB):"
for n in "${ranks[@]}"; do echo "- $n rank(s): $(rss "raw$n" "$n")"; done
echo "- $max_ranks ranks, $LOWMEM: $(rss rawlowmem "$max_ranks")"
echo
echo "Bit-identical JSON measures:"
echo "- \`--memory-per-rank $LOWMEM\` vs default, $max_ranks ranks: $(same "$tmp/lowmem.1.out" "$tmp/h5div$max_ranks.1.out")"
for n in "${ranks[@]}"; do
  ((n == max_ranks)) && continue
  echo "- $n vs $max_ranks ranks (default): $(same "$tmp/h5div$n.1.out" "$tmp/h5div$max_ranks.1.out")"
done
echo "- across the ${REPEAT} repeats of every h5div run: $(
  ok=yes
  for name in $(for n in "${ranks[@]}"; do echo "h5div$n"; ((COLD)) && echo "cold_h5div$n"; done) lowmem; do
    for ((i = 2; i <= REPEAT; i++)); do
      cmp -s "$tmp/$name.1.out" "$tmp/$name.$i.out" || ok="**no**"
    done
  done
  echo "$ok")"
echo
cat <<'EOF'
"h5div s" and "raw read s" are in-process times (median of the runs, [fastest-slowest]).
"compute ns/bin/core" = (h5div - raw read) x ranks / bins: the time h5div spends on
anything but reading (checks, sums, logarithms, reductions). "CPU s" is user + system
time of all ranks together (median), and "compute CPU ns/bin" = (h5div CPU - raw CPU) / bins:
the same estimate from CPU time, which competing load inflates much less than wall time
(MPI's busy waiting counts as CPU, so it is not exact either).
EOF

echo
if ((have_scipy)); then
  read -r st srss <"$tmp/scipy.time"
  sline=$(head -1 "$tmp/scipy.out")
  sin=$(sed -n 's/.* seconds=\([0-9.]*\) .*/\1/p' <<<"$sline")
  h1=$(vals_h5div "h5div$first_ranks" | median)
  hmax=$(vals_h5div "h5div$max_ranks" | median)
  cat <<EOF
## scipy on the same file (one process)

| | seconds | peak RSS MiB | scipy / h5div ($first_ranks rank) | scipy / h5div ($max_ranks ranks) |
|---|---|---|---|---|
| scipy, read + compute (in-process) | $sin | $(calc '%.0f' "$srss / 1024") | $(calc '%.1f' "$sin / $h1") | $(calc '%.1f' "$sin / $hmax") |
| scipy, whole process (with imports) | $st | | $(calc '%.1f' "$st / $(vals_wall "h5div$first_ranks" | median)") (wall) | $(calc '%.1f' "$st / $(vals_wall "h5div$max_ranks" | median)") (wall) |

\`$sline\`

Values (h5div: the first default run at $max_ranks ranks):

$(tail -n +2 "$tmp/scipy.out")
EOF
else
  echo "scipy: skipped ($PYTHON lacks scipy, h5py or numpy)."
fi

echo
echo "## Commands"
echo
echo '```'
echo "cmake -S $root -B $build -DCMAKE_BUILD_TYPE=Release -DH5DIV_BUILD_TESTS=OFF"
echo "cmake --build $build -j 2 --target h5div_cli h5div-gen"
echo "cmake -S $root/bench -B $build/rawread -DCMAKE_BUILD_TYPE=Release && cmake --build $build/rawread"
echo "${gen_cmd[*]}    # only when missing"
echo "mpirun -q -n 1 $rawread $P $Q    # untimed warm-up"
for c in "${commands[@]}"; do echo "$c"; done
echo '```'
echo
echo "Every mpirun command ran as \`mpirun -q -n N /usr/bin/time -a -o FILE -f '%e %M %U %S' PROGRAM ...\`"
echo "(per-rank peak RSS), with OMPI_MCA_btl_vader_single_copy_mechanism=$OMPI_MCA_btl_vader_single_copy_mechanism."
echo
echo "rawread lines (run 1):"
echo
for f in "$tmp"/raw*.1.out; do echo "    $(cat "$f")"; done
