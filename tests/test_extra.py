#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The extra divergences of `h5div compare` (issue 7): bhattacharyya,
chi2_pq, chi2_qp, renyi_pq:A, renyi_qp:A, wasserstein1 (--bin-width) and ks.

Oracles share no code with h5div: closed forms on hand-made inputs, mpmath
at 50 digits starting from the exact raw counts (cumulative sums of ks and
wasserstein1 in exact integer arithmetic), and scipy in float64
(scipy.stats.wasserstein_distance on bin centres w*arange(n),
scipy.stats.power_divergence(lambda_="pearson") for chi2). Near-identical
pairs must agree with mpmath to 1e-12 relative, results must be bit-identical
on 1-4 ranks and with small read pieces and memory bounds, the HDF5 result
must carry the units, order and bin_width attributes, and a bad order or bin
width is a usage error (exit 2, one error line)."""

import math
from fractions import Fraction

import h5py
import numpy as np

import h5div_testlib as T

DPS = 50                # digits of the mpmath oracle
RTOL = T.RTOL           # 1e-12 against mpmath and the closed forms
SCIPY_RTOL = 1e-10      # scipy's float64 cumulative sums (wasserstein, ks) lose ~1e-13 on 20000 bins
ORDERS = [0.25, 0.5, 0.9, 2.0, 3.5, 10.0]
EXTRA_UNITLESS = {"chi2_pq", "chi2_qp", "wasserstein1", "ks"}
INF = float("inf")


def order_name(a):
    """A in shortest round-trip form, without a trailing '.0' (2.0 -> '2')."""
    r = repr(float(a))
    return r[:-2] if r.endswith(".0") else r


def extra_names(orders_pq=ORDERS, orders_qp=ORDERS):
    """The new measures in the order of the spec: bhattacharyya, chi2_pq,
    chi2_qp, the renyi_pq orders as given, the renyi_qp orders, wasserstein1, ks."""
    return (["bhattacharyya", "chi2_pq", "chi2_qp"] +
            [f"renyi_pq:{order_name(a)}" for a in orders_pq] +
            [f"renyi_qp:{order_name(a)}" for a in orders_qp] +
            ["wasserstein1", "ks"])


ALL_EXTRA = extra_names()
MEASURES_ARG = ["--measures", ",".join(ALL_EXTRA)]


def units_of(name, base):
    if name in EXTRA_UNITLESS:
        return "1"
    if name == "bhattacharyya" or name.startswith("renyi_"):
        return T.BASE_UNITS[base]
    return T.units_of(name, base)


def label(n):
    return "plain" if n is None else f"-n {n}"


# -- oracles ------------------------------------------------------------------

def exact_ints(P, Q, alpha=0.0):
    """The counts plus ALPHA as Python ints with a common scale factor (it
    cancels in the normalisation): exact for integer and float data alike."""
    a = Fraction(alpha)
    fp = [Fraction(x) + a for x in P]
    fq = [Fraction(x) + a for x in Q]
    den = math.lcm(*{x.denominator for x in fp + fq})
    return [int(x * den) for x in fp], [int(x * den) for x in fq]


def oracle_mp(P, Q, base="2", alpha=0.0, w=1.0, orders_pq=ORDERS, orders_qp=ORDERS, dps=DPS):
    """The new measures from the raw counts P, Q (Python ints or floats):
    ks and wasserstein1 from exact integer cumulative sums, the others with
    mpmath at DPS digits; chi2 from exact integer differences P_i SQ - Q_i SP."""
    import mpmath

    Pi, Qi = exact_ints(P, Q, alpha)
    SP, SQ = sum(Pi), sum(Qi)
    names = extra_names(orders_pq, orders_qp)
    if all(x * SQ == y * SP for x, y in zip(Pi, Qi)):   # the same distribution
        return {k: 0.0 for k in names}
    cp = cq = dmax = dsum = 0
    for x, y in zip(Pi, Qi):       # F_p(i) - F_q(i) = (cp SQ - cq SP) / (SP SQ)
        cp += x
        cq += y
        d = abs(cp * SQ - cq * SP)
        dmax = max(dmax, d)
        dsum += d
    r = {}
    with mpmath.workdps(dps):
        mpf, log, fsum, inf = mpmath.mpf, mpmath.log, mpmath.fsum, mpmath.inf
        lb = {"2": log(2), "e": mpf(1), "10": log(10)}[base]
        s = fsum(mpmath.sqrt(mpf(x * y)) for x, y in zip(Pi, Qi) if x and y)
        r["bhattacharyya"] = -log(s / mpmath.sqrt(mpf(SP * SQ))) / lb if s else inf

        def chi2(X, Y, SX, SY):    # sum (x - y)^2 / y over normalised x, y
            if any(x and not y for x, y in zip(X, Y)):
                return inf
            return fsum(mpf((x * SY - y * SX) ** 2) / y for x, y in zip(X, Y) if y) / (mpf(SX) ** 2 * SY)

        r["chi2_pq"] = chi2(Pi, Qi, SP, SQ)
        r["chi2_qp"] = chi2(Qi, Pi, SQ, SP)
        lsp, lsq = log(SP), log(SQ)
        logs = [(log(x) - lsp, log(y) - lsq) for x, y in zip(Pi, Qi) if x and y]

        def renyi(a, X, Y, swap):  # 1/(A-1) log sum x^A y^(1-A)
            a = mpf(a)
            if a > 1 and any(x and not y for x, y in zip(X, Y)):
                return inf
            if swap:
                s = fsum(mpmath.exp(a * (lq - lp) + lp) for lp, lq in logs)
            else:
                s = fsum(mpmath.exp(a * (lp - lq) + lq) for lp, lq in logs)
            return log(s) / ((a - 1) * lb) if s else inf  # A < 1, disjoint: inf

        for a in orders_pq:
            r[f"renyi_pq:{order_name(a)}"] = renyi(a, Pi, Qi, False)
        for a in orders_qp:
            r[f"renyi_qp:{order_name(a)}"] = renyi(a, Qi, Pi, True)
        r["wasserstein1"] = mpf(w) * dsum / (mpf(SP) * SQ)
        r["ks"] = mpf(dmax) / (mpf(SP) * SQ)
        return {k: float(r[k]) for k in names}


def oracle_scipy(P, Q, base="2", alpha=0.0, w=1.0, orders_pq=ORDERS, orders_qp=ORDERS):
    """The new measures in float64 with scipy and numpy (inputs without zero
    bins only: power_divergence and the renyi powers need q > 0)."""
    import scipy.stats

    lb = {"2": math.log(2.0), "e": 1.0, "10": math.log(10.0)}[base]
    p = np.asarray(P, dtype=np.float64) + alpha
    q = np.asarray(Q, dtype=np.float64) + alpha
    assert np.all(p > 0) and np.all(q > 0)
    pn, qn = p / math.fsum(p), q / math.fsum(q)
    r = {"bhattacharyya": -math.log(math.fsum(np.sqrt(pn * qn))) / lb}
    # power_divergence wants equal sums: scale the observed to the expected
    r["chi2_pq"] = float(scipy.stats.power_divergence(p * (q.sum() / p.sum()), q, lambda_="pearson")[0]) / q.sum()
    r["chi2_qp"] = float(scipy.stats.power_divergence(q * (p.sum() / q.sum()), p, lambda_="pearson")[0]) / p.sum()
    for a in orders_pq:
        r[f"renyi_pq:{order_name(a)}"] = math.log(math.fsum(pn ** a * qn ** (1 - a))) / ((a - 1) * lb)
    for a in orders_qp:
        r[f"renyi_qp:{order_name(a)}"] = math.log(math.fsum(qn ** a * pn ** (1 - a))) / ((a - 1) * lb)
    c = w * np.arange(len(p), dtype=np.float64)
    r["wasserstein1"] = float(scipy.stats.wasserstein_distance(c, c, pn, qn))
    r["ks"] = float(np.max(np.abs(np.cumsum(pn) - np.cumsum(qn))))
    return r


def check_values(ctx, got, want, what, rtol=RTOL, names=None):
    """Every measure of NAMES (default: of WANT) present and close; an exact
    0 must be +0.0, inf must be inf."""
    for name in names or list(want):
        if not ctx.check(name in got, f"{what}: measure {name} missing (got {sorted(got)})"):
            continue
        g, w = got[name], want[name]
        rel = abs(g - w) / abs(w) if math.isfinite(g) and math.isfinite(w) and w else float("nan")
        ctx.check(T.close(g, w, rtol, positive_zero=True),
                  f"{what}: {name} = {g!r}, oracle {w!r} (relative error {rel:.3g}, tolerance {rtol:g})")


def check_invariants(ctx, got, what, w=1.0, n=None):
    """Never NaN or negative; ks in [0, 1]; renyi non-decreasing in the order;
    renyi of order 1/2 = 2 bhattacharyya, symmetric in p and q."""
    for name, v in got.items():
        ctx.check(not math.isnan(v) and v >= 0 and math.copysign(1.0, v) > 0,
                  f"{what}: {name} = {v!r}, want a non-negative number")
    if "ks" in got:
        ctx.check(got["ks"] <= 1.0, f"{what}: ks = {got['ks']!r} > 1")
    if "wasserstein1" in got and n is not None:
        ctx.check(got["wasserstein1"] <= w * (n - 1) * (1 + 1e-15),
                  f"{what}: wasserstein1 = {got['wasserstein1']!r} > w (n - 1)")
    for d in ("pq", "qp"):
        vals = [(a, got.get(f"renyi_{d}:{order_name(a)}")) for a in sorted(ORDERS)]
        vals = [(a, v) for a, v in vals if v is not None]
        for (a0, v0), (a1, v1) in zip(vals, vals[1:]):
            ctx.check(v1 >= v0 * (1 - 1e-13),
                      f"{what}: renyi_{d}:{order_name(a1)} = {v1!r} < renyi_{d}:{order_name(a0)} = {v0!r} "
                      "(Renyi divergence is non-decreasing in the order)")
    h = got.get("bhattacharyya")
    for d in ("pq", "qp"):
        r = got.get(f"renyi_{d}:0.5")
        if h is not None and r is not None:
            ctx.check(T.close(r, 2 * h, 1e-12),
                      f"{what}: renyi_{d}:0.5 = {r!r}, want 2 bhattacharyya = {2 * h!r}")


def run_extra(ctx, refs, extra=(), ranks=None, base="2", what=None, measures=MEASURES_ARG):
    """compare --json MEASURES EXTRA P Q; returns {measure: float} or None."""
    p, q = refs
    what = what or f"{label(ranks)} {' '.join(extra)}".strip()
    args = list(measures) + list(extra) + ["-b", base, p, q]
    return T.run_json(ctx, args, ranks=ranks, what=what, base=base, p=p, q=q)


def write_pair(ctx, fname, P, Q, dtype, pname="P", qname="Q"):
    path = ctx.path(fname)
    with h5py.File(path, "a") as f:
        f.create_dataset(pname, data=np.asarray(P, dtype=dtype))
        f.create_dataset(qname, data=np.asarray(Q, dtype=dtype))
    return f"{path}:/{pname}", f"{path}:/{qname}"


def raw(refs):
    return [T.exact_values(T.read_raw(r)) for r in refs]


# -- cases --------------------------------------------------------------------

def case_closed_forms(ctx):
    """Hand cases with known answers, plain and on more ranks than bins:
    [1,3] vs [3,1] (bhattacharyya 1 - log2(3)/2, chi2 4/3, renyi of order 2
    log2(7/3), ks 1/2 and wasserstein1 w/2 exactly); point masses at bins 2
    and 7 of 10 (wasserstein1 = 5 w exactly, ks = 1, the others inf);
    identical inputs (every measure exactly +0.0); P vs 2P (0, never
    negative); disjoint supports (inf, ks and wasserstein1 against exact
    integer sums); renyi of order 2 = log2 sum p^2/q from exact fractions."""
    import mpmath

    mpmath.mp.dps = DPS
    f = "closed.h5"
    two = write_pair(ctx, f, [1, 3], [3, 1], "i4", "two_p", "two_q")

    def renyi_two(a):  # p = (1/4, 3/4), q = (3/4, 1/4), base 2
        a = mpmath.mpf(a)
        s = mpmath.mpf(1) / 4 ** a * (mpmath.mpf(3) / 4) ** (1 - a) + (mpmath.mpf(3) / 4) ** a / 4 ** (1 - a)
        return float(mpmath.log(s, 2) / (a - 1))

    want = {"bhattacharyya": float(1 - mpmath.log(3, 2) / 2), "chi2_pq": 4 / 3, "chi2_qp": 4 / 3,
            "wasserstein1": 0.25, "ks": 0.5}
    for a in ORDERS:
        want[f"renyi_pq:{order_name(a)}"] = want[f"renyi_qp:{order_name(a)}"] = renyi_two(a)
    ctx.check(T.close(want["renyi_pq:2"], float(mpmath.log(mpmath.mpf(7) / 3, 2)), 1e-15),
              "oracle self-check: closed form of renyi order 2 on [1,3] vs [3,1]")
    for n in (None, 3):
        got = run_extra(ctx, two, ["--bin-width", "0.5"], ranks=n, what=f"[1,3] vs [3,1] w=0.5 {label(n)}")
        if got is None:
            continue
        ctx.check(list(got) == ALL_EXTRA, f"[1,3] vs [3,1] {label(n)}: measures {list(got)}, want {ALL_EXTRA}")
        check_values(ctx, got, want, f"[1,3] vs [3,1] {label(n)}")
        for name in ("ks", "wasserstein1"):
            ctx.check(name in got and got[name] == want[name],
                      f"[1,3] vs [3,1] {label(n)}: {name} = {got.get(name)!r}, want exactly {want[name]!r}")
        check_invariants(ctx, got, f"[1,3] vs [3,1] {label(n)}", w=0.5, n=2)
    got = run_extra(ctx, two, ["--bin-width", "0.5"], base="e", what="[1,3] vs [3,1] -b e")
    if got is not None:
        check_values(ctx, got, {"bhattacharyya": float(-mpmath.log(mpmath.sqrt(3) / 2))}, "[1,3] vs [3,1] -b e")
        check_values(ctx, got, {"renyi_pq:2": float(mpmath.log(mpmath.mpf(7) / 3))}, "[1,3] vs [3,1] -b e")

    # point masses: wasserstein1 = w |i - j| and ks = 1 exactly; the others inf
    a, b = np.zeros(10, np.uint8), np.zeros(10, np.uint8)
    a[2], b[7] = 200, 3
    pm = write_pair(ctx, f, a, b, "u1", "pm_a", "pm_b")
    pm_rev = (pm[1], pm[0])
    for refs, w, n in ((pm, None, None), (pm, "0.5", 4), (pm_rev, "3", 3), (pm, "0.25", 2)):
        extra = ["--bin-width", w] if w else []
        what = f"point masses at {'2, 7' if refs is pm else '7, 2'} {' '.join(extra)} {label(n)}"
        got = run_extra(ctx, refs, extra, ranks=n, what=what)
        if got is None:
            continue
        ww = float(w or 1.0)
        ctx.check(got.get("wasserstein1") == 5 * ww,
                  f"{what}: wasserstein1 = {got.get('wasserstein1')!r}, want {5 * ww!r}")
        ctx.check(got.get("ks") == 1.0, f"{what}: ks = {got.get('ks')!r}, want 1")
        for name in ALL_EXTRA[:-2]:
            ctx.check(got.get(name) == INF, f"{what}: {name} = {got.get(name)!r}, want inf (disjoint)")
    # two bins, disjoint
    dis2 = write_pair(ctx, f, [1, 0], [0, 1], "f8", "d2_p", "d2_q")
    got = run_extra(ctx, dis2, ["--bin-width", "0.125"], what="[1,0] vs [0,1]")
    if got is not None:
        check_values(ctx, got, dict({k: INF for k in ALL_EXTRA[:-2]}, wasserstein1=0.125, ks=1.0), "[1,0] vs [0,1]")

    # identical inputs: every new measure is exactly +0.0
    rng = np.random.default_rng(71)
    P = rng.integers(0, 1000, 1000).astype(np.float64)
    P[rng.random(1000) < 0.2] = 0.0
    idp = write_pair(ctx, f, P, P, "f8", "id_p", "id_q")
    runs = [(idp, n, "2", []) for n in (None, 1, 2, 3, 4)]
    runs += [((idp[0], idp[0]), 3, "2", []), (idp, None, "e", ["--bin-width", "0.5"]),
             (idp, 2, "10", ["--pseudocount", "0.5"])]
    for refs, n, base, extra in runs:
        what = f"identical {refs[0]} vs {refs[1]} {' '.join(extra)} -b {base} {label(n)}"
        got = run_extra(ctx, refs, extra, ranks=n, base=base, what=what)
        if got is None:
            continue
        for name in ALL_EXTRA:
            ctx.check(name in got and T.same_bits(got[name], 0.0), f"{what}: {name} = {got.get(name)!r}, want +0.0")
    # one bin: p = q = 1 whatever the counts, also with a pseudocount whose
    # additions round (every new measure exactly +0.0, closed form)
    for pv, qv in ((50, 3), (232, 166), (131, 193)):
        one = write_pair(ctx, f, [pv], [qv], "u1", f"one_p{pv}", f"one_q{qv}")
        for n in (None, 3):
            what = f"one bin [{pv}] vs [{qv}] --pseudocount 0.001 {label(n)}"
            got = run_extra(ctx, one, ["--pseudocount", "0.001"], ranks=n, base="10", what=what)
            for name in ALL_EXTRA if got is not None else []:
                ctx.check(name in got and T.same_bits(got[name], 0.0),
                          f"{what}: {name} = {got.get(name)!r}, want +0.0")
    # P vs 2P: the same distribution (scaling by 2 is exact)
    sc = write_pair(ctx, f, P, 2 * P, "f8", "sc_p", "sc_q")
    for n in (None, 3):
        got = run_extra(ctx, sc, ranks=n, what=f"P vs 2P {label(n)}")
        for name, v in (got or {}).items():
            ctx.check(v == v and 0.0 <= v <= 1e-15 and (v > 0 or T.same_bits(v, 0.0)),
                      f"P vs 2P {label(n)}: {name} = {v!r}, want 0 (at most 1e-15, never negative)")

    # disjoint supports of 600 bins: inf, and ks / wasserstein1 from exact sums
    Pd, Qd = np.zeros(600, np.int64), np.zeros(600, np.int64)
    Pd[::2] = rng.integers(1, 100, 300)
    Qd[1::2] = rng.integers(1, 100, 300)
    dis = write_pair(ctx, f, Pd, Qd, "i8", "dis_p", "dis_q")
    want = oracle_mp(*raw(dis), w=0.75)
    for name in ALL_EXTRA[:-2]:
        ctx.check(want[name] == INF, f"oracle self-check: disjoint {name} = {want[name]!r}")
    for n in (None, 4):
        got = run_extra(ctx, dis, ["--bin-width", "0.75"], ranks=n, what=f"disjoint {label(n)}")
        if got is not None:
            check_values(ctx, got, want, f"disjoint {label(n)}")
            check_invariants(ctx, got, f"disjoint {label(n)}", w=0.75, n=600)

    # renyi of order 2 = log2 sum p^2/q, from exact fractions
    P3, Q3 = [5, 1, 2], [1, 4, 3]
    three = write_pair(ctx, f, P3, Q3, "u2", "r3_p", "r3_q")
    p3 = [Fraction(x, sum(P3)) for x in P3]
    q3 = [Fraction(x, sum(Q3)) for x in Q3]
    want = {"renyi_pq:2": float(mpmath.log(sum(x * x / y for x, y in zip(p3, q3)), 2)),
            "renyi_qp:2": float(mpmath.log(sum(y * y / x for x, y in zip(p3, q3)), 2)),
            "chi2_pq": float(sum((x - y) ** 2 / y for x, y in zip(p3, q3))),
            "chi2_qp": float(sum((x - y) ** 2 / x for x, y in zip(p3, q3)))}
    for n in (None, 2):
        got = run_extra(ctx, three, ranks=n, what=f"[5,1,2] vs [1,4,3] {label(n)}",
                        measures=["--measures", "renyi_pq:2,renyi_qp:2,chi2_pq,chi2_qp"])
        if got is not None:
            check_values(ctx, got, want, f"[5,1,2] vs [1,4,3] {label(n)}")
            ctx.check(list(got) == ["chi2_pq", "chi2_qp", "renyi_pq:2", "renyi_qp:2"],
                      f"[5,1,2] vs [1,4,3]: measures in order {list(got)}, "
                      "want chi2_pq, chi2_qp, renyi_pq:2, renyi_qp:2")


def case_oracle_random(ctx):
    """5000 random i32 counts without zeros: every new measure against mpmath
    (1e-12) and scipy (1e-10) in bases 2, e, 10 with bin widths 1 (default),
    0.25, 3 and 0.1, plain and on 3 ranks; invariants."""
    f = ctx.gen(ctx.path("rand.h5"), "--dtype", "i32", "--layout", "chunked", "--chunk", 100, "--bins", 5000,
                "--kind", "random", "--zero-frac", 0, "--seed", 72)
    refs = (f + ":/reference", f + ":/generated")
    P, Q = raw(refs)
    ctx.check(min(P) > 0 and min(Q) > 0, "generator gave zero bins with --zero-frac 0")
    for base, w, n in (("2", None, None), ("e", "0.25", None), ("10", "3", None), ("2", "0.1", 3), ("e", None, 2)):
        extra = ["--bin-width", w] if w else []
        what = f"random -b {base} {' '.join(extra)} {label(n)}"
        ww = float(w or 1.0)
        got = run_extra(ctx, refs, extra, ranks=n, base=base, what=what)
        if got is None:
            continue
        ctx.check(list(got) == ALL_EXTRA, f"{what}: measures {list(got)}, want {ALL_EXTRA}")
        check_values(ctx, got, oracle_mp(P, Q, base, w=ww), what + " vs mpmath")
        check_values(ctx, got, oracle_scipy(P, Q, base, w=ww), what + " vs scipy", rtol=SCIPY_RTOL)
        check_invariants(ctx, got, what, w=ww, n=5000)


def case_renyi_far(ctx):
    """Renyi orders far above 1 where S_A = sum p^A q^(1-A) is far beyond
    the double range (up to about 2^60000 for order 30 here) while D_A is
    finite: a bin where p is about 1 and q 1e-600, and random histograms of
    values spanning 600 decades. mpmath at 60 digits from the stored values,
    1-3 ranks with the same bits."""
    import mpmath
    orders = [1.5, 2.5, 5.0, 10.0, 30.0]
    rng = np.random.default_rng(4820)
    pairs = [([1e300, 1.0, 3.0], [1e-300, 1e300, 2.0]),
             ([2.0, 5e-324, 1e308], [1e308, 1e-300, 7.0])]
    for _ in range(4):
        n = int(rng.integers(3, 40))
        pairs.append((10.0 ** rng.uniform(-300, 300, n), 10.0 ** rng.uniform(-300, 300, n)))
    names = [f"renyi_{d}:{order_name(a)}" for d in ("pq", "qp") for a in orders]
    arg = ["--measures", ",".join(names)]
    for i, (P, Q) in enumerate(pairs):
        refs = write_pair(ctx, f"far{i}.h5", P, Q, "<f8")
        Pv, Qv = (np.asarray(v, dtype="<f8").tolist() for v in (P, Q))
        want = {}
        with mpmath.workdps(60):
            p = [mpmath.mpf(v) for v in Pv]
            q = [mpmath.mpf(v) for v in Qv]
            sp, sq = mpmath.fsum(p), mpmath.fsum(q)
            p = [v / sp for v in p]
            q = [v / sq for v in q]
            for d, (x, y) in (("pq", (p, q)), ("qp", (q, p))):
                for a in orders:
                    s = mpmath.fsum(u ** a * w ** (1 - a) for u, w in zip(x, y) if u > 0)
                    want[f"renyi_{d}:{order_name(a)}"] = float(mpmath.log(s, 2) / (a - 1))
        ref = None
        for n in (None, 2, 3):
            got = run_extra(ctx, refs, ranks=n, what=f"far pair {i} {label(n)}", measures=arg)
            if got is None:
                continue
            check_values(ctx, got, want, f"far pair {i} {label(n)}", rtol=1e-13)
            if ref is None:
                ref = got
            else:
                T.check_same_bits(ctx, ref, got, f"far pair {i}: {label(n)} vs plain")


def case_pseudocount_wide(ctx):
    """A pseudocount on histograms that are otherwise proportional and span
    600 decades: the totals need more than three doubles and p - q lies far
    below 2^-159 of them. 700 bins (several blocks; with --piece-size 1KiB
    several pieces and, on 2-3 ranks, ranks between them). total_variation,
    ks, wasserstein1 and chi2 from exact integers, the same bits on 1-3 ranks."""
    rng = np.random.default_rng(159)
    names = ["total_variation", "ks", "wasserstein1", "chi2_pq", "chi2_qp"]
    for i, alpha in enumerate((0.5, 1e-3, 3.0)):
        n = 700
        P = 10.0 ** rng.uniform(-300, 300, n)
        P[rng.random(n) < 0.1] = 0.0
        Q = P * 2.0 ** int(rng.integers(-20, 21))   # exactly proportional
        refs = write_pair(ctx, f"pcw{i}.h5", P, Q, "<f8")
        Pi, Qi = exact_ints(P.tolist(), Q.tolist(), alpha)
        SP, SQ = sum(Pi), sum(Qi)
        tv = sum(abs(x * SQ - y * SP) for x, y in zip(Pi, Qi))
        want = oracle_mp(P.tolist(), Q.tolist(), alpha=alpha, orders_pq=(), orders_qp=())
        want["total_variation"] = float(Fraction(tv, 2 * SP * SQ))
        arg = ["--measures", ",".join(names)]
        ref = None
        for r in (None, 2, 3):
            what = f"pseudocount {alpha} on 600 decades, {label(r)}"
            got = run_extra(ctx, refs, extra=["--pseudocount", repr(alpha), "--piece-size", "1KiB"],
                            ranks=r, what=what, measures=arg)
            if got is None:
                continue
            check_values(ctx, got, want, what, rtol=1e-13, names=names)
            if ref is None:
                ref = got
            else:
                T.check_same_bits(ctx, ref, got, f"{what} vs plain")


def case_oracle_zeros(ctx):
    """Empty bins: with p = 0 < q somewhere and q > 0 everywhere, chi2_pq and
    every renyi_pq are finite but chi2_qp and renyi_qp:A>1 are inf (A<1 stays
    finite); with zeros on both sides chi2 and renyi A>1 are inf both ways.
    --pseudocount 0.5 and 3 make everything finite. u16 and f32 data, against
    mpmath (and scipy once finite), plain and on 2 or 3 ranks."""
    rng = np.random.default_rng(73)
    n = 3000
    Q = rng.integers(1, 5000, n)
    P = rng.integers(1, 5000, n)
    P[rng.random(n) < 0.3] = 0
    one = write_pair(ctx, "zeros.h5", P, Q, "u2", "P1", "Q1")
    Q2 = Q.copy()
    Q2[np.flatnonzero(P)[::7]] = 0
    both = write_pair(ctx, "zeros.h5", P, Q2, "u2", "P2", "Q2")
    Pf = (rng.random(n) * 100).astype(np.float32)
    Qf = (rng.random(n) * 100).astype(np.float32)
    Pf[rng.random(n) < 0.25] = 0
    Qf[rng.random(n) < 0.25] = 0
    flt = write_pair(ctx, "zeros.h5", Pf, Qf, "f4", "Pf", "Qf")

    inf_one = {"chi2_qp"} | {f"renyi_qp:{order_name(a)}" for a in ORDERS if a > 1}
    inf_both = {"chi2_pq", "chi2_qp"} | {f"renyi_{d}:{order_name(a)}" for d in ("pq", "qp") for a in ORDERS if a > 1}
    for refs, infs, tag in ((one, inf_one, "p has zeros"), (both, inf_both, "both have zeros"),
                            (flt, inf_both, "f32 both have zeros")):
        Pr, Qr = raw(refs)
        want = oracle_mp(Pr, Qr)
        ctx.check({k for k, v in want.items() if v == INF} == infs,
                  f"oracle self-check ({tag}): inf measures {sorted(k for k, v in want.items() if v == INF)}")
        for nr in (None, 3):
            what = f"{tag} {label(nr)}"
            got = run_extra(ctx, refs, ranks=nr, what=what)
            if got is not None:
                check_values(ctx, got, want, what + " vs mpmath")
                check_invariants(ctx, got, what, n=n)
        for alpha, nr in (("0.5", 2), ("3", None)):
            what = f"{tag} --pseudocount {alpha} {label(nr)}"
            got = run_extra(ctx, refs, ["--pseudocount", alpha], ranks=nr, what=what)
            if got is None:
                continue
            ctx.check(all(math.isfinite(v) for v in got.values()), f"{what}: a measure is not finite: {got}")
            check_values(ctx, got, oracle_mp(Pr, Qr, alpha=float(alpha)), what + " vs mpmath")
            check_values(ctx, got, oracle_scipy(Pr, Qr, alpha=float(alpha)), what + " vs scipy", rtol=SCIPY_RTOL)


def near_case(make, w):
    """Near-identical pairs (relative perturbations 1e-7 of random counts,
    20000 bins): every new measure within 1e-12 of mpmath, plain and on 4
    ranks, bit-identical between them. The float64 formulas (scipy) are
    shown for comparison only."""

    def case(ctx):
        refs = make(ctx)
        P, Q = raw(refs)
        want = oracle_mp(P, Q, w=w)
        sc = oracle_scipy(P, Q, w=w)
        results = {}
        for n in (None, 4):
            what = f"near {label(n)} --bin-width {w!r}"
            got = run_extra(ctx, refs, ["--bin-width", repr(w)], ranks=n, what=what)
            if got is None:
                continue
            results[n] = got
            check_values(ctx, got, want, what + " vs mpmath")
            check_invariants(ctx, got, what, w=w, n=len(P))
        if len(results) == 2:
            T.check_same_bits(ctx, results[4], results[None], "near -n 4 vs plain")
        got = results.get(None) or {}
        ctx.note(f"{'measure':16} {'mpmath':>24} {'h5div rel err':>14} {'scipy rel err':>14}")
        for name in ALL_EXTRA:
            g = got.get(name, float("nan"))
            ctx.note(f"{name:16} {want[name]:24.17g} {abs(g - want[name]) / want[name]:14.3g} "
                     f"{abs(sc[name] - want[name]) / want[name]:14.3g}")

    return case


def make_near_f64(ctx):
    rng = np.random.default_rng(74)
    P = 1 + rng.random(20000) * 2000
    Q = P * (1 + 1e-7 * rng.uniform(-1, 1, 20000))
    return write_pair(ctx, "near.h5", P, Q, "f8")


def make_near_u64(ctx):
    f = ctx.gen(ctx.path("near.h5"), "--dtype", "u64", "--layout", "chunked", "--chunk", 1000,
                "--bins", 20000, "--kind", "near", "--eps", "1e-7", "--scale", "1e12", "--seed", 75)
    return f + ":/reference", f + ":/generated"


def case_bitwise(ctx):
    """19997 bins (i32be, deflate, chunks of 1000): every new measure plus the
    standard ten bit-identical on 1, 2, 3, 4 ranks, with --piece-size 4KiB
    and --memory-per-rank 64KiB, and against mpmath and scipy."""
    f = ctx.gen(ctx.path("bw.h5"), "--dtype", "i32be", "--layout", "deflate", "--chunk", 1000,
                "--bins", 19997, "--kind", "random", "--zero-frac", 0, "--seed", 76)
    refs = (f + ":/reference", f + ":/generated")
    P, Q = raw(refs)
    want = oracle_mp(P, Q, w=0.5)
    want_sc = oracle_scipy(P, Q, w=0.5)
    measures = ["--measures", ",".join(T.COMPARE_MEASURES + ALL_EXTRA)]
    small = ["--piece-size", "4KiB", "--memory-per-rank", "64KiB"]
    variants = [("plain", [], None)] + [(f"-n {n}", [], n) for n in (1, 2, 3, 4)]
    variants += [(f"-n {n} {' '.join(small)}", small, n) for n in (1, 2, 3, 4)]
    variants += [("-n 3 --piece-size 4KiB", ["--piece-size", "4KiB"], 3),
                 ("-n 2 --memory-per-rank 64KiB", ["--memory-per-rank", "64KiB"], 2)]
    first = None
    for what, extra, n in variants:
        got = run_extra(ctx, refs, extra + ["--bin-width", "0.5"], ranks=n, what=what, measures=measures)
        if got is None:
            continue
        ctx.check(list(got) == T.COMPARE_MEASURES + ALL_EXTRA,
                  f"{what}: measures {list(got)}, want the standard ten then {ALL_EXTRA}")
        if first is None:
            first = (what, got)
            check_values(ctx, got, want, what + " vs mpmath", names=ALL_EXTRA)
            check_values(ctx, got, want_sc, what + " vs scipy", rtol=SCIPY_RTOL, names=ALL_EXTRA)
            check_invariants(ctx, {k: got[k] for k in ALL_EXTRA if k in got}, what, w=0.5, n=19997)
        else:
            T.check_same_bits(ctx, got, first[1], f"{what} vs {first[0]}")


def _str(v):
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray) and v.shape == () and v.dtype.kind in "SUO":
        return _str(v[()])
    return str(v) if isinstance(v, (str, np.str_)) else None


def case_output(ctx):
    """-o FILE:/group in bases 2, e, 10: one float64 scalar per measure with
    `units` (bits/nats/hartleys for bhattacharyya and renyi, "1" for chi2,
    wasserstein1, ks), renyi datasets with a float64 `order`, the group with a
    float64 `bin_width` (default 1) and `q`; values equal to --json to the bit.
    Orders are written back in shortest form (renyi_pq:2.0 -> renyi_pq:2),
    each direction in the order given, the measures in the spec's order in
    JSON, HDF5 and the table (with the same units)."""
    f = ctx.gen(ctx.path("in.h5"), "--dtype", "f64", "--layout", "chunked", "--chunk", 100, "--bins", 1000,
                "--kind", "random", "--zero-frac", 0, "--seed", 77)
    p, q = f + ":/reference", f + ":/generated"
    spec = ("ks,renyi_qp:3.50,wasserstein1,renyi_pq:2.0,kl_pq,bhattacharyya,renyi_pq:0.50,chi2_qp,"
            "renyi_qp:0.25,chi2_pq,entropy_p,renyi_pq:10.0")
    names = ["entropy_p", "kl_pq", "bhattacharyya", "chi2_pq", "chi2_qp", "renyi_pq:2", "renyi_pq:0.5",
             "renyi_pq:10", "renyi_qp:3.5", "renyi_qp:0.25", "wasserstein1", "ks"]
    orders = {"renyi_pq:2": 2.0, "renyi_pq:0.5": 0.5, "renyi_pq:10": 10.0, "renyi_qp:3.5": 3.5,
              "renyi_qp:0.25": 0.25}
    P, Q = raw((p, q))
    out = ctx.path("out.h5")
    for base, w, n, grp in (("2", None, None, "g2"), ("e", "0.5", 3, "ge"), ("10", "0.1", None, "g10")):
        extra = ["--bin-width", w] if w else []
        what = f"-o out.h5:/{grp} -b {base} {' '.join(extra)} {label(n)}"
        got = run_extra(ctx, (p, q), extra + ["-o", f"{out}:/{grp}"], ranks=n, base=base, what=what,
                        measures=["--measures", spec])
        if got is None:
            continue
        ctx.check(list(got) == names, f"{what}: JSON measures {list(got)}, want {names}")
        want = oracle_mp(P, Q, base, w=float(w or 1.0), orders_pq=[2.0, 0.5, 10.0], orders_qp=[3.5, 0.25])
        check_values(ctx, got, want, what + " vs mpmath")
        with h5py.File(out, "r") as h:
            if not ctx.check(grp in h, f"{what}: no group /{grp} in out.h5"):
                continue
            g = h[grp]
            ctx.check(sorted(g.keys()) == sorted(names), f"{what}: datasets {sorted(g.keys())}, want {sorted(names)}")
            for name in names:
                if not ctx.check(name in g and isinstance(g[name], h5py.Dataset), f"{what}: no dataset {name}"):
                    continue
                d = g[name]
                ctx.check(d.dtype == np.float64 and d.shape == (),
                          f"{what}: {name} has type {d.dtype} shape {d.shape}, want float64 ()")
                if d.shape == ():
                    ctx.check(T.same_bits(float(d[()]), got.get(name, float("nan"))),
                              f"{what}: {name} = {d[()]!r} in HDF5 but {got.get(name)!r} in JSON")
                units = _str(d.attrs.get("units"))
                ctx.check(units == units_of(name, base),
                          f"{what}: {name} units {d.attrs.get('units')!r}, want {units_of(name, base)!r}")
                if name in orders:
                    o = d.attrs.get("order")
                    ctx.check(o is not None and np.asarray(o).dtype == np.float64 and np.asarray(o).size == 1
                              and float(np.asarray(o).ravel()[0]) == orders[name],
                              f"{what}: {name} order attribute {o!r}, want float64 {orders[name]!r}")
            bw = g.attrs.get("bin_width")
            ctx.check(bw is not None and np.asarray(bw).dtype == np.float64 and np.asarray(bw).size == 1
                      and float(np.asarray(bw).ravel()[0]) == float(w or 1.0),
                      f"{what}: group bin_width attribute {bw!r}, want float64 {float(w or 1.0)!r}")
            ctx.check(_str(g.attrs.get("q")) == q, f"{what}: group attribute q {g.attrs.get('q')!r}, want {q!r}")
            ctx.check(_str(g.attrs.get("p")) == p, f"{what}: group attribute p {g.attrs.get('p')!r}, want {p!r}")
        # the table: same order, same units, same bits
        res = ctx.h5div_run(["compare", "--measures", spec, "-b", base] + extra + [p, q], ranks=n)
        if T.check_success(ctx, res, what + " (table)"):
            rows = T.parse_table_output(ctx, res, what + " (table)")
            if rows is not None:
                order = [l.split()[0] for l in res.out.splitlines()[1:] if l.strip()]
                ctx.check(order == names, f"{what} (table): rows {order}, want {names}", res)
                for name, (v, u) in rows.items():
                    ctx.check(u == units_of(name, base), f"{what} (table): {name} units {u!r}", res)
                    ctx.check(name in got and T.same_bits(v, got[name]),
                              f"{what} (table): {name} = {v!r} but JSON {got.get(name)!r}", res)


ON_RANKS = {"renyi_pq:1", "renyi_pq:abc", "renyi_qp:inf", "0", "nan", "--bin-width"}


def case_usage_errors(ctx):
    """Bad orders and bin widths are usage errors: exit 2 on every rank, one
    line `h5div: error: ... (...)`, nothing on stdout; plain, and some on 3
    ranks (every rank exits 2). 8 orders per direction are accepted."""
    f = ctx.gen(ctx.path("in.h5"), "--dtype", "f64", "--bins", 100, "--kind", "random", "--seed", 78)
    p, q = f + ":/reference", f + ":/generated"
    nine = ",".join(f"renyi_pq:{a}" for a in (0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 2, 3, 4))
    bad = [(["--measures", m], r"renyi|order") for m in
           ("renyi_pq:1", "renyi_pq:0", "renyi_pq:-2", "renyi_pq:abc", "renyi_pq", "renyi_qp:1.0",
            "renyi_pq:", "renyi_qp:inf", "renyi_pq:nan", "bhattacharyya,renyi_qp:0", nine)]
    bad += [(["--measures", "wasserstein1,ks", "--bin-width", v], r"bin.width") for v in ("0", "-1", "nan", "abc")]
    bad += [(["--measures", "wasserstein1", "--bin-width"], r"bin.width")]
    for opts, message in bad:
        # options after the references, so that a missing --bin-width value is the last word
        args = ["compare", p, q] + opts
        # every rank exits 2 (a few on 3 ranks: each mpiexec start costs a second or two)
        for n in (None, 3) if opts[1] in ON_RANKS or opts[-1] in ON_RANKS else (None,):
            what = f"h5div {' '.join(args)} ({label(n)})"
            if n is None:
                res = ctx.h5div_run(args)
                T.check_error(ctx, res, 2, what, message)
            else:
                res, codes = ctx.rank_exit_codes(args, n)
                T.check_error(ctx, res, None, what, message)
                ctx.check(not res.timed_out and codes == [2] * n,
                          f"{what}: exit codes of the ranks are {codes}, want 2 on every rank", res)
    # the largest allowed: 8 orders per direction
    eight = ",".join(f"renyi_{d}:{a}" for d in ("pq", "qp") for a in (0.1, 0.2, 0.3, 0.4, 0.6, 2, 3, 4))
    got = T.run_json(ctx, ["--measures", eight, p, q], what="8 orders per direction")
    if got is not None:
        ctx.check(len(got) == 16, f"8 orders per direction: {len(got)} measures, want 16")


CASES = {
    "closed_forms": case_closed_forms,
    "oracle_random": case_oracle_random,
    "oracle_zeros": case_oracle_zeros,
    "renyi_far": case_renyi_far,
    "pseudocount_wide": case_pseudocount_wide,
    "near_f64_20000": near_case(make_near_f64, 1.0),
    "near_u64_20000": near_case(make_near_u64, 0.1),
    "bitwise_ranks": case_bitwise,
    "output_units": case_output,
    "usage_errors": case_usage_errors,
}

if __name__ == "__main__":
    T.main(CASES)
