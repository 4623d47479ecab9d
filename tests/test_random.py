#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Randomized differential test of every measure of every command against
mpmath (issue 11: exact everywhere).

Random histogram pairs of many input classes (mode dropping and hallucinated
modes, u64 counts near 2^62, float64 weights over hundreds of decades, mass
concentrated in a few bins, float32 softmax outputs, disjoint supports,
identical and near-identical pairs, ordinary counts, zeros on either side,
subnormals, a single bin, pseudocounts) are stored in every dtype (u8..u64,
i8..i64, f32, f64), both byte orders and every layout (contiguous, chunked,
deflate), packed as rows of 2-D datasets, and also run as 1-D histograms,
as many-candidate compares, on 1-4 ranks. Every value h5div prints (--json,
17 digits) and a subset of the values it writes (-o) is checked against a
reference computed from the values as stored (read back with h5py):
exact rational arithmetic where the measure is rational (total variation,
ks, wasserstein1, shrinkage lambda, counts), mpmath at 50 significant
digits otherwise, every sum written as a sum of terms of one sign (series
where a term cancels), so the reference keeps its digits on any input.

Targets: relative error <= 1e-13 (absolute <= 1e-300 where the truth is
below 1e-300); inf exactly where the truth is infinite or beyond the double
range; never NaN, never negative (not even -0); identical distributions give
exactly +0; disjoint supports give js_divergence 1 bit and js_distance 1 in
base 2, total_variation and hellinger exactly 1, bhattacharyya inf; the same
bits on every rank count (and 1-D runs the bits of their 2-D row).

Environment: H5DIV_RANDOM_SEED (default 20261202) and H5DIV_RANDOM_CASES
(random histograms, pairs or tables per CTest case; default 100). Every
failing check prints one line starting with REPRO: seed, case, class, row,
the values (or a file holding them), measure, got, truth and relative
error; rerunning the case with the same seed regenerates the same files.
Each case writes stats.json in its work directory; `test_random.py
--report DIR...` prints the worst relative error and the number of checks
per class and measure over those directories (H5DIV_RANDOM_SUMMARY=1 makes
each case print its own table too). `test_random.py --soak --h5div H --gen G
--mpiexec M --workdir DIR [--jobs 2]` runs every case (without CTest's
timeouts, for long soaks) and then prints the report over DIR.
"""

import json
import math
import os
import sys
import zlib
from fractions import Fraction

import h5div_testlib as T

import h5py  # noqa: E402  (h5div_testlib exits 77 when these are missing)
import numpy as np  # noqa: E402
import mpmath  # noqa: E402

mpmath.mp.dps = 50
mpf = mpmath.mpf
INF = float("inf")
RTOL = 1e-13
ATOL_TINY = 1e-300
SEED = int(os.environ.get("H5DIV_RANDOM_SEED", "20261202"))
NCASES = int(os.environ.get("H5DIV_RANDOM_CASES", "100"))
SUMMARY = os.environ.get("H5DIV_RANDOM_SUMMARY", "") not in ("", "0")
LN = {"2": mpmath.log(2), "e": mpf(1), "10": mpmath.log(10)}
SMALL = mpf(1) / 64          # below this |x| a cancelling term is summed as a series
EPS_SERIES = mpf(10) ** -60

DEFAULTS = T.COMPARE_MEASURES
FIXED_ORDERS = [0.5, 2.0, 0.999, 3.0]
MORE_ORDERS = [0.1, 0.25, 0.75, 1.001, 1.5, 5.0, 10.0]
PSEUDOCOUNTS = ["0.5", "1", "0.001", "3", "1e-12"]
WIDTHS = ["1", "0.5", "3", "0.001"]

INT_MAX = {"u1": 255, "i1": 127, "u2": 65535, "i2": 32767, "u4": 2**32 - 1,
           "i4": 2**31 - 1, "u8": 2**64 - 1, "i8": 2**63 - 1}
FLOAT_TINY = {"f4": 2.0 ** -149, "f8": 2.0 ** -1074}
FLOAT_NORMAL = {"f4": 2.0 ** -126, "f8": 2.0 ** -1022}


# -- exact values -------------------------------------------------------------

def scaled_ints(values, alpha=Fraction(0)):
    """Values as stored (Python ints or floats, or Fractions) plus ALPHA, as
    Python ints with a common scale (it cancels in the normalisation)."""
    return scaled_ints_den(values, alpha)[0]


def scaled_ints_den(values, alpha=Fraction(0)):
    """scaled_ints and the scale: value + ALPHA = int / den."""
    fr = [Fraction(v) + alpha for v in values]
    den = math.lcm(*{x.denominator for x in fr})
    out = [x * den for x in fr]
    assert all(x.denominator == 1 for x in out)
    return [int(x) for x in out], den


def as_mpf(x):
    if isinstance(x, Fraction):
        return mpf(x.numerator) / x.denominator
    return mpf(x)


def to_float(t):
    """The truth rounded to a double (inf beyond the range)."""
    if isinstance(t, Fraction):
        try:
            return float(t)
        except OverflowError:
            return INF
    if t == mpmath.inf:
        return INF
    return float(t)


# -- terms of one sign ----------------------------------------------------------

def phi(d, r=None):
    """(1 + d) log(1 + d) - d >= 0 (q times it is a KL term)."""
    if abs(d) < SMALL:
        s, k, dk = mpf(0), 2, d * d
        while True:
            t = dk / (k * (k - 1))
            s += t if k % 2 == 0 else -t
            if abs(t) <= EPS_SERIES * abs(s):
                return s
            k += 1
            dk *= d
    r = 1 + d if r is None else r
    return r * mpmath.log(r) - d if r else mpf(1)


def psi(t, a, b):
    """(1 + t) log(1 + t) + (1 - t) log(1 - t) with a = 1 + t, b = 1 - t."""
    if abs(t) < SMALL:
        s, j, t2 = mpf(0), 1, t * t
        tk = t2
        while True:
            term = tk / (j * (2 * j - 1))
            s += term
            if term <= EPS_SERIES * s:
                return s
            j += 1
            tk *= t2
    return (a * mpmath.log(a) if a else 0) + (b * mpmath.log(b) if b else 0)


def chi_a(A, d, r):
    """(1 + d)^A - 1 - A d (sign of A - 1)."""
    if abs(d) < SMALL:
        s, k, c, dk = mpf(0), 2, A * (A - 1) / 2, d * d
        while True:
            t = c * dk
            s += t
            if c == 0 or abs(t) <= EPS_SERIES * abs(s):
                return s
            c = c * (A - k) / (k + 1)
            k += 1
            dk *= d
    return mpmath.power(r, A) - 1 - A * d


def neg_log_prob(x, S):
    """-log(x/S) for integers 0 < x <= S, log1p of the exact complement when x/S > 1/2."""
    if 2 * x > S:
        return -mpmath.log1p(-(mpf(S - x) / S))
    return -mpmath.log(mpf(x) / S)


def entropy_nats(X):
    S = sum(X)
    return mpmath.fsum(mpf(x) / S * neg_log_prob(x, S) for x in X if x)


# -- reference measures ---------------------------------------------------------

def ref_compare(P, Q, alpha, orders_pq, orders_qp, width):
    """Every compare measure (nats where logarithmic) of the stored rows P, Q."""
    (Pi, dp), (Qi, dq) = scaled_ints_den(P, alpha), scaled_ints_den(Q, alpha)
    SP, SQ = sum(Pi), sum(Qi)
    SPm, SQm = mpf(SP), mpf(SQ)
    r = {}
    r["entropy_p"] = entropy_nats(Pi)
    r["entropy_q"] = entropy_nats(Qi)
    p_only = any(x and not y for x, y in zip(Pi, Qi))
    q_only = any(y and not x for x, y in zip(Pi, Qi))
    both = [(x, y) for x, y in zip(Pi, Qi) if x and y]
    r["cross_entropy_pq"] = mpmath.inf if p_only else mpmath.fsum(
        mpf(x) / SPm * neg_log_prob(y, SQ) for x, y in both)
    r["cross_entropy_qp"] = mpmath.inf if q_only else mpmath.fsum(
        mpf(y) / SQm * neg_log_prob(x, SP) for x, y in both)
    # per-bin exact quantities
    nums = [x * SQ - y * SP for x, y in zip(Pi, Qi)]

    def kl(X, Y, SX, SY, sign, xonly):
        if xonly:
            return mpmath.inf
        terms = []
        for x, y, nm in zip(X, Y, nums):
            if not y:
                continue
            if not x:
                terms.append(mpf(y) / SY)
                continue
            den = y * SX
            d = mpf(sign * nm) / den
            terms.append(mpf(y) / SY * phi(d, mpf(x * SY) / den))
        return mpmath.fsum(terms)

    r["kl_pq"] = kl(Pi, Qi, SP, SQ, 1, p_only)
    r["kl_qp"] = kl(Qi, Pi, SQ, SP, -1, q_only)
    js = []
    h2 = []
    for x, y, nm in zip(Pi, Qi, nums):
        if not x and not y:
            continue
        D = x * SQ + y * SP
        t = mpf(nm) / D
        js.append(mpf(D) / (2 * SPm * SQm) * psi(t, mpf(2 * x * SQ) / D, mpf(2 * y * SP) / D) / 2)
        s = mpmath.sqrt(mpf(x) / SPm) + mpmath.sqrt(mpf(y) / SQm)
        h2.append((mpf(nm) / (SPm * SQm)) ** 2 / (s * s) / 2)
    jsd = mpmath.fsum(js)
    r["js_divergence"] = jsd
    H2 = mpmath.fsum(h2)
    r["total_variation"] = Fraction(sum(abs(v) for v in nums), 2 * SP * SQ)
    r["hellinger"] = mpmath.sqrt(H2)
    if not both:
        r["bhattacharyya"] = mpmath.inf
    elif H2 < mpf(1) / 2:
        r["bhattacharyya"] = -mpmath.log1p(-H2)
    else:
        r["bhattacharyya"] = -mpmath.log(mpmath.fsum(mpmath.sqrt(mpf(x * y)) for x, y in both)
                                         / mpmath.sqrt(SPm * SQm))
    r["chi2_pq"] = mpmath.inf if p_only else mpmath.fsum(
        mpf(nm * nm) / (mpf(y) * SPm * SPm * SQm) for y, nm in zip(Qi, nums) if y)
    r["chi2_qp"] = mpmath.inf if q_only else mpmath.fsum(
        mpf(nm * nm) / (mpf(x) * SQm * SQm * SPm) for x, nm in zip(Pi, nums) if x)
    # (p - q)^2 / (p + q) / 2 = nm^2 / (SP SQ (x SQ + y SP)) / 2, exact rationals
    r["separation_power"] = mpmath.fsum(
        mpf(nm * nm) / (2 * SPm * SQm * mpf(x * SQ + y * SP))
        for x, y, nm in zip(Pi, Qi, nums) if x or y)
    # Two-sample tests of the raw values P = x / dp, Q = y / dq (totals A =
    # SP / dp, B = SQ / dq), W = x dq + y dp: chi^2 = sum nm^2 / (SP SQ W);
    # G = 2 sum E phi(delta) + F phi(eps), E = SP W / (dp T), F = SQ W / (dq T),
    # T = SP dq + SQ dp, 1 + delta = P / E, 1 + eps = Q / F (exact rationals).
    T2 = SP * dq + SQ * dp
    c2, g = [], []
    nonempty = 0
    for x, y, nm in zip(Pi, Qi, nums):
        if not x and not y:
            continue
        nonempty += 1
        W = x * dq + y * dp
        c2.append(mpf(nm * nm) / mpf(SP * SQ * W))
        E, F = mpf(SP * W) / (dp * T2), mpf(SQ * W) / (dq * T2)
        g.append(E * phi(mpf(nm * dp) / (SP * W), mpf(SP * W + nm * dp) / (SP * W)) +
                 F * phi(-mpf(nm * dq) / (SQ * W), mpf(SQ * W - nm * dq) / (SQ * W)))
    r["chi2_test"] = mpmath.fsum(c2)
    r["g_test"] = 2 * mpmath.fsum(g)
    r["chi2_test_dof"] = r["g_test_dof"] = Fraction(nonempty - 1)

    def renyi(A, X, Y, SX, SY, sign, xonly):
        A = mpf(A)
        if A > 1 and xonly:
            return mpmath.inf
        terms = []
        for x, y, nm in zip(X, Y, nums):
            if x and y:
                den = y * SX
                terms.append(mpf(y) / SY * chi_a(A, mpf(sign * nm) / den, mpf(x * SY) / den))
            elif x:
                terms.append(-A * mpf(x) / SX)          # A < 1 here
            elif y:
                terms.append((A - 1) * mpf(y) / SY)
        sm1 = mpmath.fsum(terms)
        if sm1 >= -mpf(1) / 2:
            L = mpmath.log1p(sm1)
        else:
            S = mpmath.fsum(mpf(y) / SY * mpmath.power(mpf(x * SY) / (y * SX), A)
                            for x, y in zip(X, Y) if x and y)
            if S == 0:
                return mpmath.inf
            L = mpmath.log(S)
        return L / (A - 1)

    for a in orders_pq:
        r["renyi_pq:" + order_name(a)] = renyi(a, Pi, Qi, SP, SQ, 1, p_only)
    for a in orders_qp:
        r["renyi_qp:" + order_name(a)] = renyi(a, Qi, Pi, SQ, SP, -1, q_only)
    cp = cq = dmax = dsum = 0
    for i, (x, y) in enumerate(zip(Pi, Qi)):
        cp += x
        cq += y
        d = abs(cp * SQ - cq * SP)
        dmax = max(dmax, d)
        if i < len(Pi) - 1:
            dsum += d
    r["wasserstein1"] = Fraction(width) * Fraction(dsum, SP * SQ)
    r["ks"] = Fraction(dmax, SP * SQ)
    disjoint = not both
    return r, disjoint


LOGARITHMIC = ({"entropy_p", "entropy_q", "cross_entropy_pq", "cross_entropy_qp", "kl_pq",
                "kl_qp", "js_divergence", "bhattacharyya"})


def in_base(r, base):
    """Nats to the base; js_distance from js_divergence in that base."""
    out = {}
    for k, v in r.items():
        if (k in LOGARITHMIC or k.startswith("renyi_")) and v != mpmath.inf:
            out[k] = v / LN[base]
        else:
            out[k] = v
    if "js_divergence" in out:
        out["js_distance"] = mpmath.sqrt(out["js_divergence"])
    return out


def ref_entropy(P, est, alpha, base):
    """h5div entropy's measures for one stored row (README/CONTRACT definitions)."""
    raw = [Fraction(v) for v in P]
    n = sum(raw)
    m = sum(1 for v in raw if v)
    r = {"total_count": n, "nonzero_bins": Fraction(m)}
    K = len(raw)
    if est == "plugin":
        H = entropy_nats(scaled_ints(P, alpha))
    elif est == "miller-madow":
        H = entropy_nats(scaled_ints(P)) + mpf(m - 1) / (2 * as_mpf(n))
    elif est == "chao-shen":
        N = int(n)
        f1 = sum(1 for v in raw if v == 1)
        if f1 == N:
            f1 = N - 1
        C = 1 - Fraction(f1, N)
        terms = []
        for v in raw:
            if not v:
                continue
            pa = C * v / N
            pam = as_mpf(pa)
            if pa == 1:
                la = mpf(1)
                lg = mpf(0)
            else:
                la = -mpmath.expm1(N * mpmath.log1p(-pam))
                lg = (mpmath.log1p(-as_mpf(1 - pa)) if pa > Fraction(1, 2) else mpmath.log(pam))
            terms.append(-pam * lg / la)
        H = mpmath.fsum(terms)
    elif est == "shrink":
        N = n
        if N in (0, 1):
            lam = Fraction(1)
        else:
            msp_num = sum((K * v - N) ** 2 for v in raw)       # K^2 N^2 sum (u - 1/K)^2
            if msp_num == 0:
                lam = Fraction(1)
            else:
                lam = (N * N - sum(v * v for v in raw)) * K * K / ((N - 1) * msp_num)
                lam = min(Fraction(1), max(Fraction(0), lam))
        r["shrinkage_lambda"] = lam
        f = [lam / K + (1 - lam) * v / N for v in raw]
        H = entropy_nats(scaled_ints(f))
    else:
        a = Fraction(float(est.split(":")[1]))
        H = entropy_nats(scaled_ints(P, a))
    r["entropy"] = H / LN[base]
    r["perplexity"] = mpmath.exp(H)
    return r


def ref_joint(C, base, alpha=Fraction(0)):
    nx, ny = len(C), len(C[0])
    flat = scaled_ints([v for row in C for v in row], alpha)
    Cm = [flat[i * ny:(i + 1) * ny] for i in range(nx)]
    N = sum(flat)
    R = [sum(row) for row in Cm]
    K = [sum(Cm[i][j] for i in range(nx)) for j in range(ny)]
    hx, hy, hxy = entropy_nats(R), entropy_nats(K), entropy_nats(flat)
    Nm = mpf(N)
    hxgy = mpmath.fsum(mpf(Cm[i][j]) / Nm * neg_log_prob(Cm[i][j], K[j])
                       for i in range(nx) for j in range(ny) if Cm[i][j])
    hygx = mpmath.fsum(mpf(Cm[i][j]) / Nm * neg_log_prob(Cm[i][j], R[i])
                       for i in range(nx) for j in range(ny) if Cm[i][j])
    mi = []
    for i in range(nx):
        for j in range(ny):
            q = R[i] * K[j]
            if not q:
                continue
            c = Cm[i][j]
            qm = mpf(q) / (Nm * Nm)
            if not c:
                mi.append(qm)
            else:
                mi.append(qm * phi(mpf(c * N - q) / q, mpf(c * N) / q))
    I = mpmath.fsum(mi)
    lb = LN[base]
    return {"entropy_x": hx / lb, "entropy_y": hy / lb, "joint_entropy": hxy / lb,
            "conditional_entropy_x_given_y": hxgy / lb, "conditional_entropy_y_given_x": hygx / lb,
            "mutual_information": I / lb,
            "normalized_mutual_information": (2 * I / (hx + hy)) if hx + hy else mpf(0),
            "variation_of_information": (hxgy + hygx) / lb}


def ref_surprisal(P, alpha, base):
    X = scaled_ints(P, alpha)
    S = sum(X)
    return [neg_log_prob(x, S) / LN[base] if x else mpmath.inf for x in X]


def order_name(a):
    s = repr(float(a))
    return s[:-2] if s.endswith(".0") else s


# -- judging --------------------------------------------------------------------

def judge(got, truth, rtol=RTOL):
    """(ok, relative error or None, why) of one value against the truth."""
    if isinstance(got, float) and math.isnan(got):
        return False, None, "NaN"
    if not isinstance(got, float):
        return False, None, f"not a number: {got!r}"
    if got < 0 or math.copysign(1.0, got) < 0:
        return False, None, "negative"
    tf = to_float(truth)
    if tf == INF:
        return got == INF, 0.0 if got == INF else None, "want inf"
    if got == INF:
        return False, None, "inf where the truth is finite"
    tm = as_mpf(truth)
    if tm == 0:
        return got == 0.0, 0.0 if got == 0.0 else None, "want exactly +0"
    err = abs(mpf(got) - tm)
    rel = float(err / tm)
    if tm < ATOL_TINY:          # checked absolutely; no relative error for the tables
        return (True, None, "") if err <= ATOL_TINY else (False, rel, "absolute error above 1e-300")
    return rel <= rtol, rel, f"relative error above {rtol:g}"


class Stats:
    """Per class and measure: number of checks, worst relative error, failures."""

    def __init__(self, ctx, case):
        self.ctx, self.case = ctx, case
        self.table = {}
        self.fails = 0
        self.checks = 0
        self.bitchecks = 0

    def add(self, cls, measure, got, truth, where, values, rtol=RTOL):
        ok, rel, why = judge(got, truth, rtol)
        self.count(cls, measure, ok, rel)
        if not ok:
            self.fail(cls, measure, where, values,
                      f"got={got!r} truth={mpmath.nstr(as_mpf(truth), 20) if not isinstance(truth, Fraction) or to_float(truth) != INF else 'inf'} "
                      f"rel={'n/a' if rel is None else '%.3g' % rel} ({why})")
        return ok

    def count(self, cls, measure, ok, rel):
        fam = measure_family(measure)
        e = self.table.setdefault(cls, {}).setdefault(fam, [0, 0.0, 0])
        e[0] += 1
        self.checks += 1
        if rel is not None and math.isfinite(rel):
            e[1] = max(e[1], rel)
        if not ok:
            e[2] += 1

    def fail(self, cls, measure, where, values, detail):
        self.fails += 1
        line = (f"REPRO seed={SEED} case={self.case} class={cls} {where} measure={measure} "
                f"{detail} values: {values}")
        self.ctx.failures.append(line)
        if self.fails <= 400:
            print(line, flush=True)
        elif self.fails == 401:
            print("(further REPRO lines only in failures.txt)", flush=True)
        with open(self.ctx.path("failures.txt"), "a") as f:
            f.write(line + "\n")

    def closed_form(self, cls, measure, ok, where, values, detail):
        self.count(cls, measure, ok, 0.0 if ok else None)
        if not ok:
            self.fail(cls, measure, where, values, detail)

    def bits(self, ok, what):
        self.bitchecks += 1
        self.ctx.checks += 1
        if not ok:
            self.ctx.failures.append(what)
            print("FAIL: " + what, flush=True)

    def dump(self):
        with open(self.ctx.path("stats.json"), "w") as f:
            json.dump({"seed": SEED, "cases": NCASES, "case": self.case, "checks": self.checks,
                       "bit_checks": self.bitchecks, "failures": self.fails,
                       "table": self.table}, f, indent=1, sort_keys=True)
        self.ctx.note(f"{self.case}: {self.checks} checks against the reference, "
                      f"{self.bitchecks} bit-identity checks, {self.fails} failed "
                      f"(seed {SEED}, H5DIV_RANDOM_CASES {NCASES})")
        if SUMMARY:
            print(format_table({self.case: self.table}), flush=True)
        self.ctx.checks += self.checks


def measure_family(m):
    if m.startswith("renyi_pq:"):
        return "renyi_pq"
    if m.startswith("renyi_qp:"):
        return "renyi_qp"
    return m


# -- generators -----------------------------------------------------------------

class DT:
    def __init__(self, code, order="<"):
        self.code = code
        self.order = order if code[1] != "1" else "|"
        self.isint = code[0] in "ui"
        self.vmax = INT_MAX.get(code)
        self.tiny = FLOAT_TINY.get(code)
        self.np = np.dtype(self.order + code if self.order != "|" else code)

    def __str__(self):
        return {"<": "le", ">": "be", "|": ""}[self.order] + self.code


def ival(x, vmax):
    return int(min(max(round(x), 0), vmax))


def mags(rng, n, D, spread=1.0):
    """n positive values of moderate size for dtype D (ints: counts)."""
    if D.isint:
        top = min(D.vmax, 10**6)
        lam = 10 ** rng.uniform(0, math.log10(max(top, 2)) - 0.5)
        return [max(1, ival(lam * v, D.vmax)) for v in rng.uniform(0.3, 1.7, n)]
    if rng.random() < 0.5:
        return [float(max(1, v)) for v in rng.poisson(10 ** rng.uniform(0, 4), n)]
    return [float(v) or 1.0 for v in rng.gamma(rng.uniform(0.3, 3), 1.0, n) * 10 ** (spread * rng.uniform(-3, 3))]


def g_counts(rng, n, k, D):
    w = rng.dirichlet(np.full(n, rng.uniform(0.3, 3)))
    top = min(D.vmax, 10**6) if D.isint else 10**6
    lam = 10 ** rng.uniform(0, math.log10(max(top, 2)))
    P = rng.poisson(lam * w).tolist()
    Qs = []
    for _ in range(k):
        c = rng.uniform(0, 1)
        w2 = (1 - c) * w + c * rng.dirichlet(np.ones(n))
        Qs.append(rng.poisson(lam * rng.uniform(0.3, 3) * w2).tolist())
    if D.isint:
        return [ival(v, D.vmax) for v in P], [[ival(v, D.vmax) for v in Q] for Q in Qs]
    if rng.random() < 0.5:    # non-integer weights
        P = [v * rng.uniform(0.5, 1.5) for v in P]
        Qs = [[v * rng.uniform(0.5, 1.5) for v in Q] for Q in Qs]
    return [float(v) for v in P], [[float(v) for v in Q] for Q in Qs]


def g_zeros(rng, n, k, D):
    P, Qs = g_counts(rng, n, k, D)
    P = [v if v else 1 for v in P]
    Qs = [[v if v else 1 for v in Q] for Q in Qs]

    def zap(X):
        f = rng.uniform(0.1, 0.7)
        return [0 if rng.random() < f else v for v in X]
    side = rng.choice(["p", "q", "both"])
    if side in ("p", "both"):
        P = zap(P)
    if side in ("q", "both"):
        Qs = [zap(Q) for Q in Qs]
    return P, Qs


def g_identical(rng, n, k, D):
    if D.code == "f8" and rng.random() < 0.3:
        P, _ = g_wide(rng, n, 1, D)
    else:
        P = mags(rng, n, D)
    Qs = []
    for _ in range(k):
        if rng.random() < 0.6:
            Qs.append(list(P))
        elif D.isint:
            c = int(rng.integers(2, 6))
            Qs.append([v * c for v in P] if max(P) * c <= D.vmax else list(P))
        else:
            e = int(rng.integers(-8, 9))
            Q = [math.ldexp(v, e) for v in P]
            ok = all((v == 0) == (w == 0) and (w == 0 or (D.code == "f8" or 1e-37 < w < 1e37))
                     and abs(w) < 1e290 and (w == 0 or abs(w) > 1e-300) for v, w in zip(P, Q))
            Qs.append(Q if ok else list(P))
    return P, Qs


def g_near(rng, n, k, D):
    if D.isint:
        M = min(D.vmax // 2, 2**62)
        P = [int(M * v) for v in rng.uniform(0.3, 1.0, n)]
    else:
        P = [float(v) for v in rng.uniform(0.1, 1.0, n) * 10 ** rng.uniform(-5, 5)]
    Qs = []
    for _ in range(k):
        eps = 10 ** rng.uniform(-9, -2)
        if D.isint:
            Qs.append([ival(v + round(v * eps * z), D.vmax) for v, z in zip(P, rng.standard_normal(n))])
        else:
            Qs.append([v * (1 + eps * z) for v, z in zip(P, rng.standard_normal(n))])
    return P, Qs


def g_mode_drop(rng, n, k, D):
    if D.isint:
        M = min(D.vmax // (2 * n), 2**62) if n else 1
        base = [max(1, int(M * v)) for v in rng.uniform(0.5, 1.0, n)]
        fmax = math.log10(max(M, 10))
    else:
        base = [float(v) for v in rng.uniform(0.5, 2.0, n)]
        fmax = 40 if D.code == "f8" else 30
    P = list(base)
    Qs = []
    for _ in range(k):
        if rng.random() < 0.5:
            Q = list(base)
        elif D.isint:
            Q = [ival(v * rng.uniform(0.9, 1.1), D.vmax) for v in base]
        else:
            Q = [v * rng.uniform(0.9, 1.1) for v in base]
        Qs.append(Q)
    j = int(rng.integers(1, min(3, n) + 1))
    for Q in Qs:
        bins = rng.choice(n, size=j, replace=False)
        side = P if rng.random() < 0.5 else Q     # hallucinated modes / dropped modes
        for b in bins:
            F = 10 ** rng.uniform(3, max(3.01, fmax))
            side[b] = max(1, round(side[b] / F)) if D.isint else side[b] / F
    return P, Qs


def g_u64(rng, n, k, D):
    top = 2**63 - 1 if D.code == "i8" else 2**64 - 1
    big = [2**62, 2**61, 2**60, 3 * 2**60]

    def one():
        out = []
        for _ in range(n):
            u = rng.random()
            if u < 0.55:
                v = int(rng.choice(big)) + int(rng.integers(-1000, 1000)) * int(rng.choice([1, 1, 2**20]))
            elif u < 0.65:
                v = int(min(top, 2**63 + int(rng.integers(0, 2**40)))) if D.code == "u8" else 2**62
            else:
                v = int(rng.integers(0, 6))
            out.append(min(max(v, 0), top))
        if not any(v >= 2**59 for v in out):
            out[int(rng.integers(0, n))] = 2**62
        return out
    return one(), [one() for _ in range(k)]


def g_wide(rng, n, k, D):
    hi = 300 - math.log10(max(n, 1)) - 1

    def val(e):
        return float(rng.uniform(1, 10)) * 10.0 ** float(e) if e > -300 else \
            float(rng.uniform(1, 10)) * 1e-20 * 10.0 ** float(e + 20)
    lo = rng.uniform(-323, -100)
    eP = rng.uniform(lo, hi, n)
    P = [val(e) for e in eP]
    Qs = []
    for _ in range(k):
        mode = rng.choice(["indep", "shift", "mantissa"])
        if mode == "indep":
            Q = [val(e) for e in rng.uniform(lo, hi, n)]
        elif mode == "shift":
            d = 10 ** rng.uniform(0, 2)
            Q = [val(min(hi, max(-323, e + rng.uniform(-d, d)))) for e in eP]
        else:
            Q = [v * rng.uniform(0.5, 2) if v > 1e-300 else v for v in P]
        if rng.random() < 0.3:
            Q = [0.0 if rng.random() < 0.2 else v for v in Q]
        Qs.append(Q)
    return P, Qs


def g_concentrated(rng, n, k, D):
    j = int(rng.integers(1, min(3, n) + 1))
    if D.isint:
        rest = [int(v) for v in rng.integers(0, 11, n)]
        bigtop = D.vmax // (j + 1)
        expo = lambda: min(bigtop, int(10 ** rng.uniform(min(6, math.log10(bigtop)), math.log10(bigtop))))
    else:
        rest = [float(v) for v in rng.uniform(0.5, 2.0, n)]
        lim = 30 if D.code == "f8" else 25
        expo = lambda: float(10 ** rng.uniform(6, lim))
    bins = rng.choice(n, size=j, replace=False)
    P = list(rest)
    for b in bins:
        P[b] = expo()
    Qs = []
    for _ in range(k):
        Q = list(rest) if rng.random() < 0.5 else [
            (ival(v * rng.uniform(0.5, 1.5), D.vmax) if D.isint else v * rng.uniform(0.5, 1.5)) for v in rest]
        same = rng.random() < 0.5              # only the small bins differ
        for b in bins:
            f = 1 if same else 1 + 10 ** rng.uniform(-6, -1) * rng.standard_normal()
            Q[b] = ival(P[b] * f, D.vmax) if D.isint else P[b] * f
        if rng.random() < 0.3:
            Q[int(rng.integers(0, n))] = expo()
        Qs.append(Q)
    if not any(P):
        P[0] = 1
    return P, Qs


def softmax(z):
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max())
    return e / e.sum()


def g_softmax(rng, n, k, D):
    sigma = 10 ** rng.uniform(0, 2)
    z = rng.standard_normal(n) * sigma
    P = softmax(z).tolist()
    Qs = []
    p32 = np.asarray(P, dtype=np.float32).astype(np.float64)
    for _ in range(k):
        u = rng.random()
        if u < 0.4:
            Q = softmax(z + rng.standard_normal(n) * 10 ** rng.uniform(-6, 0.5))
        elif u < 0.7:
            Q = softmax(z / rng.uniform(0.5, 2))
        else:                  # the same float32 values but for the far tail
            Q = p32 * np.where(p32 < 10 ** rng.uniform(-40, -10), rng.uniform(0.1, 10, n), 1.0)
        Qs.append(Q.tolist())
    return P, Qs


def g_disjoint(rng, n, k, D):
    P = mags(rng, n, D)
    Qs = []
    perm = rng.permutation(n)
    a = int(rng.integers(1, n))
    inP = set(perm[:a].tolist())
    P = [v if i in inP else 0 for i, v in enumerate(P)]
    for _ in range(k):
        Q = mags(rng, n, D)
        rest = [i for i in range(n) if i not in inP]
        keep = set(rest if rng.random() < 0.5 else
                   rng.choice(rest, size=int(rng.integers(1, len(rest) + 1)), replace=False).tolist())
        Qs.append([v if i in keep else 0 for i, v in enumerate(Q)])
    return P, Qs


def g_subnormal(rng, n, k, D):
    tiny = D.tiny
    top = 2**52 if D.code == "f8" else 2**23

    def sub():
        return float(int(rng.integers(1, top)) * tiny) if rng.random() < 0.7 else \
            float(int(rng.integers(1, 64)) * tiny)
    mode = rng.choice(["all", "mixed", "near"])
    P = [sub() for _ in range(n)]
    if mode == "mixed":
        for b in rng.choice(n, size=int(rng.integers(1, n + 1)), replace=False):
            P[b] = float(rng.uniform(0.5, 2))
    Qs = []
    for _ in range(k):
        if mode == "near":
            Q = [max(tiny, v + int(rng.integers(-3, 4)) * tiny) for v in P]
        else:
            Q = [sub() for _ in range(n)]
            if mode == "mixed":
                Q = [v if v >= 1e-30 and rng.random() < 0.7 else w for v, w in zip(P, Q)]
        if rng.random() < 0.2:
            Q = [0.0 if rng.random() < 0.3 else v for v in Q]
        Qs.append(Q)
    return P, Qs


def g_single(rng, n, k, D):
    def v():
        if D.isint:
            u = int(rng.integers(0, 2**53))
            return 1 + u * (D.vmax - 1) // 2**53 if rng.random() < 0.5 else \
                max(1, int(10 ** rng.uniform(0, math.log10(D.vmax))))
        return float(10 ** rng.uniform(-30, 30)) if rng.random() < 0.8 else float(D.tiny * 3)
    return [v()], [[v()] for _ in range(k)]


GENERATORS = {
    "counts": g_counts, "zeros": g_zeros, "identical": g_identical, "near": g_near,
    "mode_drop": g_mode_drop, "u64_huge": g_u64, "wide_f64": g_wide,
    "concentrated": g_concentrated, "softmax_f32": g_softmax, "disjoint": g_disjoint,
    "subnormal": g_subnormal, "single": g_single,
}


# The classes the issue names as failing are drawn twice as often.
ISSUE_CLASSES = {"mode_drop", "u64_huge", "wide_f64", "concentrated", "softmax_f32", "disjoint"}


def classes_for(D, n):
    if n == 1:
        return ["single"]
    c = ["counts", "zeros", "identical", "disjoint"]
    big = (not D.isint) or D.vmax >= 65535
    if big:
        c += ["near", "mode_drop", "concentrated"]
    if D.code in ("u8", "i8"):
        c.append("u64_huge")
    if D.code == "f8":
        c += ["wide_f64", "subnormal"]
    if D.code == "f4":
        c += ["softmax_f32", "subnormal"]
    return c


def fixed_rows(D, n):
    """The examples of the issue, as rows where they fit."""
    rows = []
    if n == 3 and D.code == "f8":
        for e in (1e-17, 1e-12, 1e-8):
            rows.append(("mode_drop", [1.0, 1.0, 1.0], [1.0, 1.0, e]))
            rows.append(("mode_drop", [1.0, 1.0, e], [1.0, 1.0, 1.0]))
    if n == 4 and D.code == "u8":
        rows.append(("u64_huge", [2**62, 2**62, 3, 2**61], [2**60, 2**62, 2**62, 1]))
    return rows


def make_batch(rng, D, n, m, k, classes=None, with_fixed=True):
    """m rows of P and k candidates of [m, n] values for dtype D, as stored."""
    rows = []
    if with_fixed:
        for cls, p, q in fixed_rows(D, n)[:m]:
            rows.append((cls, p, [q] * k))
    allowed = classes or classes_for(D, n)
    weight = np.array([2.0 if c in ISSUE_CLASSES else 1.0 for c in allowed])
    while len(rows) < m:
        cls = str(rng.choice(allowed, p=weight / weight.sum()))
        P, Qs = GENERATORS[cls](rng, n, k, D)
        rows.append((cls, P, Qs))
    P = store_array([r[1] for r in rows], D)
    Qs = [store_array([r[2][j] for r in rows], D) for j in range(k)]
    fix_rows(P, D)
    for Q in Qs:
        fix_rows(Q, D)
    return [r[0] for r in rows], P, Qs


def store_array(rows, D):
    if D.isint:
        a = np.array([[min(max(int(v), 0), D.vmax) for v in r] for r in rows], dtype=object)
        return a.astype(D.np.newbyteorder("=") if D.order != "|" else D.np)
    a = np.array(rows, dtype=np.float64)
    a = np.clip(np.nan_to_num(a, nan=0.0, posinf=0.0), 0, None)
    if D.code == "f4":
        a = np.clip(a, 0, 3e38)
    return a.astype(D.np.newbyteorder("=") if D.order != "|" else D.np)


def fix_rows(A, D):
    """No all-zero row (an input error); float totals well inside the range."""
    for i in range(A.shape[0]):
        if not A[i].any():
            A[i, 0] = 1
        if not D.isint:
            s = float(np.sum(A[i].astype(np.float64)))
            if not math.isfinite(s) or s > 1e307:
                A[i] = A[i] / 1e10


# -- files and runs -------------------------------------------------------------

def write_file(path, arrays, D, layout, rng):
    with h5py.File(path, "w") as f:
        for name, a in arrays.items():
            a = np.ascontiguousarray(a).astype(D.np)
            kw = {}
            if layout != "contiguous":
                ch = tuple(int(rng.integers(1, s + 1)) for s in a.shape)
                kw["chunks"] = ch
                if layout == "deflate":
                    kw["compression"] = "gzip"
                    kw["compression_opts"] = int(rng.integers(1, 10))
                    if rng.random() < 0.5:
                        kw["shuffle"] = True
            f.create_dataset(name, data=a, dtype=D.np, **kw)


def read_back(path, name):
    with h5py.File(path, "r") as f:
        a = f[name][()]
    return a


def py_values(row):
    return [int(v) for v in row] if row.dtype.kind in "ui" else [float(v) for v in row]


def json_run(ctx, args, ranks, what):
    """h5div ARGS --json; returns the parsed object with floats, or None."""
    res = ctx.h5div_run(list(args[:1]) + ["--json"] + list(args[1:]), ranks=ranks, timeout=120)
    if not T.check_success(ctx, res, what):
        return None
    toks = []

    def pf(s):
        toks.append(s)
        return float(s)
    try:
        obj = json.loads(res.out, parse_float=pf, parse_int=pf)
    except ValueError as e:
        ctx.check(False, f"{what}: stdout is not JSON ({e})", res)
        return None
    bad = [t for t in toks if not T._seventeen_digits(t, float(t))]
    ctx.check(not bad, f"{what}: numbers not printed with 17 significant digits: {bad[:5]}", res)
    ctx.check(obj.get("ranks") == (ranks or 1), f"{what}: JSON ranks {obj.get('ranks')!r}", res)

    def conv(v):
        if isinstance(v, list):
            return [conv(x) for x in v]
        if isinstance(v, str):
            return float(v) if v in ("inf", "-inf", "nan") else v
        return v
    meas = obj.get("measures")
    if not ctx.check(isinstance(meas, dict), f"{what}: no measures object", res):
        return None
    return {k: conv(v) for k, v in meas.items()}


def label(r):
    return "plain" if r is None else f"-n {r}"


def values_text(ctx, tag, P, Qs):
    """The values inline when short, else a file holding them."""
    if len(P) <= 8:
        return f"P={P!r} " + " ".join(f"Q{j + 1}={Q!r}" for j, Q in enumerate(Qs))
    os.makedirs(ctx.path("repro"), exist_ok=True)
    path = ctx.path(f"repro/{tag}.json")
    with open(path, "w") as f:
        json.dump({"P": [repr(v) if isinstance(v, float) else v for v in P],
                   "Q": [[repr(v) if isinstance(v, float) else v for v in Q] for Q in Qs]}, f)
    return path


def bits_equal(a, b):
    if isinstance(a, list) or isinstance(b, list):
        return isinstance(a, list) and isinstance(b, list) and len(a) == len(b) and \
            all(bits_equal(x, y) for x, y in zip(a, b))
    return isinstance(a, float) and isinstance(b, float) and T.same_bits(a, b)


RANK_CYCLE = [None, 2, 3, 4]


# -- compare --------------------------------------------------------------------

def compare_batches(ctx, st, rng, dtypes, ns, rows_total, mode, first=None):
    """Generate and check compare batches until ROWS_TOTAL pairs are checked;
    FIRST = (dtype, n) fixes the first batch (where the issue's examples fit)."""
    done = 0
    bi = 0
    while done < rows_total:
        code = str(rng.choice(dtypes))
        D = DT(code, str(rng.choice(["<", ">"])))
        n = int(rng.choice(ns))
        m = int(min(rows_total - done, rng.integers(4, 41)))
        if bi == 0 and first is not None:
            D, n, m = DT(first[0], D.order), first[1], max(m, 8)
        k = 1
        if mode == "candidates" or rng.random() < 0.15:
            k = int(rng.integers(2, 5))
        alpha = None
        if mode == "pseudocount":
            alpha = str(rng.choice(PSEUDOCOUNTS))
        classes = None
        if mode == "pseudocount":
            classes = [c for c in classes_for(D, n) if c in
                       ("counts", "zeros", "near", "identical", "mode_drop", "disjoint", "single",
                        "wide_f64")]
        cls, P, Qs = make_batch(rng, D, n, m, k, classes, with_fixed=alpha is None)
        gen = list(cls)
        if alpha is not None:               # counted as their own class, generator in the REPRO
            cls = ["pseudocount"] * m
        layout = str(rng.choice(["contiguous", "chunked", "deflate"]))
        tag = f"b{bi}"
        path = ctx.path(f"{tag}.h5")
        arrays = {"P": P}
        arrays.update({f"Q{j + 1}": Q for j, Q in enumerate(Qs)})
        one_d = [int(r) for r in rng.choice(m, size=min(m, 2), replace=False)] if mode != "pseudocount" else []
        for r in one_d:
            arrays[f"P_{r}"] = P[r]
            for j, Q in enumerate(Qs):
                arrays[f"Q{j + 1}_{r}"] = Q[r]
        write_file(path, arrays, D, layout, rng)
        Ps = read_back(path, "P")
        Qsr = [read_back(path, f"Q{j + 1}") for j in range(k)]
        base = str(rng.choice(["2", "e", "10"]))
        # 4, 6 or 8 orders each way (8 is the most one run takes)
        orders = FIXED_ORDERS + [float(x) for x in rng.choice(MORE_ORDERS, size=int(rng.choice([0, 2, 4])),
                                                              replace=False)]
        width = str(rng.choice(WIDTHS))
        names = (DEFAULTS + ["bhattacharyya", "chi2_pq", "chi2_qp", "separation_power"] +
                 [f"renyi_pq:{order_name(a)}" for a in orders] +
                 [f"renyi_qp:{order_name(a)}" for a in orders] + ["wasserstein1", "ks"] + TESTS)
        opts = ["-b", base, "--measures", ",".join(names), "--bin-width", width]
        names = names + TEST_PARTS          # written with the tests
        if alpha is not None:
            opts += ["--pseudocount", alpha]
        refs = [f"{path}:/P"] + [f"{path}:/Q{j + 1}" for j in range(k)]
        r1 = RANK_CYCLE[bi % 4]
        out = bi % 3 == 0
        args = ["compare"] + opts + refs + (["-o", ctx.path(f"{tag}-out.h5") + ":/r", "--overwrite"] if out else [])
        cmd = f"h5div {' '.join(args)}"
        what = f"{tag} ({D} {layout} [{m},{n}] k={k} base {base}{' alpha ' + alpha if alpha else ''}, {label(r1)})"
        got = json_run(ctx, args, r1, what)
        bi += 1
        done += m
        if got is None:
            continue
        a = Fraction(float(alpha)) if alpha is not None else Fraction(0)
        for r in range(m):
            Pv = py_values(Ps[r])
            for j in range(k):
                Qv = py_values(Qsr[j][r])
                ref, disjoint = ref_compare(Pv, Qv, a, orders, orders, float(width))
                ref = in_base(ref, base)
                where = f"file={path} row={r} cand={j} dtype={D} layout={layout} base={base}" + \
                    (f" pseudocount={alpha} gen={gen[r]}" if alpha else "") + f" ranks={label(r1)}"
                vals = None
                for name in names:
                    v = got.get(name)
                    if k > 1:
                        v = v[j] if isinstance(v, list) else v
                    v = v[r] if isinstance(v, list) else v
                    if v is None:
                        st.closed_form(cls[r], name, False, where, "", f"{name} missing from the JSON")
                        continue
                    truth, rtol = ref.get(name), RTOL
                    if name.endswith("_p_value"):
                        truth, rtol = p_value_truth(got, name, k, j, r), P_VALUE_RTOL
                    ok, _, _ = judge(v, truth, rtol)
                    if not ok and vals is None:
                        vals = values_text(ctx, f"{tag}-row{r}-cand{j}", Pv, [Qv])
                    st.add(cls[r], name, v, truth, where, vals or f"(cmd: {cmd})", rtol)
                if disjoint:
                    cf = [("total_variation", 1.0), ("hellinger", 1.0), ("bhattacharyya", INF),
                          ("separation_power", 1.0)]
                    if base == "2":
                        cf += [("js_divergence", 1.0), ("js_distance", 1.0)]
                    for name, want in cf:
                        v = got[name][j] if k > 1 else got[name]
                        v = v[r]
                        if not T.same_bits(v, want):
                            vals = vals or values_text(ctx, f"{tag}-row{r}-cand{j}", Pv, [Qv])
                        st.closed_form(cls[r], name + "(disjoint)", T.same_bits(v, want), where, vals,
                                       f"got={v!r} want exactly {want!r} (disjoint supports)")
        # the same bits on another rank count (and sometimes small pieces); the
        # first batch of a case on every rank count
        r2 = RANK_CYCLE[(bi + 1) % 4]
        if r2 == r1:
            r2 = 3
        # The smallest memory bound that holds the per-row state of the m rows
        # (16 (k+1) + 8 k per measure bytes a row, in half of the bound) and
        # still streams the data in 2 KiB pieces.
        state = m * (16 * (k + 1) + 8 * k * len(names))
        small = str(max(4096, 2 * state + 4096))
        extra = [[], [], ["--piece-size", "1KiB"], ["--memory-per-rank", small, "--piece-size", "2KiB"],
                 ["--independent-io"]][int(rng.integers(0, 5))]
        again = [(r2, extra)] if bi > 1 else [(r, extra) for r in RANK_CYCLE if r != r1]
        for r2, extra in again:
            got2 = json_run(ctx, ["compare"] + opts + extra + refs, r2,
                            f"{what} again on {label(r2)} {' '.join(extra)}")
            if got2 is None:
                continue
            for name in names:
                st.bits(bits_equal(got.get(name), got2.get(name)),
                        f"{tag}: {name} differs between {label(r1)} and {label(r2)} {' '.join(extra)}: "
                        f"{got.get(name)!r} vs {got2.get(name)!r} (cmd: {cmd})")
        if out:
            check_output(ctx, st, ctx.path(f"{tag}-out.h5"), "/r", got, names, tag)
        # 1-D runs of some rows: the oracle again, and the bits of the row
        for r in one_d:
            refs1 = [f"{path}:/P_{r}"] + [f"{path}:/Q{j + 1}_{r}" for j in range(k)]
            g1 = json_run(ctx, ["compare"] + opts + refs1, None, f"{tag} row {r} as 1-D")
            if g1 is None:
                continue
            for name in names:
                row_vals = got.get(name)
                if k > 1:
                    want = [x[r] for x in row_vals] if isinstance(row_vals, list) else row_vals
                else:
                    want = row_vals[r] if isinstance(row_vals, list) else row_vals
                st.bits(bits_equal(g1.get(name), want),
                        f"{tag}: 1-D run of row {r}: {name} = {g1.get(name)!r}, its 2-D row {want!r}")


TESTS = ["chi2_test", "g_test"]
TEST_PARTS = ["chi2_test_dof", "chi2_test_p_value", "g_test_dof", "g_test_p_value"]
# GSL's gamma_inc_Q against mpmath, from the statistic h5div printed (the
# statistic itself is checked at RTOL; the p-value amplifies its error by up
# to x/2 in the tail, which is the statistic's conditioning, not GSL's).
P_VALUE_RTOL = 1e-11


def p_value_truth(got, name, k, j, r):
    """Q(dof / 2, x / 2) at 50 digits for the dof and statistic h5div printed."""
    def pick(n):
        v = got.get(n)
        if k > 1:
            v = v[j] if isinstance(v, list) else v
        return v[r] if isinstance(v, list) else v
    stat, dof = pick(name[:-len("_p_value")]), pick(name[:-len("_p_value")] + "_dof")
    if not isinstance(stat, float) or not isinstance(dof, float):
        return mpmath.nan
    if dof <= 0 or stat == 0:
        return mpf(1)
    if stat == INF:
        return mpf(0)
    return mpmath.gammainc(mpf(dof) / 2, mpf(stat) / 2, mpmath.inf, regularized=True)


def check_output(ctx, st, path, group, got, names, tag):
    try:
        with h5py.File(path, "r") as f:
            for name in names:
                d = f[group][name]
                v = d[()]
                ok = d.dtype == np.float64
                flat = v.tolist() if hasattr(v, "tolist") else v
                st.bits(ok and bits_equal(_floats(flat), got.get(name)),
                        f"{tag}: {path}:{group}/{name} = {flat!r} ({d.dtype}), JSON {got.get(name)!r}")
    except (OSError, KeyError) as e:
        st.bits(False, f"{tag}: cannot read the result {path}:{group}: {e}")


def _floats(x):
    if isinstance(x, list):
        return [_floats(v) for v in x]
    return float(x)


# -- entropy --------------------------------------------------------------------

ESTIMATORS = ["plugin", "miller-madow", "chao-shen", "shrink", "dirichlet"]
DIRICHLET = ["0.5", "1", "0.01", "3"]


def entropy_batches(ctx, st, rng, rows_total):
    done = 0
    bi = 0
    while done < rows_total:
        code = str(rng.choice(list(INT_MAX) + ["u8", "i8", "f4", "f8", "f8", "f8"]))
        D = DT(code, str(rng.choice(["<", ">"])))
        n = int(rng.choice([1, 2, 3, 5, 8, 17, 40, 100, 300]))
        m = int(min(rows_total - done, rng.integers(4, 31)))
        cls, P, Qs = make_batch(rng, D, n, (m + 1) // 2, 1)
        A = np.concatenate([P, Qs[0]])[:m]
        cls = (cls + cls)[:m]
        if not D.isint and rng.random() < 0.4:       # whole-number floats: every estimator
            A = np.floor(A.astype(np.float64) * 1000 if rng.random() < 0.5 else A.astype(np.float64))
            A = np.minimum(A, 2.0**53 if code == "f8" else 2.0**24).astype(D.np.newbyteorder("="))
            fix_rows(A, D)
        layout = str(rng.choice(["contiguous", "chunked", "deflate"]))
        path = ctx.path(f"e{bi}.h5")
        write_file(path, {"P": A}, D, layout, rng)
        Ps = read_back(path, "P")
        whole = bool(np.all(np.floor(Ps.astype(np.float64)) == Ps.astype(np.float64))) and \
            (D.isint or float(np.max(Ps)) < 2.0**53)
        runs = [("plugin", None)]
        if whole:
            runs += [("miller-madow", None), ("chao-shen", None), ("shrink", None),
                     ("dirichlet:" + str(rng.choice(DIRICHLET)), None)]
        runs.append(("plugin", str(rng.choice(PSEUDOCOUNTS))))
        for ri, (est, alpha) in enumerate(runs):
            base = str(rng.choice(["2", "e", "10"]))
            r1 = RANK_CYCLE[(bi + ri) % 4]
            opts = ["-b", base, "--estimator", est] + (["--pseudocount", alpha] if alpha else [])
            out = (bi + ri) % 4 == 0
            args = ["entropy"] + opts + [f"{path}:/P"] + (
                ["-o", ctx.path(f"e{bi}-{ri}.h5") + ":/r", "--overwrite"] if out else [])
            what = f"e{bi} ({D} {layout} [{m},{n}] {est} base {base}{' alpha ' + alpha if alpha else ''}, {label(r1)})"
            got = json_run(ctx, args, r1, what)
            if got is None:
                continue
            fam = est.split(":")[0] + ("+pseudocount" if alpha else "")
            a = Fraction(float(alpha)) if alpha else Fraction(0)
            names = ["entropy", "perplexity", "total_count", "nonzero_bins"] + (
                ["shrinkage_lambda"] if est == "shrink" else [])
            for r in range(m):
                Pv = py_values(Ps[r])
                ref = ref_entropy(Pv, est, a, base)
                where = f"file={path} row={r} dtype={D} layout={layout} estimator={est} base={base}" + \
                    (f" pseudocount={alpha}" if alpha else "") + f" ranks={label(r1)}"
                vals = None
                for name in names:
                    v = got.get(name)
                    v = v[r] if isinstance(v, list) else v
                    if v is None:
                        st.closed_form(cls[r], f"{fam}:{name}", False, where, "", "missing from the JSON")
                        continue
                    if not judge(v, ref[name])[0] and vals is None:
                        vals = values_text(ctx, f"e{bi}-row{r}", Pv, [])
                    st.add(cls[r], f"{fam}:{name}", v, ref[name], where, vals or f"(cmd: h5div {' '.join(args)})")
            if ri < 2 or rng.random() < 0.3:
                r2 = RANK_CYCLE[(bi + ri + 2) % 4]
                got2 = json_run(ctx, ["entropy"] + opts + [f"{path}:/P"], r2, f"{what} again on {label(r2)}")
                if got2 is not None:
                    for name in names:
                        st.bits(bits_equal(got.get(name), got2.get(name)),
                                f"e{bi} {est}: {name} differs between {label(r1)} and {label(r2)}")
            if out:
                check_output(ctx, st, ctx.path(f"e{bi}-{ri}.h5"), "/r", got, names, f"e{bi}")
        bi += 1
        done += m


# -- joint ------------------------------------------------------------------------

JOINT = ["entropy_x", "entropy_y", "joint_entropy", "conditional_entropy_x_given_y",
         "conditional_entropy_y_given_x", "mutual_information", "normalized_mutual_information",
         "variation_of_information"]


def joint_table(rng, D, nx, ny):
    kind = str(rng.choice(["counts", "zeros", "near_independent", "independent", "function",
                           "mode_drop", "concentrated", "single"] +
                          (["u64_huge"] if D.code in ("u8", "i8") else []) +
                          (["wide_f64", "subnormal"] if D.code == "f8" else []) +
                          (["softmax_f32", "subnormal"] if D.code == "f4" else [])))
    n = nx * ny
    if kind == "single":
        nx = ny = 1
        return kind, np.array([[g_single(rng, 1, 1, D)[0][0]]], dtype=object), 1, 1
    if kind in ("near_independent", "independent"):
        a = rng.uniform(0.2, 1, nx)
        b = rng.uniform(0.2, 1, ny)
        if D.isint:
            top = min(D.vmax, 2**62)
            if kind == "independent":
                ia = [max(1, int(v * math.isqrt(top) / 2)) for v in a]
                ib = [max(1, int(v * math.isqrt(top) / 2)) for v in b]
                C = [[x * y for y in ib] for x in ia]
            else:
                eps = 10 ** rng.uniform(-9, -2)
                C = [[ival(x * y * top / 2 * (1 + eps * rng.standard_normal()), D.vmax) for y in b] for x in a]
        else:
            C = [[float(x * y * (1 + (0 if kind == "independent" else 10 ** rng.uniform(-9, -2))
                                  * rng.standard_normal())) for y in b] for x in a]
            if kind == "independent":      # exact products: powers of two
                C = [[2.0 ** int(i) * 2.0 ** int(j) for j in rng.integers(-20, 20, ny)][:ny]
                     for i in rng.integers(-20, 20, 1)] * nx
                C = [[C[0][j] * 2.0 ** int(e) for j in range(ny)] for e in rng.integers(-20, 20, nx)]
        return kind, np.array(C, dtype=object), nx, ny
    if kind == "function":
        f = rng.integers(0, ny, nx)
        C = [[0] * ny for _ in range(nx)]
        for i in range(nx):
            C[i][f[i]] = mags(rng, 1, D)[0] or 1
        return kind, np.array(C, dtype=object), nx, ny
    gen = GENERATORS[{"counts": "counts", "zeros": "zeros", "mode_drop": "mode_drop",
                      "concentrated": "concentrated", "u64_huge": "u64_huge", "wide_f64": "wide_f64",
                      "subnormal": "subnormal", "softmax_f32": "softmax_f32"}[kind]]
    P, Qs = gen(rng, n, 1, D)
    X = Qs[0] if rng.random() < 0.5 else P
    return kind, np.array(X, dtype=object).reshape(nx, ny), nx, ny


def joint_cases(ctx, st, rng, count):
    for t in range(count):
        D = DT(str(rng.choice(list(INT_MAX) + ["f4", "f8", "f8"])), str(rng.choice(["<", ">"])))
        nx, ny = int(rng.integers(1, 13)), int(rng.integers(1, 13))
        kind, C, nx, ny = joint_table(rng, D, nx, ny)
        A = store_array(C.tolist(), D)
        if not A.any():
            A[0, 0] = 1
        if not D.isint and float(np.sum(A.astype(np.float64))) > 1e307:
            A = A / 1e10
        layout = str(rng.choice(["contiguous", "chunked", "deflate"]))
        path = ctx.path(f"j{t}.h5")
        write_file(path, {"PXY": A}, D, layout, rng)
        Cs = read_back(path, "PXY")
        base = str(rng.choice(["2", "e", "10"]))
        r1 = RANK_CYCLE[t % 4] if t % 3 == 0 else None
        alpha = str(rng.choice(PSEUDOCOUNTS)) if rng.random() < 0.25 else None
        out = t % 4 == 2
        args = ["joint", "-b", base, f"{path}:/PXY"] + (["--pseudocount", alpha] if alpha else []) + (
            ["-o", ctx.path(f"j{t}-out.h5") + ":/r", "--overwrite"] if out else [])
        what = f"j{t} ({D} {layout} [{nx},{ny}] {kind} base {base}, {label(r1)})"
        got = json_run(ctx, args, r1, what)
        if got is None:
            continue
        if out:
            check_output(ctx, st, ctx.path(f"j{t}-out.h5"), "/r", got, JOINT, f"j{t}")
        ref = ref_joint([py_values(row) for row in Cs], base, Fraction(float(alpha)) if alpha else Fraction(0))
        where = f"file={path} table={t} dtype={D} layout={layout} base={base}" + \
            (f" pseudocount={alpha}" if alpha else "") + f" ranks={label(r1)}"
        vals = None
        for name in JOINT:
            v = got.get(name)
            if v is None:
                st.closed_form(kind, "joint:" + name, False, where, "", "missing from the JSON")
                continue
            if not judge(v, ref[name])[0] and vals is None:
                vals = values_text(ctx, f"j{t}", [py_values(row) for row in Cs] if nx * ny > 8 else
                                   [py_values(row) for row in Cs], [])
            st.add(kind, "joint:" + name, v, ref[name], where, vals or f"(cmd: h5div {' '.join(args)})")
        if t % 5 == 1:
            r2 = RANK_CYCLE[1 + t % 3]
            got2 = json_run(ctx, [a for a in args if not a.endswith(":/r") and a not in ("-o", "--overwrite")],
                            r2, f"{what} again on {label(r2)}")
            if got2 is not None:
                for name in JOINT:
                    st.bits(bits_equal(got.get(name), got2.get(name)),
                            f"j{t}: {name} differs between {label(r1)} and {label(r2)}")


# -- surprisal --------------------------------------------------------------------

def surprisal_cases(ctx, st, rng, count):
    for t in range(count):
        code = str(rng.choice(list(INT_MAX) + ["f4", "f8", "f8"]))
        D = DT(code, str(rng.choice(["<", ">"])))
        n = int(rng.choice([1, 2, 3, 7, 16, 50, 300]))
        cls, P, Qs = make_batch(rng, D, n, 1, 1)
        X = P[0] if rng.random() < 0.5 else Qs[0][0]
        layout = str(rng.choice(["contiguous", "chunked", "deflate"]))
        path = ctx.path(f"s{t}.h5")
        write_file(path, {"P": X}, D, layout, rng)
        Xs = py_values(read_back(path, "P"))
        base = str(rng.choice(["2", "e", "10"]))
        alpha = str(rng.choice(PSEUDOCOUNTS)) if rng.random() < 0.25 else None
        out = ctx.path(f"s{t}-out.h5")
        r1 = RANK_CYCLE[t % 4] if t % 3 == 0 else None
        args = ["surprisal", "-b", base, f"{path}:/P", "-o", out + ":/s", "--overwrite"] + (
            ["--pseudocount", alpha] if alpha else [])
        res = ctx.h5div_run(args, ranks=r1, timeout=120)
        if not T.check_success(ctx, res, f"s{t} surprisal"):
            continue
        got = read_back(out, "/s")
        st.bits(got.dtype == np.float64 and got.shape == (n,), f"s{t}: output {got.dtype} {got.shape}")
        ref = ref_surprisal(Xs, Fraction(float(alpha)) if alpha else Fraction(0), base)
        where = f"file={path} dtype={D} layout={layout} base={base}" + \
            (f" pseudocount={alpha}" if alpha else "") + f" ranks={label(r1)}"
        vals = None
        for i in range(n):
            v = float(got[i])
            if not judge(v, ref[i])[0] and vals is None:
                vals = values_text(ctx, f"s{t}", Xs, [])
            st.add(cls[0], "surprisal", v, ref[i], where + f" bin={i}", vals or f"(cmd: h5div {' '.join(args)})")
        if t % 4 == 1:
            r2 = RANK_CYCLE[1 + t % 3]
            out2 = ctx.path(f"s{t}-out2.h5")
            args2 = [a if a != out + ":/s" else out2 + ":/s" for a in args]
            res2 = ctx.h5div_run(args2, ranks=r2, timeout=120)
            if T.check_success(ctx, res2, f"s{t} surprisal on {label(r2)}"):
                got2 = read_back(out2, "/s")
                st.bits(bits_equal([float(x) for x in got], [float(x) for x in got2]),
                        f"s{t}: surprisal differs between {label(r1)} and {label(r2)}")


# -- the reference checked against the definitions ---------------------------------

def naive_compare(P, Q, alpha, orders, width, dps=400):
    """The compare measures straight from their definitions at DPS digits
    (no care for cancellation: enough digits instead)."""
    with mpmath.workdps(dps):
        a = as_mpf(alpha)
        p = [as_mpf(Fraction(x)) + a for x in P]
        q = [as_mpf(Fraction(x)) + a for x in Q]
        sp, sq = mpmath.fsum(p), mpmath.fsum(q)
        Pr, Qr = p, q
        p, q = [x / sp for x in p], [x / sq for x in q]
        L, inf = mpmath.log, mpmath.inf
        po = any(x and not y for x, y in zip(p, q))
        qo = any(y and not x for x, y in zip(p, q))
        m = [(x + y) / 2 for x, y in zip(p, q)]
        bc = mpmath.fsum(mpmath.sqrt(x * y) for x, y in zip(p, q))
        r = {"entropy_p": -mpmath.fsum(x * L(x) for x in p if x),
             "entropy_q": -mpmath.fsum(x * L(x) for x in q if x),
             "cross_entropy_pq": inf if po else -mpmath.fsum(x * L(y) for x, y in zip(p, q) if x),
             "cross_entropy_qp": inf if qo else -mpmath.fsum(y * L(x) for x, y in zip(p, q) if y),
             "kl_pq": inf if po else mpmath.fsum(x * L(x / y) for x, y in zip(p, q) if x),
             "kl_qp": inf if qo else mpmath.fsum(y * L(y / x) for x, y in zip(p, q) if y),
             "js_divergence": (mpmath.fsum(x * L(x / z) for x, z in zip(p, m) if x) +
                               mpmath.fsum(y * L(y / z) for y, z in zip(q, m) if y)) / 2,
             "total_variation": mpmath.fsum(abs(x - y) for x, y in zip(p, q)) / 2,
             "hellinger": mpmath.sqrt(max(0, 1 - bc)),
             "bhattacharyya": -L(bc) if bc else inf,
             "chi2_pq": inf if po else mpmath.fsum((x - y) ** 2 / y for x, y in zip(p, q) if y),
             "chi2_qp": inf if qo else mpmath.fsum((x - y) ** 2 / x for x, y in zip(p, q) if x),
             "separation_power": mpmath.fsum((x - y) ** 2 / (x + y) for x, y in zip(p, q) if x or y) / 2}
        ra, rb = mpmath.sqrt(sq / sp), mpmath.sqrt(sp / sq)
        r["chi2_test"] = mpmath.fsum((ra * x - rb * y) ** 2 / (x + y) for x, y in zip(Pr, Qr) if x or y)
        E = [sp * (x + y) / (sp + sq) for x, y in zip(Pr, Qr)]
        F = [sq * (x + y) / (sp + sq) for x, y in zip(Pr, Qr)]
        r["g_test"] = 2 * mpmath.fsum([x * L(x / e) for x, e in zip(Pr, E) if x] +
                                      [y * L(y / f) for y, f in zip(Qr, F) if y])
        r["chi2_test_dof"] = r["g_test_dof"] = sum(1 for x, y in zip(Pr, Qr) if x or y) - 1
        for A in orders:
            A = mpmath.mpf(A)
            for nm, X, Y, xo in (("renyi_pq:", p, q, po), ("renyi_qp:", q, p, qo)):
                S = mpmath.fsum(x ** A * y ** (1 - A) for x, y in zip(X, Y) if x and y)
                r[nm + order_name(A)] = inf if (A > 1 and xo) or not S else L(S) / (A - 1)
        cp = cq = ks = w = 0
        for i, (x, y) in enumerate(zip(p, q)):
            cp += x
            cq += y
            ks = max(ks, abs(cp - cq))
            if i < len(p) - 1:
                w += abs(cp - cq)
        r["ks"], r["wasserstein1"] = ks, w * as_mpf(Fraction(width))
        return r


def naive_entropy(P, est, dps=400):
    """The estimators straight from the README's definitions at DPS digits (nats)."""
    with mpmath.workdps(dps):
        y = [as_mpf(Fraction(v)) for v in P]
        n, K = mpmath.fsum(y), len(y)
        L = mpmath.log

        def plug(f):
            s = mpmath.fsum(f)
            return -mpmath.fsum(x / s * L(x / s) for x in f if x)
        if est == "plugin":
            return plug(y), None
        if est == "miller-madow":
            return plug(y) + (sum(1 for v in y if v) - 1) / (2 * n), None
        if est == "chao-shen":
            f1 = sum(1 for v in y if v == 1)
            C = 1 - (n - 1 if f1 == n else f1) / n
            return -mpmath.fsum(C * v / n * L(C * v / n) / (1 - (1 - C * v / n) ** n) for v in y if v), None
        if est == "shrink":
            u = [v / n for v in y]
            msp = mpmath.fsum((x - mpmath.mpf(1) / K) ** 2 for x in u)
            lam = 1 if n <= 1 or msp == 0 else min(1, max(0, (1 - mpmath.fsum(x * x for x in u)) / ((n - 1) * msp)))
            return plug([lam / K + (1 - lam) * x for x in u]), lam
        a = as_mpf(Fraction(float(est.split(":")[1])))
        return plug([v + a for v in y]), None


def naive_joint(C, dps=400):
    """The joint measures from their definitions (differences of entropies) at DPS digits, nats."""
    with mpmath.workdps(dps):
        M = [[as_mpf(Fraction(v)) for v in r] for r in C]
        N = mpmath.fsum(v for r in M for v in r)
        px = [mpmath.fsum(r) / N for r in M]
        py = [mpmath.fsum(r[j] for r in M) / N for j in range(len(M[0]))]

        def H(xs):
            return -mpmath.fsum(x * mpmath.log(x) for x in xs if x)
        hx, hy, hxy = H(px), H(py), H([v / N for r in M for v in r])
        mi = hx + hy - hxy
        return {"entropy_x": hx, "entropy_y": hy, "joint_entropy": hxy,
                "conditional_entropy_x_given_y": hxy - hy, "conditional_entropy_y_given_x": hxy - hx,
                "mutual_information": mi,
                "normalized_mutual_information": 2 * mi / (hx + hy) if hx + hy else mpmath.mpf(0),
                "variation_of_information": 2 * hxy - hx - hy}


def oracle_selfcheck(ctx, st, rng):
    """The cancellation-free reference against the plain definitions at 400
    digits on random rows of every class (where the plain form has digits
    left: a truth below 1e-150 loses them to 1 - BC and the like)."""
    orders = FIXED_ORDERS + [0.1, 10.0]
    tiny = mpmath.mpf(10) ** -150      # below, the plain forms are noise (sqrt(1 - BC) of 400 digits)
    for it in range(max(20, NCASES)):
        D = DT(str(rng.choice(list(INT_MAX) + ["f4", "f8", "f8"])))
        n = int(rng.choice([1, 2, 3, 5, 9, 17]))
        cls, P, Qs = make_batch(rng, D, n, 1, 1)
        Pv, Qv = py_values(P[0]), py_values(Qs[0][0])
        alpha = Fraction(0) if rng.random() < 0.7 else Fraction(float(rng.choice(PSEUDOCOUNTS)))
        ref, _ = ref_compare(Pv, Qv, alpha, orders, orders, 0.5)
        nv = naive_compare(Pv, Qv, alpha, orders, 0.5)
        # chi2_test and g_test are in units of the counts: the definition's
        # noise at 400 digits is about 1e-400 of the totals (a total of 1e273
        # holds no digit of a bin of 1e-195).
        counts = sum(as_mpf(x) for x in Pv) + sum(as_mpf(x) for x in Qv)
        for k, v in ref.items():
            t, v = nv[k], as_mpf(v)
            floor = max(tiny, counts * mpmath.mpf(10) ** -370) if k in ("chi2_test", "g_test") else tiny
            if t == mpmath.inf or v == mpmath.inf:
                ok, rel = t == v, "inf"
            elif abs(t) < floor:
                continue
            else:
                rel = abs((v - t) / t)
                ok = rel <= mpmath.mpf(10) ** -30
            ctx.check(ok, f"reference {k} of class {cls[0]} {D} P={Pv!r} Q={Qv!r} alpha={alpha}: "
                      f"{mpmath.nstr(v, 25)} vs the definition {mpmath.nstr(t, 25)} ({rel})")
        if it % 4 == 0:
            Dj = DT(str(rng.choice(list(INT_MAX) + ["f4", "f8", "f8"])))
            kind, C, nx, ny = joint_table(rng, Dj, int(rng.integers(1, 6)), int(rng.integers(1, 6)))
            A = store_array(C.tolist(), Dj)
            if not A.any():
                A[0, 0] = 1
            Cv = [py_values(row) for row in A]
            ref, nv = ref_joint(Cv, "e"), naive_joint(Cv)
            for k, t in nv.items():
                if abs(t) < tiny:
                    continue
                rel = abs((as_mpf(ref[k]) - t) / t)
                ctx.check(rel <= mpmath.mpf(10) ** -30, f"reference joint {k} of {kind} {Dj} C={Cv!r}: "
                          f"{mpmath.nstr(as_mpf(ref[k]), 25)} vs the definition {mpmath.nstr(t, 25)} ({rel})")
        if D.isint:
            for est in ESTIMATORS[:-1] + ["dirichlet:" + str(rng.choice(DIRICHLET))]:
                ref = ref_entropy(Pv, est, Fraction(0), "e")
                H, lam = naive_entropy(Pv, est)
                for k, t in (("entropy", H), ("shrinkage_lambda", lam)):
                    if t is None or abs(t) < tiny:
                        continue
                    rel = abs((as_mpf(ref[k]) - t) / t)
                    ctx.check(rel <= mpmath.mpf(10) ** -30, f"reference {est} {k} of class {cls[0]} {D} "
                              f"P={Pv!r}: {mpmath.nstr(as_mpf(ref[k]), 25)} vs the definition "
                              f"{mpmath.nstr(t, 25)} ({rel})")


# -- cases ------------------------------------------------------------------------

SMALL_NS = [2, 3, 4, 5, 8, 16, 31, 64]
ALL_NS = SMALL_NS + [100, 257, 300]


def rng_for(case):
    return np.random.default_rng([SEED, zlib.crc32(case.encode())])


def run_case(name, body):
    def case(ctx):
        st = Stats(ctx, name)
        try:
            body(ctx, st, rng_for(name))
        finally:
            st.dump()
    return case


CASES = {
    "compare_int8_16": run_case("compare_int8_16", lambda ctx, st, rng: compare_batches(
        ctx, st, rng, ["u1", "i1", "u2", "i2"], ALL_NS, NCASES, "plain")),
    "compare_int32_64": run_case("compare_int32_64", lambda ctx, st, rng: compare_batches(
        ctx, st, rng, ["u4", "i4", "u8", "i8", "u8"], ALL_NS, NCASES, "plain", first=("u8", 4))),
    "compare_f64": run_case("compare_f64", lambda ctx, st, rng: compare_batches(
        ctx, st, rng, ["f8"], ALL_NS, NCASES, "plain", first=("f8", 3))),
    "compare_f32": run_case("compare_f32", lambda ctx, st, rng: compare_batches(
        ctx, st, rng, ["f4"], ALL_NS, NCASES, "plain")),
    "compare_candidates": run_case("compare_candidates", lambda ctx, st, rng: compare_batches(
        ctx, st, rng, ["u1", "i2", "u4", "i8", "u8", "f4", "f8", "f8"], [1] + SMALL_NS,
        max(1, NCASES // 2), "candidates")),
    "compare_pseudocount": run_case("compare_pseudocount", lambda ctx, st, rng: compare_batches(
        ctx, st, rng, list(INT_MAX) + ["f4", "f8"], [1, 2, 3, 5, 16, 100], max(1, NCASES // 2),
        "pseudocount")),
    "compare_single": run_case("compare_single", lambda ctx, st, rng: compare_batches(
        ctx, st, rng, list(INT_MAX) + ["f4", "f8"], [1], max(1, NCASES // 4), "plain")),
    "entropy": run_case("entropy", lambda ctx, st, rng: entropy_batches(ctx, st, rng, NCASES)),
    "joint": run_case("joint", lambda ctx, st, rng: joint_cases(ctx, st, rng, max(1, NCASES // 2))),
    "oracle_selfcheck": run_case("oracle_selfcheck", oracle_selfcheck),
    "surprisal": run_case("surprisal", lambda ctx, st, rng: surprisal_cases(
        ctx, st, rng, max(1, NCASES // 4))),
}


# -- the summary table --------------------------------------------------------------

def merge(tables):
    out = {}
    for t in tables:
        for cls, ms in t.items():
            for m, (n, worst, fails) in ms.items():
                e = out.setdefault(cls, {}).setdefault(m, [0, 0.0, 0])
                e[0] += n
                e[1] = max(e[1], worst)
                e[2] += fails
    return out


def format_table(tables):
    t = merge(tables.values())
    lines = ["| class | measure | checks | worst relative error | failed |", "|---|---|---|---|---|"]
    total = fails = 0
    for cls in sorted(t):
        for m in sorted(t[cls]):
            n, worst, f = t[cls][m]
            total += n
            fails += f
            lines.append(f"| {cls} | `{m}` | {n} | {worst:.2g} | {f} |")
    lines.append(f"\n{total} checks, {fails} failed")
    return "\n".join(lines)


MATRIX_ROWS = (DEFAULTS + ["bhattacharyya", "chi2_pq", "chi2_qp", "renyi_pq", "renyi_qp", "wasserstein1",
                          "ks", "closed forms (disjoint)"] +
               [f"{e}:entropy" for e in ESTIMATORS] + ["plugin+pseudocount:entropy",
                                                     "entropy: other outputs", "joint (8 measures)",
                                                     "surprisal"])
MATRIX_COLS = ["counts", "zeros", "identical", "near", "mode_drop", "u64_huge", "wide_f64", "concentrated",
               "softmax_f32", "disjoint", "subnormal", "single", "pseudocount", "independent",
               "near_independent", "function"]


def matrix_row(m):
    if m.endswith("(disjoint)"):
        return "closed forms (disjoint)"
    if m.startswith("joint:"):
        return "joint (8 measures)"
    if ":" in m and not m.endswith(":entropy") and m.split(":")[0] in ESTIMATORS + ["plugin+pseudocount"]:
        return "entropy: other outputs"
    return m


def format_matrix(tables):
    """Measures down, classes across: worst relative error where the truth is
    at least 1e-300 (failed checks in brackets)."""
    t = merge(tables.values())
    cells, checks = {}, {}
    for cls, ms in t.items():
        for m, (n, worst, f) in ms.items():
            e = cells.setdefault((matrix_row(m), cls), [0, 0.0, 0])
            e[0] += n
            e[1] = max(e[1], worst)
            e[2] += f
            checks[cls] = checks.get(cls, 0) + n
    cols = [c for c in MATRIX_COLS if c in checks] + sorted(c for c in checks if c not in MATRIX_COLS)
    lines = ["| measure | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for m in MATRIX_ROWS:
        row = []
        for c in cols:
            e = cells.get((m, c))
            if e is None:
                row.append("")
            else:
                row.append(("0" if e[1] == 0 else f"{e[1]:.1e}") + (f" ({e[2]} failed)" if e[2] else ""))
        if any(row):
            lines.append(f"| `{m}` | " + " | ".join(row) + " |")
    lines.append("| checks | " + " | ".join(str(checks[c]) for c in cols) + " |")
    return "\n".join(lines)


def report(dirs):
    tables, seeds, cases = {}, set(), set()
    for d in dirs:
        for root, _, files in os.walk(d):
            if "stats.json" in files:
                with open(os.path.join(root, "stats.json")) as f:
                    s = json.load(f)
                tables[root] = s["table"]
                seeds.add(s["seed"])
                cases.add(s["cases"])
    print(f"seed(s) {sorted(seeds)}, H5DIV_RANDOM_CASES {sorted(cases)}, {len(tables)} case directories\n")
    print(format_matrix(tables))
    print()
    print(format_table(tables))
    return 0


def soak(argv):
    """--soak --h5div H --gen G --mpiexec M --workdir DIR [--jobs N]: every case
    (JOBS at a time, each in DIR/CASE with its log in DIR/CASE.log), then the
    report over DIR; exit 1 when a case failed."""
    import argparse
    import subprocess
    import time
    ap = argparse.ArgumentParser()
    for a in ("--h5div", "--gen", "--mpiexec", "--workdir"):
        ap.add_argument(a, required=True)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args(argv)
    os.makedirs(args.workdir, exist_ok=True)
    todo, running, failed = list(CASES), [], []
    t0 = time.monotonic()
    while todo or running:
        while todo and len(running) < args.jobs:
            c = todo.pop(0)
            log = open(os.path.join(args.workdir, c + ".log"), "w")
            running.append((c, log, subprocess.Popen(
                [sys.executable, os.path.abspath(__file__), "--h5div", args.h5div, "--gen", args.gen,
                 "--mpiexec", args.mpiexec, "--workdir", os.path.join(args.workdir, c), "--case", c],
                stdout=log, stderr=subprocess.STDOUT)))
        time.sleep(0.5)
        for item in list(running):
            c, log, p = item
            if p.poll() is not None:
                log.close()
                running.remove(item)
                print(f"{c}: exit {p.returncode} after {time.monotonic() - t0:.0f} s", flush=True)
                if p.returncode != 0:
                    failed.append(c)
    print(f"seed {SEED}, H5DIV_RANDOM_CASES {NCASES}, {time.monotonic() - t0:.0f} s; "
          f"failed cases: {', '.join(failed) or 'none'}\n")
    report([args.workdir])
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--report":
        sys.exit(report(sys.argv[2:]))
    if len(sys.argv) > 1 and sys.argv[1] == "--soak":
        sys.exit(soak(sys.argv[2:]))
    T.main(CASES)
