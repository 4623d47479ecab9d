#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Reading ahead through MPI-IO changes no bit. Contiguous datasets are read
with nonblocking MPI-IO at their file offset (the next piece while one is
evaluated) and converted with H5Tconvert; H5DIV_OVERLAP=0 reads everything
through H5Dread. compare and entropy must print the same stdout and stderr
both ways on 1-4 ranks, with several piece sizes and shard modes, for
contiguous and chunked inputs, little- and big-endian float64, float32,
uint64 above 2^53 and int16, a file with a user block, 2-D rows, and
inputs whose bad value (NaN, negative) lies in a later piece. H5DIV_DEBUG=1
must show which path each dataset took, and one run is checked against
scipy. One case per MPI-IO component (OMPIO, ROMIO). About 40 s each.
"""
import re

import h5py
import numpy as np

import h5div_testlib as T

N = 30011  # not a multiple of a block or a piece


def inputs(ctx):
    rng = np.random.default_rng(15)
    path = ctx.path("v.h5")
    with h5py.File(path, "w") as f:
        f["f64"] = rng.random(N)
        f.create_dataset("f64be", data=rng.random(N).astype(">f8"))
        f.create_dataset("f32be", data=rng.random(N).astype(">f4"))
        f.create_dataset("f32", data=rng.random(N).astype("<f4"))
        f.create_dataset("u64", data=rng.integers(2**60, 2**63, N, dtype=np.uint64))
        f.create_dataset("u64be", data=rng.integers(2**60, 2**63, N, dtype=np.uint64).astype(">u8"))
        f.create_dataset("i16be", data=rng.integers(1, 30000, N).astype(">i2"))
        f.create_dataset("f64c", data=rng.random(N), chunks=(1000,))
        f.create_dataset("f32bec", data=rng.random(N).astype(">f4"), chunks=(777,))
        f.create_dataset("u64c", data=rng.integers(2**60, 2**63, N, dtype=np.uint64), chunks=(4096,))
        f["r1"] = rng.random((30, 1001))
        f.create_dataset("r2be", data=rng.random((30, 1001)).astype(">f4"))
        bad = rng.random(N).astype(">f4")
        bad[N - 100] = np.nan
        f.create_dataset("nan_f32be", data=bad)
        neg = rng.random(N)
        neg[N // 2 + 7] = -1.0
        f.create_dataset("neg_f64", data=neg)
    # A user block moves every dataset: H5Dget_offset must include it.
    ub = ctx.path("ub.h5")
    with h5py.File(ub, "w", userblock_size=4096) as f:
        f.create_dataset("a", data=rng.random(N).astype(">f8"))
        f.create_dataset("b", data=rng.random(N).astype("<f4"))
    return path, ub


CONTIGUOUS = {"f64", "f64be", "f32be", "f32", "u64", "u64be", "i16be", "r1", "r2be",
              "nan_f32be", "neg_f64", "a", "b"}

RUNS = [
    ("compare", "v", ["f64", "f64be"]),
    ("compare", "v", ["f32be", "f64c"]),
    ("compare", "v", ["u64be", "u64c"]),
    ("compare", "v", ["i16be", "f32"]),
    ("compare", "v", ["f32bec", "u64"]),
    ("compare", "v", ["r1", "r2be"]),
    ("compare", "ub", ["a", "b"]),
    ("entropy", "v", ["u64be"]),
    ("compare", "v", ["nan_f32be", "f64"]),
    ("compare", "v", ["f64c", "neg_f64"]),
]

SETTINGS = [  # options, H5DIV_SHARD (None: measured)
    (["--piece-size", "4KiB"], None),
    (["--piece-size", "16KiB"], "stream"),
    (["--memory-per-rank", "96KiB"], None),
    (["--piece-size", "8KiB"], "2"),
]


def run(ctx, args, ranks, mca, overlap, shard):
    ctx.env["H5DIV_OVERLAP"] = overlap
    ctx.env["H5DIV_DEBUG"] = "1"
    if shard:
        ctx.env["H5DIV_SHARD"] = shard
    try:
        res = ctx.h5div_run(args, ranks=ranks, mca=mca)
    finally:
        for k in ("H5DIV_OVERLAP", "H5DIV_DEBUG", "H5DIV_SHARD"):
            ctx.env.pop(k, None)
    return res


def paths(err):
    """Dataset -> path reported under H5DIV_DEBUG=1 (rank 0)."""
    got = {}
    for m in re.finditer(r"^h5div: [^\n]*:/(\w+): (read through HDF5|contiguous)", err, re.M):
        got[m.group(1)] = "mpiio" if m.group(2) == "contiguous" else "hdf5"
    return got


def h5div_errors(err):
    """h5div's error lines: not the H5DIV_DEBUG lines, which differ by
    design, nor mpiexec's notice of the failed job (its job id varies)."""
    return [l for l in err.splitlines() if l.startswith("h5div: error")]


def same_bits_case(mca):
    def case(ctx):
        v, ub = inputs(ctx)
        files = {"v": v, "ub": ub}
        ranks_cycle = [1, 2, 3, 4]
        i = 0
        for command, fkey, names in RUNS:
            refs = [f"{files[fkey]}:/{n}" for n in names]
            for opts, shard in SETTINGS:
                ranks = ranks_cycle[(i + i // 4) % 4]
                i += 1
                args = [command] + refs + ["--json"] + opts
                what = f"{' '.join([command] + names + opts)} H5DIV_SHARD={shard} ranks {ranks}"
                old = run(ctx, args, ranks, mca, "0", shard)
                new = run(ctx, args, ranks, mca, "1", shard)
                ctx.check(old.rc == new.rc, f"{what}: exit {new.rc} with overlap, {old.rc} without")
                ctx.check(re.sub(r'"ranks": *[0-9]+', "", new.out) ==
                          re.sub(r'"ranks": *[0-9]+', "", old.out),
                          f"{what}: stdout differs with overlap", new)
                ctx.check(h5div_errors(new.err) == h5div_errors(old.err),
                          f"{what}: stderr differs with overlap", new)
                errs = h5div_errors(new.err)
                if any(n.startswith(("nan", "neg")) for n in names):
                    ctx.check(len(errs) == 1 and re.search(r"(NaN|negative) value", errs[0]),
                              f"{what}: no error line for the bad value", new)
                # Which path each dataset took: contiguous ones through
                # MPI-IO when the shard takes more than one piece.
                want = {n: ("mpiio" if n in CONTIGUOUS else "hdf5") for n in names}
                ctx.check(paths(new.err) == want, f"{what}: paths {paths(new.err)}, want {want}",
                          new)
                ctx.check(set(paths(old.err).values()) <= {"hdf5"},
                          f"{what}: H5DIV_OVERLAP=0 still reads through MPI-IO", old)
        # The read-ahead values against an independent oracle.
        P = np.asarray(h5py.File(v, "r")["f32be"][...], dtype=np.float64)
        Q = np.asarray(h5py.File(v, "r")["u64be"][...], dtype=np.float64)
        got = T.run_json(ctx, [f"{v}:/f32be", f"{v}:/u64be", "--piece-size", "4KiB"],
                         ranks=3, mca=mca, what="oracle")
        if got is not None:
            T.check_against(ctx, got, T.oracle_scipy(P, Q), "f32be vs u64be, 3 ranks, 4 KiB pieces")
    return case


CASES = {
    "ompio": same_bits_case([("io", "ompio")]),
    "romio": same_bits_case([("io", "romio321")]),
}

if __name__ == "__main__":
    T.main(CASES)
