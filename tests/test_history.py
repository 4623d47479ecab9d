#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Result histories: `h5div history` (table, CSV, order, errors, plot, under
mpiexec), appends to one history file by concurrent writers (the lock on
FILE.lock), and appends killed with SIGKILL at random moments, after which the
file still opens and every earlier run in it is intact."""

import csv
import io
import math
import os
import random
import re
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
        killed += T.kill_session(proc) > 0
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


# -- history --check ----------------------------------------------------------

FAIL_LINE = re.compile(
    r"^h5div: check failed: run (?P<run>\S+)(?: \(created [^)]*\))?: "
    r"(?:no measure (?P<missing>\S+)|(?P<label>\S+) = (?P<value>\S+), not (?P<op><=|<|>=|>) "
    r"(?P<limit>\S+)(?:, in (?P<nbad>\d+) of (?P<nrows>\d+) rows, worst row (?P<worst>\d+))?)"
    r" \((?P<path>[^()]+)\)$")

OPS = {"<": lambda x, t: x < t, "<=": lambda x, t: x <= t,
       ">": lambda x, t: x > t, ">=": lambda x, t: x >= t}


def write_counts(ctx, fname, **arrays):
    with h5py.File(ctx.path(fname), "w") as f:
        for name, a in arrays.items():
            f[name] = a


def oracle(P, Q):
    """The compare measures of one histogram pair from scipy (tests/h5div_testlib.py)."""
    return T.oracle_scipy(P.tolist(), Q.tolist())


def check_lines(ctx, res, what):
    """The parsed `check failed` lines of RES; any other stderr line fails."""
    out = []
    for line in T.stderr_lines(res):
        m = FAIL_LINE.match(line)
        if ctx.check(m is not None, f"{what}: stderr line {line!r} is not a check failure", res):
            out.append(m.groupdict())
    return out


def run_check(ctx, hist, cond, code, fails=None, extra=(), ranks=None):
    """h5div history HIST --check COND: exit CODE; for 0 and 5 the table on
    stdout as without --check; for 5 exactly the failures FAILS, a dict
    {(run, label): (value, nbad, nrows, worst) or None for a missing
    measure}, the value an oracle's (relative tolerance 1e-12), each line
    naming the run's FILE:/group and the condition's operator and limit."""
    args = ["history", hist, "--check", cond, *extra]
    what = "history " + " ".join(args[1:])
    res = ctx.h5div_run(args, ranks=ranks)
    if not ctx.check(not res.timed_out and res.rc == code, f"{what}: exit {res.rc}, want {code}", res):
        return res
    if code in (0, 5):
        plain = ctx.h5div_run(["history", hist, *extra])
        ctx.check(res.out == plain.out and res.out != "",
                  f"{what}: stdout is not the table history prints without --check", res)
    if code == 0:
        ctx.check(all(l.startswith("h5div: check passed: ") for l in T.stderr_lines(res))
                  and len(T.stderr_lines(res)) == (0 if "-q" in extra else 1),
                  f"{what}: want one 'check passed' line on stderr (none with -q)", res)
    if code != 5:
        return res
    got = {}
    fname = hist.split(":/")[0]
    for d in check_lines(ctx, res, what):
        key = (d["run"], d["missing"] or d["label"])
        ctx.check(key not in got, f"{what}: failure {key} reported twice", res)
        got[key] = d
    want = fails or {}
    ctx.check(set(got) == set(want), f"{what}: failures {sorted(got)}, want {sorted(want)}", res)
    for key, d in got.items():
        if key not in want:
            continue
        run = key[0]
        ctx.check(d["path"] in (f"{fname}:/runs/{run}", f"{fname}:/{run}"),
                  f"{what}: failure {key} names {d['path']!r}, not the run's group", res)
        if want[key] is None:
            ctx.check(d["missing"] is not None, f"{what}: {key} should be a missing measure", res)
            continue
        if not ctx.check(d["missing"] is None, f"{what}: {key} reported missing", res):
            continue
        value, nbad, nrows, worst = want[key]
        got_v = float(d["value"])
        ctx.check(T.close(got_v, value, 1e-12) or (math.isnan(got_v) and math.isnan(value)),
                  f"{what}: {key} = {d['value']}, oracle {value!r}", res)
        ctx.check(d["op"] in cond and d["limit"] is not None, f"{what}: {key}: operator {d['op']}", res)
        ctx.check(not OPS[d["op"]](got_v, float(d["limit"])),
                  f"{what}: {key}: {d['value']} {d['op']} {d['limit']} holds yet is reported", res)
        rows = (d["nbad"], d["nrows"], d["worst"])
        want_rows = (None, None, None) if nrows is None else (str(nbad), str(nrows), str(worst))
        ctx.check(rows == want_rows, f"{what}: {key}: rows (failing, of, worst) {rows}, want {want_rows}", res)
    return res


def case_check_operators(ctx):
    """Every operator, passing and failing, on every compare measure of a
    1-D run (limits 1e-9 either side of the scipy value); the boundary
    itself on exact values: counts of `entropy` (sums of integers) and the
    exact zeros of identical inputs."""
    rng = np.random.default_rng(140)
    P = rng.integers(1, 60, 300)
    Q = rng.integers(1, 60, 300)
    write_counts(ctx, "in.h5", P=P.astype(np.int32), Q=Q.astype(np.int32))
    for hist, args in (("ops.h5", ["compare", "in.h5:/P", "in.h5:/Q"]),
                       ("same.h5", ["compare", "in.h5:/P", "in.h5:/P"]),
                       ("ent.h5", ["entropy", "in.h5:/P"])):
        res = ctx.h5div_run(args + ["-o", f"{hist}:/runs/n1", "-q"])
        if not T.check_success(ctx, res, " ".join(args)):
            return
    want = oracle(P, Q)
    lo = {m: v * (1 - 1e-9) for m, v in want.items()}
    hi = {m: v * (1 + 1e-9) for m, v in want.items()}
    ms = T.COMPARE_MEASURES
    for op in OPS:
        passing = lo if op in (">", ">=") else hi
        failing = hi if op in (">", ">=") else lo
        run_check(ctx, "ops.h5", ",".join(f"{m}{op}{passing[m]!r}" for m in ms), 0)
        run_check(ctx, "ops.h5", ",".join(f"{m}{op}{failing[m]!r}" for m in ms), 5,
                  {("n1", m): (want[m], None, None, None) for m in ms})
        # Half of them failing, spaces around the parts.
        cond = " , ".join(f" {m} {op} {(failing if i % 2 else passing)[m]!r} " for i, m in enumerate(ms))
        run_check(ctx, "ops.h5", cond, 5,
                  {("n1", m): (want[m], None, None, None) for i, m in enumerate(ms) if i % 2})
    # -q: nothing on stderr when the check passes, the failures when not.
    run_check(ctx, "ops.h5", f"kl_pq<{hi['kl_pq']!r}", 0, extra=["-q"])
    run_check(ctx, "ops.h5", f"kl_pq<{lo['kl_pq']!r}", 5, {("n1", "kl_pq"): (want["kl_pq"], None, None, None)},
              extra=["-q"])
    # The boundary, on values known exactly.
    S, nz = int(P.sum()), int(np.count_nonzero(P))
    for cond, code in ((f"total_count<={S}", 0), (f"total_count>={S}", 0), (f"total_count<{S}", 5),
                       (f"total_count>{S}", 5), (f"nonzero_bins<={nz}", 0), (f"nonzero_bins>{nz}", 5)):
        name = cond.split("<")[0].split(">")[0]
        run_check(ctx, "ent.h5", cond, code, {("n1", name): (float(S if "total" in cond else nz), None, None, None)})
    for m in T.DIVERGENCES:
        run_check(ctx, "same.h5", f"{m}<=0", 0)
        run_check(ctx, "same.h5", f"{m}>=0", 0)
        run_check(ctx, "same.h5", f"{m}<0", 5, {("n1", m): (0.0, None, None, None)})
        run_check(ctx, "same.h5", f"{m}>0", 5, {("n1", m): (0.0, None, None, None)})


def case_check_inf_nan(ctx):
    """inf as a value (kl_pq where Q has empty bins) and as a limit; a NaN
    value fails every condition; a NaN row is the worst row."""
    rng = np.random.default_rng(141)
    P = rng.integers(1, 30, 200)
    Q = rng.integers(1, 30, 200)
    Q[::7] = 0
    P2 = rng.integers(1, 30, (5, 80))
    Q2 = rng.integers(1, 30, (5, 80))
    write_counts(ctx, "in.h5", P=P, Q=Q, P2=P2, Q2=Q2)
    res = ctx.h5div_run(["compare", "in.h5:/P", "in.h5:/Q", "-o", "h.h5:/runs/a", "-q"])
    T.check_success(ctx, res, "compare with empty bins in Q")
    want = oracle(P, Q)
    ctx.check(math.isinf(want["kl_pq"]) and math.isfinite(want["kl_qp"]), "oracle: kl_pq inf, kl_qp finite")
    inf = (math.inf, None, None, None)
    run_check(ctx, "h.h5", "kl_pq<1e308", 5, {("a", "kl_pq"): inf})
    run_check(ctx, "h.h5", "kl_pq<inf", 5, {("a", "kl_pq"): inf})
    run_check(ctx, "h.h5", "kl_pq<=inf,kl_pq>=inf,kl_pq>-inf,kl_pq>1e308,kl_qp<inf", 0)
    run_check(ctx, "h.h5", "kl_pq>inf,kl_qp>=inf", 5,
              {("a", "kl_pq"): inf, ("a", "kl_qp"): (want["kl_qp"], None, None, None)})
    run_check(ctx, "h.h5", "kl_qp<=-inf", 5, {("a", "kl_qp"): (want["kl_qp"], None, None, None)})
    # A NaN (h5div never writes one; a damaged or foreign run may hold one).
    with h5py.File(ctx.path("h.h5"), "a") as f:
        f.copy("runs/a", "runs/b")
        f["runs/b"].attrs["created"] = "2099-01-01T00:00:00Z"
        f["runs/b/hellinger"][()] = np.nan
    nan = (math.nan, None, None, None)
    for cond in ("hellinger<=inf", "hellinger>=-inf", "hellinger>0", "hellinger<1"):
        run_check(ctx, "h.h5", cond, 5, {("b", "hellinger"): nan})
    res = ctx.h5div_run(["compare", "in.h5:/P2", "in.h5:/Q2", "-o", "rows.h5:/runs/r", "-q"])
    T.check_success(ctx, res, "compare 2-D")
    rows = [oracle(P2[i], Q2[i])["hellinger"] for i in range(5)]
    with h5py.File(ctx.path("rows.h5"), "a") as f:
        d = f["runs/r/hellinger"]
        v = d[...]
        v[3] = np.nan
        d[...] = v
    run_check(ctx, "rows.h5", "hellinger<=inf", 5, {("r", "hellinger"): (math.nan, 1, 5, 3)})
    # Rows 0..4 but 3 below min(others) fail `> t`; the NaN is the worst.
    t = max(r for i, r in enumerate(rows) if i != 3) * 2
    run_check(ctx, "rows.h5", f"hellinger>{t!r}", 5, {("r", "hellinger"): (math.nan, 5, 5, 3)})


def case_check_rows(ctx):
    """2-D runs: a condition holds for every row (failing rows counted, the
    worst named), .max and .median for the summary, [j] for one candidate
    of a (k, m) run; scipy's value of every row as the oracle."""
    rng = np.random.default_rng(142)
    m = 7
    P = rng.integers(1, 40, (m, 150))
    Q = rng.integers(1, 40, (m, 150))
    R = rng.integers(1, 9, (m, 150))
    write_counts(ctx, "in.h5", P=P.astype(np.int32), Q=Q.astype(np.int32), R=R.astype(np.int32))
    res = ctx.h5div_run(["compare", "in.h5:/P", "in.h5:/Q", "-o", "h.h5:/runs/one", "-q"])
    T.check_success(ctx, res, "compare 2-D, one candidate")
    res = ctx.h5div_run(["compare", "in.h5:/P", "in.h5:/Q", "in.h5:/R", "-o", "h.h5:/runs/two", "-q"])
    T.check_success(ctx, res, "compare 2-D, two candidates")
    kq = np.array([oracle(P[i], Q[i])["kl_pq"] for i in range(m)])
    kr = np.array([oracle(P[i], R[i])["kl_pq"] for i in range(m)])
    both = np.sort(np.concatenate([kq, kr]))

    def rows_failing(v, op, t):
        bad = [i for i in range(m) if not OPS[op](v[i], t)]
        if not bad:
            return None
        worst = max(bad, key=lambda i: v[i]) if op in ("<", "<=") else min(bad, key=lambda i: v[i])
        return (float(v[worst]), len(bad), m, worst)

    for t in (0.5 * (both[3] + both[4]), 0.5 * (both[9] + both[10])):
        for op in OPS:
            fails = {}
            for run, label, v in (("one", "kl_pq", kq), ("two", "kl_pq[0]", kq), ("two", "kl_pq[1]", kr)):
                f = rows_failing(v, op, t)
                if f:
                    fails[(run, label)] = f
            run_check(ctx, "h.h5", f"kl_pq{op}{t!r}", 5 if fails else 0, fails)
            # The run of one candidate has no kl_pq[1]: always a named failure.
            run_check(ctx, "h.h5", f"kl_pq[1]{op}{t!r}", 5,
                      {("one", "kl_pq[1]"): None, **{k: v for k, v in fails.items() if k[1] == "kl_pq[1]"}})
    run_check(ctx, "h.h5", f"kl_pq<{both[-1] * 1.001!r},kl_pq>{both[0] * 0.999!r}", 0)
    # Summaries: numpy's median and max of the oracle rows.
    for stat, fn in (("max", np.max), ("median", np.median)):
        vals = {("one", f"kl_pq.{stat}"): fn(kq), ("two", f"kl_pq[0].{stat}"): fn(kq),
                ("two", f"kl_pq[1].{stat}"): fn(kr)}
        t = 0.5 * (min(vals.values()) + max(vals.values()))
        run_check(ctx, "h.h5", f"kl_pq.{stat}<{t!r}", 5,
                  {k: (float(v), None, None, None) for k, v in vals.items() if not v < t})
        run_check(ctx, "h.h5", f"kl_pq.{stat}<{max(vals.values()) * 1.001!r}", 0)
    # kl_pq[2] exists in no run: an input error, not a pass.
    res = ctx.h5div_run(["history", "h.h5", "--check", "kl_pq[2]<1"])
    T.check_error(ctx, res, 3, "history --check kl_pq[2]<1", r"no run .*kl_pq\[2\]")


def case_check_candidates(ctx):
    """1-D runs of three candidates: kl_pq holds for each (the failing ones
    named kl_pq[j]), kl_pq[j] for one; a run of one candidate has no [j]."""
    rng = np.random.default_rng(143)
    P = rng.integers(20, 60, 400)
    cands = [P + rng.integers(-s, s + 1, 400) for s in (2, 8, 18)]  # all positive
    write_counts(ctx, "in.h5", P=P, Q0=cands[0], Q1=cands[1], Q2=cands[2])
    res = ctx.h5div_run(["compare", "in.h5:/P", "in.h5:/Q0", "in.h5:/Q1", "in.h5:/Q2",
                         "-o", "h.h5:/runs/k3", "-q"])
    T.check_success(ctx, res, "compare, three candidates")
    res = ctx.h5div_run(["compare", "in.h5:/P", "in.h5:/Q2", "-o", "h.h5:/runs/k1", "-q"])
    T.check_success(ctx, res, "compare, one candidate")
    want = [oracle(P, c) for c in cands]
    for m in ("kl_pq", "js_distance", "hellinger"):
        v = sorted(w[m] for w in want)
        for t in (0.5 * (v[0] + v[1]), 0.5 * (v[1] + v[2])):
            fails = {("k3", f"{m}[{j}]"): (want[j][m], None, None, None) for j in range(3) if not want[j][m] < t}
            if not want[2][m] < t:
                fails[("k1", m)] = (want[2][m], None, None, None)
            run_check(ctx, "h.h5", f"{m}<{t!r}", 5, fails)
            for j in range(3):
                f = {("k1", f"{m}[{j}]"): None}
                if not want[j][m] >= t:
                    f[("k3", f"{m}[{j}]")] = (want[j][m], None, None, None)
                run_check(ctx, "h.h5", f"{m}[{j}]>={t!r}", 5, f)
        run_check(ctx, "h.h5", f"{m}<{v[2] * 1.001!r}", 0)
        # One run of the history, named by its group.
        run_check(ctx, "h.h5:/runs/k3", f"{m}[1]<={v[2] * 1.001!r}", 0)


def case_check_groups(ctx):
    """A single result group checks as a history of one run; a run lacking
    a measure fails by name; a measure no run has, and no run at all, are
    input errors (exit 3); --last N checks and shows only the last N runs."""
    rng = np.random.default_rng(144)
    P = rng.integers(1, 50, 500)
    Qnear = np.maximum(P + rng.integers(-2, 3, 500), 1)
    Qfar = rng.integers(1, 50, 500)
    write_counts(ctx, "in.h5", P=P, Qnear=Qnear, Qfar=Qfar)
    near, far = oracle(P, Qnear), oracle(P, Qfar)
    t = 0.5 * (near["kl_pq"] + far["kl_pq"])
    # Default group /h5div of compare -o FILE: one run, named by the group.
    res = ctx.h5div_run(["compare", "in.h5:/P", "in.h5:/Qfar", "-o", "single.h5", "-q"])
    T.check_success(ctx, res, "compare -o single.h5")
    run_check(ctx, "single.h5:/h5div", f"kl_pq<{far['kl_pq'] * 1.001!r}", 0)
    run_check(ctx, "single.h5:/h5div", f"kl_pq<{t!r}", 5, {("h5div", "kl_pq"): (far["kl_pq"], None, None, None)})
    res = ctx.h5div_run(["history", "single.h5:/h5div", "--csv"])
    if T.check_success(ctx, res, "history single.h5:/h5div --csv"):
        rows = parse_csv(res.out)
        ctx.check(len(rows) == 1 and rows[0]["run"] == "h5div" and rows[0]["q"] == "in.h5:/Qfar",
                  "history of one result group: want one row, run h5div", res)
    # History: far (oldest), part (hellinger only), near (newest).
    for run, q, extra in (("far", "Qfar", []), ("part", "Qfar", ["--measures", "hellinger"]),
                          ("near", "Qnear", [])):
        res = ctx.h5div_run(["compare", "in.h5:/P", f"in.h5:/{q}", "-o", f"h.h5:/runs/{run}", "-q", *extra])
        T.check_success(ctx, res, f"compare -o h.h5:/runs/{run}")
    with h5py.File(ctx.path("h.h5"), "a") as f:
        for i, run in enumerate(("far", "part", "near")):
            f[f"runs/{run}"].attrs["created"] = f"2030-01-0{i + 1}T02:00:00Z"
    kl = lambda o: (o["kl_pq"], None, None, None)  # noqa: E731
    run_check(ctx, "h.h5", f"kl_pq<{t!r}", 5, {("far", "kl_pq"): kl(far), ("part", "kl_pq"): None})
    run_check(ctx, "h.h5", f"kl_pq<{t!r}", 0, extra=["--last", "1"])
    run_check(ctx, "h.h5", f"kl_pq<{t!r}", 5, {("part", "kl_pq"): None}, extra=["--last", "2"])
    run_check(ctx, "h.h5", f"kl_pq<{t!r}", 5, {("far", "kl_pq"): kl(far), ("part", "kl_pq"): None},
              extra=["--last", "9", "--csv"])
    run_check(ctx, "h.h5", f"hellinger<{far['hellinger'] * 1.001!r}", 0)
    res = ctx.h5div_run(["history", "h.h5", "--last", "1", "--csv"])
    if T.check_success(ctx, res, "history --last 1 --csv"):
        rows = parse_csv(res.out)
        ctx.check([r["run"] for r in rows] == ["near"], "history --last 1: want only run near", res)
    # The last run lacks kl_pq, and with --last 1 no run checked has it.
    res = ctx.h5div_run(["history", "h.h5", "--last", "2", "--check", "kl_pq<1", "--measures", "hellinger"])
    ctx.check(res.rc == 5, "--measures does not limit what --check reads", res)
    with h5py.File(ctx.path("h.h5"), "a") as f:
        f["runs/part"].attrs["created"] = "2030-01-09T02:00:00Z"
    res = ctx.h5div_run(["history", "h.h5", "--last", "1", "--check", f"kl_pq<{t!r}"])
    T.check_error(ctx, res, 3, "history --last 1 --check of a measure the last run lacks", r"no run .*kl_pq")
    res = ctx.h5div_run(["history", "h.h5", "--check", "zz_unknown<1"])
    T.check_error(ctx, res, 3, "history --check of a measure no run has", r"no run .*zz_unknown")
    with h5py.File(ctx.path("empty.h5"), "w") as f:
        f.create_group("runs")
    res = ctx.h5div_run(["history", "empty.h5", "--check", "kl_pq<1"])
    T.check_error(ctx, res, 3, "history --check of an empty history", "no runs")
    T.check_success(ctx, ctx.h5div_run(["history", "empty.h5"]), "history of an empty history")
    # Exit 5 on every rank under a launcher, the failures printed once.
    res, codes = ctx.rank_exit_codes(["history", "h.h5", "--check", f"kl_pq<{t!r}"], 3)
    ctx.check(codes == [5, 5, 5], f"history --check on 3 ranks: exit codes {codes}, want 5", res)
    fails = [l for l in T.stderr_lines(res) if l.startswith("h5div: check failed")]
    ctx.check(len(fails) == 2, f"history --check on 3 ranks: {len(fails)} failure lines, want 2 (once)", res)


def case_check_usage(ctx):
    """A malformed --check or --last is a usage error (exit 2, one line)
    found before the history is read, also of a file that does not exist."""
    p, q = inputs(ctx, bins=1000)
    ctx.h5div_run(["compare", p, q, "-o", "h.h5:/runs/a", "-q"])
    bad = ["", "kl_pq", "kl_pq=1", "kl_pq==1", "kl_pq!=1", "kl_pq<", "<1", " <= 2", "kl_pq<abc",
           "kl_pq<nan", "kl_pq<-nan", "kl_pq<1e999", "kl_pq<1,", ",kl_pq<1", "kl_pq<1,,hellinger<1",
           "kl_pq[x]<1", "kl_pq[]<1", "kl_pq[-1]<1", "[1]<1", "kl_pq<<1", "kl_pq<=>1", "kl_pq=<1",
           "kl pq<1", "kl_pq<1 2", "kl_pq<0x", "kl_pq<1;hellinger<1"]
    for cond in bad:
        for hist in ("h.h5", "missing.h5"):
            res = ctx.h5div_run(["history", hist, "--check", cond])
            T.check_error(ctx, res, 2, f"history {hist} --check {cond!r}", r"--check")
    for last in ("0", "-1", "x", "1.5", "", "1e3", "+2"):
        res = ctx.h5div_run(["history", "h.h5", "--last", last])
        T.check_error(ctx, res, 2, f"history --last {last!r}", r"--last")
    res = ctx.h5div_run(["history", "h.h5", "--check", "kl_pq<1", "--check", "hellinger<1"])
    T.check_error(ctx, res, 2, "history --check twice", r"once")
    for opt in (["--check", "kl_pq<1"], ["--last", "1"]):
        res = ctx.h5div_run(["compare", p, q, *opt])
        T.check_error(ctx, res, 2, f"compare {' '.join(opt)}", "not valid for h5div compare")
    res = ctx.h5div_run(["history", "missing.h5", "--check", "kl_pq<1"])
    T.check_error(ctx, res, 3, "history missing.h5 --check kl_pq<1", "cannot read")
    res, codes = ctx.rank_exit_codes(["history", "h.h5", "--check", "kl_pq=1"], 3)
    T.check_error(ctx, res, None, "history --check kl_pq=1 on 3 ranks", r"--check")
    ctx.check(codes == [2, 2, 2], f"history --check kl_pq=1 on 3 ranks: exit codes {codes}", res)
    res = ctx.h5div_run(["history", "--help"])
    ctx.check(res.rc == 0 and "--check" in res.out and "--last" in res.out and " 5 " in res.out,
              "history --help lists --check, --last and exit code 5", res)
    res = ctx.h5div_run(["--help"])
    ctx.check("5" in res.out.split("exit codes:")[-1], "h5div --help lists exit code 5", res)


def case_intervals(ctx):
    """Intervals NAME_ci (last axis 2, as --bootstrap writes them; written
    here with h5py into runs h5div made): columns NAME_ci.lo and .hi (or
    NAME_ci[j].lo ...), conditions on them, those of 2-D input left out,
    and in --plot a band behind NAME's line where runs have one (SVG:
    one translucent polygon per band, two points per run)."""
    rng = np.random.default_rng(145)
    P, Q, R = (rng.integers(1, 40, 300) for _ in range(3))
    P2, Q2 = rng.integers(1, 40, (4, 100)), rng.integers(1, 40, (4, 100))
    write_counts(ctx, "in.h5", P=P, Q=Q, R=R, P2=P2, Q2=Q2)
    for i in range(4):
        for run, args in ((f"one{i}", ["in.h5:/P", "in.h5:/R"]), (f"two{i}", ["in.h5:/P", "in.h5:/Q", "in.h5:/R"])):
            res = ctx.h5div_run(["compare", *args, "-o", f"h.h5:/runs/{run}", "-q"])
            T.check_success(ctx, res, f"compare -o h.h5:/runs/{run}")
    res = ctx.h5div_run(["compare", "in.h5:/P2", "in.h5:/Q2", "-o", "h.h5:/runs/rows", "-q"])
    T.check_success(ctx, res, "compare 2-D")
    kq, kr = oracle(P, Q)["kl_pq"], oracle(P, R)["kl_pq"]
    ci = {}
    with h5py.File(ctx.path("h.h5"), "a") as f:
        f["runs/rows"].attrs["created"] = "2030-01-09T02:00:00Z"
        f["runs/rows/kl_pq_ci"] = np.zeros((4, 2))
        for i in range(4):
            for run in (f"one{i}", f"two{i}"):
                f[f"runs/{run}"].attrs["created"] = f"2030-01-0{i + 1}T02:00:00Z"
            if i >= 2:  # the last two one-candidate runs have an interval
                ci[f"one{i}"] = [kr * 0.8, kr * 1.25]
                f[f"runs/one{i}/kl_pq_ci"] = np.array(ci[f"one{i}"])
            ci[f"two{i}"] = [[kq * 0.9, kq * 1.1], [kr * 0.7, kr * 1.3 + i]]
            f[f"runs/two{i}/kl_pq_ci"] = np.array(ci[f"two{i}"])
    res = ctx.h5div_run(["history", "h.h5", "--csv", "--measures", "kl_pq"])
    if T.check_success(ctx, res, "history --csv of runs with intervals"):
        header = res.out.splitlines()[0].split(",")
        want = ["run", "created", "p", "q", "kl_pq", "kl_pq.median", "kl_pq.max", "kl_pq[0]", "kl_pq[1]",
                "kl_pq_ci.lo", "kl_pq_ci.hi", "kl_pq_ci[0].lo", "kl_pq_ci[0].hi", "kl_pq_ci[1].lo", "kl_pq_ci[1].hi"]
        ctx.check(header == want, f"history --csv header {header}, want {want}", res)
        by = {r["run"]: r for r in parse_csv(res.out)}
        for run, v in ci.items():
            cells = ([("kl_pq_ci", v)] if run.startswith("one") else
                     [(f"kl_pq_ci[{j}]", v[j]) for j in (0, 1)])
            for name, (lo, hi) in cells:
                got = (by[run][f"{name}.lo"], by[run][f"{name}.hi"])
                ctx.check(got[0] != "" and float(got[0]) == lo and float(got[1]) == hi,
                          f"history --csv: {run} {name} = {got}, want ({lo!r}, {hi!r})", res)
        ctx.check(by["one0"]["kl_pq_ci.lo"] == "" and by["rows"]["kl_pq_ci.lo"] == "",
                  "history --csv: runs without an interval (or of 2-D input) have empty cells", res)
    # Conditions on the ends; both ends without a suffix.
    t = kr * 1.3 + 1.5  # between the hi ends of two1 and two2
    iv = lambda v: (v, None, None, None)  # noqa: E731
    run_check(ctx, "h.h5", f"kl_pq_ci[1].hi<{t!r}", 5,
              {(f"two{i}", "kl_pq_ci[1].hi"): iv(ci[f"two{i}"][1][1]) for i in (2, 3)}
              | {(r, "kl_pq_ci[1].hi"): None for r in ("one0", "one1", "one2", "one3", "rows")})
    run_check(ctx, "h.h5", f"kl_pq_ci[1].hi<{t!r}", 5,  # two3 and rows
              {("two3", "kl_pq_ci[1].hi"): iv(ci["two3"][1][1]), ("rows", "kl_pq_ci[1].hi"): None},
              extra=["--last", "2"])
    run_check(ctx, "h.h5:/runs/one3", f"kl_pq_ci.hi<={kr * 1.25!r},kl_pq_ci.lo>={kr * 0.8!r}", 0)
    run_check(ctx, "h.h5:/runs/one3", f"kl_pq_ci<{kr!r}", 5, {("one3", "kl_pq_ci.hi"): iv(kr * 1.25)})
    run_check(ctx, "h.h5:/runs/one3", f"kl_pq_ci>{kr!r}", 5, {("one3", "kl_pq_ci.lo"): iv(kr * 0.8)})
    run_check(ctx, "h.h5:/runs/one3", f"kl_pq_ci.max<{kr!r}", 3)
    have_gnuplot = any(os.access(os.path.join(d, "gnuplot"), os.X_OK)
                       for d in os.environ.get("PATH", "").split(":") if d)
    if not have_gnuplot:
        ctx.note("gnuplot is not installed: the band is not checked")
        return
    bands = {}
    for hist, name in (("h.h5", "band.svg"), ("h.h5:/runs/one0", "none.svg")):
        res = ctx.h5div_run(["history", hist, "--plot", name, "--measures", "kl_pq", "-q"])
        if not T.check_success(ctx, res, f"history {hist} --plot {name}"):
            return
        with open(ctx.path(name)) as f:
            svg = f.read()
        polys = re.findall(r"<polygon[^>]*fill-opacity\s*=\s*'0\.25[^>]*points\s*=\s*'([^']*)'", svg)
        bands[name] = sorted(len(p.split()) for p in polys)
        ctx.check("kl_pq_ci" not in svg, f"history --plot {name}: the interval ends have panels of their own", res)
    # kl_pq (runs one2, one3), kl_pq[0] and kl_pq[1] (two0..two3); nothing without intervals.
    ctx.check(bands["band.svg"] == [4, 8, 8], f"history --plot: band polygons of {bands['band.svg']} points, "
              "want 4 (two runs) and 8, 8 (four runs)")
    ctx.check(bands["none.svg"] == [], f"history --plot without intervals: bands {bands['none.svg']}")
    # A failed check still draws the plot (a nightly job wants it most then).
    res = ctx.h5div_run(["history", "h.h5", "--plot", "failed.png", "--check", f"kl_pq_ci<{kq!r}", "-q"])
    ctx.check(res.rc == 5 and os.path.exists(ctx.path("failed.png")),
              "history --plot --check that fails: want exit 5 and the plot written", res)


def case_datasets(ctx):
    """What history reads of a run: numeric datasets of any integer or
    float type of rank 0, 1 and 2 (the leading axis over the candidates
    when it has as many as q), intervals NAME_ci per candidate; not
    datasets of rank 3, text, empty ones, intervals over rows, nor what
    lies in a group inside a run. String attributes fixed or variable
    length, arrays joined with spaces. A run linked from another file (as
    appends to FILE.runs/ are) reads as one in the file; a group with an
    attribute `command`, or with datasets and no groups, is one run."""
    with h5py.File(ctx.path("b.h5"), "w") as f:
        g = f.create_group("r")
        g.attrs["created"] = "2030-01-02T00:00:00Z"
        g.attrs["q"] = "one.h5:/Q"
        g["kl_pq"] = np.array([0.5, 0.125, 2.0])  # rows of 2-D input: median 0.5, max 2
    with h5py.File(ctx.path("h.h5"), "w") as f:
        g = f.create_group("runs/a")
        g.attrs["created"] = np.array([b"2030-01-01T00:00:00Z"], dtype="S20")
        g.attrs["p"] = np.array([b"p.h5:/P", b"p.h5:/X"], dtype="S7")
        g.attrs["q"] = np.array(["q.h5:/A", "q.h5:/B"], dtype=h5py.string_dtype())
        g["entropy_p"] = np.array(3.25, dtype=">f8")
        g["kl_pq"] = np.array([7, -3], dtype=np.int32)
        g["hellinger"] = np.uint8(200)
        g["kl_pq_ci"] = np.array([[1.0, 2.0], [3.0, 4.0]])
        g["js_distance_ci"] = np.zeros((3, 2))  # intervals over rows: left out
        g["total_variation"] = np.zeros((0,))
        g["cube"] = np.zeros((2, 2, 2))
        g["note"] = b"text"
        g.create_group("extra")["kl_qp"] = 1.0
        f["runs/b"] = h5py.ExternalLink("b.h5", "/r")
        f["runs/loose"] = 1.0
        one = f.create_group("one")
        one.attrs["command"] = "h5div compare"
        one.create_group("sub")
        f["two/kl_pq"] = 0.25
        f["mixed/kl_pq"] = 0.75
        f["mixed/inner/kl_pq"] = 0.5
    res = ctx.run([ctx.h5div, "history", ctx.path("h.h5"), "--csv"], cwd="/")
    if not T.check_success(ctx, res, "history --csv of assorted datasets"):
        return
    header = res.out.splitlines()[0].split(",")
    want = ["run", "created", "p", "q", "entropy_p", "kl_pq.median", "kl_pq.max", "kl_pq[0]",
            "kl_pq[1]", "hellinger", "kl_pq_ci[0].lo", "kl_pq_ci[0].hi", "kl_pq_ci[1].lo",
            "kl_pq_ci[1].hi"]
    ctx.check(header == want, f"history --csv header {header}, want {want}", res)
    rows = parse_csv(res.out)
    want_rows = [
        {"run": "a", "created": "2030-01-01T00:00:00Z", "p": "p.h5:/P p.h5:/X",
         "q": "q.h5:/A q.h5:/B", "entropy_p": 3.25, "kl_pq[0]": 7.0, "kl_pq[1]": -3.0,
         "hellinger": 200.0, "kl_pq_ci[0].lo": 1.0, "kl_pq_ci[0].hi": 2.0,
         "kl_pq_ci[1].lo": 3.0, "kl_pq_ci[1].hi": 4.0},
        {"run": "b", "created": "2030-01-02T00:00:00Z", "p": "", "q": "one.h5:/Q",
         "kl_pq.median": 0.5, "kl_pq.max": 2.0}]
    ctx.check(len(rows) == 2, f"history --csv: {len(rows)} runs, want a and b", res)
    for got, wr in zip(rows, want_rows):
        for col in header:
            w = wr.get(col, "")
            g = got.get(col)
            ok = g == w if isinstance(w, str) else g not in (None, "") and float(g) == w
            ctx.check(ok, f"history --csv: run {wr['run']} {col} = {g!r}, want {w!r}", res)
    for group, runs in (("one", ["one"]), ("two", ["two"]), ("mixed", ["inner"])):
        res = ctx.h5div_run(["history", f"h.h5:/{group}", "--csv"])
        if T.check_success(ctx, res, f"history h.h5:/{group}"):
            names = [r["run"] for r in parse_csv(res.out)]
            ctx.check(names == runs, f"history h.h5:/{group}: runs {names}, want {runs}", res)


CASES = {
    "history_table_csv": case_table_csv,
    "history_rows": case_rows,
    "history_errors": case_errors,
    "history_plot": case_plot,
    "history_plot_formats": case_plot_formats,
    "history_no_mpi": case_no_mpi,
    "check_operators": case_check_operators,
    "check_inf_nan": case_check_inf_nan,
    "check_rows": case_check_rows,
    "check_candidates": case_check_candidates,
    "check_groups": case_check_groups,
    "check_usage": case_check_usage,
    "history_intervals": case_intervals,
    "history_datasets": case_datasets,
    "concurrent_append": case_concurrent_append,
    "kill_append": case_kill_append,
}

if __name__ == "__main__":
    T.main(CASES)
