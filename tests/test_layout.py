#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The HDF5 result layout of `h5div compare -o FILE:/group`, read back with
h5py: one float64 scalar per measure with a `units` attribute (also given by
the JSON's `measure_units`), the group attributes of CONTRACT.md, values
equal to the --json ones to the bit, and
an output file that failed or refused runs leave untouched."""

import datetime
import math
import os
import re
import time

import h5py
import numpy as np

import h5div_testlib as T

GROUP_ATTRS = ["h5div_version", "command", "created", "ranks", "base", "pseudocount",
               "elapsed_seconds", "p", "q"]


def inputs(ctx):
    ctx.gen(ctx.path("in.h5"), "--dtype", "i32", "--layout", "chunked", "--chunk", 100, "--bins", 1000,
            "--kind", "random", "--seed", 50)
    ctx.gen(ctx.path("in2.h5"), "--dtype", "f64", "--layout", "contiguous", "--bins", 1000,
            "--kind", "zipf", "--zero-frac", 0.2, "--seed", 51)
    return ("in.h5:/reference", "in.h5:/generated"), ("in2.h5:/reference", "in2.h5:/generated")


def version(ctx):
    res = ctx.h5div_run(["--version"])
    m = re.search(r"\b\d+\.\d+\.\d+\b", res.out)
    ctx.check(res.rc == 0 and m, "h5div --version prints no version", res)
    return m.group(0) if m else None


def as_str(v):
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray) and v.shape == () and v.dtype.kind in "SUO":
        return as_str(v[()])
    if isinstance(v, (str, np.str_)):
        return str(v)
    return None


def run_write(ctx, args, ranks=None):
    """compare --json ARGS (with -o); returns (measure values, t0, t1). The
    JSON's measure_units must give each measure the contract's units (the
    same as the `units` attribute check_group checks in the file)."""
    t0 = datetime.datetime.now(datetime.timezone.utc)
    what = f"compare --json {' '.join(args)} ({'plain' if ranks is None else f'-n {ranks}'})"
    res = ctx.h5div_run(["compare", "--json"] + list(args), ranks=ranks)
    t1 = datetime.datetime.now(datetime.timezone.utc)
    if not T.check_success(ctx, res, what):
        return None, t0, t1
    obj, values = T.parse_json_output(ctx, res, what + " (JSON must still be printed with -o)")
    if obj is not None:
        base = args[args.index("-b") + 1] if "-b" in args else "2"
        want = {m: T.units_of(m, base) for m in values}
        ctx.check(obj.get("measure_units") == want and obj.get("units") == T.BASE_UNITS[base],
                  f"{what}: measure_units {obj.get('measure_units')!r} and units {obj.get('units')!r}, "
                  f"want {want} and {T.BASE_UNITS[base]!r}", res)
    return values, t0, t1


def check_group(ctx, fname, gname, values, measures, base, alpha, ranks, p, q, ver, t0, t1):
    """Everything the contract says about one result group."""
    what = f"{fname}:{gname}"
    with h5py.File(ctx.path(fname), "r") as f:
        if not ctx.check(gname in f and isinstance(f[gname], h5py.Group), f"{what}: no such group"):
            return
        g = f[gname]
        ctx.check(set(g.keys()) == set(measures),
                  f"{what}: members {sorted(g.keys())}, want the measures {sorted(measures)}")
        for name in measures:
            if not ctx.check(name in g and isinstance(g[name], h5py.Dataset), f"{what}: no dataset {name}"):
                continue
            d = g[name]
            ctx.check(d.dtype.kind == "f" and d.dtype.itemsize == 8,
                      f"{what}/{name}: type {d.dtype}, want float64")
            ctx.check(d.shape == (), f"{what}/{name}: shape {d.shape}, want () (scalar)")
            units = as_str(d.attrs.get("units"))
            ctx.check(units == T.units_of(name, base),
                      f"{what}/{name}: units attribute {d.attrs.get('units')!r}, want {T.units_of(name, base)!r}")
            if values is not None and d.shape == ():
                v = float(d[()])
                ctx.check(name in values and T.same_bits(v, values[name]),
                          f"{what}/{name} = {v!r}, but --json printed {values.get(name)!r}")
        a = g.attrs
        missing = [k for k in GROUP_ATTRS if k not in a]
        ctx.check(not missing, f"{what}: group attributes {missing} missing (has {sorted(a.keys())})")
        if "h5div_version" in a:
            ctx.check(as_str(a["h5div_version"]) == ver,
                      f"{what}: h5div_version {a['h5div_version']!r}, --version says {ver!r}")
        if "command" in a:
            cmd = as_str(a["command"])
            ctx.check(cmd is not None and "compare" in cmd and p in cmd and q in cmd,
                      f"{what}: command {a['command']!r} is not the full command line")
        if "created" in a:
            s = as_str(a["created"])
            try:
                c = datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
                ok = c.utcoffset() == datetime.timedelta(0)
                ctx.check(ok, f"{what}: created {s!r} is not UTC")
                slack = datetime.timedelta(seconds=2)
                ctx.check(ok and t0 - slack <= c <= t1 + slack,
                          f"{what}: created {s!r} is not between {t0.isoformat()} and {t1.isoformat()}")
                ctx.check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)", s),
                          f"{what}: created {s!r} is not ISO 8601 date-time with UTC designator")
            except (ValueError, TypeError, AttributeError) as e:
                ctx.check(False, f"{what}: created {a['created']!r} is not ISO 8601 ({e})")
        if "ranks" in a:
            r = a["ranks"]
            ctx.check(np.asarray(r).dtype.kind in "iu" and np.asarray(r).size == 1 and int(r) == ranks,
                      f"{what}: ranks {r!r}, want integer {ranks}")
        if "base" in a:
            b = a["base"]
            sb = as_str(b)
            want_num = {"2": 2.0, "e": math.e, "10": 10.0}[base]
            ok = sb == base if sb is not None else np.asarray(b).size == 1 and float(b) == want_num
            ctx.check(ok, f"{what}: base {b!r}, want {base!r}")
        if "pseudocount" in a:
            pc = a["pseudocount"]
            ctx.check(np.asarray(pc).dtype.kind == "f" and float(pc) == alpha,
                      f"{what}: pseudocount {pc!r}, want {alpha}")
        if "elapsed_seconds" in a:
            e = a["elapsed_seconds"]
            wall = (t1 - t0).total_seconds()
            ctx.check(np.asarray(e).dtype.kind == "f" and 0.0 <= float(e) <= wall + 1.0,
                      f"{what}: elapsed_seconds {e!r} not in [0, {wall:.2f} s wall time]")
        for key, ref in (("p", p), ("q", q)):
            if key in a:
                ctx.check(as_str(a[key]) == ref, f"{what}: attribute {key} {a[key]!r}, want {ref!r}")


def file_bytes(ctx, name):
    with open(ctx.path(name), "rb") as f:
        return f.read()


def listing(ctx, sub=""):
    """Files of the work directory (or of SUB in it), without the empty
    FILE.lock side files h5div keeps next to a results file FILE so that
    concurrent writers take turns: those are by design, not left-overs."""
    d = os.path.join(ctx.workdir, sub)
    names = set(os.listdir(d))
    return sorted(n for n in names
                  if not (n.endswith(".lock") and n[:-5] in names and os.path.getsize(os.path.join(d, n)) == 0))


def case_two_runs(ctx):
    """Two groups in one file, both complete; no temporary files left."""
    (p, q), (p2, q2) = inputs(ctx)
    ver = version(ctx)
    in_before = {n: (file_bytes(ctx, n), os.stat(ctx.path(n)).st_mtime_ns) for n in ("in.h5", "in2.h5")}
    va, a0, a1 = run_write(ctx, ["-o", "res.h5:/runs/a", p, q], ranks=3)
    ref = T.run_json(ctx, [p, q], ranks=3, what="--json without -o")
    if va is not None and ref is not None:
        T.check_same_bits(ctx, va, ref, "--json with -o vs without")
    vb, b0, b1 = run_write(ctx, ["-o", "res.h5:/runs/b", "-b", "e", "--pseudocount", "0.5", p2, q2])
    check_group(ctx, "res.h5", "/runs/a", va, T.COMPARE_MEASURES, "2", 0.0, 3, p, q, ver, a0, a1)
    check_group(ctx, "res.h5", "/runs/b", vb, T.COMPARE_MEASURES, "e", 0.5, 1, p2, q2, ver, b0, b1)
    # a third run with a subset of the measures in base 10 on 4 ranks
    vc, c0, c1 = run_write(ctx, ["-o", "res.h5:/runs/c", "-b", "10", "--measures", "kl_pq,hellinger",
                                 p, q], ranks=4)
    check_group(ctx, "res.h5", "/runs/c", vc, ["kl_pq", "hellinger"], "10", 0.0, 4, p, q, ver, c0, c1)
    check_group(ctx, "res.h5", "/runs/a", va, T.COMPARE_MEASURES, "2", 0.0, 3, p, q, ver, a0, a1)
    ctx.check(listing(ctx) == ["in.h5", "in2.h5", "res.h5"],
              f"files left in the directory: {listing(ctx)}, want in.h5, in2.h5, res.h5")
    for n, (data, mtime) in in_before.items():
        ctx.check(file_bytes(ctx, n) == data and os.stat(ctx.path(n)).st_mtime_ns == mtime,
                  f"input file {n} was modified")


def case_default_group(ctx):
    (p, q), _ = inputs(ctx)
    ver = version(ctx)
    v, t0, t1 = run_write(ctx, ["-o", "res.h5", p, q], ranks=2)
    check_group(ctx, "res.h5", "/h5div", v, T.COMPARE_MEASURES, "2", 0.0, 2, p, q, ver, t0, t1)
    # a new file inside a subdirectory that exists
    os.mkdir(ctx.path("sub"))
    v, t0, t1 = run_write(ctx, ["-o", "sub/r.h5:/x/y/z", p, q])
    check_group(ctx, "sub/r.h5", "/x/y/z", v, T.COMPARE_MEASURES, "2", 0.0, 1, p, q, ver, t0, t1)
    ctx.check(listing(ctx, "sub") == ["r.h5"], f"files in sub/: {os.listdir(ctx.path('sub'))}")


def case_overwrite(ctx):
    """Without --overwrite: exit 4 and the file unchanged. With it: the
    group is replaced (old members gone), other groups kept."""
    (p, q), (p2, q2) = inputs(ctx)
    ver = version(ctx)
    va, a0, a1 = run_write(ctx, ["-o", "res.h5:/runs/a", p, q])
    vb, b0, b1 = run_write(ctx, ["-o", "res.h5:/runs/b", p2, q2], ranks=2)
    before, names = file_bytes(ctx, "res.h5"), listing(ctx)
    for n in (None, 3):
        res = ctx.h5div_run(["compare", "-o", "res.h5:/runs/a", p2, q2], ranks=n)
        T.check_error(ctx, res, 4, f"-o res.h5:/runs/a again without --overwrite ({n or 'plain'})",
                      r"runs/a|res\.h5")
        ctx.check(file_bytes(ctx, "res.h5") == before, f"refused write ({n or 'plain'}) changed res.h5")
        ctx.check(listing(ctx) == names, f"refused write left files: {listing(ctx)}")
    vo, o0, o1 = run_write(ctx, ["-o", "res.h5:/runs/a", "--overwrite", "--measures", "kl_pq,js_divergence",
                                 p2, q2], ranks=3)
    check_group(ctx, "res.h5", "/runs/a", vo, ["kl_pq", "js_divergence"], "2", 0.0, 3, p2, q2, ver, o0, o1)
    check_group(ctx, "res.h5", "/runs/b", vb, T.COMPARE_MEASURES, "2", 0.0, 2, p2, q2, ver, b0, b1)
    vo2, o0, o1 = run_write(ctx, ["-o", "res.h5:/runs/a", "--overwrite", p, q])
    check_group(ctx, "res.h5", "/runs/a", vo2, T.COMPARE_MEASURES, "2", 0.0, 1, p, q, ver, o0, o1)
    if va is not None and vo2 is not None:
        T.check_same_bits(ctx, vo2, va, "rewritten /runs/a vs first /runs/a")
    # replacing a parent group that holds earlier runs is explicit, too
    res = ctx.h5div_run(["compare", "-o", "res.h5:/runs", p, q])
    T.check_error(ctx, res, 4, "-o res.h5:/runs (an existing group of runs) without --overwrite")
    ctx.check(listing(ctx) == names, f"files left in the directory: {listing(ctx)}")


def case_failed_run_untouched(ctx):
    """Input errors, missing inputs and bad values leave the results file
    and the directory exactly as they were."""
    (p, q), _ = inputs(ctx)
    ctx.gen(ctx.path("bad.h5"), "--dtype", "i32", "--bins", 1000, "--kind", "random", "--seed", 52,
            "--set", "p:999=-1")
    run_write(ctx, ["-o", "res.h5:/runs/a", p, q])
    before, names = file_bytes(ctx, "res.h5"), listing(ctx)
    attempts = [
        (["compare", "-o", "res.h5:/runs/b", "bad.h5:/reference", "bad.h5:/generated"], 3),
        (["compare", "-o", "res.h5:/runs/a", "--overwrite", "bad.h5:/reference", "bad.h5:/generated"], 3),
        (["compare", "-o", "res.h5:/runs/b", "missing.h5:/reference", q], 3),
        (["compare", "-o", "res.h5:/runs/b", p, "in.h5:/nothing"], 3),
        (["compare", "-o", "res.h5:/runs/b", "--base", "7", p, q], 2),
        (["compare", "-o", "new.h5:/runs/b", "bad.h5:/reference", "bad.h5:/generated"], 3),
    ]
    for i, (args, code) in enumerate(attempts):
        for n in ((None, 3) if i in (0, 1, 2) else (None,)):
            res = ctx.h5div_run(args, ranks=n)
            T.check_error(ctx, res, code, f"h5div {' '.join(args)} ({n or 'plain'})")
            ctx.check(file_bytes(ctx, "res.h5") == before,
                      f"h5div {' '.join(args)} ({n or 'plain'}) changed res.h5")
            ctx.check(listing(ctx) == names,
                      f"h5div {' '.join(args)} ({n or 'plain'}) left files: {listing(ctx)}, want {names}")


def case_kill_during_run(ctx):
    """A run killed at any moment leaves the earlier groups readable."""
    ctx.gen(ctx.path("big.h5"), "--dtype", "f64", "--layout", "contiguous",
            "--bins", 4000000, "--kind", "random", "--seed", 53)
    p, q = "big.h5:/reference", "big.h5:/generated"
    va, _, _ = run_write(ctx, ["-o", "res.h5:/runs/a", "--measures", "kl_pq", p, q], ranks=2)
    t_run = time.monotonic()
    T.run_json(ctx, [p, q], ranks=2, what="timing run")
    t_run = time.monotonic() - t_run
    for i, frac in enumerate((0.5, 0.85, 0.95)):
        argv = ctx.mpi_prefix(2) + [ctx.h5div, "compare", "-o", f"res.h5:/runs/k{i}", p, q]
        res = ctx.run(argv, timeout=t_run * frac)
        with h5py.File(ctx.path("res.h5"), "r") as f:
            ok = "runs/a" in f and float(f["runs/a/kl_pq"][()]) == va["kl_pq"] if va else "runs/a" in f
            ctx.check(ok, f"killed run {i} after {t_run * frac:.2f} s: /runs/a unreadable or changed", res)


CASES = {
    "two_runs": case_two_runs,
    "default_group": case_default_group,
    "overwrite": case_overwrite,
    "failed_run_untouched": case_failed_run_untouched,
    "kill_during_run": case_kill_during_run,
}

if __name__ == "__main__":
    T.main(CASES)
