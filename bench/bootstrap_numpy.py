# SPDX-License-Identifier: BSD-3-Clause
"""The Poisson bootstrap of `h5div compare --bootstrap B` done with numpy + scipy, for bench/bootstrap.sh.

Usage (/usr/bin/python3):
  bootstrap_numpy.py gen OUT.h5 BINS MEAN SEED
      write /reference and /generated, int64 counts: P_i ~ Poisson(MEAN),
      Q_i ~ Poisson(MEAN (1 + 0.05 sin(2 pi i / 1000)))
  bootstrap_numpy.py draw FILE:/P FILE:/Q OUT.h5 SEED
      draw one replicate pair (P*_i ~ Poisson(P_i), Q*_i ~ Poisson(Q_i)) and
      write it to OUT.h5 as /reference and /generated: what "B separate runs"
      must do B times before running h5div on each pair
  bootstrap_numpy.py boot FILE:/P FILE:/Q REPS B SEED [H5DIV_RESULT.h5[:/group]]
      REPS replicates of the bootstrap, timed, and the time extrapolated to
      B replicates; the standard error and the 95% percentile interval of
      each of the ten default measures from the REPS replicates; with
      H5DIV_RESULT (written by `h5div compare --bootstrap B -o ... --keep-replicates`)
      a markdown table comparing the two in distribution

Each mode prints one key=value line first (times in seconds: Python's
start-up and imports not included; read_s is the h5py read).

The scheme is h5div's (README, `--bootstrap`), with numpy's own generator:
replicate r draws from numpy.random.Generator(numpy.random.Philox(
SeedSequence([SEED, r]))), both inputs bin by bin, P* first; every
replicate is normalised by its own totals and evaluated in base 2, as
h5div's defaults (CONTRACT.md): entropy with scipy.special.entr, cross
entropies with xlogy, KL with rel_entr, JS with
scipy.spatial.distance.jensenshannon; standard error with ddof = 1 and the
interval with numpy.quantile (h5div's definition).
"""
import json
import math
import resource
import sys
import time

import h5py
import numpy as np
import scipy
from scipy.spatial.distance import jensenshannon
from scipy.special import entr, rel_entr, xlogy

MEASURES = ("entropy_p", "entropy_q", "cross_entropy_pq", "cross_entropy_qp", "kl_pq", "kl_qp",
            "js_divergence", "js_distance", "total_variation", "hellinger")
LN2 = math.log(2.0)


def split_ref(ref):
    """FILE:/path split at the last ':' followed by '/', as h5div does."""
    i = ref.rfind(":/")
    if i <= 0:
        sys.exit(f"bootstrap_numpy: expected FILE:/dataset, got {ref!r}")
    return ref[:i], ref[i + 1:]


def load(ref):
    name, path = split_ref(ref)
    with h5py.File(name, "r") as f:
        return f[path][...]


def rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def measures(P, Q):
    """The ten default measures of h5div compare, base 2, of counts P and Q."""
    p = P / P.sum()
    q = Q / Q.sum()
    js = jensenshannon(p, q, base=2)  # renormalises again: part of its cost
    return {
        "entropy_p": entr(p).sum() / LN2,
        "entropy_q": entr(q).sum() / LN2,
        "cross_entropy_pq": -xlogy(p, q).sum() / LN2,
        "cross_entropy_qp": -xlogy(q, p).sum() / LN2,
        "kl_pq": rel_entr(p, q).sum() / LN2,
        "kl_qp": rel_entr(q, p).sum() / LN2,
        "js_divergence": js * js,
        "js_distance": js,
        "total_variation": 0.5 * np.abs(p - q).sum(),
        "hellinger": math.sqrt(max(0.0, 1.0 - float(np.sqrt(p * q).sum()))),
    }


def replicate_rng(seed, r):
    return np.random.Generator(np.random.Philox(np.random.SeedSequence([seed, r])))


def gen(out, bins, mean, seed):
    t0 = time.perf_counter()
    rng = np.random.Generator(np.random.Philox(seed))
    i = np.arange(bins)
    P = rng.poisson(mean, bins)
    Q = rng.poisson(mean * (1.0 + 0.05 * np.sin(2.0 * np.pi * i / 1000.0)))
    with h5py.File(out, "w") as f:
        f.create_dataset("reference", data=P.astype("<i8"))
        f.create_dataset("generated", data=Q.astype("<i8"))
    print(f"gen bins={bins} mean={mean} seed={seed} min_p={P.min()} min_q={Q.min()} "
          f"seconds={time.perf_counter() - t0:.6f}")


def draw(pref, qref, out, seed):
    t0 = time.perf_counter()
    P = load(pref)
    Q = load(qref)
    t_read = time.perf_counter() - t0
    rng = replicate_rng(seed, 0)
    Ps = rng.poisson(P)
    Qs = rng.poisson(Q)
    t_draw = time.perf_counter() - t0 - t_read
    with h5py.File(out, "w") as f:
        f.create_dataset("reference", data=Ps)
        f.create_dataset("generated", data=Qs)
    t_all = time.perf_counter() - t0
    print(f"draw bins={P.size} read_s={t_read:.6f} draw_s={t_draw:.6f} "
          f"write_s={t_all - t_read - t_draw:.6f} seconds={t_all:.6f} peak_rss_mib={rss_mib():.0f}")


def h5div_replicates(spec):
    """The kept replicates of each measure of an h5div result group."""
    i = spec.rfind(":/")
    name, group = (spec[:i], spec[i + 1:]) if i > 0 else (spec, "/h5div")
    with h5py.File(name, "r") as f:
        g = f[group]
        return {k: np.asarray(g[k + "_replicates"][...], dtype=np.float64).reshape(-1)
                for k in MEASURES}


def compare_table(mine, theirs, reps):
    """Markdown: h5div's replicates (B) against numpy's (REPS) in mean and standard error.

    The Monte-Carlo error of a mean of n replicates is se / sqrt(n), that of
    a standard error about se / sqrt(2 (n - 1)) (normal replicates); z is
    the difference over the two errors combined.
    """
    rows = ["| measure | h5div mean (B) | numpy mean (REPS) | z | h5div se (B) | numpy se (REPS) | "
            "se ratio numpy/h5div | z |", "|---|---|---|---|---|---|---|---|"]
    worst = 0.0
    for k in MEASURES:
        a, b = theirs[k], mine[k]
        na, nb = a.size, b.size
        ma, mb = a.mean(), b.mean()
        sa, sb = a.std(ddof=1), b.std(ddof=1)
        s = max(sa, sb)
        zm = (mb - ma) / (s * math.sqrt(1.0 / na + 1.0 / nb)) if s > 0 else 0.0
        zs = (sb - sa) / (s * math.sqrt(0.5 / (na - 1) + 0.5 / (nb - 1))) if s > 0 else 0.0
        worst = max(worst, abs(zm), abs(zs))
        rows.append(f"| {k} | {ma:.10g} | {mb:.10g} | {zm:+.2f} | {sa:.4g} | {sb:.4g} | "
                    f"{sb / sa if sa > 0 else float('nan'):.3f} | {zs:+.2f} |")
    return "\n".join(rows), worst


def boot(pref, qref, reps, B, seed, h5div_result=None):
    t0 = time.perf_counter()
    # Converted once: poisson() would convert the int64 counts on every call.
    P = load(pref).astype(np.float64)
    Q = load(qref).astype(np.float64)
    t_read = time.perf_counter() - t0
    vals = {k: np.empty(reps) for k in MEASURES}
    t_draw = 0.0
    t_eval = 0.0
    for r in range(reps):
        t1 = time.perf_counter()
        rng = replicate_rng(seed, r)
        Ps = rng.poisson(P)
        Qs = rng.poisson(Q)
        t2 = time.perf_counter()
        m = measures(Ps, Qs)
        for k in MEASURES:
            vals[k][r] = m[k]
        t3 = time.perf_counter()
        t_draw += t2 - t1
        t_eval += t3 - t2
    t_reps = time.perf_counter() - t0 - t_read
    per = t_reps / reps
    # What B replicates take: the read once, B replicates at the measured
    # rate, the value of the measures on the data itself, and the summary.
    t1 = time.perf_counter()
    measures(P, Q)
    t_value = time.perf_counter() - t1
    t1 = time.perf_counter()
    se = {k: float(np.std(vals[k], ddof=1)) for k in MEASURES}
    ci = {k: [float(x) for x in np.quantile(vals[k], [0.025, 0.975])] for k in MEASURES}
    t_summary = time.perf_counter() - t1
    est = t_read + B * per + t_value + t_summary
    print(f"boot bins={P.size} reps={reps} B={B} scipy={scipy.__version__} numpy={np.__version__} "
          f"read_s={t_read:.6f} draw_s_per_rep={t_draw / reps:.6f} eval_s_per_rep={t_eval / reps:.6f} "
          f"s_per_rep={per:.6f} seconds_reps={t_reps:.6f} value_s={t_value:.6f} "
          f"estimated_seconds_B={est:.3f} peak_rss_mib={rss_mib():.0f}")
    print(json.dumps({"se": se, "ci": ci}))
    if h5div_result:
        table, worst = compare_table(vals, h5div_replicates(h5div_result), reps)
        print(table)
        print(f"largest |z| = {worst:.2f}")


def main():
    a = sys.argv[1:]
    if a and a[0] == "gen" and len(a) == 5:
        gen(a[1], int(a[2]), float(a[3]), int(a[4]))
    elif a and a[0] == "draw" and len(a) == 5:
        draw(a[1], a[2], a[3], int(a[4]))
    elif a and a[0] == "boot" and len(a) in (6, 7):
        boot(a[1], a[2], int(a[3]), int(a[4]), int(a[5]), a[6] if len(a) == 7 else None)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
