#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The two-sample measures of `h5div compare` (issue 14): separation_power,
chi2_test and g_test with their degrees of freedom and p-values.

Oracles share no code with h5div: exact rationals of the stored values
(Python Fractions) for chi2_test = sum (B P - A Q)^2 / (A B (P + Q)) and
separation_power, mpmath at 80 digits of the exact ratios P/E, Q/F for
g_test, mpmath's regularised incomplete gamma for the p-values, and scipy in
float64 (stats.chi2_contingency on the 2 x K table of bins with P + Q > 0,
stats.power_divergence(lambda_="log-likelihood") against its expected
table, stats.chi2.sf). Inputs: counts with unequal totals, mode dropping
(Q 1e6 smaller in a few bins), zeros on either side, uint64 counts near
2^63, float64 weights over 600 decades, proportional and identical pairs
(statistic exactly 0, p-value exactly 1), one nonempty bin (dof 0), disjoint
supports (closed forms), 2-D rows; every case bit-identical on 1, 2 and 3
ranks and with small read pieces. About 60 s in all (each case under 25 s)."""

import json
import math
import zlib
from fractions import Fraction

import h5py
import mpmath
import numpy as np

import h5div_testlib as T

mpmath.mp.dps = 80
mpf = mpmath.mpf
RTOL = 1e-13            # statistics against the exact oracle
P_RTOL = 1e-11          # GSL's gamma_inc_Q against mpmath at the printed statistic
SCIPY_RTOL = 1e-11      # scipy's float64 sums over at most 2000 bins
TESTS = ["separation_power", "chi2_test", "g_test"]
ALL = ["separation_power", "chi2_test", "chi2_test_dof", "chi2_test_p_value", "g_test",
       "g_test_dof", "g_test_p_value"]
MEASURES = ["--measures", ",".join(TESTS)]
RANKS = (None, 2, 3)


def phi(d):
    """(1 + d) log(1 + d) - d for an exact rational d >= -1, to 50 digits
    however close d is to 0 (the working precision grows with -log10 |d|)."""
    if d == 0:
        return mpf(0)
    if d < Fraction(-1, 2):
        r = 1 + d
        rm = mpf(r.numerator) / r.denominator
        return (rm * mpmath.log(rm) if r else mpf(0)) - mpf(d.numerator) / d.denominator
    lost = max(0, int(-math.log10(abs(d.numerator)) + math.log10(d.denominator)) + 1)
    with mpmath.workdps(mpmath.mp.dps + lost):
        dm = mpf(d.numerator) / d.denominator
        v = (1 + dm) * mpmath.log1p(dm) - dm
    return +v


def oracle(P, Q):
    """The measures of raw rows P, Q (Python ints or floats) from exact rationals."""
    P = [Fraction(v) for v in P]
    Q = [Fraction(v) for v in Q]
    A, B = sum(P), sum(Q)
    bins = [(x, y) for x, y in zip(P, Q) if x or y]
    sp = sum(((x / A - y / B) ** 2 / (x / A + y / B) for x, y in bins), Fraction(0)) / 2
    c2 = sum(((B * x - A * y) ** 2 / (A * B * (x + y)) for x, y in bins), Fraction(0))
    # G = 2 sum E phi(P/E - 1) + F phi(Q/F - 1), phi(d) = (1 + d) log(1 + d) - d:
    # terms >= 0 from exact rationals d (P/E can agree with 1 to hundreds of digits).
    g = []
    for x, y in bins:
        E, F = A * (x + y) / (A + B), B * (x + y) / (A + B)
        for o, e in ((x, E), (y, F)):
            g.append(mpf(e.numerator) / e.denominator * phi(o / e - 1))
    G = 2 * mpmath.fsum(g)
    dof = len(bins) - 1
    out = {"separation_power": mpf(sp.numerator) / sp.denominator,
           "chi2_test": mpf(c2.numerator) / c2.denominator, "g_test": G,
           "chi2_test_dof": mpf(dof), "g_test_dof": mpf(dof)}
    return out


def q_gamma(dof, x):
    """Regularised upper incomplete gamma Q(dof / 2, x / 2); 1 for dof 0 or x 0."""
    if dof <= 0 or x == 0:
        return mpf(1)
    if x == math.inf:
        return mpf(0)
    return mpmath.gammainc(mpf(dof) / 2, mpf(x) / 2, mpmath.inf, regularized=True)


def rel_ok(got, want, rtol):
    want = mpf(want)
    if want == 0:
        return got == 0.0 and math.copysign(1.0, got) > 0
    if abs(want) < mpf(10) ** -300:
        return abs(mpf(got) - want) <= mpf(10) ** -300
    return abs(mpf(got) - want) <= rtol * abs(want)


def same(a, b):
    """Bitwise equality of values or lists of values."""
    if isinstance(a, list) or isinstance(b, list):
        return isinstance(a, list) and isinstance(b, list) and len(a) == len(b) and \
            all(T.same_bits(x, y) for x, y in zip(a, b))
    return isinstance(a, float) and isinstance(b, float) and T.same_bits(a, b)


def write(ctx, name, arrays, dtype):
    path = ctx.path(name)
    with h5py.File(path, "w") as f:
        for k, v in arrays.items():
            f.create_dataset(k, data=np.asarray(v, dtype=dtype))
    return path


def run_json(ctx, args, ranks, what):
    """compare --json ARGS: {measure: float or list of floats}, or None."""
    res = ctx.h5div_run(["compare", "--json"] + list(args), ranks=ranks)
    if not T.check_success(ctx, res, what):
        return None
    try:
        obj = json.loads(res.out)["measures"]
    except (ValueError, KeyError) as e:
        ctx.check(False, f"{what}: no JSON measures ({e})", res)
        return None

    def conv(v):
        return [conv(x) for x in v] if isinstance(v, list) else float(v)
    return {k: conv(v) for k, v in obj.items()}


def run_all_ranks(ctx, args, what):
    """The measures on 1, 2 and 3 ranks (and with 1 KiB pieces); checks they
    have the same bits and returns those of the plain run."""
    first = None
    for ranks, extra in [(r, []) for r in RANKS] + [(2, ["--piece-size", "1KiB"])]:
        v = run_json(ctx, MEASURES + extra + list(args), ranks, f"{what} on {ranks}")
        if v is None:
            return None
        if first is None:
            first = v
            continue
        for name in ALL:
            ctx.check(same(v.get(name), first.get(name)),
                      f"{what}: {name} = {v.get(name)!r} on {ranks} ranks {extra}, "
                      f"{first.get(name)!r} on one")
    return first


def check_oracle(ctx, got, P, Q, what, scipy_too=True):
    ref = oracle(P, Q)
    for name, want in ref.items():
        g = got.get(name)
        ctx.check(isinstance(g, float) and rel_ok(g, want, RTOL),
                  f"{what}: {name} = {g!r}, exact {mpmath.nstr(want, 20)}")
    for stat in ("chi2_test", "g_test"):
        g, dof = got.get(stat + "_p_value"), got.get(stat + "_dof")
        want = q_gamma(dof, got.get(stat))
        if isinstance(g, float) and 1e-6 < g < 1 - 1e-6:
            ctx.note(f"{what}: {stat}_p_value = {g:.6g}")
        ctx.check(isinstance(g, float) and 0.0 <= g <= 1.0 and rel_ok(g, want, P_RTOL),
                  f"{what}: {stat}_p_value = {g!r}, Q(dof/2, x/2) = {mpmath.nstr(want, 20)}")
    if scipy_too:
        check_scipy(ctx, got, P, Q, what)


def check_scipy(ctx, got, P, Q, what):
    from scipy import stats
    t = np.array([P, Q], dtype=np.float64)
    t = t[:, t.sum(axis=0) > 0]
    if t.shape[1] < 2:
        return
    chi2, p, dof, expected = stats.chi2_contingency(t, correction=False)
    gs, gp = stats.power_divergence(t, expected, lambda_="log-likelihood", axis=None)
    want = {"chi2_test": chi2, "chi2_test_dof": dof, "g_test": gs, "g_test_dof": dof,
            "chi2_test_p_value": p, "g_test_p_value": stats.chi2.sf(gs, dof)}
    for name, w in want.items():
        g = got.get(name)
        # p-values from scipy's own statistic: their error is its error times x/2
        tol = SCIPY_RTOL * (1 + (chi2 if name.endswith("p_value") else 0))
        ok = isinstance(g, float) and (abs(g - w) <= tol * abs(w) or (w < 1e-290 and g < 1e-280))
        ctx.check(ok, f"{what}: {name} = {g!r}, scipy {w!r}")


def pair_case(make, dtype, scipy_too=True):
    def case(ctx):
        rng = np.random.default_rng(zlib.crc32(make.__name__.encode()))
        for it in range(4):
            P, Q = make(rng)
            path = write(ctx, f"in{it}.h5", {"P": P, "Q": Q}, dtype)
            Ps, Qs = T.read_raw(path + ":/P"), T.read_raw(path + ":/Q")
            got = run_all_ranks(ctx, [path + ":/P", path + ":/Q"], f"{make.__name__} #{it}")
            if got is not None:
                check_oracle(ctx, got, Ps.tolist(), Qs.tolist(), f"{make.__name__} #{it}",
                             scipy_too)
    return case


def make_counts(rng):
    """Both drawn from one shape with unequal totals (the null: p-values
    anywhere in (0, 1)), or the candidate slightly off (small p-values)."""
    n = int(rng.integers(50, 2000))
    lam = rng.uniform(0.5, 40, n)
    P = rng.poisson(lam)
    Q = rng.poisson(lam * rng.uniform(0.3, 3) * rng.uniform(1 - rng.uniform(0, 0.3), 1, n))
    return P, Q


def make_mode_drop(rng):
    n = int(rng.integers(100, 1000))
    P = rng.poisson(1e7 * rng.dirichlet(np.ones(n))).astype(np.int64) + 1
    Q = (P * rng.uniform(0.9, 1.1, n) * 1.7).astype(np.int64) + 1
    drop = rng.choice(n, size=5, replace=False)
    Q[drop] = np.maximum(Q[drop] // 1000000, 0)          # modes the candidate dropped
    Q[rng.choice(n, size=3, replace=False)] = 0          # zeros on the Q side
    P[rng.choice(n, size=3, replace=False)] = 0          # and on the P side
    both = rng.choice(n, size=2, replace=False)
    P[both] = Q[both] = 0                                # empty in both: not counted in dof
    return P, Q


def make_u64(rng):
    n = int(rng.integers(20, 200))
    P = rng.integers(2**62, 2**63, n, dtype=np.uint64)
    Q = rng.integers(2**61, 2**63, n, dtype=np.uint64)
    P[:3] = 0
    Q[5:7] = 0
    Q[10] = P[10] + np.uint64(1)                         # a near-equal bin: exact differences
    return P, Q


def make_wide_f64(rng):
    n = int(rng.integers(20, 300))
    P = 10.0 ** rng.uniform(-300, 300, n)
    Q = P * 10.0 ** rng.uniform(-3, 3, n)
    Q[rng.choice(n, size=max(1, n // 10), replace=False)] = 0.0
    P[rng.choice(n, size=max(1, n // 10), replace=False)] = 0.0
    return P, Q


def make_far_f64(rng):
    """P and Q drawn apart over 600 decades, so bins whose p and q differ
    beyond 2^900 meet totals that differ by tens of decades (one weight of
    the pooled mean rounds to 1)."""
    n = int(rng.integers(3, 40))
    P = 10.0 ** rng.uniform(-300, 300, n)
    Q = 10.0 ** rng.uniform(-300, 300, n)
    return P, Q


def make_totals_apart(rng):
    """Totals 2^900 to 2^2000 apart (one pooled weight below the double
    range): bins near-equal, off by up to 30 decades, or on one side only."""
    n = int(rng.integers(3, 60))
    shape = 10.0 ** rng.uniform(-40, 0, n)
    sa = rng.uniform(-260, 300 - 272)
    sb = rng.uniform(sa + 272, 300)
    if rng.random() < 0.5:
        sa, sb = sb, sa
    P = shape * 10.0 ** sa
    eps = rng.choice([1e-12, 1e-6, 1e-2, 1.0])
    Q = shape * (1 + eps * rng.uniform(-0.5, 0.5, n)) * 10.0 ** sb
    off = rng.choice(n, size=max(1, n // 4), replace=False)
    Q[off] *= 10.0 ** rng.uniform(-30, 0, off.size)
    Q[rng.choice(n, size=max(1, n // 10), replace=False)] = 0.0
    P[rng.choice(n, size=max(1, n // 10), replace=False)] = 0.0
    return P, Q


def case_closed_forms(ctx):
    """Identical and proportional pairs: every statistic exactly +0, p-value
    exactly 1; one nonempty bin: dof 0, p-value 1; disjoint supports:
    separation_power exactly 1, chi2_test = A + B, g_test =
    2 (A log((A+B)/A) + B log((A+B)/B)) (dof = bins - 1, p-value from them)."""
    P = np.arange(1, 41, dtype=np.int64) % 7
    path = write(ctx, "cf.h5", {"P": P, "P3": 3 * P, "one": [0, 5, 0, 0], "one2": [0, 2, 0, 0],
                                "D1": [3, 0, 4, 0, 0], "D2": [0, 5, 0, 6, 0]}, np.int64)
    for q in ("P", "P3"):
        got = run_all_ranks(ctx, [path + ":/P", path + ":/" + q], f"P against {q}")
        if got is None:
            continue
        for name in ("separation_power", "chi2_test", "g_test"):
            ctx.check(T.same_bits(got[name], 0.0), f"P against {q}: {name} = {got[name]!r}, want +0")
        for name in ("chi2_test_p_value", "g_test_p_value"):
            ctx.check(got[name] == 1.0, f"P against {q}: {name} = {got[name]!r}, want 1")
        nz = int(np.count_nonzero(P))
        ctx.check(got["chi2_test_dof"] == nz - 1, f"dof {got['chi2_test_dof']!r}, want {nz - 1}")
    got = run_all_ranks(ctx, [path + ":/one", path + ":/one2"], "one nonempty bin")
    if got is not None:
        for name, want in (("chi2_test", 0.0), ("chi2_test_dof", 0.0), ("chi2_test_p_value", 1.0),
                           ("g_test_dof", 0.0), ("g_test_p_value", 1.0)):
            ctx.check(T.same_bits(got[name], want), f"one nonempty bin: {name} = {got[name]!r}, want {want}")
    got = run_all_ranks(ctx, [path + ":/D1", path + ":/D2"], "disjoint")
    if got is not None:
        A, B = 7, 11
        G = 2 * (A * mpmath.log(mpf(A + B) / A) + B * mpmath.log(mpf(A + B) / B))
        ctx.check(got["separation_power"] == 1.0, f"disjoint: separation_power {got['separation_power']!r}")
        ctx.check(rel_ok(got["chi2_test"], A + B, RTOL), f"disjoint: chi2_test {got['chi2_test']!r}, want 18")
        ctx.check(rel_ok(got["g_test"], G, RTOL), f"disjoint: g_test {got['g_test']!r}, want {G}")
        ctx.check(got["chi2_test_dof"] == 3.0, f"disjoint: dof {got['chi2_test_dof']!r}, want 3")
        check_oracle(ctx, got, [3, 0, 4, 0, 0], [0, 5, 0, 6, 0], "disjoint")


def case_rows(ctx):
    """A 2-D pair: each row's measures against the oracle and scipy, and the
    same bits on 1-3 ranks; the HDF5 result holds every dataset, units 1."""
    rng = np.random.default_rng(14)
    m, n = 6, 300
    P = rng.poisson(rng.uniform(0, 30, (m, n)))
    Q = rng.poisson(P * 2.5 + 0.1)
    Q[2, :40] = 0
    path = write(ctx, "rows.h5", {"P": P, "Q": Q}, np.int32)
    got = run_all_ranks(ctx, [path + ":/P", path + ":/Q"], "rows")
    if got is None:
        return
    for r in range(m):
        row = {k: (v[r] if isinstance(v, list) else v) for k, v in got.items()}
        check_oracle(ctx, row, P[r].tolist(), Q[r].tolist(), f"row {r}")
    out = ctx.path("out.h5")
    res = ctx.h5div_run(["compare"] + MEASURES + [path + ":/P", path + ":/Q", "-o", out + ":/r"])
    if T.check_success(ctx, res, "rows -o"):
        with h5py.File(out, "r") as f:
            for name in ALL:
                ok = name in f["r"] and f["r"][name].shape == (m,)
                ctx.check(ok and f["r"][name].attrs["units"] in ("1", b"1"),
                          f"rows -o: dataset {name} missing, of the wrong shape or units")
                if ok:
                    ctx.check(same(f["r"][name][()].tolist(), got[name]),
                              f"rows -o: {name} differs from the JSON")


CASES = {
    "closed_forms": case_closed_forms,
    "counts": pair_case(make_counts, np.int32),
    "mode_drop": pair_case(make_mode_drop, np.int64),
    "u64": pair_case(make_u64, np.uint64, scipy_too=False),
    "wide_f64": pair_case(make_wide_f64, np.float64, scipy_too=False),
    "far_f64": pair_case(make_far_f64, np.float64, scipy_too=False),
    "totals_apart": pair_case(make_totals_apart, np.float64, scipy_too=False),
    "rows": case_rows,
}

if __name__ == "__main__":
    T.main(CASES)
