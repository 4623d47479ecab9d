#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""`h5div compare --null B` end to end (issue 14, item 2): a two-sample test
of "P and Q come from the same distribution" for every measure, with B
replicates of both drawn from their pooled counts, P*_i ~ Poisson(A (P_i +
Q_i) / (A + B)), Q*_i ~ Poisson(B (P_i + Q_i) / (A + B)) (A, B the totals),
and the p-value (1 + #{T* >= T}) / (B + 1).

Cases:
  bits         values and p-values have the same bits on 1, 2, 3 and 4 ranks
               (and with ROMIO), with small read pieces, for 1-D input of
               several blocks, 2-D input with rows of one block and of
               several blocks, one and two candidates, with wasserstein1 and
               ks (prefix sums carried across ranks); a shard streamed under
               a small --memory-per-rank (three passes) gives the same bits
               as one kept in memory, and a state above half of it is
               refused; the values equal the run without --null bit for bit;
               another --seed changes the p-values; --null with --bootstrap
               gives the p-values of --null alone and the se/ci of
               --bootstrap alone (independent streams). HDF5: NAME_p_value
               (units 1, attribute method "null B=..."), NAME_null_replicates
               (last axis B), the group attributes null and seed, nothing for
               a statistic's dof; every p-value recomputed with numpy from
               the written replicates; chi2_test_p_value is the null p-value
               with --null and the asymptotic one (method "asymptotic")
               without. The table's p-value (1-D, with and without
               --bootstrap) and NAME_p_value line (2-D).
  uniform      400 independent draws of two histograms of one known
               distribution with unequal totals (multinomial, 30 bins, 4,000
               and 9,000 counts), one pair per row of a 2-D dataset, B = 199:
               the p-values of every measure are uniform (scipy.stats.kstest,
               p > 0.01, and 5% +- 2.7% of them at most 0.05); the
               null p-value of chi2_test agrees with the asymptotic
               scipy.stats.chi2.sf within Monte-Carlo error; under a shifted
               alternative (a phase shift of the same shape) the p-values
               are small (>= 90% at most 0.05, and kstest rejects
               uniformity).
  numpy        the same pooled Poisson scheme implemented independently with
               numpy's own generator (B = 400, 50 bins, two candidates with
               totals 3x and 10x P's): the replicate distributions of kl_pq,
               js_divergence, total_variation, hellinger, ks, wasserstein1
               and chi2_test agree in mean (within 4 standard errors), in
               standard deviation (15%) and in shape (scipy.stats.ks_2samp,
               p > 0.001); the mean chi2_test replicate is near its degrees
               of freedom.
  errors       --null 0, -3, 1e3, too large, missing; --ci with --null alone;
               --null to entropy: usage errors, exit 2; non-integer input
               (1-D, 2-D, on the second rank) and a histogram of zeros made
               valid by a pseudocount: input errors, exit 3, one line naming
               the dataset and place; --seed and --keep-replicates with
               --null alone are accepted.

The seeds are fixed, so each verdict is the same on every run. About 25 s
in all on 2 busy cores (bits ~14 s, uniform ~5 s, errors ~3 s, numpy ~1 s).
"""

import json
import math

import h5py
import numpy as np
from scipy import stats

import h5div_testlib as T
from test_bootstrap_cli import flat, run, same, write

# Measures with prefix sums across ranks, and the two-sample statistics.
EXTRA = ["--measures", "kl_pq,js_divergence,total_variation,hellinger,wasserstein1,ks"]
TESTS = ["--measures", "kl_pq,hellinger,chi2_test,g_test,ks"]


def p_of(reps, value):
    """(1 + #{T* >= T}) / (B + 1) over the last axis, NaN replicates counted."""
    ge = np.isnan(reps) | (reps >= value[..., None])
    return (1 + ge.sum(axis=-1)) / (reps.shape[-1] + 1)


def case_bits(ctx):
    rng = np.random.default_rng(12)
    f = write(ctx, "in.h5", {
        "P": rng.poisson(40, 3000).astype(np.int32),
        "Q": rng.poisson(40, 3000).astype(np.uint16),
        "Q2": rng.poisson(44, 3000).astype(np.int64),
        "P2": rng.poisson(20, (6, 100)).astype(np.uint8),     # rows of one block
        "R2": rng.poisson(20, (6, 100)).astype(np.int16),
        "PL": rng.poisson(20, (5, 700)).astype(np.uint32),    # rows of several blocks
        "QL": rng.poisson(22, (5, 700)).astype(np.uint32),
    })
    B = "19"
    layouts = [("1-D, 2 candidates, tests", TESTS + [f + ":/P", f + ":/Q", f + ":/Q2"]),
               ("1-D, W1/KS", EXTRA + [f + ":/P", f + ":/Q"]),
               ("2-D short rows, W1/KS", EXTRA + [f + ":/P2", f + ":/R2"]),
               ("2-D long rows, 2 candidates, W1/KS", EXTRA + [f + ":/PL", f + ":/QL", f + ":/PL"])]
    for what, refs in layouts:
        base = run(ctx, refs, what=f"{what} without --null")
        ref = run(ctx, refs + ["--null", B, "--seed", "5"], what=what)
        if base is None or ref is None:
            continue
        for m in base["measures"]:
            if m.endswith("_p_value"):  # the asymptotic one: replaced
                ctx.check(m not in ref["measures"], f"{what}: {m} computed with --null")
                continue
            ctx.check(same(ref["measures"][m], base["measures"][m]),
                      f"{what}: {m} with --null differs from the run without")
            want = not m.endswith("_dof")
            ctx.check((m in ref["p_value"]) == want, f"{what}: {m} in p_value: want {want}")
        for ranks, extra, mca in ((None, ["--piece-size", "1KiB"], ()), (2, [], ()),
                                  (3, ["--piece-size", "2KiB"], ()),
                                  (4, ["--piece-size", "512"], ()),
                                  (2, ["--piece-size", "1KiB"], (("io", "romio321"),))):
            res = ctx.h5div_run(["compare", "--json"] + refs + ["--null", B, "--seed", "5"] + extra,
                                ranks=ranks, mca=mca)
            got = json.loads(res.out) if T.check_success(ctx, res, f"{what} {ranks} {extra}") \
                else None
            if got is None:
                continue
            for key in ("measures", "p_value"):
                ctx.check(same(got[key], ref[key]),
                          f"{what}: {key} on {ranks} ranks {extra} {mca} differs from 1 rank")
        other = run(ctx, refs + ["--null", B, "--seed", "6"], what=f"{what} seed 6")
        if other is not None:
            ctx.check(not same(other["p_value"], ref["p_value"]),
                      f"{what}: p-values unchanged by another seed")
    # --null with --bootstrap: independent streams, each as alone.
    refs = TESTS + [f + ":/PL", f + ":/QL", f + ":/PL"]
    both = run(ctx, refs + ["--null", B, "--bootstrap", "7"], ranks=2, what="--null --bootstrap")
    null = run(ctx, refs + ["--null", B], what="--null alone")
    boot = run(ctx, refs + ["--bootstrap", "7"], what="--bootstrap alone")
    if both and null and boot:
        ctx.check(same(both["p_value"], null["p_value"]), "p-values with --bootstrap differ")
        ctx.check(same(both["measures"], null["measures"]), "values with both differ")
        for key in ("se", "ci"):
            want = {m: v for m, v in boot[key].items() if not m.startswith(("chi2_test_p",
                                                                             "g_test_p"))}
            ctx.check(same(both[key], want), f"{key} with --null differs from --bootstrap alone")
    # A streamed shard: three passes, the null's totals read again.
    g = write(ctx, "big.h5", {"P": rng.poisson(5, 160_000).astype(np.int32),
                              "Q": rng.poisson(5, 160_000).astype(np.int32)})
    refs = ["--null", "3", "--measures", "kl_pq,hellinger,ks", g + ":/P", g + ":/Q"]
    first = run(ctx, refs, what="160,000 bins in memory")
    for ranks, mem in ((None, "1536KiB"), (2, "1MiB")):
        got = run(ctx, refs + ["--memory-per-rank", mem, "--piece-size", "64KiB"], ranks=ranks,
                  what=f"160,000 bins streamed on {ranks} ranks")
        if first and got:
            for key in ("measures", "p_value"):
                ctx.check(same(got[key], first[key]), f"streamed on {ranks} ranks: {key} differs")
    res = ctx.h5div_run(["compare", "--memory-per-rank", "1MiB", "--null", "200",
                         g + ":/P", g + ":/Q"])
    T.check_error(ctx, res, 3, "--null 200 in 1MiB", r"null 200 needs .*memory-per-rank")
    check_hdf5(ctx, f, B)
    check_table(ctx, f, B)


def check_hdf5(ctx, f, B):
    """Datasets and attributes of -o, against the JSON and numpy."""
    out = ctx.path("out.h5")
    refs = TESTS + [f + ":/PL", f + ":/QL", f + ":/PL"]
    res = ctx.h5div_run(["compare", "--null", B, "--seed", "7", "--keep-replicates",
                         "-o", out + ":/r", "--json"] + refs, ranks=2)
    if not T.check_success(ctx, res, "--null --keep-replicates -o"):
        return
    obj = json.loads(res.out)
    with h5py.File(out, "r") as h:
        g = h["r"]
        ctx.check(int(g.attrs["null"]) == int(B) and int(g.attrs["seed"]) == 7 and
                  "bootstrap" not in g.attrs and "ci" not in g.attrs,
                  f"group attributes {dict(g.attrs)}")
        ctx.check(set(obj["p_value"]) == {"kl_pq", "hellinger", "chi2_test", "g_test", "ks"},
                  f"p_value keys {sorted(obj['p_value'])}")
        for m in obj["measures"]:
            if m not in obj["p_value"]:
                ctx.check(m + "_p_value" not in g and m + "_null_replicates" not in g,
                          f"{m}: has a p-value dataset")
                continue
            v, p, reps = g[m][()], g[m + "_p_value"], g[m + "_null_replicates"][()]
            ctx.check(v.shape == (2, 5) and p.shape == (2, 5) and reps.shape == (2, 5, int(B)),
                      f"{m}: shapes {v.shape} {p.shape} {reps.shape}")
            ctx.check(p.attrs["units"] == "1" and p.attrs["method"] == f"null B={B}",
                      f"{m}_p_value attributes {dict(p.attrs)}")
            ctx.check(same(p[()].tolist(), obj["p_value"][m]), f"{m}: HDF5 and JSON p-values differ")
            want = p_of(reps, v)
            ctx.check(np.array_equal(p[()], want),
                      f"{m}: p-values {p[()].ravel()[:4]} vs numpy {want.ravel()[:4]}")
        # The candidate identical to P: every divergence 0, every T* >= 0.
        ctx.check(np.all(g["kl_pq_p_value"][1] == 1.0), "identical candidate: p-value not 1")
        ctx.check("chi2_test_dof" in g and "chi2_test_dof_p_value" not in g,
                  "chi2_test_dof written, without a p-value")
    out2 = ctx.path("asym.h5")
    res = ctx.h5div_run(["compare", "-o", out2] + refs)
    if T.check_success(ctx, res, "chi2_test without --null"):
        with h5py.File(out2, "r") as h:
            for t in ("chi2_test", "g_test"):
                a = h["h5div"][t + "_p_value"].attrs
                ctx.check(a["method"] == "asymptotic", f"{t}_p_value attributes {dict(a)}")


def check_table(ctx, f, B):
    """The p-value in the table: a column (1-D), `p = ` after the interval
    (with --bootstrap), a NAME_p_value line of min, median, max (2-D)."""
    refs = ["--null", B, "--measures", "kl_pq,chi2_test", f + ":/P", f + ":/Q"]
    obj = run(ctx, refs, what="table JSON")
    res = ctx.h5div_run(["compare"] + refs)
    if obj and T.check_success(ctx, res, "table"):
        for m in ("kl_pq", "chi2_test"):
            line = [l.split() for l in res.out.splitlines() if l.startswith(m + " ")]
            want = ["%.17g" % T.json_value(obj["measures"][m]),
                    "%.17g" % obj["p_value"][m]]
            ctx.check(len(line) == 1 and line[0][1:3] == want, f"table {line!r}, want {want}")
        ctx.check("p-value (B = 19)" in res.out.splitlines()[0], f"header {res.out[:80]!r}")
        dof = [l.split() for l in res.out.splitlines() if l.startswith("chi2_test_dof ")]
        ctx.check(len(dof) == 1 and len(dof[0]) == 3, f"dof line {dof!r}: no p-value")
    res = ctx.h5div_run(["compare", "--bootstrap", "5"] + refs)
    if obj and T.check_success(ctx, res, "table with --bootstrap"):
        line = [l for l in res.out.splitlines() if l.startswith("kl_pq ")]
        want = "]  p = %.17g  bits" % obj["p_value"]["kl_pq"]
        ctx.check(len(line) == 1 and line[0].endswith(want), f"table {line!r}, want {want!r}")
    refs = ["--null", B, "--measures", "kl_pq", f + ":/PL", f + ":/QL"]
    obj = run(ctx, refs, what="2-D table JSON")
    res = ctx.h5div_run(["compare"] + refs, ranks=2)
    if obj and T.check_success(ctx, res, "2-D table"):
        p = np.array(flat(obj["p_value"]["kl_pq"]))
        line = [l.split() for l in res.out.splitlines() if l.startswith("kl_pq_p_value ")]
        want = [float(p.min()), float(np.median(p)), float(p.max())]
        ctx.check(len(line) == 1 and [float(v) for v in line[0][1:4]] == want,
                  f"2-D table: {line!r}, want kl_pq_p_value {want}")


MEAS = ["kl_pq", "js_divergence", "total_variation", "hellinger", "chi2_test", "g_test", "ks",
        "wasserstein1"]


def case_uniform(ctx):
    R, n = 400, 30
    x = np.linspace(0, 1, n)
    pi = 1 + 0.5 * np.sin(5 * x)
    pi /= pi.sum()
    alt = 1 + 0.5 * np.sin(5 * x + 0.5)
    alt /= alt.sum()
    rng = np.random.default_rng(31)
    P = rng.multinomial(4000, pi, size=R)
    f = write(ctx, "in.h5", {"P": P, "Q": rng.multinomial(9000, pi, size=R),
                             "Q1": rng.multinomial(9000, alt, size=R)})
    args = ["--null", "199", "--seed", "2", "--measures", ",".join(MEAS), f + ":/P"]
    obj = run(ctx, args + [f + ":/Q", f + ":/Q1"], ranks=2, what=f"{R} draws, B = 199")
    if obj is None:
        return
    for m in MEAS:
        p0 = np.array(obj["p_value"][m][0], dtype=float)
        p1 = np.array(obj["p_value"][m][1], dtype=float)
        ks = stats.kstest(p0, "uniform")
        low0, low1 = np.mean(p0 <= 0.05), np.mean(p1 <= 0.05)
        ctx.note(f"{m}: null: KS {ks.statistic:.4f} (p {ks.pvalue:.3f}), mean {p0.mean():.3f}, "
                 f"P(p <= 0.05) {low0:.3f}; shifted: median p {np.median(p1):.4f}, "
                 f"P(p <= 0.05) {low1:.3f}")
        ctx.check(ks.pvalue > 0.01, f"{m}: null p-values not uniform (KS p {ks.pvalue:.3g})")
        ctx.check(abs(low0 - 0.05) <= 0.027, f"{m}: P(p <= 0.05) = {low0} under the null")
        ctx.check(stats.kstest(p1, "uniform").pvalue < 1e-6,
                  f"{m}: p-values under the alternative look uniform")
        ctx.check(low1 >= 0.9, f"{m}: only {low1} of the p-values <= 0.05 under the shift")
    # The asymptotic chi-square p-value of the same statistic, from scipy.
    chi = np.array(obj["measures"]["chi2_test"][0], dtype=float)
    dof = np.array(obj["measures"]["chi2_test_dof"][0], dtype=float)
    asym = stats.chi2.sf(chi, dof)
    pn = np.array(obj["p_value"]["chi2_test"][0], dtype=float)
    diff = np.abs(pn - asym)
    ctx.note(f"chi2_test: null vs asymptotic p-value: mean |diff| {diff.mean():.4f}, "
             f"max {diff.max():.4f}")
    # Monte-Carlo sd of a p-value near 0.5 over 199 replicates: 0.035.
    ctx.check(diff.mean() <= 0.035 and diff.max() <= 0.15,
              f"chi2_test: null p-values far from scipy's chi2.sf (mean |diff| {diff.mean()})")


def measures_np(P, Q):
    """Measures of rows of counts, in bits where they have units."""
    A, B = P.sum(axis=-1, keepdims=True), Q.sum(axis=-1, keepdims=True)
    p, q = P / A, Q / B
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl = np.where(p > 0, p * np.log2(p / q), 0.0).sum(axis=-1)
        kpm = np.where(p > 0, p * np.log2(p / m), 0.0).sum(axis=-1)
        kqm = np.where(q > 0, q * np.log2(q / m), 0.0).sum(axis=-1)
        chi = np.where(P + Q > 0, (np.sqrt(B / A) * P - np.sqrt(A / B) * Q) ** 2 / (P + Q),
                       0.0).sum(axis=-1)
    dF = np.abs(np.cumsum(p, axis=-1) - np.cumsum(q, axis=-1))
    return {"kl_pq": kl, "js_divergence": (kpm + kqm) / 2,
            "total_variation": np.abs(p - q).sum(axis=-1) / 2,
            "hellinger": np.sqrt(np.maximum(1 - np.sqrt(p * q).sum(axis=-1), 0)),
            "wasserstein1": dF[..., :-1].sum(axis=-1), "ks": dF.max(axis=-1), "chi2_test": chi}


def case_numpy(ctx):
    rng = np.random.default_rng(2027)
    n, B = 50, 400
    x = np.linspace(0, 1, n)
    P = rng.poisson(1000 * (1 + 0.3 * np.sin(6 * x)))
    Qs = [rng.poisson(3000 * (1 + 0.3 * np.sin(6 * x + 0.1))),
          rng.poisson(10000 * (1 + 0.3 * np.sin(6 * x)))]
    f = write(ctx, "in.h5", {"P": P, "Q": Qs[0], "Q2": Qs[1]})
    meas = ["kl_pq", "js_divergence", "total_variation", "hellinger", "ks", "wasserstein1",
            "chi2_test"]
    out = ctx.path("out.h5")
    obj = run(ctx, ["--null", str(B), "--seed", "3", "--measures", ",".join(meas),
                    "--keep-replicates", "-o", out, f + ":/P", f + ":/Q", f + ":/Q2"],
              what=f"B = {B}")
    if obj is None:
        return
    with h5py.File(out, "r") as h:
        reps = {m: h["h5div"][m + "_null_replicates"][()] for m in meas}
    for c, Q in enumerate(Qs):
        # The scheme, numpy's own generator: each input's share of the pool.
        A, Bt = P.sum(), Q.sum()
        pool = (P + Q).astype(float)
        Ps = rng.poisson(np.broadcast_to(pool * A / (A + Bt), (B, n)))
        Qr = rng.poisson(np.broadcast_to(pool * Bt / (A + Bt), (B, n)))
        ref = measures_np(Ps.astype(float), Qr.astype(float))
        val = measures_np(P.astype(float), Q.astype(float))
        for m in meas:
            got = T.json_value(obj["measures"][m][c])
            ctx.check(abs(got - val[m]) <= 1e-12 * abs(val[m]), f"{m}[{c}] = {got}, numpy {val[m]}")
            h, r = reps[m][c], ref[m]
            tol = 4 * math.sqrt(h.var(ddof=1) / B + r.var(ddof=1) / B)
            two = stats.ks_2samp(h, r)
            ctx.note(f"candidate {c}, {m}: mean {h.mean():.6g} vs numpy {r.mean():.6g} "
                     f"(tol {tol:.2g}); sd {h.std(ddof=1):.6g} vs {r.std(ddof=1):.6g}; "
                     f"KS two-sample p {two.pvalue:.3f}")
            ctx.check(abs(h.mean() - r.mean()) <= tol, f"{m}[{c}]: mean {h.mean()} vs {r.mean()}")
            ctx.check(abs(h.std(ddof=1) / r.std(ddof=1) - 1) <= 0.15,
                      f"{m}[{c}]: sd {h.std(ddof=1)} vs numpy {r.std(ddof=1)}")
            ctx.check(two.pvalue > 0.001, f"{m}[{c}]: replicate distributions differ "
                      f"(KS two-sample p {two.pvalue:.3g})")
        # Under the null chi2_test is about chi-square with n - 1 dof (sd 9.9).
        mean = reps["chi2_test"][c].mean()
        ctx.check(abs(mean - (n - 1)) <= 4 * math.sqrt(2 * (n - 1) / B),
                  f"candidate {c}: mean chi2_test replicate {mean}, dof {n - 1}")


def case_errors(ctx):
    f = write(ctx, "in.h5", {"F": np.array([1.0, 2.0, 2.5, 3.5]), "G": np.array([1.0, 2, 3, 4]),
                             "F2": np.array([[1.0, 2.0], [3.0, 0.25]]),
                             "G2": np.array([[1.0, 2.0], [3.0, 4.0]]),
                             "FL": np.r_[np.ones(1000), 0.5, np.ones(99)],
                             "GL": np.ones(1100), "Z": np.zeros(4),
                             "Z2": np.array([[1.0, 2.0], [0.0, 0.0]])})
    res = ctx.h5div_run(["compare", "--null", "10", f + ":/F", f + ":/G"])
    T.check_error(ctx, res, 3, "non-integer 1-D", r"--null needs integer.*2\.5.*in\.h5:/F.*bin 2")
    res = ctx.h5div_run(["compare", "--null", "10", "--bootstrap", "3", f + ":/G2", f + ":/F2"])
    T.check_error(ctx, res, 3, "non-integer 2-D",
                  r"--bootstrap and --null need integer.*0\.25.*in\.h5:/F2.*row 1.*bin 1")
    res = ctx.h5div_run(["compare", "--null", "10", f + ":/FL", f + ":/GL"], ranks=2)
    T.check_error(ctx, res, 3, "non-integer on rank 1", r"integer.*0\.5.*in\.h5:/FL.*bin 1000")
    res = ctx.h5div_run(["compare", "--null", "10", "--pseudocount", "1", f + ":/G", f + ":/Z"])
    T.check_error(ctx, res, 3, "all zeros with a pseudocount", r"--null needs counts.*in\.h5:/Z")
    res = ctx.h5div_run(["compare", "--null", "10", "--pseudocount", "1", f + ":/G2",
                         f + ":/Z2"], ranks=2)
    T.check_error(ctx, res, 3, "a row of zeros with a pseudocount",
                  r"--null needs counts.*in\.h5:/Z2, row 1")
    ok = [f + ":/G", f + ":/G"]
    res = ctx.h5div_run(["compare", "--null", "5", "--seed", "9", "--keep-replicates"] + ok)
    T.check_success(ctx, res, "--seed and --keep-replicates with --null")
    for args, msg in ((["--null", "0"], "null replicates"),
                      (["--null", "-3"], "null replicates"),
                      (["--null", "1e3"], "null replicates"),
                      (["--null", "1000001"], "null replicates"),
                      (["--null", "2.5"], "null replicates"),
                      (["--null"], None),
                      (["--null", "5", "--ci", "0.9"], "--ci needs --bootstrap")):
        res = ctx.h5div_run(["compare"] + args + ok)
        T.check_error(ctx, res, 2, " ".join(args), msg)
    res = ctx.h5div_run(["entropy", "--null", "5", f + ":/G"])
    T.check_error(ctx, res, 2, "entropy --null", "--null")


CASES = {"bits": case_bits, "uniform": case_uniform, "numpy": case_numpy, "errors": case_errors}

if __name__ == "__main__":
    T.main(CASES)
