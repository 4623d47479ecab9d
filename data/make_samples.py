#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Write data/samples.h5: samples (not histograms) for `h5div histogram`.

Rows are samples, columns the features energy (log-normal, GeV), eta
(normal) and hits (a Poisson count, stored as a float like the rest):

/reference    [8000, 3] float32: the reference simulation
/candidate_a  [6000, 3] float32: a close generative model (slightly wider eta)
/candidate_b  [6000, 3] float32: a worse one (energy scale off by 10%, fewer hits)
/weights      [8000]    float64: event weights of /reference (around 1)

Deterministic (numpy's PCG64 with seed 13): `/usr/bin/python3 data/make_samples.py`
rewrites the same values.
"""
import os

import h5py
import numpy as np

rng = np.random.default_rng(13)


def draw(n, e_scale, eta_width, hits_mean):
    energy = e_scale * rng.lognormal(mean=3.0, sigma=0.6, size=n)
    eta = rng.normal(0.0, eta_width, size=n)
    hits = rng.poisson(hits_mean, size=n).astype(float)
    return np.stack([energy, eta, hits], axis=1).astype("<f4")


data = {
    "reference": draw(8000, 1.0, 1.0, 12.0),
    "candidate_a": draw(6000, 1.0, 1.05, 12.0),
    "candidate_b": draw(6000, 1.1, 1.0, 11.0),
}
weights = rng.gamma(20.0, 1 / 20.0, size=8000)
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "samples.h5")
with h5py.File(out, "w", track_order=True) as f:
    for name, v in data.items():
        d = f.create_dataset(name, data=v, chunks=(4096, 3), compression="gzip", track_times=False)
        d.attrs["features"] = ["energy", "eta", "hits"]
    f.create_dataset("weights", data=weights, track_times=False)
