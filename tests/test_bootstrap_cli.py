#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""`h5div compare --bootstrap B` end to end (issue 14, item 1): the Poisson
bootstrap of integer counts, its standard errors and percentile intervals.

Cases:
  bits         value, se and interval of every measure have the same bits
               on 1, 2 and 3 ranks, with small read pieces and a small
               --memory-per-rank, for 1-D input (several blocks), 2-D input
               with rows of one block and of several blocks, one and two
               candidates, with wasserstein1 and ks (prefix sums carried
               across ranks); the value equals the run without --bootstrap bit
               for bit; another --seed changes se and interval; the HDF5
               datasets NAME_se, NAME_ci (last axis 2), NAME_replicates
               (last axis B) and the attributes bootstrap, seed, ci; se and
               interval against numpy (std with ddof 1, numpy.quantile to
               the bit) from the written replicates; the table line
               `value ± se [lo, hi]` (1-D) and `NAME_se` min, median, max
               (2-D); a streamed shard (--memory-per-rank below the data)
               and the refusal of a state above half of it.
  numpy        the same scheme implemented independently with numpy's own
               Poisson generator (B = 400, 50 bins of ~1000 counts): the
               mean and standard error of the replicate distributions of
               kl_pq, js_divergence, total_variation, wasserstein1 and ks
               agree within
               Monte-Carlo error (mean within 4 standard errors of the
               difference, se within 15%).
  calibration  1000 independent multinomial draws of two known distributions
               over 50 bins, one per row of a 2-D dataset, B = 200: the mean
               bootstrap se is within 10% of the Monte-Carlo standard
               deviation of the estimate over the draws (N = 50,000 and
               5,000,000, ~1,000 and ~100,000 counts per bin), and at
               ~100,000 per bin, where the plug-in bias is negligible, the
               95% intervals cover the true value in 95% +- 3% of the draws
               (kl_pq, js_divergence, total_variation, hellinger). At ~1,000
               per bin the coverage is printed only: the bias is about one
               standard error there and the percentile intervals under-cover
               (about 47% for kl_pq; README says so). With 400 draws instead of
               1000 the coverage's own noise (1.1%) is too large for the bound.
  errors       non-integer input (1-D, 2-D, in the second rank's shard) is
               an input error, exit 3, one line naming the dataset and the
               first non-integer value's place; B < 1, B too large or not a
               number, --ci outside (0, 1), --seed or --keep-replicates
               without --bootstrap: usage errors, exit 2.

The seeds are fixed, so each verdict is the same on every run. About 30 s
in all on 2 busy cores (bits ~16 s, calibration ~10 s, errors ~3 s, numpy
~1 s).
"""

import json
import math

import h5py
import numpy as np

import h5div_testlib as T

MEAS = ["kl_pq", "js_divergence", "total_variation"]
# The default ten and the extra measures with prefix sums across ranks.
EXTRA = ["--measures", "kl_pq,js_divergence,total_variation,hellinger,wasserstein1,ks"]


def write(ctx, name, arrays):
    path = ctx.path(name)
    with h5py.File(path, "w") as f:
        for k, v in arrays.items():
            f[k] = v
    return path


def run(ctx, args, ranks=None, what=""):
    """compare --json ARGS: the JSON object, or None."""
    res = ctx.h5div_run(["compare", "--json"] + list(args), ranks=ranks)
    if not T.check_success(ctx, res, what):
        return None
    try:
        return json.loads(res.out)
    except ValueError as e:
        ctx.check(False, f"{what}: not JSON ({e})", res)
        return None


def flat(v):
    """Every number of a (nested) JSON value, as floats (objects by key)."""
    if isinstance(v, dict):
        return [x for k in sorted(v) for x in flat(v[k])]
    if isinstance(v, list):
        return [x for e in v for x in flat(e)]
    return [T.json_value(v)]


def same(a, b):
    fa, fb = flat(a), flat(b)
    return len(fa) == len(fb) and all(T.same_bits(x, y) for x, y in zip(fa, fb))


def case_bits(ctx):
    rng = np.random.default_rng(11)
    f = write(ctx, "in.h5", {
        "P": rng.poisson(40, 3000).astype(np.int32),
        "Q": rng.poisson(40, 3000).astype(np.uint16),
        "Q2": rng.poisson(30, 3000).astype(np.int64),
        "P2": rng.poisson(20, (6, 100)).astype(np.uint8),     # rows of one block
        "R2": rng.poisson(20, (6, 100)).astype(np.int16),
        "PL": rng.poisson(20, (5, 700)).astype(np.uint32),    # rows of several blocks
        "QL": rng.poisson(20, (5, 700)).astype(np.uint32),
    })
    B = "25"
    layouts = [("1-D, 2 candidates", [f + ":/P", f + ":/Q", f + ":/Q2"]),
               ("1-D, W1/KS", EXTRA + [f + ":/P", f + ":/Q"]),
               ("2-D short rows", [f + ":/P2", f + ":/R2"]),
               ("2-D short rows, W1/KS", EXTRA + [f + ":/P2", f + ":/R2"]),
               ("2-D long rows, 2 candidates", [f + ":/PL", f + ":/QL", f + ":/PL"]),
               ("2-D long rows, W1/KS", EXTRA + [f + ":/PL", f + ":/QL"])]
    for what, refs in layouts:
        base = run(ctx, refs, what=f"{what} without --bootstrap")
        ref = run(ctx, refs + ["--bootstrap", B, "--seed", "7"], what=what)
        if base is None or ref is None:
            continue
        for m in base["measures"]:
            ctx.check(same(ref["measures"][m], base["measures"][m]),
                      f"{what}: {m} with --bootstrap differs from the run without")
            ctx.check(m in ref["se"] and m in ref["ci"], f"{what}: no se/ci for {m}")
        for ranks, extra in ((None, ["--piece-size", "1KiB"]), (2, []),
                             (3, ["--piece-size", "2KiB"]), (2, ["--piece-size", "512"])):
            got = run(ctx, refs + ["--bootstrap", B, "--seed", "7"] + extra, ranks=ranks,
                      what=f"{what} on {ranks} ranks {extra}")
            if got is None:
                continue
            for key in ("measures", "se", "ci"):
                ctx.check(same(got[key], ref[key]),
                          f"{what}: {key} on {ranks} ranks {extra} differs from 1 rank")
        other = run(ctx, refs + ["--bootstrap", B, "--seed", "8"], what=f"{what} seed 8")
        if other is not None:
            for m in MEAS:
                ctx.check(not same(other["se"][m], ref["se"][m]) and
                          not same(other["ci"][m], ref["ci"][m]),
                          f"{what}: {m} se/ci unchanged by another seed")
    # A shard larger than --memory-per-rank is streamed and read twice; the
    # bootstrap state (3 row states of 1 + B partial sums) must fit in half of it.
    g = write(ctx, "big.h5", {"P": rng.poisson(5, 120_000).astype(np.int32),
                              "Q": rng.poisson(5, 120_000).astype(np.int32)})
    refs = ["--bootstrap", "3", "--measures", "kl_pq,hellinger,ks", g + ":/P", g + ":/Q"]
    first = run(ctx, refs, what="120,000 bins in memory")
    for ranks, mem in ((None, "3MiB"), (2, "2MiB")):
        got = run(ctx, refs + ["--memory-per-rank", mem, "--piece-size", "64KiB"], ranks=ranks,
                  what=f"120,000 bins streamed on {ranks} ranks")
        if first and got:
            for key in ("measures", "se", "ci"):
                ctx.check(same(got[key], first[key]), f"streamed on {ranks} ranks: {key} differs")
    res = ctx.h5div_run(["compare", "--memory-per-rank", "1MiB", "--bootstrap", "200",
                         g + ":/P", g + ":/Q"])
    T.check_error(ctx, res, 3, "--bootstrap 200 in 1MiB", r"bootstrap 200 needs .*memory-per-rank")
    # HDF5 datasets and attributes; se and interval from the replicates (numpy).
    out = ctx.path("out.h5")
    refs = [f + ":/PL", f + ":/QL", f + ":/PL"]
    res = ctx.h5div_run(["compare", "--bootstrap", B, "--seed", "7", "--ci", "0.9",
                         "--keep-replicates", "-o", out + ":/r", "--json"] + refs, ranks=2)
    if T.check_success(ctx, res, "--keep-replicates -o"):
        obj = json.loads(res.out)
        with h5py.File(out, "r") as h:
            g = h["r"]
            ctx.check(int(g.attrs["bootstrap"]) == 25 and int(g.attrs["seed"]) == 7 and
                      float(g.attrs["ci"]) == 0.9, f"group attributes {dict(g.attrs)}")
            for m in obj["measures"]:
                v, se, ci, reps = (g[m][()], g[m + "_se"][()], g[m + "_ci"][()],
                                   g[m + "_replicates"][()])
                ctx.check(v.shape == (2, 5) and se.shape == (2, 5) and ci.shape == (2, 5, 2) and
                          reps.shape == (2, 5, 25), f"{m}: shapes {v.shape} {se.shape} "
                          f"{ci.shape} {reps.shape}")
                ctx.check(same(v.tolist(), obj["measures"][m]) and
                          same(se.tolist(), obj["se"][m]) and same(ci.tolist(), obj["ci"][m]),
                          f"{m}: HDF5 and JSON differ")
                # +inf where a replicate is infinite (kl_pq with an empty Q* bin)
                with np.errstate(invalid="ignore"):
                    want_se = np.where(np.isinf(reps).any(axis=-1), np.inf,
                                       reps.std(axis=-1, ddof=1))
                ctx.check(np.allclose(se, want_se, rtol=1e-12, atol=0),
                          f"{m}: se {se.ravel()[:3]} vs numpy {want_se.ravel()[:3]}")
                want_ci = np.moveaxis(np.quantile(reps, [0.05, 0.95], axis=-1), 0, -1)
                ctx.check(np.array_equal(ci, want_ci),
                          f"{m}: interval {ci.ravel()[:2]} vs numpy.quantile {want_ci.ravel()[:2]}")
            ctx.check("kl_pq_replicates" in g and "kl_pq_se" in g, "datasets named NAME_se, ...")
    # The table: value ± se [lo, hi].
    res = ctx.h5div_run(["compare", "--bootstrap", B, f + ":/P", f + ":/Q"])
    if T.check_success(ctx, res, "table"):
        obj = run(ctx, ["--bootstrap", B, f + ":/P", f + ":/Q"], what="table JSON")
        line = [l for l in res.out.splitlines() if l.startswith("kl_pq ")]
        want = "%.17g \u00b1 %.17g [%.17g, %.17g]" % (
            obj["measures"]["kl_pq"], obj["se"]["kl_pq"], *obj["ci"]["kl_pq"])
        ctx.check(len(line) == 1 and want in line[0], f"table line {line!r}, want {want!r}")
    # 2-D: a NAME_se line of min, median, max over the rows.
    refs = ["--bootstrap", B, "--measures", "kl_pq", f + ":/PL", f + ":/QL"]
    res = ctx.h5div_run(["compare"] + refs, ranks=2)
    obj = run(ctx, refs, what="2-D table JSON")
    if T.check_success(ctx, res, "2-D table") and obj:
        se = np.array(flat(obj["se"]["kl_pq"]))
        line = [l.split() for l in res.out.splitlines() if l.startswith("kl_pq_se ")]
        want = [float(se.min()), float(np.median(se)), float(se.max())]
        ctx.check(len(line) == 1 and [float(v) for v in line[0][1:4]] == want,
                  f"2-D table: {line!r}, want kl_pq_se {want}")


def measures_np(P, Q):
    """kl_pq, js_divergence, total_variation in bits, wasserstein1 (bin
    width 1) and ks of rows of counts."""
    p = P / P.sum(axis=-1, keepdims=True)
    q = Q / Q.sum(axis=-1, keepdims=True)
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl = np.where(p > 0, p * np.log2(p / q), 0.0).sum(axis=-1)
        kpm = np.where(p > 0, p * np.log2(p / m), 0.0).sum(axis=-1)
        kqm = np.where(q > 0, q * np.log2(q / m), 0.0).sum(axis=-1)
    dF = np.abs(np.cumsum(p, axis=-1) - np.cumsum(q, axis=-1))
    return {"kl_pq": kl, "js_divergence": (kpm + kqm) / 2,
            "total_variation": np.abs(p - q).sum(axis=-1) / 2,
            "wasserstein1": dF[..., :-1].sum(axis=-1), "ks": dF.max(axis=-1)}


def case_numpy(ctx):
    rng = np.random.default_rng(2026)
    x = np.linspace(0, 1, 50)
    P = rng.poisson(1000 * (1 + 0.3 * np.sin(6 * x)))
    Q = rng.poisson(1000 * (1 + 0.3 * np.sin(6 * x + 0.4)))
    f = write(ctx, "in.h5", {"P": P, "Q": Q})
    B = 400
    meas = MEAS + ["wasserstein1", "ks"]
    obj = run(ctx, ["--bootstrap", str(B), "--seed", "3", "--measures", ",".join(meas),
                    "--keep-replicates", "-o", ctx.path("out.h5"), f + ":/P", f + ":/Q"],
              what="B = 400")
    if obj is None:
        return
    with h5py.File(ctx.path("out.h5"), "r") as h:
        reps = {m: h["h5div"][m + "_replicates"][()] for m in meas}
    # The same scheme, numpy's own generator: P*_i ~ Poisson(P_i), Q*_i ~ Poisson(Q_i).
    Ps = rng.poisson(np.broadcast_to(P, (B, 50)))
    Qs = rng.poisson(np.broadcast_to(Q, (B, 50)))
    ref = measures_np(Ps.astype(float), Qs.astype(float))
    val = measures_np(P.astype(float), Q.astype(float))
    for m in meas:
        got = T.json_value(obj["measures"][m])
        ctx.check(abs(got - val[m]) <= 1e-12 * abs(val[m]), f"{m} = {got}, numpy {val[m]}")
        se_h, se_n = T.json_value(obj["se"][m]), ref[m].std(ddof=1)
        mean_h, mean_n = reps[m].mean(), ref[m].mean()
        tol = 4 * math.sqrt(se_h ** 2 / B + se_n ** 2 / B)
        ctx.note(f"{m}: mean {mean_h:.6g} vs numpy {mean_n:.6g} (tol {tol:.2g}); "
                 f"se {se_h:.6g} vs numpy {se_n:.6g} (ratio {se_h / se_n:.3f})")
        ctx.check(abs(mean_h - mean_n) <= tol, f"{m}: replicate mean {mean_h} vs numpy {mean_n}")
        ctx.check(abs(se_h / se_n - 1) <= 0.15, f"{m}: se {se_h} vs numpy {se_n}")
        ctx.check(abs(reps[m].std(ddof=1) - se_h) <= 1e-12 * se_h, f"{m}: se vs its replicates")


def case_calibration(ctx):
    x = np.linspace(0, 1, 50)
    p = 1 + 0.5 * np.sin(5 * x)
    q = 1 + 0.5 * np.sin(5 * x + 0.5)
    p, q = p / p.sum(), q / q.sum()
    R = 1000
    meas = MEAS + ["hellinger"]
    true = measures_np(p[None, :], q[None, :])
    true["hellinger"] = np.sqrt(1 - np.sqrt(p * q).sum(keepdims=True))
    # ~1000 counts per bin: the standard error is calibrated, but the plug-in
    # bias (about one standard error here) shifts the percentile intervals
    # twice over, so they under-cover (reported, not asserted); ~100,000 per
    # bin: the bias is a tenth of a standard error and the coverage nominal.
    for N, check_cover in ((50_000, False), (5_000_000, True)):
        rng = np.random.default_rng(77)
        P = rng.multinomial(N, p, size=R)
        Q = rng.multinomial(N, q, size=R)
        f = write(ctx, f"in{N}.h5", {"P": P, "Q": Q})
        obj = run(ctx, ["--bootstrap", "200", "--seed", "1", "--measures", ",".join(meas),
                        f + ":/P", f + ":/Q"], ranks=2, what=f"{R} draws of N = {N}, B = 200")
        if obj is None:
            continue
        for m in meas:
            est = np.array(flat(obj["measures"][m]))
            se = np.array(flat(obj["se"][m]))
            ci = np.array(flat(obj["ci"][m])).reshape(R, 2)
            t = float(true[m][0])
            mc = est.std(ddof=1)
            cover = np.mean((ci[:, 0] <= t) & (t <= ci[:, 1]))
            ctx.note(f"N = {N}, {m}: true {t:.6g}, mean estimate {est.mean():.6g}, MC sd "
                     f"{mc:.4g}, mean bootstrap se {se.mean():.4g} (ratio {se.mean() / mc:.3f}), "
                     f"95% interval coverage {cover:.3f}")
            ctx.check(abs(se.mean() / mc - 1) <= 0.10,
                      f"N = {N}, {m}: bootstrap se {se.mean()} vs MC sd {mc}")
            if check_cover:
                ctx.check(abs(cover - 0.95) <= 0.03, f"N = {N}, {m}: coverage {cover}")


def case_errors(ctx):
    f = write(ctx, "in.h5", {"F": np.array([1.0, 2.0, 2.5, 3.5]), "G": np.array([1.0, 2, 3, 4]),
                             "F2": np.array([[1.0, 2.0], [3.0, 0.25]]),
                             "G2": np.array([[1.0, 2.0], [3.0, 4.0]]),
                             "FL": np.r_[np.ones(1000), 0.5, np.ones(99)],
                             "GL": np.ones(1100)})
    res = ctx.h5div_run(["compare", "--bootstrap", "10", f + ":/F", f + ":/G"])
    T.check_error(ctx, res, 3, "non-integer 1-D", r"integer.*2\.5.*in\.h5:/F.*bin 2")
    res = ctx.h5div_run(["compare", "--bootstrap", "10", f + ":/G2", f + ":/F2"])
    T.check_error(ctx, res, 3, "non-integer 2-D", r"integer.*0\.25.*in\.h5:/F2.*row 1.*bin 1")
    res = ctx.h5div_run(["compare", "--bootstrap", "10", f + ":/FL", f + ":/GL"], ranks=2)
    T.check_error(ctx, res, 3, "non-integer on rank 1", r"integer.*0\.5.*in\.h5:/FL.*bin 1000")
    res = ctx.h5div_run(["compare", f + ":/F", f + ":/G"])
    T.check_success(ctx, res, "non-integer without --bootstrap")
    ok = [f + ":/G", f + ":/G"]
    for args, msg in ((["--bootstrap", "0"], "replicates"),
                      (["--bootstrap", "-3"], "replicates"),
                      (["--bootstrap", "1e3"], "replicates"),
                      (["--bootstrap", "10000001"], "replicates"),
                      (["--bootstrap"], None), (["--bootstrap", "5", "--ci", "1"], "level"),
                      (["--bootstrap", "5", "--ci", "0"], "level"),
                      (["--seed", "3"], "need --bootstrap"),
                      (["--keep-replicates"], "need --bootstrap"),
                      (["--bootstrap", "5", "--seed", "-1"], "seed")):
        res = ctx.h5div_run(["compare"] + args + ok)
        T.check_error(ctx, res, 2, " ".join(args), msg)


CASES = {"bits": case_bits, "numpy": case_numpy, "calibration": case_calibration,
         "errors": case_errors}

if __name__ == "__main__":
    T.main(CASES)
