#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""`h5div entropy`: every estimator against an independent Python
implementation of the R package entropy's definitions (Hausser & Strimmer
2009) evaluated with mpmath, the same bits on 1-4 ranks and under a small
memory bound, and the error paths (exit codes, one line, no hang)."""

import math

import h5py
import numpy as np

import h5div_testlib as T

RTOL = 1e-12
RANKS = [None, 2, 3, 4]
ESTIMATORS = ["plugin", "miller-madow", "chao-shen", "shrink", "dirichlet:0.5", "dirichlet:1"]
LOG_BASE = {"2": math.log(2), "e": 1.0, "10": math.log(10)}


def oracle(counts, estimator, base="2"):
    """The estimators as R's entropy package defines them, at 40 digits."""
    import mpmath

    with mpmath.workdps(40):
        mpf, log = mpmath.mpf, mpmath.log
        y = [mpf(int(c)) for c in counts]
        K = len(y)
        n = mpmath.fsum(y)

        def plugin(freqs):
            return -mpmath.fsum(f * log(f) for f in freqs if f > 0)

        lam = None
        if estimator == "plugin":
            H = plugin([v / n for v in y])
        elif estimator == "miller-madow":
            m = sum(1 for v in y if v > 0)
            H = plugin([v / n for v in y]) + mpf(m - 1) / (2 * n)
        elif estimator == "chao-shen":
            yx = [v for v in y if v > 0]
            f1 = sum(1 for v in yx if v == 1)
            if f1 == n:
                f1 = n - 1
            C = 1 - mpf(f1) / n
            H = 0
            for v in yx:
                pa = C * v / n
                la = 1 - (1 - pa) ** n
                H -= pa * log(pa) / la
        elif estimator == "shrink":
            u = [v / n for v in y]
            t = mpf(1) / K
            if n in (0, 1):
                lam = mpf(1)
            else:
                varu = mpmath.fsum(x * (1 - x) for x in u) / (n - 1)
                msp = mpmath.fsum((x - t) ** 2 for x in u)
                lam = mpf(1) if msp == 0 else min(mpf(1), max(mpf(0), varu / msp))
            H = plugin([lam * t + (1 - lam) * x for x in u])
        else:
            a = mpf(estimator.split(":")[1])
            ya = [v + a for v in y]
            s = mpmath.fsum(ya)
            H = plugin([v / s for v in ya])
        r = {"entropy": float(H / {"2": log(2), "e": 1, "10": log(10)}[base]),
             "perplexity": float(mpmath.exp(H)),
             "total_count": float(n), "nonzero_bins": float(sum(1 for v in y if v > 0))}
        if lam is not None:
            r["shrinkage_lambda"] = float(lam)
        return r


def run_entropy(ctx, args, ranks=None, what=None):
    what = what or f"entropy {' '.join(args)} on {ranks or 1} rank(s)"
    res = ctx.h5div_run(["entropy", "--json"] + list(args), ranks=ranks)
    if not T.check_success(ctx, res, what):
        return None
    obj, values = T.parse_json_output(ctx, res, what)
    if obj is not None:
        ctx.check(obj.get("command") == "entropy", f"{what}: command {obj.get('command')!r}", res)
        ctx.check(obj.get("ranks") == (ranks or 1), f"{what}: ranks {obj.get('ranks')!r}", res)
    return values


def write(ctx, name, data, dtype):
    path = ctx.path(name + ".h5")
    with h5py.File(path, "w") as f:
        f.create_dataset("P", data=np.asarray(data, dtype=dtype), chunks=True)
    return path + ":/P"


def check_values(ctx, got, want, what, rtol=RTOL):
    for k, w in want.items():
        if not ctx.check(k in got, f"{what}: {k} missing"):
            continue
        g = got[k]
        ctx.check(T.close(g, w, rtol), f"{what}: {k} = {g!r}, oracle {w!r} "
                  f"(relative error {abs(g - w) / abs(w) if w else abs(g):.3g})")


def estimator_case(kind):
    def case(ctx):
        rng = np.random.default_rng(17)
        if kind == "sparse":     # many singletons and empty bins (chao-shen, shrink matter)
            P = rng.poisson(0.7, 6000)
        elif kind == "dense":
            P = rng.integers(0, 500, 5000)
        else:                    # zipf-like with a dominant bin
            P = (20000 // (np.arange(3000) + 1)).astype(np.int64)
        p = write(ctx, kind, P, "u4")
        worst = 0.0
        for est in ESTIMATORS:
            want = oracle(P, est)
            ref = None
            for n in RANKS:
                got = run_entropy(ctx, ["--estimator", est, p], ranks=n)
                if got is None:
                    continue
                check_values(ctx, got, want, f"{kind} {est} ranks={n}")
                worst = max([worst] + [abs(got[k] - v) / abs(v) for k, v in want.items()
                                       if v and k in got])
                if ref is None:
                    ref = got
                else:
                    T.check_same_bits(ctx, ref, got, f"{kind} {est}: ranks {n} vs 1")
            got = run_entropy(ctx, ["--estimator", est, "--memory-per-rank", "4KiB",
                                    "--piece-size", "2KiB", p], ranks=3)
            if got is not None and ref is not None:
                T.check_same_bits(ctx, ref, got, f"{kind} {est}: 4KiB memory vs 1 rank")
        ctx.note(f"{kind}: worst relative error over estimators and ranks: {worst:.3g}")
    return case


def case_bases(ctx):
    rng = np.random.default_rng(3)
    P = rng.integers(0, 100, 2000)
    p = write(ctx, "bases", P, "i8")
    for base in ("2", "e", "10"):
        for est in ("plugin", "shrink"):
            got = run_entropy(ctx, ["-b", base, "--estimator", est, p], ranks=2)
            if got is not None:
                check_values(ctx, got, oracle(P, est, base), f"base {base} {est}")


def case_closed_forms(ctx):
    # uniform over K bins: log2 K bits, perplexity K; shrink lambda 1 (msp = 0)
    p = write(ctx, "uniform", [5] * 1024, "u2")
    got = run_entropy(ctx, [p], ranks=3)
    if got:
        ctx.check(T.close(got["entropy"], 10.0, 2e-15), f"uniform: entropy {got['entropy']!r}, want 10")
        ctx.check(T.close(got["perplexity"], 1024.0, 1e-14), f"uniform: perplexity {got['perplexity']!r}")
    got = run_entropy(ctx, ["--estimator", "shrink", p], ranks=2)
    if got:
        ctx.check(got["shrinkage_lambda"] == 1.0, f"uniform shrink lambda {got['shrinkage_lambda']!r}")
    # a single non-empty bin: entropy exactly +0
    p = write(ctx, "point", [0, 0, 42, 0], "i4")
    got = run_entropy(ctx, [p], ranks=2)
    if got:
        ctx.check(T.bits(got["entropy"]) == T.bits(0.0), f"point mass: entropy {got['entropy']!r}")
        ctx.check(got["nonzero_bins"] == 1 and got["total_count"] == 42, "point mass counts")
    # plugin with --pseudocount A equals dirichlet:A
    P = np.random.default_rng(9).integers(0, 5, 700)
    p = write(ctx, "pc", P, "u1")
    a = run_entropy(ctx, ["--pseudocount", "0.5", p], ranks=2)
    b = run_entropy(ctx, ["--estimator", "dirichlet:0.5", p], ranks=3)
    if a and b:
        ctx.check(T.same_bits(a["entropy"], b["entropy"]), f"pseudocount 0.5 {a['entropy']!r} vs dirichlet:0.5 {b['entropy']!r}")
    # floats are fine for plugin
    P = np.random.default_rng(4).random(3000)
    p = write(ctx, "floats", P, "f8")
    got = run_entropy(ctx, [p], ranks=4)
    if got:
        import scipy.stats
        w = float(scipy.stats.entropy(P, base=2))
        ctx.check(T.close(got["entropy"], w, 1e-12), f"floats: {got['entropy']!r} vs scipy {w!r}")


def case_output(ctx):
    P = np.random.default_rng(2).integers(0, 30, 900)
    p = write(ctx, "out", P, "u4")
    res = ctx.h5div_run(["entropy", "--estimator", "shrink", "-o", ctx.path("r.h5") + ":/runs/a", p], ranks=2)
    T.check_success(ctx, res, "entropy -o")
    with h5py.File(ctx.path("r.h5"), "r") as f:
        g = f["/runs/a"]
        for k in ("entropy", "perplexity", "total_count", "nonzero_bins", "shrinkage_lambda"):
            ctx.check(k in g and g[k].shape == (), f"result dataset {k} missing or not scalar")
        ctx.check(g["entropy"].attrs.get("units") == "bits", "entropy units")
        ctx.check(g["perplexity"].attrs.get("units") == "1", "perplexity units")
        ctx.check(g.attrs.get("p") == p, f"attribute p {g.attrs.get('p')!r}")
        ctx.check(g.attrs.get("estimator") == "shrink", "attribute estimator")
        for a in ("h5div_version", "command", "created", "ranks", "base", "pseudocount", "elapsed_seconds"):
            ctx.check(a in g.attrs, f"group attribute {a} missing")
        ctx.check(g.attrs["ranks"] == 2, "ranks attribute")
    res = ctx.h5div_run(["entropy", "-o", ctx.path("r.h5") + ":/runs/a", p], ranks=2)
    T.check_error(ctx, res, 4, "existing group", "exists")


def case_errors(ctx):
    p_frac = write(ctx, "frac", [1.0, 2.5, 3.0], "f8")
    for est in ("miller-madow", "chao-shen", "shrink", "dirichlet:1"):
        T.check_error(ctx, ctx.h5div_run(["entropy", "--estimator", est, p_frac], ranks=2), 3,
                      f"non-integer with {est}", "whole number")
    T.check_success(ctx, ctx.h5div_run(["entropy", p_frac], ranks=2), "non-integer with plugin")
    p = write(ctx, "ok", [1, 2, 3], "i4")
    T.check_error(ctx, ctx.h5div_run(["entropy", "--estimator", "bogus", p]), 2, "unknown estimator")
    T.check_error(ctx, ctx.h5div_run(["entropy", "--estimator", "dirichlet:-1", p]), 2, "negative A")
    T.check_error(ctx, ctx.h5div_run(["entropy", "--estimator", "dirichlet:", p]), 2, "missing A")
    T.check_error(ctx, ctx.h5div_run(["entropy", "--estimator", "shrink", "--pseudocount", "1", p]), 2,
                  "pseudocount with shrink")
    T.check_error(ctx, ctx.h5div_run(["entropy", "--measures", "shrinkage_lambda", p]), 2,
                  "lambda without shrink")
    T.check_error(ctx, ctx.h5div_run(["entropy", "--measures", "kl_pq", p]), 2, "compare measure")
    T.check_error(ctx, ctx.h5div_run(["entropy", p, p]), 2, "two inputs")
    T.check_error(ctx, ctx.h5div_run(["entropy", "--bin-width", "2", p]), 2, "option of another command")
    T.check_error(ctx, ctx.h5div_run(["entropy", ctx.path("missing.h5") + ":/P"], ranks=3), 3, "missing file")
    T.check_error(ctx, ctx.h5div_run(["entropy", write(ctx, "zero", [0] * 600, "i4")], ranks=3), 3,
                  "all zeros", "all zeros")
    bad = np.arange(2000, dtype=np.float64)
    bad[1900] = -1.0
    res, codes = ctx.rank_exit_codes(["entropy", write(ctx, "neg", bad, "f8")], 4)
    T.check_error(ctx, res, None, "negative in last rank", "negative.*bin 1900")
    ctx.check(codes == [3, 3, 3, 3], f"negative in last rank: exit codes {codes}, want 3 on every rank")
    res = ctx.h5div_run(["entropy", "--help"])
    ctx.check(res.rc == 0 and "chao-shen" in res.out, "entropy --help")


CASES = {
    "estimators_sparse": estimator_case("sparse"),
    "estimators_dense": estimator_case("dense"),
    "estimators_zipf": estimator_case("zipf"),
    "bases": case_bases,
    "closed_forms": case_closed_forms,
    "output": case_output,
    "errors": case_errors,
}

if __name__ == "__main__":
    T.main(CASES)
