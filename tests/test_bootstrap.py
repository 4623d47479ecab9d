# SPDX-License-Identifier: BSD-3-Clause
"""The resampling core of --bootstrap and --null (src/core/resample.c),
through tests/unit/resample_draws, against scipy, numpy and mpmath.

Cases:
  keys          the same bits for a bin's draw whatever piece size, piece
                order, output type or entry point computes it; another seed,
                stream, replicate or input gives other draws.
  poisson_fit   draws of 40,000 keys per mean, means 0 to 2^63 + 1 (every
                method and both sides of each switch: the CDF tables of
                integer means 1 to 1024, inversion of other means below 10,
                PTRS to 2^31, the Cornish-Fisher normal quantile above):
                chi-square goodness of fit against scipy.stats.poisson (and
                the same draws against a mean 0.1 sd away must fail), and
                the sample mean and variance within 5 Monte-Carlo standard
                errors.
  poisson_table the CDF tables of integer means 1, 7, 100 and 1024 with
                400,000 draws each: chi-square with every value expecting 20
                or more as its own cell, against scipy.stats.poisson.
  tables        every CDF table (means 1 to 1024) against 30-digit mpmath:
                each value's probability within 4e-15, the values left out
                below 2^-63 on each side.
  null          the pooled null: per-bin means A (P + Q) / (A + B) and
                B (P + Q) / (A + B), replicate totals A and B, P* and Q*
                uncorrelated, a bin's P* Poisson by chi-square.
  summaries     standard error against mpmath at 50 digits, quantiles and
                intervals against numpy.quantile to the bit, p-values against
                the exact count, all the same for shuffled replicates.

The seeds are fixed, so each verdict is the same on every run (the chi-square
thresholds p > 1e-4 are not flaky). About 3 s in all.

The program's path comes from the environment, H5DIV_RESAMPLE_DRAWS (set by
tests/CMakeLists.txt).
"""

import bisect
import os
import random
import subprocess
import sys
from fractions import Fraction

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import h5div_testlib as tl  # noqa: E402

import numpy as np  # noqa: E402

CHI2_PMIN = 1e-4
N_DRAWS = 40000
LAMBDAS = ["0", "0.001", "0.5", "1", "3", "9.99", "10", "10.5", "30", "100", "1024", "1025",
           "10000", "1000000000", "2147483648", "3221225472", str(2**60), str(2**63 + 1)]


def prog(ctx):
    exe = os.environ.get("H5DIV_RESAMPLE_DRAWS")
    if not exe or not os.path.exists(exe):
        raise tl.Fatal("H5DIV_RESAMPLE_DRAWS does not name the resample_draws program")
    return exe


def run(ctx, *args, stdin=None, timeout=60):
    argv = [prog(ctx)] + [str(a) for a in args]
    if stdin is None:
        res = ctx.run(argv, timeout=timeout)
    else:
        p = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout)
        res = tl.Result(argv, p.returncode, p.stdout, p.stderr, 0.0, False, False)
    if res.rc != 0:
        raise tl.Fatal("resample_draws failed:\n" + res.describe())
    return res.out


def draws(ctx, lam, n=N_DRAWS, seed=20261202, stream=0, rep=0, inp=0, first=0, piece=None,
          order="fwd", fmt="u64"):
    out = run(ctx, "poisson", seed, stream, rep, inp, first, n, lam, piece or n, order, fmt)
    if fmt == "u64":
        return [int(t) for t in out.split()]
    vals = []
    for line in out.splitlines():
        hi, lo = (float.fromhex(t) for t in line.split())
        vals.append(int(hi) + int(lo))  # exact: hi an integer-valued double, lo the remainder
    return vals


def exact_lambda(lam):
    return Fraction(int(lam)) if lam.isdigit() else Fraction(float(lam))


# -- keys -------------------------------------------------------------------

def case_keys(ctx):
    n = 2000
    for lam in ["0.5", "3", "30", "10000", "1000000000", "3221225472", str(2**60), str(2**63 + 1)]:
        base = draws(ctx, lam, n=n, first=123456789, rep=5, inp=2)
        for piece, order in [(1, "fwd"), (7, "rev"), (7, "odd-even"), (333, "odd-even"),
                             (1999, "rev")]:
            got = draws(ctx, lam, n=n, first=123456789, rep=5, inp=2, piece=piece, order=order)
            ctx.check(got == base, f"lambda {lam}: pieces of {piece} in order {order} give the "
                      f"same draws as one piece")
        got = draws(ctx, lam, n=n, first=123456789, rep=5, inp=2, piece=97, fmt="f64")
        ctx.check(got == base, f"lambda {lam}: the double output (value + remainder) is the "
                  f"uint64 draw exactly")
        # A window of the same bins drawn alone, and single draws.
        sub = draws(ctx, lam, n=50, first=123456789 + 1000, rep=5, inp=2)
        ctx.check(sub == base[1000:1050], f"lambda {lam}: bins 1000..1049 drawn alone")
        for b in (0, 17, 1999):
            one = int(run(ctx, "single", 20261202, 0, 5, 2, 123456789 + b, lam))
            ctx.check(one == base[b], f"lambda {lam}: h5div_rs_poisson1 of bin {b}")
        reps = [int(t) for t in run(ctx, "reps", 20261202, 0, 2, 123456789 + 3, 8, lam).split()]
        ctx.check(reps[5] == base[3], f"lambda {lam}: replicate 5 of bin 3 through the reps loop")
        # Other keys: other draws (for lambda >= 3 nearly every draw differs).
        for what, kw in [("seed", dict(seed=20261203)), ("stream", dict(stream=1)),
                         ("replicate", dict(rep=6)), ("input", dict(inp=3)),
                         ("first bin", dict(first=123456790))]:
            kw = dict(dict(rep=5, inp=2, first=123456789), **kw)
            other = draws(ctx, lam, n=n, **kw)
            same = sum(a == b for a, b in zip(other, base))
            # Two independent Poisson(0.5) draws agree with probability 0.45.
            limit = 0.55 * n if lam == "0.5" else 0.2 * n
            ctx.check(same < limit, f"lambda {lam}: another {what} changes the draws "
                      f"({same} of {n} equal)")
    zeros = draws(ctx, "0", n=1000)
    ctx.check(zeros == [0] * 1000, "lambda 0 gives 0")


# -- poisson_fit ----------------------------------------------------------------

def chi2_fit(ctx, x, lam, what, expect_fit=True):
    """Chi-square goodness of fit of the integer draws x to Poisson(lam),
    over cells cut at scipy's Poisson quantiles (expected >= 20 each)."""
    from scipy import stats
    lamf = float(lam)
    n = len(x)
    if lamf < 1000:
        cuts = sorted(set(int(c) for c in stats.poisson.ppf(np.linspace(0, 1, 41)[1:-1], lamf)))
    else:
        # scipy's Poisson ppf goes wrong near 2^60 (its quantiles come out of
        # order), its CDF does not in the body: cut at lambda + sqrt(lambda) z
        # for 20 normal quantiles z (|z| <= 1.65), exactly in integers.
        L = exact_lambda(lam)
        s = float(L) ** 0.5
        cuts = sorted(set(int(L + Fraction(s * z)) for z in stats.norm.ppf(np.arange(1, 20) / 20)))
    # Cells (-inf, c0], (c0, c1], ..., (c_last, inf); probabilities from the CDF.
    cdf = [float(stats.poisson.cdf(float(c), lamf)) for c in cuts]
    probs = [cdf[0]] + [b - a for a, b in zip(cdf, cdf[1:])] + [1.0 - cdf[-1]]
    # Merge cells with fewer than 20 expected into their neighbour.
    cells, exp = [], []
    for c, pr in zip(cuts + [None], probs):
        if exp and exp[-1] < 20:
            exp[-1] += pr * n
            cells[-1] = c
        else:
            exp.append(pr * n)
            cells.append(c)
    if len(exp) > 1 and exp[-1] < 20:
        exp[-2] += exp.pop()
        cells.pop(-2)
    obs = [0] * len(exp)
    bounds = cells[:-1]
    for v in x:
        obs[bisect.bisect_left(bounds, v)] += 1
    if len(exp) < 2:
        ctx.check(all(o == n for o in obs), f"{what}: one cell")
        return 1.0
    exp = np.array(exp) * (n / sum(exp))
    chi2, p = stats.chisquare(obs, exp)
    ctx.note(f"{what}: chi2 {chi2:.1f} on {len(exp) - 1} df, p = {p:.3g}")
    if expect_fit:
        ctx.check(p > CHI2_PMIN, f"{what}: Poisson fit p = {p:.3g} (chi2 {chi2:.1f}, "
                  f"{len(exp) - 1} df; observed {obs}, expected {[round(e, 1) for e in exp]})")
    return p


def case_poisson_fit(ctx):
    for i, lam in enumerate(LAMBDAS):
        # Keys vary in bin and replicate: four replicates of 10,000 bins, other
        # bins for each mean (draws of one key for two means are dependent).
        x = []
        for rep in range(4):
            x += draws(ctx, lam, n=N_DRAWS // 4, rep=rep, first=10**12 + 10**6 * i)
        L = exact_lambda(lam)
        if L == 0:
            ctx.check(all(v == 0 for v in x), "lambda 0: every draw 0")
            continue
        n = len(x)
        mean = Fraction(sum(x), n)
        var = (Fraction(sum(v * v for v in x)) - Fraction(sum(x)) ** 2 / n) / (n - 1)
        se_mean = float(L / n) ** 0.5
        se_var = float((L + 2 * L * L) / n) ** 0.5
        dm, dv = float(mean - L), float(var - L)
        ctx.check(abs(dm) <= 5 * se_mean, f"lambda {lam}: mean - lambda = {dm:.4g}, "
                  f"Monte-Carlo error {se_mean:.3g}")
        ctx.check(abs(dv) <= 5 * se_var, f"lambda {lam}: variance - lambda = {dv:.4g}, "
                  f"Monte-Carlo error {se_var:.3g}")
        chi2_fit(ctx, x, lam, f"lambda {lam}")
        if lam in ("3", "30", "100", "1024", "1000000000"):
            # The fit has power: the same draws against a mean 0.1 sd away fail.
            wrong = repr(float(lam) + 0.1 * float(lam) ** 0.5)
            p = chi2_fit(ctx, x, wrong, f"lambda {lam} against {wrong}", expect_fit=False)
            ctx.check(p < CHI2_PMIN, f"lambda {lam}: the fit against {wrong} fails (p = {p:.3g})")


def case_poisson_table(ctx):
    """The CDF tables of integer means, at ten times the draws of
    poisson_fit: every value its own chi-square cell where it expects 20 or
    more, also the tails' (merged), and the first two moments."""
    from scipy import stats
    for i, lam in enumerate(["1", "7", "100", "1024"]):
        m = int(lam)
        x = []
        for rep in range(10):
            x += draws(ctx, lam, n=N_DRAWS, rep=rep, first=3 * 10**12 + 10**7 * i, piece=4097)
        n = len(x)
        counts = np.bincount(np.array(x), minlength=m + 50 * int(m ** 0.5) + 50)
        pmf = stats.poisson.pmf(np.arange(len(counts)), m)
        # Cells: single values expecting >= 20, the tails merged into their neighbours.
        obs, exp = [], []
        lo = int(np.argmax(pmf * n >= 20))
        hi = len(pmf) - int(np.argmax(pmf[::-1] * n >= 20))
        obs.append(counts[:lo + 1].sum())
        exp.append(stats.poisson.cdf(lo, m) * n)
        for k in range(lo + 1, hi - 1):
            obs.append(counts[k])
            exp.append(pmf[k] * n)
        obs.append(counts[hi - 1:].sum())
        exp.append(stats.poisson.sf(hi - 2, m) * n)
        exp = np.array(exp) * (n / sum(exp))
        chi2, p = stats.chisquare(obs, exp)
        ctx.note(f"table of mean {m}: chi2 {chi2:.1f} on {len(exp) - 1} df, p = {p:.3g} "
                 f"({n} draws, values {min(x)} to {max(x)})")
        ctx.check(p > CHI2_PMIN, f"table of mean {m}: Poisson fit p = {p:.3g}")
        mean = sum(x) / n
        var = sum((v - mean) ** 2 for v in x) / (n - 1)
        ctx.check(abs(mean - m) <= 5 * (m / n) ** 0.5, f"table of mean {m}: mean {mean}")
        ctx.check(abs(var - m) <= 5 * ((m + 2 * m * m) / n) ** 0.5,
                  f"table of mean {m}: variance {var}")


def case_tables(ctx):
    """Every CDF table (means 1 to 1024) against 30-digit mpmath: the
    probability a table gives each value, (T[i] - T[i-1]) / 2^64, within
    4e-15 of the Poisson probability (the computed probabilities' total is 1
    to about 1e-15 and the value where the table's two halves meet takes
    the difference; each threshold is rounded to 2^-64), and the values a
    table leaves out of probability below 2^-63 on each side."""
    import mpmath as mp
    mp.mp.dps = 30
    out = run(ctx, "table", 1, 1024, timeout=120)
    worst, count = 0.0, 0
    for line in out.splitlines():
        f = [int(t) for t in line.split()]
        m, k0, n, thr = f[0], f[1], f[2], f[3:]
        if not ctx.check(len(thr) == n - 1 and all(a <= b for a, b in zip(thr, thr[1:])),
                         f"table {m}: {n - 1} ascending thresholds"):
            continue
        edges = [0] + thr + [2**64]
        got = [(b - a) / 2.0**64 for a, b in zip(edges, edges[1:])]
        p = mp.exp(-m + k0 * mp.log(m) - mp.loggamma(k0 + 1))
        below = mp.gammainc(k0, m, regularized=True) if k0 else mp.mpf(0)  # P(X < k0)
        dev = []
        for i, k in enumerate(range(k0, k0 + n)):
            dev.append(abs(got[i] - float(p)))
            p = p * m / (k + 1)
        above = mp.gammainc(k0 + n, 0, m, regularized=True)  # P(X >= k0 + n)
        i = int(np.argmax(dev))
        worst = max(worst, dev[i])
        count += n
        ctx.check(dev[i] <= 4e-15 and below < 2.0**-63 and above < 2.0**-63,
                  f"table {m}: values {k0}..{k0 + n - 1}, largest deviation {dev[i]:.3g} "
                  f"(at {k0 + i}), left out {float(below):.3g} below and {float(above):.3g} above")
    ctx.check(count > 0, "tables printed")
    ctx.note(f"tables 1..1024: {count} values, largest deviation from mpmath {worst:.3g}")


# -- null -----------------------------------------------------------------------

def case_null(ctx):
    P = [10, 0, 3, 50, 1000, 7, 0]
    Q = [20, 5, 0, 70, 900, 0, 0]
    A, B = sum(P), sum(Q)
    R = 4000
    out = run(ctx, "null", 4242, R, 1000, A, B, ",".join(map(str, P)), ",".join(map(str, Q)))
    rows = [[int(float(t)) for t in line.split()] for line in out.splitlines()]
    ctx.check(len(rows) == R and all(len(r) == 2 * len(P) for r in rows), "null: R rows of P*, Q*")
    ps = np.array([r[:len(P)] for r in rows], dtype=float)
    qs = np.array([r[len(P):] for r in rows], dtype=float)
    for i in range(len(P)):
        for name, arr, tot in (("P*", ps, A), ("Q*", qs, B)):
            lam = (P[i] + Q[i]) * (tot / (A + B))  # as h5div_rs_null computes it
            m = arr[:, i].mean()
            tol = 5 * (lam / R) ** 0.5
            ctx.check(abs(m - lam) <= tol, f"null: mean of {name} in bin {i} = {m:.4f}, "
                      f"want {lam:.4f} +- {tol:.3g}")
            if lam == 0:
                ctx.check(not arr[:, i].any(), f"null: {name} of an empty pooled bin is 0")
    for name, arr, tot in (("P*", ps, A), ("Q*", qs, B)):
        m = arr.sum(axis=1).mean()
        tol = 5 * (tot / R) ** 0.5
        ctx.check(abs(m - tot) <= tol, f"null: mean total of {name} = {m:.3f}, want {tot}")
    for i in (0, 3, 4):
        r = np.corrcoef(ps[:, i], qs[:, i])[0, 1]
        ctx.check(abs(r) < 5 / R ** 0.5, f"null: P* and Q* of bin {i} uncorrelated (r = {r:.4f})")
    lam3 = (P[3] + Q[3]) * (A / (A + B))
    chi2_fit(ctx, [int(v) for v in ps[:, 3]], repr(lam3), f"null: P* of bin 3 (mean {lam3:.3f})")
    # The null stream is not the bootstrap stream: bin 1004's P* in replicate 0
    # against the bootstrap draw of the same mean and key.
    lam4 = repr((P[4] + Q[4]) * (A / (A + B)))
    boot = draws(ctx, lam4, n=1, first=1004, rep=0, inp=0, seed=4242)
    same_stream = draws(ctx, lam4, n=1, first=1004, rep=0, inp=0, stream=1, seed=4242)
    ctx.check(same_stream[0] == int(ps[0, 4]), "null: P* is the stream-1 draw of the pooled mean")
    ctx.check(boot != same_stream, "null: the bootstrap stream draws differently")


# -- summaries --------------------------------------------------------------------

def summary(ctx, x, level, t, qs):
    text = "".join(f"{float(v).hex()}\n" for v in x)
    out = run(ctx, "summary", repr(level), repr(t), ",".join(repr(q) for q in qs), stdin=text)
    got = {"q": []}
    for line in out.splitlines():
        f = line.split()
        if f[0] == "se":
            got["se"] = float.fromhex(f[1])
        elif f[0] == "ci":
            got["ci_rc"] = int(f[1])
            got["ci"] = (float.fromhex(f[2]), float.fromhex(f[3]))
        elif f[0] == "p":
            got["p"] = float.fromhex(f[1])
        else:
            got["q"].append(float.fromhex(f[1]))
    return got


def case_summaries(ctx):
    import mpmath as mp
    mp.mp.dps = 50
    rng = random.Random(7)
    qs = [0.0, 0.005, 0.025, 0.05, 0.1587, 0.5, 0.8413, 0.95, 0.975, 0.995, 1.0]
    sets = []
    for n in (1, 2, 3, 10, 199, 1000):
        sets.append([rng.gauss(0.3, 0.05) for _ in range(n)])
    sets.append([round(rng.expovariate(2.0), 2) for _ in range(400)])  # ties
    sets.append([1e12 + rng.random() * 1e-3 for _ in range(500)])    # cancellation
    sets.append([rng.choice([0.0, 1.0, 2.5]) for _ in range(37)])
    for k, x in enumerate(sets):
        n = len(x)
        for level in (0.95, 0.9, 0.6827):
            t = x[n // 2] if k % 2 else 0.31
            got = summary(ctx, x, level, t, qs)
            arr = np.array(x)
            want_q = [float(np.quantile(arr, q)) for q in qs]
            ctx.check(all(tl.same_bits(a, b) for a, b in zip(got["q"], want_q)),
                      f"set {k} (n {n}): quantiles {got['q']} are numpy's {want_q}")
            want_ci = tuple(float(v) for v in np.quantile(arr, [(1 - level) / 2, (1 + level) / 2]))
            ctx.check(got["ci_rc"] == 0 and all(tl.same_bits(a, b) for a, b in zip(got["ci"], want_ci)),
                      f"set {k} (n {n}) level {level}: interval {got['ci']}, numpy {want_ci}")
            want_p = (1 + sum(v >= t for v in x)) / (n + 1)
            ctx.check(tl.same_bits(got["p"], want_p), f"set {k}: p-value {got['p']}, want {want_p}")
            if n >= 2:
                xs = [mp.mpf(v) for v in x]
                m = mp.fsum(xs) / n
                want_se = float(mp.sqrt(mp.fsum((v - m) ** 2 for v in xs) / (n - 1)))
                ok = abs(got["se"] - want_se) <= 4e-16 * want_se
                ctx.check(ok, f"set {k} (n {n}): se {got['se']!r}, mpmath {want_se!r}")
            else:
                ctx.check(got["se"] != got["se"], f"set {k}: se of one replicate is NaN")
            shuffled = list(x)
            rng.shuffle(shuffled)
            again = summary(ctx, shuffled, level, t, qs)
            ctx.check(all(tl.same_bits(again[key], got[key]) for key in ("se", "p")) and
                      all(tl.same_bits(a, b) for a, b in zip(again["q"] + list(again["ci"]),
                                                              got["q"] + list(got["ci"]))),
                      f"set {k}: the same bits for shuffled replicates")
            if n < 10:
                break  # the small sets once


if __name__ == "__main__":
    sys.exit(tl.main({
        "keys": case_keys,
        "poisson_fit": case_poisson_fit,
        "poisson_table": case_poisson_table,
        "tables": case_tables,
        "null": case_null,
        "summaries": case_summaries,
    }))
