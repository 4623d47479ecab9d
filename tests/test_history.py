#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Result histories: `h5div history` (table, CSV, order, errors, plot, under
mpiexec), appends to one history file by concurrent writers (the lock on
FILE.lock), and appends killed with SIGKILL at random moments, after which the
file still opens and every earlier run in it is intact."""

import csv
import io
import os
import random
import signal
import subprocess
import time

import h5py
import numpy as np

import h5div_testlib as T


def inputs(ctx, bins=20000):
    ctx.gen(ctx.path("ref.h5"), "--bins", bins, "--kind", "random", "--seed", 70)
    ctx.gen(ctx.path("cand.h5"), "--bins", bins, "--kind", "near", "--seed", 71)
    return "ref.h5:/reference", "cand.h5:/generated"


def snapshot(ctx, fname):
    """{run: {measure: bits, attribute: text}} of every run under /runs."""
    out = {}
    with h5py.File(ctx.path(fname), "r") as f:
        for name, g in f.get("runs", {}).items():
            if not isinstance(g, h5py.Group):
                continue
            d = {m: np.asarray(g[m][()], dtype="<f8").tobytes().hex() for m in g}
            d.update({f"@{k}": str(v) for k, v in g.attrs.items()})
            out[name] = d
    return out


def session_pids(sid):
    """Processes of session SID: mpiexec puts its ranks in process groups of
    their own, so killing mpiexec's group would leave them running."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            pids.append(int(entry))
    return pids


def kill_session(proc):
    """SIGKILL every process of PROC's session (it was started with
    start_new_session) until none is left; returns how many were killed."""
    n = 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        pids = session_pids(proc.pid)
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                n += 1
            except ProcessLookupError:
                pass
        proc.poll()
        time.sleep(0.02)
    proc.wait()
    return n


def parse_csv(text):
    return list(csv.DictReader(io.StringIO(text)))


def case_table_csv(ctx):
    """Runs in the order of `created`, then name; one column per measure in
    the contract's order; empty cells for measures a run lacks; (k,) measures
    as NAME[i]; CSV values round-trip to the same bits as the datasets."""
    p, q = inputs(ctx, bins=1000)
    for run in ("b", "a"):
        res = ctx.h5div_run(["compare", p, q, "-o", f"h.h5:/runs/{run}", "-q"])
        T.check_success(ctx, res, f"compare -o h.h5:/runs/{run}")
    res = ctx.h5div_run(["compare", p, q, "-o", "h.h5:/runs/c", "--measures", "hellinger,kl_pq"])
    T.check_success(ctx, res, "compare -o h.h5:/runs/c --measures hellinger,kl_pq")
    with h5py.File(ctx.path("h.h5"), "a") as f:
        # Same second for a and b (name decides), c earliest, d latest with a (3,) measure,
        # a list of candidates in q, and a measure h5div does not know.
        f["runs/a"].attrs["created"] = f["runs/b"].attrs["created"] = "2030-01-02T00:00:00Z"
        f["runs/c"].attrs["created"] = "2030-01-01T00:00:00Z"
        g = f.create_group("runs/d")
        g.attrs["created"] = "2030-01-03T00:00:00Z"
        g.attrs["p"] = "ref.h5:/reference"
        g.attrs["q"] = np.array([b"x.h5:/a", b"y.h5:/b", b"z.h5:/c"], dtype=h5py.string_dtype())
        g["kl_pq"] = np.array([0.1, float("inf"), 0.3])
        g["zz_custom"] = 1.5
        f.create_dataset("runs/not_a_run", data=1.0)
    res = ctx.h5div_run(["history", "h.h5", "--csv"])
    if not T.check_success(ctx, res, "history --csv"):
        return
    rows = parse_csv(res.out)
    ctx.check([r["run"] for r in rows] == ["c", "a", "b", "d"],
              f"history --csv: run order {[r['run'] for r in rows]}, want c a b d", res)
    header = res.out.splitlines()[0].split(",")
    want = ["run", "created", "p", "q"] + T.COMPARE_MEASURES[:4] + [
        "kl_pq", "kl_pq[0]", "kl_pq[1]", "kl_pq[2]"] + T.COMPARE_MEASURES[5:] + ["zz_custom"]
    ctx.check(header == want, f"history --csv header {header}, want {want}", res)
    snap = snapshot(ctx, "h.h5")
    by = {r["run"]: r for r in rows}
    for run in ("a", "b"):
        for m in T.COMPARE_MEASURES:
            ctx.check(by[run][m] != "" and T.bits(float(by[run][m])) == snap[run][m],
                      f"history --csv: {run} {m} = {by[run][m]!r} is not the dataset's value", res)
    ctx.check(by["c"]["entropy_p"] == "" and by["c"]["hellinger"] != "",
              "history --csv: run c computed only hellinger,kl_pq: other cells must be empty", res)
    ctx.check(by["d"]["q"] == "x.h5:/a y.h5:/b z.h5:/c" and by["d"]["kl_pq[1]"] == "inf"
              and by["d"]["zz_custom"] == "1.5",
              f"history --csv: run d row {by['d']}", res)
    res = ctx.h5div_run(["history", "h.h5:/runs", "--measures", "hellinger"])
    if T.check_success(ctx, res, "history (table) --measures hellinger"):
        lines = res.out.splitlines()
        ctx.check(len(lines) == 5 and lines[0].split() == ["run", "created", "p", "q", "hellinger"],
                  "history table: want a header run created p q hellinger and 4 rows", res)
        ctx.check(lines[1].split()[0] == "c" and lines[4].split()[0] == "d",
                  "history table: rows not in created order", res)
    # Under mpiexec: printed once, by rank 0.
    res = ctx.h5div_run(["history", "h.h5", "--csv"], ranks=3)
    if T.check_success(ctx, res, "history --csv on 3 ranks"):
        ctx.check(parse_csv(res.out) == rows, "history --csv on 3 ranks differs from 1 rank", res)


def case_rows(ctx):
    """2-D results: a measure of shape (m,) becomes NAME.median and NAME.max
    over the rows, one of shape (k, m) NAME[j].median and NAME[j].max per
    candidate (numpy's median and max of the stored datasets)."""
    rng = np.random.default_rng(11)
    with h5py.File(ctx.path("rows.h5"), "w") as f:
        f["P"] = rng.integers(1, 50, (8, 300)).astype(np.int32)
        f["Q"] = rng.integers(1, 50, (8, 300)).astype(np.int32)
        f["R"] = rng.integers(1, 9, (8, 300)).astype(np.int32)
    res = ctx.h5div_run(["compare", "rows.h5:/P", "rows.h5:/Q", "-o", "h.h5:/runs/one", "-q"])
    T.check_success(ctx, res, "compare 2-D -o h.h5:/runs/one")
    res = ctx.h5div_run(["compare", "rows.h5:/P", "rows.h5:/Q", "rows.h5:/R", "-o",
                         "h.h5:/runs/two", "-q"], ranks=2)
    T.check_success(ctx, res, "compare 2-D, 2 candidates, -o h.h5:/runs/two")
    res = ctx.h5div_run(["history", "h.h5", "--csv", "--measures", "kl_pq,hellinger"])
    if not T.check_success(ctx, res, "history --csv of 2-D runs"):
        return
    header = res.out.splitlines()[0].split(",")
    want = ["run", "created", "p", "q"]
    for m in ("kl_pq", "hellinger"):
        want += [f"{m}.median", f"{m}.max"] + [f"{m}[{j}].{s}" for j in (0, 1) for s in ("median", "max")]
    ctx.check(header == want, f"history --csv header {header}, want {want}", res)
    by = {r["run"]: r for r in parse_csv(res.out)}
    with h5py.File(ctx.path("h.h5"), "r") as f:
        for run, cols in (("one", [("", None)]), ("two", [("[0]", 0), ("[1]", 1)])):
            for m in ("kl_pq", "hellinger"):
                data = f[f"runs/{run}/{m}"][...]
                for suffix, j in cols:
                    v = data if j is None else data[j]
                    for stat, want_v in (("median", float(np.median(v))), ("max", float(np.max(v)))):
                        key = f"{m}{suffix}.{stat}"
                        got = by[run].get(key, "")
                        ctx.check(got != "" and T.close(float(got), want_v, 1e-15),
                                  f"history --csv: {run} {key} = {got!r}, want {want_v!r}", res)


def case_errors(ctx):
    """Usage and input errors: one line, the same code on every rank."""
    p, q = inputs(ctx, bins=1000)
    ctx.h5div_run(["compare", p, q, "-o", "h.h5:/runs/a", "-q"])
    with open(ctx.path("text.h5"), "w") as f:
        f.write("not hdf5\n")
    cases = [
        (["history"], 2, "history needs one"),
        (["history", "a.h5", "b.h5"], 2, "history needs one"),
        (["history", "h.h5:/"], 2, "root group"),
        (["history", "h.h5", "--json"], 2, "not valid for h5div history"),
        (["history", "missing.h5"], 3, "cannot read"),
        (["history", "text.h5"], 3, "not an HDF5 file"),
        (["history", "h.h5:/nope"], 3, "no such group"),
    ]
    for args, code, msg in cases:
        res = ctx.h5div_run(args)
        T.check_error(ctx, res, code, " ".join(args), msg)
        res, codes = ctx.rank_exit_codes(args, 3)
        T.check_error(ctx, res, None, " ".join(args) + " on 3 ranks", msg)
        ctx.check(codes == [code] * 3, f"{' '.join(args)} on 3 ranks: exit codes {codes}, want {code}", res)
    res = ctx.h5div_run(["history", "--help"])
    ctx.check(res.rc == 0 and "--plot" in res.out and "--csv" in res.out, "history --help", res)
    res = ctx.h5div_run(["--help"])
    ctx.check("history" in res.out, "h5div --help does not list history", res)


PLOT_MAGIC = {".png": b"\x89PNG\r\n\x1a\n", ".svg": b"<?xml", ".pdf": b"%PDF-"}


def case_plot_formats(ctx):
    """--plot draws PNG, SVG or PDF by the extension (any case), each file
    starting with its format's magic bytes; any other extension is a usage
    error (exit 2, one line) found before the history is read."""
    p, q = inputs(ctx, bins=1000)
    for run in ("a", "b"):
        ctx.h5div_run(["compare", p, q, "-o", f"h.h5:/runs/{run}", "-q"])
    for bad in ("h.jpg", "h.png.txt", "h", "plots/.png", "h.eps"):
        for hist in ("h.h5", "missing.h5"):
            res = ctx.h5div_run(["history", hist, "--plot", bad])
            T.check_error(ctx, res, 2, f"history {hist} --plot {bad}", r"png.*svg.*pdf")
            ctx.check(not os.path.exists(ctx.path(bad)), f"--plot {bad}: a file was written", res)
    have_gnuplot = any(os.access(os.path.join(d, "gnuplot"), os.X_OK)
                       for d in os.environ.get("PATH", "").split(":") if d)
    if not have_gnuplot:
        ctx.note("gnuplot is not installed: only the refused extensions are checked")
        return
    for name in ("h.png", "h.svg", "h.pdf", "H.PNG", "h.Svg", "h.PDF"):
        res = ctx.h5div_run(["history", "h.h5", "--plot", name, "--measures", "kl_pq,hellinger", "-q"])
        if not T.check_success(ctx, res, f"history --plot {name}"):
            continue
        magic = PLOT_MAGIC[os.path.splitext(name)[1].lower()]
        with open(ctx.path(name), "rb") as f:
            head = f.read(len(magic))
        ctx.check(head == magic, f"history --plot {name}: file starts with {head!r}, want {magic!r}", res)
        ctx.check(len(res.out.splitlines()) == 3, f"history --plot {name}: the table is printed too", res)


def case_no_mpi(ctx):
    """history starts no MPI: it runs under `env -i` (where Open MPI cannot
    start) with the same output as under mpiexec; under a launcher only its
    rank 0 prints, every rank exits with the same code."""
    p, q = inputs(ctx, bins=1000)
    for run in ("a", "b"):
        ctx.h5div_run(["compare", p, q, "-o", f"h.h5:/runs/{run}", "-q"])
    ref = ctx.h5div_run(["history", "h.h5", "--csv"])
    T.check_success(ctx, ref, "history --csv")
    saved = ctx.env
    try:
        ctx.env = {}
        res = ctx.h5div_run(["history", "h.h5", "--csv"])
        if T.check_success(ctx, res, "env -i h5div history --csv"):
            ctx.check(res.out == ref.out and res.err == "", "env -i history --csv differs", res)
        T.check_error(ctx, ctx.h5div_run(["history", "h.h5:/nope"]), 3, "env -i history h.h5:/nope",
                      "no such group")
        ctx.env = {"PMI_RANK": "1"}
        res = ctx.h5div_run(["history", "h.h5", "--csv"])
        ctx.check(res.rc == 0 and res.out == "" and res.err == "", "PMI_RANK=1 history: want exit 0, silent", res)
        res = ctx.h5div_run(["history", "h.h5:/nope"])
        ctx.check(res.rc == 3 and res.out == "" and res.err == "", "PMI_RANK=1 history h.h5:/nope: exit 3, silent", res)
    finally:
        ctx.env = saved
    res, codes = ctx.rank_exit_codes(["history", "h.h5", "--csv"], 3)
    ctx.check(codes == [0, 0, 0] and res.out == ref.out, f"history on 3 ranks: codes {codes}", res)


def case_plot(ctx):
    """--plot writes a PNG through gnuplot, or says gnuplot is missing (exit 4)."""
    p, q = inputs(ctx, bins=1000)
    for run in ("a", "b", "c"):
        ctx.h5div_run(["compare", p, q, "-o", f"h.h5:/runs/{run}", "-q"])
    res = ctx.h5div_run(["history", "h.h5", "--plot", "h.png", "--measures", "kl_pq,hellinger"])
    have_gnuplot = any(os.access(os.path.join(d, "gnuplot"), os.X_OK)
                       for d in os.environ.get("PATH", "").split(":") if d)
    if have_gnuplot:
        if T.check_success(ctx, res, "history --plot"):
            with open(ctx.path("h.png"), "rb") as f:
                ctx.check(f.read(8) == b"\x89PNG\r\n\x1a\n", "history --plot: h.png is not a PNG", res)
            ctx.check(len(res.out.splitlines()) == 4, "history --plot: the table is printed too", res)
        # Every measure, some of them infinite (kl_qp): those panels are left out.
        res = ctx.h5div_run(["history", "h.h5", "--plot", "all.png"])
        T.check_success(ctx, res, "history --plot of every measure")
        ctx.check(res.err == "", "history --plot: gnuplot's messages on stderr without -v", res)
        res = ctx.h5div_run(["history", "h.h5", "--plot", "nodir/h.png", "-q"])
        T.check_error(ctx, res, 4, "history --plot into a missing directory", "cannot create the plot")
        # Only infinite values (kl_qp of these inputs): nothing to draw.
        res = ctx.h5div_run(["history", "h.h5", "--plot", "inf.png", "--measures", "kl_qp", "-q"])
        T.check_error(ctx, res, 3, "history --plot of infinite values only", "no finite")
    else:
        ctx.note("gnuplot is not installed: checking the error only")
        T.check_error(ctx, res, 4, "history --plot without gnuplot", "gnuplot not found")


def case_concurrent_append(ctx):
    """Eight writers of one history file at once (2 of them on 2 ranks): every
    run arrives, and each is the same as a run written alone."""
    p, q = inputs(ctx)
    res = ctx.h5div_run(["compare", p, q, "-o", "alone.h5:/runs/alone", "-q"])
    T.check_success(ctx, res, "compare written alone")
    alone = snapshot(ctx, "alone.h5")["alone"]
    procs = []
    for k in range(8):
        argv = [ctx.h5div, "compare", p, q, "-o", f"hist.h5:/runs/r{k}", "-q"]
        if k < 2:
            argv = ctx.mpi_prefix(2) + argv
        procs.append(subprocess.Popen(argv, cwd=ctx.workdir, env=ctx.env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, text=True, start_new_session=True))
    for k, proc in enumerate(procs):
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            _, err = proc.communicate()
        ctx.check(proc.returncode == 0, f"concurrent writer r{k}: exit {proc.returncode}: {err}")
    snap = snapshot(ctx, "hist.h5")
    ctx.check(sorted(snap) == [f"r{k}" for k in range(8)],
              f"concurrent writers: runs {sorted(snap)}, want r0..r7 (an append was lost)")
    for name, d in snap.items():
        for m in T.COMPARE_MEASURES:
            ctx.check(d.get(m) == alone[m], f"concurrent writer {name}: {m} differs from a run alone")


def case_kill_append(ctx):
    """SIGKILL appending runs (plain and on 2 ranks) at random moments, up to
    30 times in about 60 s: the file always opens, every run it held before is
    unchanged, a run that made it is complete, and the next writer is not
    blocked by the killed one's lock."""
    p, q = inputs(ctx, bins=200000)
    seed = int(os.environ.get("H5DIV_KILL_SEED", time.time_ns() % 100000))
    rng = random.Random(seed)
    ctx.note(f"kill_append: random seed {seed} (set H5DIV_KILL_SEED to repeat)")
    for k in range(3):
        res = ctx.h5div_run(["compare", p, q, "-o", f"hist.h5:/runs/base{k}", "-q"])
        T.check_success(ctx, res, f"base run {k}")
    before = snapshot(ctx, "hist.h5")
    durations = {}
    for ranks in (None, 2):
        t = time.monotonic()
        ctx.h5div_run(["compare", p, q, "-o", "timing.h5", "--overwrite", "-q"], ranks=ranks)
        durations[ranks] = time.monotonic() - t
    t_end = time.monotonic() + 60
    killed = survived = 0
    for i in range(30):
        if time.monotonic() > t_end:
            break
        ranks = None if i % 2 == 0 else 2
        argv = [ctx.h5div, "compare", p, q, "-o", f"hist.h5:/runs/k{i}", "-q"]
        if ranks:
            argv = ctx.mpi_prefix(ranks) + argv
        # Mostly late in the run, where the result file is copied and renamed.
        delay = durations[ranks] * (rng.uniform(0.6, 1.1) if rng.random() < 0.7 else rng.random())
        proc = subprocess.Popen(argv, cwd=ctx.workdir, env=ctx.env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(delay)
        killed += kill_session(proc) > 0
        what = f"kill {i} after {delay:.3f} s ({'plain' if ranks is None else f'{ranks} ranks'})"
        try:
            now = snapshot(ctx, "hist.h5")
        except Exception as e:  # noqa: BLE001 - any failure to read is the bug
            ctx.check(False, f"{what}: hist.h5 does not open: {e}")
            return
        for name, d in before.items():
            ctx.check(now.get(name) == d, f"{what}: earlier run {name} changed or lost")
        new = set(now) - set(before)
        ctx.check(new <= {f"k{i}"}, f"{what}: unexpected runs {sorted(new)}")
        if f"k{i}" in now:
            survived += 1
            ctx.check(set(T.COMPARE_MEASURES) <= set(now[f"k{i}"]), f"{what}: run k{i} incomplete")
        before = now
    # The lock of a killed writer is gone: a last append goes through at once.
    res = ctx.h5div_run(["compare", p, q, "-o", "hist.h5:/runs/last", "-q"], timeout=30)
    T.check_success(ctx, res, "append after the kills")
    ctx.check("last" in snapshot(ctx, "hist.h5"), "append after the kills: run missing")
    ctx.note(f"kill_append: {killed} killed, {survived} finished before the kill")


CASES = {
    "history_table_csv": case_table_csv,
    "history_rows": case_rows,
    "history_errors": case_errors,
    "history_plot": case_plot,
    "history_plot_formats": case_plot_formats,
    "history_no_mpi": case_no_mpi,
    "concurrent_append": case_concurrent_append,
    "kill_append": case_kill_append,
}

if __name__ == "__main__":
    T.main(CASES)
