#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Checks of tests/slurm/test_slurm.sh, read back with h5py: the groups written by
jobs/compare.sbatch, the ten runs the nightly pipeline merged into history.h5 (three nights of
three candidates, and the fourth candidate of night 3 that failed and was rerun) and the three
runs of jobs/array.sbatch used alone (solo/history.h5) hold the same bits as the direct
`mpirun -n 2` runs in direct.h5, with every attribute; the per-task files, `h5div history --csv`
and the plot agree with them."""

import argparse
import csv
import io
import math
import os
import re
import struct
import subprocess
import sys

import h5py

MEASURES = ["entropy_p", "entropy_q", "cross_entropy_pq", "cross_entropy_qp", "kl_pq", "kl_qp",
            "js_divergence", "js_distance", "total_variation", "hellinger"]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print(f"FAIL: {what}", flush=True)
    return cond


def bits(x):
    return struct.pack("<d", x).hex()


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def same_group(got, want, what, ranks=2):
    """Same measures to the bit, same inputs, `ranks` ranks, every contract attribute."""
    for name in MEASURES:
        if not check(name in got, f"{what}: no measure {name}"):
            continue
        g, w = got[name][()], want[name][()]
        check(got[name].shape == want[name].shape and
              struct.pack(f"<{g.size}d", *g.ravel()) == struct.pack(f"<{w.size}d", *w.ravel())
              if hasattr(g, "shape") else bits(float(g)) == bits(float(w)),
              f"{what}: {name} = {g!r}, direct mpirun gave {w!r}")
        check(text(got[name].attrs.get("units")) == text(want[name].attrs.get("units")),
              f"{what}: {name} units differ")
    for attr in ("h5div_version", "command", "created", "ranks", "base", "pseudocount",
                 "elapsed_seconds", "p", "q"):
        check(attr in got.attrs, f"{what}: no attribute {attr}")
    for attr in ("p", "q", "base", "pseudocount"):
        check(text(got.attrs.get(attr)) == text(want.attrs.get(attr)),
              f"{what}: attribute {attr} is {got.attrs.get(attr)!r}, direct run {want.attrs.get(attr)!r}")
    check(int(got.attrs.get("ranks", -1)) == ranks,
          f"{what}: ranks = {got.attrs.get('ranks')!r}, want {ranks} (srun --mpi=pmix made one MPI job)")
    check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", text(got.attrs.get("created", ""))),
          f"{what}: created {got.attrs.get('created')!r} is not ISO 8601 UTC")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--h5div", required=True)
    ap.add_argument("--workdir", required=True)
    args = ap.parse_args()
    os.chdir(args.workdir)
    cands = ["cand0.h5:/generated", "cand1.h5:/generated", "cand2.h5:/generated",
             "cand3.h5:/generated"]
    want_tasks = {(n, t) for n in (1, 2, 3) for t in range(3)} | {(3, 3)}

    with h5py.File("direct.h5", "r") as direct:
        with h5py.File("compare.h5", "r") as f:
            if check("/runs/one" in f, "compare.sbatch: compare.h5 has no /runs/one"):
                same_group(f["/runs/one"], direct["/compare"], "compare.sbatch")
            if check("/runs/two" in f, "compare.sbatch: compare.h5 has no /runs/two"):
                check(f["/runs/two/kl_pq"].shape == (2,) and len(f["/runs/two"].attrs["q"]) == 2,
                      "compare.sbatch with two candidates: want (2,) measures and a q list of 2")
                same_group(f["/runs/two"], direct["/compare2"], "compare.sbatch, two candidates")
            if check("/runs/mem" in f, "compare.sbatch --mem: compare.h5 has no /runs/mem"):
                same_group(f["/runs/mem"], direct["/compare"], "compare.sbatch --mem")

        with h5py.File("history.h5", "r") as hist:
            runs = sorted(hist["/runs"].keys()) if "/runs" in hist else []
            check(len(runs) == len(want_tasks),
                  f"history.h5: {len(runs)} runs, want {len(want_tasks)}: {runs}")
            seen = set()
            for name in runs:
                m = re.fullmatch(r"night([1-3])-(\d+)_([0-3])", name)
                if not check(m, f"history.h5: run id {name!r} is not night<N>-<array job>_<task>"):
                    continue
                night, task = int(m.group(1)), int(m.group(3))
                seen.add((night, task))
                g = hist["/runs"][name]
                same_group(g, direct[f"/night{night}/c{task}"], f"history.h5:/runs/{name}")
                check(text(g.attrs.get("q")) == cands[task],
                      f"history.h5:/runs/{name}: q = {g.attrs.get('q')!r}, want {cands[task]}")
                # The array task's own file holds the same group.
                task_file = os.path.join("results", f"night{night}", f"{name}.h5")
                if check(os.path.exists(task_file), f"no per-task file {task_file}"):
                    with h5py.File(task_file, "r") as tf:
                        same_group(tf["/runs"][name], g, task_file)
            check(seen == want_tasks, f"history.h5: nights/tasks present: {sorted(seen)}")

            # h5div history --csv: every run, in created order, values to the bit.
            res = subprocess.run([args.h5div, "history", "history.h5", "--csv"],
                                 capture_output=True, text=True, timeout=60)
            check(res.returncode == 0, f"h5div history --csv exited {res.returncode}: {res.stderr}")
            rows = list(csv.DictReader(io.StringIO(res.stdout)))
            check([r["run"] for r in rows] ==
                  [n for _, n in sorted((text(hist["/runs"][n].attrs["created"]), n) for n in runs)],
                  "h5div history --csv: runs not in the order of created, then name")
            for r in rows:
                g = hist["/runs"].get(r["run"])
                if not check(g is not None, f"history --csv: unknown run {r['run']}"):
                    continue
                check(r["created"] == text(g.attrs["created"]) and r["q"] == text(g.attrs["q"]),
                      f"history --csv: run {r['run']}: created/q differ")
                for name in MEASURES:
                    v = float(g[name][()])
                    c = float(r[name]) if r.get(name) not in (None, "") else float("nan")
                    check(bits(c) == bits(v) or (math.isinf(v) and c == v),
                          f"history --csv: {r['run']} {name} = {r.get(name)!r}, file has {v!r}")
            # The summary's CSV is the same table.
            with open("history.csv") as f:
                check(f.read() == res.stdout, "history.csv (summary job) differs from h5div history --csv")

        # jobs/array.sbatch alone (night 3's candidates), merged by a plain jobs/summary.sbatch.
        with h5py.File("solo/history.h5", "r") as hist:
            runs = sorted(hist["/runs"].keys()) if "/runs" in hist else []
            check(len(runs) == 3, f"solo/history.h5: {len(runs)} runs, want 3: {runs}")
            for name in runs:
                m = re.fullmatch(r"\d{8}T\d{6}Z-(\d+)_([0-2])", name)
                if not check(m, f"solo/history.h5: run id {name!r} is not <UTC time>-<array job>_<task>"):
                    continue
                task = int(m.group(2))
                same_group(hist["/runs"][name], direct[f"/night3/c{task}"], f"solo/history.h5:/runs/{name}")
                task_file = os.path.join("solo", "results", m.group(1), f"{name}.h5")
                check(os.path.exists(task_file), f"no per-task file {task_file}")

    with open("history.png", "rb") as f:
        head = f.read(8)
    check(head == b"\x89PNG\r\n\x1a\n", "history.png is not a PNG")
    check(os.path.getsize("history.png") > 5000, "history.png is suspiciously small")

    if failures:
        print(f"{len(failures)} checks failed", flush=True)
        return 1
    print("check_slurm: all checks passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
