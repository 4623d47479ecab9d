#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The bits of h5div compare and entropy with every way of keeping the shard
# (H5DIV_SHARD=stream, keep, 0, 1, 3, 7 pieces, measured) against another build.
# Usage: OLD=/path/h5div-before NEW=/path/h5div bash bench/verify-shard.sh  (about 2 minutes)
cd "$(mktemp -d)" || exit 1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
: "${NEW:?NEW=h5div binary to check}" "${OLD:?OLD=h5div binary before}"
/usr/bin/python3 - <<'PY'
import numpy as np, h5py
r = np.random.default_rng(5)
with h5py.File("v.h5", "w") as f:
    f["P"] = r.random(100000); f["Q"] = r.random(100000)
    f["W1"] = r.integers(2**60, 2**61, 30000, dtype=np.int64); f["W2"] = r.integers(0, 2**62, 30000, dtype=np.int64)
    f["A1"] = r.random((300, 700)); f["A2"] = r.random((300, 700))
    f["S1"] = r.random((5000, 37)); f["S2"] = r.random((5000, 37))
PY
bad=0; runs=0
for pair in "P Q" "W1 W2" "A1 A2" "S1 S2"; do
  read -r a b <<<"$pair"
  for cmd in compare entropy; do
    if [[ $cmd == compare ]]; then args=(compare "v.h5:/$a" "v.h5:/$b"); else args=(entropy "v.h5:/$a"); fi
    for n in 1 3; do
      for ps in 4KiB 64KiB; do
        mpirun -q --oversubscribe -n "$n" "$OLD" "${args[@]}" --json --piece-size "$ps" 2>/dev/null | sed 's/"ranks": *[0-9]*//' > ref.json
        for mode in stream keep 0 1 3 7 measure; do
          mpirun -q --oversubscribe -n "$n" -x "H5DIV_SHARD=$mode" "$NEW" "${args[@]}" --json --piece-size "$ps" 2>/dev/null | sed 's/"ranks": *[0-9]*//' > got.json
          runs=$((runs+1))
          if ! cmp -s ref.json got.json || [[ ! -s got.json ]]; then echo "DIFF: $cmd $pair n=$n ps=$ps mode=$mode"; bad=$((bad+1)); fi
        done
      done
    done
  done
done
echo "verify: $runs runs, $bad differences"
