#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Write data/rows.h5: 2-D example inputs of h5div, one histogram per row.

/reference   [200, 50] int32: per-feature histograms, counts 1..2000 drawn around a bump
/generated   [200, 50] int32: each count of /reference times a factor in [0.9, 1.1], rounded
/checkpoint  [200, 50] int32: the same with factors in [0.7, 1.3], a worse model

Deterministic (numpy's PCG64 with seed 7): `/usr/bin/python3 data/make_rows.py` rewrites
the same values.
"""
import os

import h5py
import numpy as np

rng = np.random.default_rng(7)
rows, bins = 200, 50
x = np.arange(bins)
centre = rng.uniform(10, 40, rows)[:, None]
width = rng.uniform(4, 12, rows)[:, None]
P = np.rint(1 + 1999 * np.exp(-0.5 * ((x - centre) / width) ** 2) * rng.uniform(0.5, 1.0, (rows, bins)))
Q = np.rint(P * rng.uniform(0.9, 1.1, P.shape))
C = np.rint(P * rng.uniform(0.7, 1.3, P.shape))
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rows.h5")
with h5py.File(out, "w", track_order=True) as f:
    for name, v in (("reference", P), ("generated", Q), ("checkpoint", C)):
        f.create_dataset(name, data=v.astype("<i4"), track_times=False)
