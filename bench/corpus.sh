#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Bit-for-bit corpus: the outputs of two h5div binaries over the same runs must be identical.
#
# Usage: bash bench/corpus.sh OLD_H5DIV NEW_H5DIV [WORKDIR]
# Runs about 500 invocations of compare, entropy, surprisal and histogram with
# each binary (1-D and 2-D inputs, rows that span ranks on 1-4 ranks, small
# --piece-size and --memory-per-rank, extra measures and Renyi orders, W1/KS
# with and without attached edges, pseudocounts, every entropy estimator,
# 64-bit integers above 2^53, several candidates, error paths) and compares
# stdout, stderr, the exit code and the data and attributes written (paths,
# process names and elapsed_seconds masked). About 5 minutes per binary on
# 2 cores. Exit status 0 when every output is identical, 1 otherwise.
# Environment: PYTHON (default /usr/bin/python3, with numpy and h5py), MPIRUN.
set -euo pipefail

[ $# -ge 2 ] || { echo "usage: $0 OLD_H5DIV NEW_H5DIV [WORKDIR]" >&2; exit 2; }
old=$(realpath "$1")
new=$(realpath "$2")
work=${3:-$(mktemp -d /tmp/h5div-corpus.XXXXXX)}
PYTHON=${PYTHON:-/usr/bin/python3}
MPIRUN=${MPIRUN:-mpirun}
export OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1}
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}
export OMPI_MCA_btl_vader_single_copy_mechanism=${OMPI_MCA_btl_vader_single_copy_mechanism:-none}
mkdir -p "$work"
in=$work/in.h5

# Deterministic inputs.
"$PYTHON" - "$in" <<'PY'
import sys
import h5py
import numpy as np

rng = np.random.default_rng(12)


def hist(shape, dtype="f8"):
    x = rng.integers(1, 2000, size=shape).astype(np.float64)
    x[rng.random(shape) < 0.1] = 0
    return x.astype(dtype)


with h5py.File(sys.argv[1], "w") as f:
    for name, shape in [("a1", (100003,)), ("s", (50, 10)), ("m", (7, 1000)),
                        ("w", (3, 5000)), ("one", (1, 777)), ("t", (40, 300))]:
        for c in "PQRS":
            f.create_dataset(f"{name}/{c}", data=hist(shape))
    f.create_dataset("fr/P", data=rng.random((9, 700)) * 10)
    f.create_dataset("fr/Q", data=rng.random((9, 700)) * 10)
    for c in "PQR":
        x = rng.integers(2**60, 2**62, size=(6, 900), dtype=np.int64)
        x[rng.random((6, 900)) < 0.2] = 0
        x[:, 3] = 1
        f.create_dataset(f"i64/{c}", data=x)
    for c in "PQ":
        f.create_dataset(f"u64/{c}", data=rng.integers(2**55, 2**63 - 1, size=(20001,),
                                                       dtype=np.uint64))
    f.create_dataset("cnt/P", data=rng.poisson(0.8, size=(11, 600)).astype(np.int32))
    f.create_dataset("cnt1/P", data=rng.poisson(1.5, size=(50000,)).astype(np.int16))
    z = hist((5, 400))
    z[3] = 0
    f.create_dataset("zero/P", data=z)
    f.create_dataset("zero/Q", data=hist((5, 400)))
    f.create_dataset("f32/P", data=hist((8, 2100), "f4"))
    f.create_dataset("f32/Q", data=hist((8, 2100), "f4"))
    f.create_dataset("smp/X", data=rng.normal(size=(30000, 3)))
    f.create_dataset("smp/Y", data=rng.normal(0.2, 1.1, size=(25000, 3)))
    f.create_dataset("smp/x1", data=rng.exponential(size=(40000,)))
    f.create_dataset("smp/y1", data=rng.exponential(1.3, size=(40000,)))
    f.create_dataset("smp/wx", data=rng.random(40000))
PY

dump() { # FILE:/OBJ: the bits of its datasets and its attributes but `created`
  "$PYTHON" - "$1" <<'PY'
import hashlib
import sys
import h5py

f, p = sys.argv[1].split(":")
with h5py.File(f, "r") as h:
    def show(name, o):
        if isinstance(o, h5py.Dataset):
            print(name, o.dtype, o.shape, hashlib.sha256(o[()].tobytes()).hexdigest())
        for k in sorted(o.attrs):
            if k != "created":
                print(name, "@", k, o.attrs[k])
    show(p, h[p])
    if isinstance(h[p], h5py.Group):
        h[p].visititems(show)
PY
}

corpus() { # H5DIV OUTDIR
  local b=$1 o=$2 n=0 r g c e
  rm -rf "$o"
  mkdir -p "$o/w"
  out() { printf '%s/%04d.txt' "$o" "$n"; }
  run() { # RANKS ARGS...
    local k=$1
    shift
    n=$((n + 1))
    { echo "## -n $k $*"; nice "$MPIRUN" -n "$k" --oversubscribe "$b" "$@" 2>&1; echo "rc=$?"; } \
      >"$(out)" || true
  }
  local extra=bhattacharyya,chi2_pq,chi2_qp,renyi_pq:0.5,renyi_pq:2,renyi_qp:3,renyi_qp:0.25
  extra=$extra,wasserstein1,ks,kl_pq,js_distance,total_variation
  local -A cand=([a1]="P Q" [s]="P Q R S" [m]="P Q R" [w]="P Q" [one]="P Q R S" [t]="P Q"
                 [fr]="P Q" [i64]="P Q R" [u64]="P Q" [f32]="P Q" [zero]="P Q")
  for g in a1 s m w one t fr i64 u64 f32 zero; do
    local refs=()
    for c in ${cand[$g]}; do refs+=("$in:/$g/$c"); done
    for r in 1 2 3 4; do
      run "$r" compare --json "${refs[@]}"
      run "$r" compare --json --measures "$extra" "${refs[@]}"
      run "$r" compare --json --measures "$extra" --pseudocount 0.5 --piece-size 2KiB \
        --memory-per-rank 24KiB "${refs[@]}"
      run "$r" compare --json -b e --piece-size 4KiB --memory-per-rank 64KiB --bin-width 0.25 \
        --measures entropy_p,kl_qp,wasserstein1,ks,hellinger "${refs[@]}"
    done
  done
  for g in a1/P s/P m/P cnt/P cnt1/P i64/P u64/P fr/P zero/P w/P; do
    for r in 1 2 3 4; do
      run "$r" entropy --json "$in:/$g"
      run "$r" entropy --json --pseudocount 0.25 --piece-size 2KiB --memory-per-rank 24KiB "$in:/$g"
      for e in miller-madow chao-shen shrink dirichlet:0.5; do
        run "$r" entropy --json --estimator "$e" --piece-size 4KiB --memory-per-rank 48KiB -b 10 \
          "$in:/$g"
      done
    done
  done
  for g in a1/P s/P m/P i64/P u64/P zero/P w/P; do
    for r in 1 2 3 4; do
      rm -f "$o/w/s.h5"
      run "$r" surprisal --json "$in:/$g" -o "$o/w/s.h5:/x/s"
      dump "$o/w/s.h5:/x/s" >>"$(out)" 2>&1 || true
      rm -f "$o/w/s.h5"
      run "$r" surprisal --json --pseudocount 1 -b e --piece-size 2KiB --memory-per-rank 24KiB \
        "$in:/$g" -o "$o/w/s.h5:/x/s"
      dump "$o/w/s.h5:/x/s" >>"$(out)" 2>&1 || true
    done
  done
  for r in 1 2 3 4; do
    rm -f "$o/w/h.h5"
    run "$r" histogram --json --bins 20 "$in:/smp/X" "$in:/smp/Y" -o "$o/w/h.h5:/h" \
      --piece-size 4KiB --memory-per-rank 64KiB
    dump "$o/w/h.h5:/h" >>"$(out)" 2>&1 || true
    run "$r" compare --json --measures wasserstein1,ks,kl_pq "$o/w/h.h5:/h/X" "$o/w/h.h5:/h/Y"
    rm -f "$o/w/h.h5"
    run "$r" histogram --json --quantile-bins 16 "$in:/smp/x1" "$in:/smp/y1" -o "$o/w/h.h5:/q"
    dump "$o/w/h.h5:/q" >>"$(out)" 2>&1 || true
    run "$r" compare --json --measures wasserstein1,ks,js_divergence --pseudocount 1 \
      "$o/w/h.h5:/q/x1" "$o/w/h.h5:/q/y1"
    rm -f "$o/w/h.h5"
    run "$r" histogram --json --bins 12 --log --weights "$in:/smp/wx" "$in:/smp/x1" \
      -o "$o/w/h.h5:/l"
    dump "$o/w/h.h5:/l" >>"$(out)" 2>&1 || true
  done
  echo "$n"
}

norm() { # FILE BIN DIR
  sed -e "s#$2#BIN#g" -e "s#$3#OUT#g" -e '/Process name:/d' -e '/elapsed_seconds/d' "$1"
}

echo "corpus: $old" >&2
count=$(corpus "$old" "$work/old")
echo "corpus: $new" >&2
corpus "$new" "$work/new" >/dev/null
bad=0
for f in "$work"/old/*.txt; do
  g=$work/new/$(basename "$f")
  if ! cmp -s <(norm "$f" "$old" "$work/old") <(norm "$g" "$new" "$work/new"); then
    echo "differs: $(head -1 "$f") (see $f and $g)"
    bad=$((bad + 1))
  fi
done
echo "$count runs, $bad outputs differ ($work)"
[ "$bad" -eq 0 ]
