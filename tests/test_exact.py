#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Accuracy and reproducibility of `h5div compare`: a 50-digit mpmath
reference computed from the raw counts for ordinary and near-identical
pairs and for edge cases, and bit-for-bit equality of the results across
1, 2, 3, 4, 5 and 7 ranks and across read piece sizes on large inputs."""

import math

import h5py
import numpy as np
import scipy.spatial.distance
import scipy.special
import scipy.stats

import h5div_testlib as T

DPS = 50
ORDINARY_RTOL = 1e-12   # every measure, ordinary inputs
NEAR_RTOL = 1e-9        # KL and JS on near-identical pairs (the bound)
RANKS = [1, 2, 3, 4, 5, 7]


def mp_reference(p_ref, q_ref, base="2"):
    P, Q = T.read_raw(p_ref), T.read_raw(q_ref)
    return T.oracle_mp(T.exact_values(P), T.exact_values(Q), base, dps=DPS), P, Q


def scipy_naive(P, Q):
    """What users get from scipy directly (the forms the issue measured)."""
    p = np.asarray(P, dtype=np.float64)
    q = np.asarray(Q, dtype=np.float64)
    pn, qn = p / p.sum(), q / q.sum()
    js = scipy.spatial.distance.jensenshannon(p, q, base=2)
    return {
        "kl_pq": float(scipy.stats.entropy(p, q, base=2)),
        "kl_qp": float(scipy.stats.entropy(q, p, base=2)),
        "js_divergence": float(js) ** 2,
        "total_variation": float(0.5 * np.abs(pn - qn).sum()),
        "hellinger": float(np.sqrt(max(0.0, 1.0 - np.sqrt(pn * qn).sum()))),
    }


def rel(got, want):
    if want == 0.0:
        return 0.0 if got == 0.0 else math.inf
    return abs(got - want) / abs(want)


def check_invariants(ctx, got, what):
    for name, v in got.items():
        ctx.check(not math.isnan(v), f"{what}: {name} is NaN")
        if name in T.DIVERGENCES:
            ctx.check(v >= 0 and math.copysign(1.0, v) > 0, f"{what}: {name} = {v!r} is negative")
    if "js_divergence" in got:
        ctx.check(got["js_divergence"] <= 1.0, f"{what}: js_divergence {got['js_divergence']!r} > 1 bit")
    for name in ("total_variation", "hellinger"):
        if name in got:
            ctx.check(0.0 <= got[name] <= 1.0, f"{what}: {name} {got[name]!r} outside [0, 1]")


def near_case(eps, dtype, scale, rtol=None):
    """rtol, when given, replaces both bounds: a tighter guard for a case."""
    def case(ctx):
        f = ctx.gen(ctx.path("near.h5"), "--bins", 20000, "--kind", "near", "--eps", eps,
                    "--dtype", dtype, "--scale", scale, "--seed", 7)
        p, q = f + ":/reference", f + ":/generated"
        want, P, Q = mp_reference(p, q)
        got = T.run_json(ctx, [p, q], what=f"near eps={eps}", p=p, q=q)
        if got is None:
            return
        check_invariants(ctx, got, "near")
        sc = scipy_naive(P, Q)
        ctx.note(f"{'measure':18} {'h5div rel err':>14} {'scipy rel err':>14}   (eps {eps}, {dtype})")
        for name in T.COMPARE_MEASURES:
            tol = NEAR_RTOL if name in ("kl_pq", "kl_qp", "js_divergence", "js_distance") else ORDINARY_RTOL
            tol = rtol or tol
            ctx.check(T.close(got[name], want[name], tol, positive_zero=name in T.DIVERGENCES),
                      f"near eps={eps}: {name} = {got[name]!r}, reference {want[name]!r} "
                      f"(relative error {rel(got[name], want[name]):.3g} > {tol:g})")
            s = f"{rel(sc[name], want[name]):14.3g}" if name in sc else f"{'':14}"
            ctx.note(f"{name:18} {rel(got[name], want[name]):14.3g} {s}")
    return case


def ordinary_case(dtype, kind):
    def case(ctx):
        f = ctx.gen(ctx.path("ord.h5"), "--bins", 5000, "--kind", kind, "--dtype", dtype,
                    "--seed", 11)
        p, q = f + ":/reference", f + ":/generated"
        want, _, _ = mp_reference(p, q)
        for base in ("2", "e", "10"):
            w = want if base == "2" else mp_reference(p, q, base)[0]
            got = T.run_json(ctx, ["-b", base, p, q], what=f"{kind} {dtype} base {base}",
                             base=base, p=p, q=q)
            if got is not None:
                check_invariants(ctx, got, kind)
                T.check_against(ctx, got, w, f"{kind} {dtype} base {base}", rtol=ORDINARY_RTOL)
    return case


def write_pair(ctx, name, P, Q, dtype):
    path = ctx.path(name + ".h5")
    with h5py.File(path, "w") as f:
        f.create_dataset("P", data=np.asarray(P, dtype=dtype))
        f.create_dataset("Q", data=np.asarray(Q, dtype=dtype))
    return path + ":/P", path + ":/Q"


def edge_check(ctx, name, P, Q, dtype, rtol=ORDINARY_RTOL):
    p, q = write_pair(ctx, name, P, Q, dtype)
    want = T.oracle_mp(T.exact_values(T.read_raw(p)), T.exact_values(T.read_raw(q)), "2", dps=DPS)
    for ranks in (None, 3):
        got = T.run_json(ctx, [p, q], ranks=ranks, what=f"{name} ranks={ranks}", p=p, q=q)
        if got is not None:
            check_invariants(ctx, got, name)
            T.check_against(ctx, got, want, name, rtol=rtol)


def case_edges(ctx):
    rng = np.random.default_rng(5)
    # identical inputs: exactly zero divergences
    P = rng.integers(0, 1000, 3000)
    p, q = write_pair(ctx, "identical", P, P, "u4")
    got = T.run_json(ctx, [p, q], ranks=3, what="identical", p=p, q=q)
    if got is not None:
        for name in T.DIVERGENCES:
            ctx.check(T.bits(got[name]) == T.bits(0.0), f"identical: {name} = {got[name]!r}, want +0.0")
    # disjoint supports
    P = np.zeros(600); Q = np.zeros(600)
    P[::2] = rng.integers(1, 100, 300); Q[1::2] = rng.integers(1, 100, 300)
    edge_check(ctx, "disjoint", P, Q, "f8")
    # a single bin
    edge_check(ctx, "single", [7], [3], "i2")
    # subnormal probabilities next to ordinary ones
    P = rng.random(1000); Q = rng.random(1000)
    P[::7] = 5e-320; Q[3::11] = 1e-310
    edge_check(ctx, "subnormal", P, Q, "f8")
    # counts near 2^64
    top = 2**64 - 1
    P = [top - int(x) for x in rng.integers(0, 2**40, 500)]
    Q = [top - int(x) for x in rng.integers(0, 2**52, 500)]
    edge_check(ctx, "near-2^64", P, Q, "u8")
    # one huge bin among many tiny ones
    P = np.ones(5000, dtype=np.uint64); P[1234] = 10**18
    Q = np.ones(5000, dtype=np.uint64); Q[1234] = 10**18 - 10**9; Q[4000] = 3
    edge_check(ctx, "huge-bin", P, Q, "u8")


def case_bitwise_large(ctx):
    """1e7 bins: the same bits on every rank count and read piece size."""
    f = ctx.gen(ctx.path("large.h5"), "--bins", 10_000_000, "--kind", "near", "--eps", "1e-6",
                "--dtype", "f64", "--seed", 3)
    p, q = f + ":/reference", f + ":/generated"
    ref = None
    runs = [(n, []) for n in RANKS] + [(2, ["--piece-size", "1MiB"]),
                                       (3, ["--memory-per-rank", "8MiB"]),
                                       (4, ["--piece-size", "777KiB", "--independent-io"])]
    for n, extra in runs:
        got = T.run_json(ctx, extra + [p, q], ranks=n, what=f"-n {n} {' '.join(extra)}", p=p, q=q)
        if got is None:
            continue
        if ref is None:
            ref = got
            ctx.note("reference (-n 1): " + ", ".join(f"{k}={v!r}" for k, v in got.items()))
        else:
            T.check_same_bits(ctx, ref, got, f"-n {n} {' '.join(extra)} vs -n 1")
    ctx.note(f"bit-identical across ranks {RANKS} and piece sizes: {not ctx.failures}")


CASES = {
    "near-1e-5-f64": near_case("1e-5", "f64", "1000"),
    "near-1e-7-f64": near_case("1e-7", "f64", "1000"),
    "near-1e-7-u64": near_case("1e-7", "u64", "1e12"),
    # relative differences up to 5%: bins on both sides of the series switch
    "near-5e-2-i32": near_case("5e-2", "i32", "1000", rtol=1e-14),
    "ordinary-random-f64": ordinary_case("f64", "random"),
    "ordinary-zipf-i32": ordinary_case("i32", "zipf"),
    "edges": case_edges,
    "bitwise-1e7": case_bitwise_large,
}

if __name__ == "__main__":
    T.main(CASES)
