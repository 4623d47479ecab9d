# SPDX-License-Identifier: BSD-3-Clause
"""The compare measures of h5div computed with h5py + numpy/scipy, one process, for the benchmark.

Usage: /usr/bin/python3 scipy_compare.py FILE:/P FILE:/Q [H5DIV_JSON_FILE]
Prints one key=value line with its wall time (reading included, Python's
start-up and imports not, except in seconds_with_imports) and peak RSS, then
the measures, or with H5DIV_JSON_FILE (output of `h5div compare --json`) a
markdown table of both next to each other.
"""
import json
import math
import resource
import sys
import time

t_start = time.perf_counter()
import h5py  # noqa: E402
import numpy as np  # noqa: E402
import scipy  # noqa: E402
from scipy.spatial.distance import jensenshannon  # noqa: E402
from scipy.special import xlogy  # noqa: E402
from scipy.stats import entropy  # noqa: E402


def split_ref(ref):
    """FILE:/path split at the last ':' followed by '/', as h5div does."""
    i = ref.rfind(":/")
    if i <= 0:
        sys.exit(f"scipy_compare: expected FILE:/dataset, got {ref!r}")
    return ref[:i], ref[i + 1:]


def load(ref):
    name, path = split_ref(ref)
    with h5py.File(name, "r") as f:
        return f[path][...].astype(np.float64, copy=False)


def as_float(v):
    return float(v) if not isinstance(v, str) else float(v.replace("inf", "Infinity"))


def agreement(m, h5div_json):
    """A markdown table of scipy's values next to h5div's."""
    with open(h5div_json) as f:
        h = json.load(f)["measures"]
    rows = ["| measure | h5div | scipy | relative difference |", "|---|---|---|---|"]
    for k, v in m.items():
        if k not in h:
            continue
        a, b = as_float(h[k]), float(v)
        if a == b:
            rel = "0"
        elif math.isfinite(a) and math.isfinite(b):
            rel = f"{abs(a - b) / max(abs(a), abs(b)):.1e}"
        else:
            rel = "differ"
        rows.append(f"| {k} | {a!r} | {b!r} | {rel} |")
    return "\n".join(rows)


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: scipy_compare.py FILE:/P FILE:/Q [H5DIV_JSON_FILE]")
    t0 = time.perf_counter()
    P = load(sys.argv[1])
    Q = load(sys.argv[2])
    t_read = time.perf_counter() - t0
    p = P / P.sum()
    q = Q / Q.sum()
    ln2 = math.log(2)
    # Base 2 throughout, h5div's default. scipy's entropy() and
    # jensenshannon() renormalise their inputs again; that is part of its cost.
    m = {
        "entropy_p": entropy(p, base=2),
        "entropy_q": entropy(q, base=2),
        "cross_entropy_pq": -np.sum(xlogy(p, q)) / ln2,
        "cross_entropy_qp": -np.sum(xlogy(q, p)) / ln2,
        "kl_pq": entropy(p, q, base=2),
        "kl_qp": entropy(q, p, base=2),
    }
    js = jensenshannon(p, q, base=2)
    m["js_divergence"] = js * js
    m["js_distance"] = js
    m["total_variation"] = 0.5 * np.sum(np.abs(p - q))
    m["hellinger"] = math.sqrt(max(0.0, 1.0 - float(np.sum(np.sqrt(p * q)))))
    t_all = time.perf_counter() - t0
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    # One key=value line (like rawread's), then the values.
    print(f"scipy_compare bins={P.size} scipy={scipy.__version__} numpy={np.__version__} "
          f"read_s={t_read:.6f} seconds={t_all:.6f} "
          f"seconds_with_imports={time.perf_counter() - t_start:.6f} peak_rss_mib={rss_mib:.0f}")
    if len(sys.argv) == 4:
        print(agreement(m, sys.argv[3]))
    else:
        for k, v in m.items():
            print(f"{k} {float(v)!r}")


if __name__ == "__main__":
    main()
