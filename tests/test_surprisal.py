#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""`h5div surprisal`: the written dataset against mpmath (-log_b p at 40
digits) for integer and float inputs and every base, inf for empty bins,
identical bits on 1-4 ranks and under small pieces, 2-D input [m, n] (one
row of self-information per histogram, each row normalised by its own total,
against mpmath and numpy at 1-3 ranks, rows spanning ranks and pieces),
layout (shape, chunked float64, attribute units), write safety (an existing dataset needs
--overwrite; a failed run leaves the earlier file intact and no temporary
file behind), and the error paths."""

import math
import os

import h5py
import numpy as np

import h5div_testlib as T

RANKS = [None, 2, 3, 4]


def write(ctx, name, P, dtype):
    path = ctx.path(name + ".h5")
    with h5py.File(path, "w") as f:
        f.create_dataset("P", data=np.asarray(P, dtype=dtype))
    return path + ":/P"


def oracle(P, base="2", alpha=0.0):
    import mpmath
    with mpmath.workdps(80):
        vals = [mpmath.mpf(v) + alpha for v in P]
        s = mpmath.fsum(vals)
        lb = {"2": mpmath.log(2), "e": 1, "10": mpmath.log(10)}[base]
        return [float(-mpmath.log(v / s) / lb) if v else math.inf for v in vals]


def oracle_rows(P, base="2"):
    """-log_b(p) of every bin, p = P[r] / sum P[r] per row, from mpmath."""
    return np.array([oracle(row, base) for row in P.tolist()])


def read_out(path, dset):
    with h5py.File(path, "r") as f:
        return f[dset][()], dict(f[dset].attrs), f[dset].chunks, f[dset].dtype


def case_values(ctx):
    rng = np.random.default_rng(8)
    P = rng.integers(0, 1000, 3000)
    P[::17] = 0
    P[5] = 10**6
    p = write(ctx, "in", P, "u4")
    want = {b: oracle(P.tolist(), b) for b in ("2", "e", "10")}
    ref = None
    worst = 0.0
    for n in RANKS:
        for base in ("2", "e", "10"):
            out = ctx.path(f"out{n}{base}.h5")
            res = ctx.h5div_run(["surprisal", "-b", base, p, "-o", out + ":/s"], ranks=n)
            if not T.check_success(ctx, res, f"surprisal -b {base} ranks={n}"):
                continue
            v, attrs, chunks, dt = read_out(out, "/s")
            ctx.check(v.shape == P.shape and dt == np.float64, f"shape {v.shape} dtype {dt}")
            ctx.check(chunks is not None, "output is not chunked")
            ctx.check(attrs.get("units") == T.BASE_UNITS[base], f"units {attrs.get('units')!r}")
            ctx.check(attrs.get("p") == p, "attribute p")
            w = np.array(want[base])
            ctx.check(np.array_equal(np.isinf(v), P == 0), "inf exactly on the empty bins")
            fin = np.isfinite(w)
            err = np.abs(v[fin] - w[fin]) / np.abs(w[fin])
            worst = max(worst, float(err.max()))
            ctx.check(err.max() <= 1e-14, f"base {base}: max relative error {err.max():.3g}")
            ctx.check(np.all(v >= 0) and not np.any(np.signbit(v)), "surprisal negative or -0")
            if base == "2":
                if ref is None:
                    ref = v
                else:
                    ctx.check(ref.tobytes() == v.tobytes(), f"ranks={n}: bits differ from 1 rank")
    out = ctx.path("small.h5")
    res = ctx.h5div_run(["surprisal", "--memory-per-rank", "8KiB", "--piece-size", "2KiB", p,
                         "-o", out + ":/g/s"], ranks=3)
    if T.check_success(ctx, res, "small pieces") and ref is not None:
        ctx.check(read_out(out, "/g/s")[0].tobytes() == ref.tobytes(), "small pieces: bits differ")
    ctx.note(f"worst relative error vs mpmath: {worst:.3g}")


def case_floats_pseudocount(ctx):
    P = np.random.default_rng(2).random(2500)
    P[:3] = [0.0, 5e-320, 1e25]  # empty, subnormal, dominant (p = 1 - 1e-22)
    p = write(ctx, "f", P, "f8")
    out = ctx.path("o.h5")
    res = ctx.h5div_run(["surprisal", "--pseudocount", "0.25", p, "-o", out + ":/s"], ranks=4)
    if T.check_success(ctx, res, "floats + pseudocount"):
        v = read_out(out, "/s")[0]
        w = np.array(oracle(P.tolist(), "2", 0.25))
        err = np.abs(v - w) / np.abs(w)
        ctx.check(err.max() <= 1e-14, f"floats: max relative error {err.max():.3g}")
    q = write(ctx, "one", [0, 7, 0], "i2")
    res = ctx.h5div_run(["surprisal", q, "-o", out + ":/one"], ranks=2)
    if T.check_success(ctx, res, "point mass"):
        v = read_out(out, "/one")[0]
        ctx.check(v[1] == 0.0 and not math.copysign(1, v[1]) < 0 and math.isinf(v[0]), f"point mass {v!r}")
        ctx.check("s" in h5py.File(out, "r"), "earlier dataset kept")


def case_safety(ctx):
    P = np.arange(1, 5001)
    p = write(ctx, "in", P, "i8")
    out = ctx.path("r.h5")
    with h5py.File(out, "w") as f:
        f["keep"] = np.arange(3)
    T.check_success(ctx, ctx.h5div_run(["surprisal", p, "-o", out + ":/s"], ranks=2), "first write")
    T.check_error(ctx, ctx.h5div_run(["surprisal", p, "-o", out + ":/s"], ranks=2), 4, "exists", "overwrite")
    T.check_success(ctx, ctx.h5div_run(["surprisal", "-b", "e", "--overwrite", p, "-o", out + ":/s"], ranks=3),
                    "overwrite")
    with h5py.File(out, "r") as f:
        ctx.check(f["s"].attrs["units"] == "nats", "overwritten dataset has the new units")
        ctx.check(list(f["keep"][()]) == [0, 1, 2], "other dataset kept")
    before = open(out, "rb").read()
    bad = P.astype(np.float64)
    bad[4999] = np.nan
    b = write(ctx, "bad", bad, "f8")
    T.check_error(ctx, ctx.h5div_run(["surprisal", "--overwrite", b, "-o", out + ":/s"], ranks=4), 3,
                  "NaN input", "NaN")
    ctx.check(open(out, "rb").read() == before, "failed run changed the output file")
    left = [f for f in os.listdir(ctx.workdir) if f.startswith(".h5div")]
    ctx.check(not left, f"temporary files left behind: {left}")


def case_errors(ctx):
    p = write(ctx, "in", [1, 2, 3], "u1")
    T.check_error(ctx, ctx.h5div_run(["surprisal", p]), 2, "no -o", "-o")
    T.check_error(ctx, ctx.h5div_run(["surprisal", p, "-o", ctx.path("x.h5") + ":/"]), 2, "root")
    T.check_error(ctx, ctx.h5div_run(["surprisal", p, p, "-o", ctx.path("x.h5") + ":/s"]), 2, "two inputs")
    T.check_error(ctx, ctx.h5div_run(["surprisal", "--measures", "entropy", p, "-o", ctx.path("x.h5") + ":/s"]), 2,
                  "measures")
    T.check_error(ctx, ctx.h5div_run(["surprisal", p, "-o", "/nonexistent/dir/x.h5:/s"], ranks=2), 4, "bad dir")
    T.check_error(ctx, ctx.h5div_run(["surprisal", write(ctx, "z", [0, 0], "u1"), "-o", ctx.path("x.h5") + ":/s"],
                                     ranks=2), 3, "all zero")
    with open(ctx.path("text.h5"), "w") as f:
        f.write("not hdf5")
    T.check_error(ctx, ctx.h5div_run(["surprisal", p, "-o", ctx.path("text.h5") + ":/s"], ranks=2), 4, "not hdf5")
    ctx.check(not os.path.exists(ctx.path("x.h5")), "failed runs created the output file")


def case_rows(ctx):
    """2-D input [m, n]: a float64 dataset of P's shape whose row r is the
    self-information of row r normalised by its own total (mpmath at 80
    digits; numpy's -log(P / P.sum(axis=1)) as a second oracle), inf exactly
    on the empty bins, the same bits on 1, 2 and 3 ranks and with pieces
    smaller than a row, so rows span ranks and pieces. Rows of very
    different totals (1e-3 to 1e12) catch a total shared between rows."""
    rng = np.random.default_rng(16)
    m, n = 7, 700
    P = rng.integers(0, 1000, (m, n)).astype(np.int64)
    P[1, ::5] = 0
    P[3] = 0
    P[3, 17] = 4                      # a point mass: 0 bits there, inf elsewhere
    P[4] *= 10**9                     # a row of a much larger total
    P[5, -1] = 10**12                 # one dominant bin at the end of a row
    p = write(ctx, "rows", P, "i8")
    want = {b: oracle_rows(P, b) for b in ("2", "e")}
    with np.errstate(divide="ignore"):
        Pf = P.astype(np.float64)
        np_bits = -np.log2(Pf / Pf.sum(axis=1, keepdims=True))
    ref = None
    for n_ranks in (None, 2, 3):
        for base in ("2", "e"):
            out = ctx.path(f"rows{n_ranks}{base}.h5")
            what = f"surprisal 2-D -b {base} ranks={n_ranks}"
            res = ctx.h5div_run(["surprisal", "-qb", base, p, "-o", out + ":/s"], ranks=n_ranks)
            if not T.check_success(ctx, res, what):
                continue
            v, attrs, chunks, dt = read_out(out, "/s")
            if not ctx.check(v.shape == (m, n) and dt == np.float64,
                             f"{what}: shape {v.shape} dtype {dt}, want ({m}, {n}) float64", res):
                continue
            ctx.check(chunks is not None and len(chunks) == 2, f"{what}: chunks {chunks}")
            ctx.check(attrs.get("units") == T.BASE_UNITS[base], f"{what}: units {attrs.get('units')!r}")
            w = want[base]
            ctx.check(np.array_equal(np.isinf(v), P == 0) and not np.any(np.isnan(v)),
                      f"{what}: inf must be exactly on the empty bins")
            fin = np.isfinite(w) & (w != 0)
            err = float((np.abs(v[fin] - w[fin]) / np.abs(w[fin])).max())
            ctx.check(err <= 1e-14, f"{what}: max relative error vs mpmath {err:.3g} > 1e-14")
            ctx.check(v[3, 17] == 0.0 and not np.signbit(v[3, 17]), f"{what}: point mass {v[3, 17]!r}, want +0")
            if base == "2":
                nfin = np.isfinite(np_bits) & (np_bits > 1e-3)
                nerr = float((np.abs(v[nfin] - np_bits[nfin]) / np_bits[nfin]).max())
                ctx.check(nerr <= 1e-12, f"{what}: max relative error vs numpy {nerr:.3g} > 1e-12")
                if ref is None:
                    ref = v
                else:
                    ctx.check(ref.tobytes() == v.tobytes(), f"{what}: bits differ from 1 rank")
    # Pieces of 2 KiB (256 bins) and rows of 700 bins: every row spans pieces and ranks.
    out = ctx.path("rows_small.h5")
    res = ctx.h5div_run(["surprisal", "--memory-per-rank", "4KiB", "--piece-size", "2KiB", p,
                         "-o", out + ":/g/s"], ranks=3)
    if T.check_success(ctx, res, "2-D, small pieces, 3 ranks") and ref is not None:
        ctx.check(read_out(out, "/g/s")[0].tobytes() == ref.tobytes(), "2-D small pieces: bits differ")
    # An all-zero row is an input error naming the row; 3-D input is refused.
    Z = P.copy()
    Z[6] = 0
    z = write(ctx, "zrow", Z, "i8")
    for n_ranks in (None, 3):
        T.check_error(ctx, ctx.h5div_run(["surprisal", z, "-o", ctx.path("z.h5") + ":/s"], ranks=n_ranks),
                      3, f"all-zero row (ranks={n_ranks})", r"all zeros.*row 6")
    c = write(ctx, "cube", np.ones((2, 3, 4)), "f8")
    T.check_error(ctx, ctx.h5div_run(["surprisal", c, "-o", ctx.path("z.h5") + ":/s"]), 3, "3-D input")
    ctx.check(not os.path.exists(ctx.path("z.h5")), "failed runs created the output file")


CASES = {
    "values": case_values,
    "rows": case_rows,
    "floats_pseudocount": case_floats_pseudocount,
    "safety": case_safety,
    "errors": case_errors,
}

if __name__ == "__main__":
    T.main(CASES)
