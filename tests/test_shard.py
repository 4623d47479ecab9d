#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Keeping or streaming the shard changes no bit. A shard that fits
--memory-per-rank is kept piece by piece while touching a piece costs less
than reading it; H5DIV_SHARD fixes the choice (stream, keep, or the first N
pieces). compare and entropy of 1-D float64, 64-bit integers above 2^53 and
2-D rows, on 1 and 3 ranks with 4 KiB pieces, must print the same JSON (the
ranks field aside) under every setting and the measured choice. About 20 s.
"""
import re

import h5py
import numpy as np

import h5div_testlib as T

MODES = ["stream", "keep", "0", "1", "3", "measure"]


def inputs(ctx):
    rng = np.random.default_rng(5)
    path = ctx.path("v.h5")
    with h5py.File(path, "w") as f:
        f["P"] = rng.random(40000)
        f["Q"] = rng.random(40000)
        f["W1"] = rng.integers(2**60, 2**61, 12000, dtype=np.int64)
        f["W2"] = rng.integers(0, 2**62, 12000, dtype=np.int64)
        f["A1"] = rng.random((60, 700))
        f["A2"] = rng.random((60, 700))
    return path


def run(ctx, args, ranks, mode):
    ctx.env["H5DIV_SHARD"] = mode
    try:
        res = ctx.h5div_run(args + ["--json", "--piece-size", "4KiB"], ranks=ranks)
    finally:
        ctx.env.pop("H5DIV_SHARD", None)
    if not T.check_success(ctx, res, f"{' '.join(args)} H5DIV_SHARD={mode} ranks {ranks}"):
        return None
    return re.sub(r'"ranks": *[0-9]+', "", res.out)


def shard_case(command):
    def case(ctx):
        f = inputs(ctx)
        for a, b in (("P", "Q"), ("W1", "W2"), ("A1", "A2")):
            args = ([command, f"{f}:/{a}", f"{f}:/{b}"] if command == "compare"
                    else [command, f"{f}:/{a}"])
            for ranks in (None, 3):
                ref = run(ctx, args, ranks, "measure")
                for mode in MODES:
                    got = run(ctx, args, ranks, mode)
                    if ref is not None and got is not None:
                        ctx.check(got == ref, f"{' '.join(args)} ranks {ranks or 1}: "
                                              f"H5DIV_SHARD={mode} differs from the measured choice")
    return case


CASES = {"compare": shard_case("compare"), "entropy": shard_case("entropy")}

if __name__ == "__main__":
    T.main(CASES)
