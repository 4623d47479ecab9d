#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Batched inputs (issue 7): `h5div compare` and `h5div entropy` on 2-D
datasets [m, n] (one histogram per row) and `h5div compare P Q1 ... Qk`
with several candidates. Every (candidate, row) result must be bit-identical
to running h5div on that row alone, as a 1-D dataset, with that candidate
alone, on any rank count, piece size and memory bound; the JSON, HDF5 and
table layouts of spec 7; and the input and usage errors of the new forms."""

import datetime
import json
import math
import re

import h5py
import numpy as np

import h5div_testlib as T
from test_cli import expect_error
from test_layout import GROUP_ATTRS, as_str, version

RANKS = [1, 2, 3, 4]
SMALL = ["--piece-size", "4KiB", "--memory-per-rank", "64KiB"]
# (label, extra options, ranks; None = plain, without mpiexec)
VARIANTS = ([("plain", [], None)] + [(f"-n {n}", [], n) for n in RANKS] +
            [("-n 3 " + " ".join(SMALL), SMALL, 3), ("-n 4 " + " ".join(SMALL), SMALL, 4)])
# the extra divergences, in the order spec 7 prints them
EXTRA = ["bhattacharyya", "chi2_pq", "renyi_pq:2", "wasserstein1", "ks"]
ALL_MEASURES = T.COMPARE_MEASURES + EXTRA
EXTRA_UNITLESS = {"chi2_pq", "chi2_qp", "wasserstein1", "ks",
                  "perplexity", "total_count", "nonzero_bins", "shrinkage_lambda"}  # and entropy's
ESTIMATORS = [None, "miller-madow", "chao-shen", "shrink"]  # None: the default (plugin)
MP_MAX_BINS = 100000 # total bins of one input up to which the mpmath oracle runs on every row
MAX_REF_ROWS = 40    # rows run alone as 1-D references (all of them when m is at most this)


def units(name, base="2"):
    bare = name.split(":")[0]
    if bare in EXTRA_UNITLESS:
        return "1"
    if bare in ("bhattacharyya", "renyi_pq", "renyi_qp"):
        return T.BASE_UNITS[base]
    return T.units_of(name, base)


def label(n):
    return "plain" if n is None else f"-n {n}"


# -- inputs -------------------------------------------------------------------

def histograms(rng, shape, dtype, zero_frac=0.1, zero_rows=slice(1, None, 2)):
    """Random counts of DTYPE; in the rows ZERO_ROWS (of the last axis; the odd
    ones by default, so the even rows keep finite KL) a fraction ZERO_FRAC of
    the bins is 0, but never a whole row."""
    dt = np.dtype(dtype)
    hi = min(1000, np.iinfo(dt).max) if dt.kind in "iu" else 1000
    a = rng.random(shape) * hi if dt.kind == "f" else rng.integers(1, hi, shape)
    a = a.reshape(-1, shape[-1])
    mask = rng.random(a.shape) < zero_frac
    keep = np.zeros(a.shape, dtype=bool)
    keep[zero_rows] = True
    a = np.where(mask & keep, 0, a)
    for row in a:
        if not row.any():
            row[rng.integers(row.size)] = 1
    return a.reshape(shape).astype(dt)


def write(ctx, fname, dname, data, layout="contiguous", chunks=None):
    """Dataset DNAME of FNAME (created or appended to); returns its reference
    relative to the work directory, where h5div runs."""
    kw = {}
    if layout in ("chunked", "deflate"):
        kw["chunks"] = tuple(min(c, s) for c, s in zip(chunks, data.shape)) if chunks else True
    if layout == "deflate":
        kw.update(compression="gzip", compression_opts=1)
    with h5py.File(ctx.path(fname), "a") as f:
        f.create_dataset(dname, data=data, dtype=data.dtype, **kw)
    return f"{fname}:/{dname}"


def pair_2d(ctx, m, n, dtype, layout, chunks, seed):
    """P and Q [m, n] of DTYPE; when m >= 3 row 1 of Q equals row 1 of P (every
    divergence exactly 0) and row 2 of Q is row 2 of P reversed."""
    rng = np.random.default_rng(seed)
    P = histograms(rng, (m, n), dtype)
    Q = histograms(rng, (m, n), dtype)
    if m >= 3:
        Q[1] = P[1]
        Q[2] = P[2][::-1]
    return (write(ctx, "in.h5", "P", P, layout, chunks), write(ctx, "in.h5", "Q", Q, layout, chunks), P, Q)


def row_refs(ctx, P, Q, rows, fname="rows.h5"):
    """Each row of P and Q as its own 1-D dataset of the same type."""
    refs = {}
    for i in rows:
        refs[i] = (write(ctx, fname, f"p{i}", np.ascontiguousarray(P[i])),
                   write(ctx, fname, f"q{i}", np.ascontiguousarray(Q[i])) if Q is not None else None)
    return refs


def ref_rows(m, ranks=(2, 3, 4), limit=MAX_REF_ROWS):
    """All rows when m <= LIMIT, else the first and last rows, the rows next to
    every split of m rows between 2-4 ranks, and evenly spaced ones."""
    if m <= limit:
        return list(range(m))
    rows = {0, 1, m - 2, m - 1}
    for r in ranks:
        for k in range(1, r):
            b = k * m // r
            rows.update({b - 1, b, b + 1})
    rows.update(range(0, m, max(1, m // 6)))
    return sorted(x for x in rows if 0 <= x < m)


# -- JSON with arrays ---------------------------------------------------------

class _Num(float):
    """A JSON number that remembers how it was printed."""

    def __new__(cls, text):
        v = float.__new__(cls, text)
        v.text = text
        return v


def _values(v, bad):
    """Nested lists of JSON measure values as nested lists of floats; BAD
    collects what is not a value or not printed with 17 significant digits."""
    if isinstance(v, list):
        return [_values(x, bad) for x in v]
    if isinstance(v, _Num):
        if math.isfinite(v) and not T._seventeen_digits(v.text, float(v)):
            bad.append(v.text)
        return float(v)
    if isinstance(v, int) and not isinstance(v, bool):
        if not T._seventeen_digits(str(v), float(v)):
            bad.append(str(v))
        return float(v)
    try:
        return T.json_value(v)
    except ValueError:
        bad.append(repr(v))
        return float("nan")


def run_nd(ctx, command, args, ranks=None, shape=(), what=None, base="2", p=None, q=None):
    """h5div COMMAND --json ARGS; every measure must be an array of SHAPE.
    Returns (JSON object, {measure: float64 array}) or (None, None)."""
    what = what or f"{command} {' '.join(args)} ({label(ranks)})"
    res = ctx.h5div_run([command, "--json"] + list(args), ranks=ranks)
    if not T.check_success(ctx, res, what):
        return None, None
    try:
        obj = json.loads(res.out, parse_float=_Num)
    except ValueError as e:
        ctx.check(False, f"{what}: stdout is not one JSON object ({e})", res)
        return None, None
    if not ctx.check(isinstance(obj, dict) and isinstance(obj.get("measures"), dict),
                     f"{what}: JSON has no 'measures' object", res):
        return None, None
    if command == "compare":
        T.check_json_header(ctx, obj, res, what, base=base, ranks=ranks or 1, p=p, q=q)
    else:
        ctx.check(obj.get("command") == command, f"{what}: JSON command {obj.get('command')!r}", res)
        ctx.check(obj.get("ranks") == (ranks or 1), f"{what}: JSON ranks {obj.get('ranks')!r}", res)
        ctx.check(isinstance(obj.get("inputs"), dict) and obj["inputs"].get("p") == p,
                  f"{what}: JSON inputs {obj.get('inputs')!r}, want p = {p!r}", res)
    out = {}
    for name, v in obj["measures"].items():
        bad = []
        vals = _values(v, bad)
        ctx.check(not bad, f"{what}: {name}: values {bad[:5]} are not numbers with 17 significant "
                  f"digits or \"inf\"/\"-inf\"/\"nan\"", res)
        try:
            arr = np.array(vals, dtype=np.float64)
        except ValueError:
            arr = None
        if ctx.check(arr is not None and arr.shape == tuple(shape),
                     f"{what}: {name} has shape {None if arr is None else arr.shape}, want {tuple(shape)} "
                     f"(JSON {str(v)[:200]})", res):
            out[name] = arr
    return obj, out


def check_bits(ctx, got, want, what, names=None):
    """GOT and WANT ({measure: array or float}) have the same measures (or
    NAMES) and bit-identical values; one check per measure."""
    names = list(names) if names is not None else sorted(set(got) | set(want))
    for name in names:
        if not ctx.check(name in got and name in want,
                         f"{what}: measure {name} missing ({'got' if name not in got else 'want'})"):
            continue
        g, w = np.asarray(got[name], dtype=np.float64), np.asarray(want[name], dtype=np.float64)
        if not ctx.check(g.shape == w.shape, f"{what}: {name} shape {g.shape} vs {w.shape}"):
            continue
        diff = [(idx, g[idx], w[idx]) for idx in np.ndindex(g.shape) if not T.same_bits(g[idx], w[idx])]
        ctx.check(not diff, f"{what}: {name} differs at {len(diff)} of {g.size} places, e.g. "
                  + "; ".join(f"[{','.join(map(str, i))}] {a!r} vs {b!r}" for i, a, b in diff[:4]))


def row_of(values, i, lead=()):
    """{measure: value} of row I (after the leading indices LEAD)."""
    return {k: float(v[tuple(lead) + (i,)]) for k, v in values.items()}


# -- oracles of the extra divergences ----------------------------------------

def oracle_extra(P, Q, names, base="2", alpha=0.0, bin_width=1.0, dps=40):
    """bhattacharyya, chi2, renyi, wasserstein1 and ks of spec 7 with mpmath
    from the exact raw values."""
    import mpmath

    with mpmath.workdps(dps):
        mpf, log, fsum, inf = mpmath.mpf, mpmath.log, mpmath.fsum, mpmath.inf
        p, q, lb = T.mp_normalised(P, Q, base, alpha)

        def chi2(x, y):
            if any(u and not v for u, v in zip(x, y)):
                return inf
            return fsum((u - v) ** 2 / v for u, v in zip(x, y) if v)

        def renyi(x, y, A):
            if A > 1 and any(u and not v for u, v in zip(x, y)):
                return inf
            s = fsum(u ** A * v ** (1 - A) for u, v in zip(x, y) if u and v)
            return inf if s == 0 else log(s) / (A - 1) / lb

        Fp, Fq, cp, cq = [], [], mpf(0), mpf(0)
        for u, v in zip(p, q):
            cp, cq = cp + u, cq + v
            Fp.append(cp)
            Fq.append(cq)
        r = {}
        for name in names:
            if name == "bhattacharyya":
                s = fsum(mpmath.sqrt(u * v) for u, v in zip(p, q))
                r[name] = inf if s == 0 else -log(s) / lb
            elif name == "chi2_pq":
                r[name] = chi2(p, q)
            elif name == "chi2_qp":
                r[name] = chi2(q, p)
            elif name.startswith("renyi_pq:"):
                r[name] = renyi(p, q, mpf(name.split(":")[1]))
            elif name.startswith("renyi_qp:"):
                r[name] = renyi(q, p, mpf(name.split(":")[1]))
            elif name == "wasserstein1":
                r[name] = mpf(bin_width) * fsum(abs(u - v) for u, v in zip(Fp[:-1], Fq[:-1]))
            elif name == "ks":
                r[name] = max(abs(u - v) for u, v in zip(Fp, Fq))
        return {k: float(v) for k, v in r.items()}


def check_rows_oracles(ctx, values, P, Q, what, extra=(), lead=()):
    """Every row of VALUES against mpmath (and scipy where p != q) to 1e-12."""
    m = P.shape[0]
    use_mp = P.size <= MP_MAX_BINS
    for i in range(m):
        got = row_of(values, i, lead)
        names = [n for n in T.COMPARE_MEASURES if n in got]
        if names:
            if use_mp:
                T.check_against(ctx, got, T.oracle_mp(T.exact_values(P[i]), T.exact_values(Q[i])),
                                f"{what} row {i} vs mpmath", measures=names)
            # scipy's Hellinger and JS lose everything when p = q (1 - sum sqrt(pq) cancels)
            pn, qn = P[i] / np.sum(P[i], dtype=np.float64), Q[i] / np.sum(Q[i], dtype=np.float64)
            if not np.allclose(pn, qn, rtol=1e-3, atol=0):
                T.check_against(ctx, got, T.oracle_scipy(P[i], Q[i]), f"{what} row {i} vs scipy",
                                measures=names)
        ex = [n for n in extra if n in got]
        if ex and use_mp:
            T.check_against(ctx, got, oracle_extra(T.exact_values(P[i]), T.exact_values(Q[i]), ex),
                            f"{what} row {i} vs mpmath (extra divergences)", measures=ex)


# -- 1. 2-D compare, row by row ----------------------------------------------

def rows_case(m, n, dtype, layout, chunks, seed):
    """compare --json on P, Q [m, n]: every measure an array of m values, the
    same bits on every variant, each row the bits of that row run alone as a
    1-D dataset, every row against the oracles; the same for the extra
    divergences named with --measures."""

    def case(ctx):
        p, q, P, Q = pair_2d(ctx, m, n, dtype, layout, chunks, seed)
        ctx.note(f"input: P, Q [{m}, {n}] {np.dtype(dtype).str} {layout} chunks {chunks}; "
                 f"checks: shape ({m},) per measure, bits equal across {len(VARIANTS)} variants, "
                 f"rows vs 1-D runs, rows vs oracles")
        rows = ref_rows(m)
        refs = row_refs(ctx, P, Q, rows)
        single = {}
        for i in rows:
            single[i] = T.run_json(ctx, ["--measures", ",".join(ALL_MEASURES), refs[i][0], refs[i][1]],
                                   what=f"row {i} alone (1-D)", p=refs[i][0], q=refs[i][1])
        if len(rows) < m:
            ctx.note(f"{len(rows)} of {m} rows run alone: {rows}")

        def against_rows(values, what, names):
            for i in rows:
                if single[i] is not None:
                    check_bits(ctx, row_of(values, i), single[i], f"{what}: row {i} vs the row alone",
                               names=names)

        first = None
        for lab, extra, n_ in VARIANTS:
            obj, got = run_nd(ctx, "compare", extra + [p, q], ranks=n_, shape=(m,), what=f"2-D {lab}",
                              p=p, q=q)
            if got is None:
                continue
            ctx.check(list(got) == T.COMPARE_MEASURES,
                      f"2-D {lab}: measures {list(got)}, want {T.COMPARE_MEASURES}")
            against_rows(got, f"2-D {lab}", T.COMPARE_MEASURES)
            if first is None:
                first = (lab, got)
                check_rows_oracles(ctx, got, P, Q, f"2-D {lab}")
            else:
                check_bits(ctx, got, first[1], f"2-D {lab} vs {first[0]}")
        first = None
        for lab, extra, n_ in (VARIANTS[0], VARIANTS[3], VARIANTS[6]):
            what = f"2-D --measures {','.join(EXTRA)} {lab}"
            obj, got = run_nd(ctx, "compare", extra + ["--measures", ",".join(EXTRA), p, q], ranks=n_,
                              shape=(m,), what=what, p=p, q=q)
            if got is None:
                continue
            ctx.check(list(got) == EXTRA, f"{what}: measures {list(got)}, want {EXTRA} in this order")
            against_rows(got, what, EXTRA)
            if first is None:
                first = (lab, got)
                check_rows_oracles(ctx, got, P, Q, what, extra=EXTRA)
            else:
                check_bits(ctx, got, first[1], f"{what} vs {first[0]}")
        # --bin-width 0.5 halves wasserstein1 exactly (a power of two) and nothing else
        what = "2-D --measures wasserstein1,ks --bin-width 0.5 -n 3"
        obj, got = run_nd(ctx, "compare", ["--measures", "wasserstein1,ks", "--bin-width", "0.5", p, q], ranks=3,
                          shape=(m,), what=what, p=p, q=q)
        if got is not None and first is not None:
            check_bits(ctx, got, {"wasserstein1": first[1]["wasserstein1"] * 0.5, "ks": first[1]["ks"]},
                       f"{what} vs half the --bin-width 1 values")

    return case


# -- 2. several candidates ----------------------------------------------------

def candidates(ctx, shape, seed):
    """P (int32 chunked) and three candidates of other types and layouts, in
    two files: int32 chunked, float64 contiguous, big-endian uint16 deflate."""
    rng = np.random.default_rng(seed)
    chunks = (2, 100)[-len(shape):]
    P = histograms(rng, shape, "<i4")
    Qs = [histograms(rng, shape, "<i4"), histograms(rng, shape, "<f8"),
          histograms(rng, shape, ">u2", zero_rows=slice(None))]
    p = write(ctx, "in.h5", "P", P, "chunked", chunks)
    qs = [write(ctx, "in.h5", "Q1", Qs[0], "chunked", chunks),
          write(ctx, "other.h5", "cand/Q2", Qs[1], "contiguous"),
          write(ctx, "other.h5", "Q3", Qs[2], "deflate", chunks)]
    return p, qs, P, Qs


def cands_case(shape, seed):
    """compare P Q1 Q2 Q3: measures of shape (k,) or (k, m), inputs.q the list
    of candidates in order, candidate j bit-identical to compare P Qj."""

    def case(ctx):
        k = 3
        p, qs, P, Qs = candidates(ctx, shape, seed)
        twod = len(shape) == 2
        want_shape = (k,) + tuple(shape[:1]) if twod else (k,)
        ctx.note(f"P {list(shape)} and {k} candidates ({', '.join(qs)}); checks: shape {want_shape}, "
                 f"inputs.q in order, candidate j == compare P Qj bit for bit, reversed order")
        sep, sep_extra = [], []
        for j, qj in enumerate(qs):
            if twod:
                sep.append(run_nd(ctx, "compare", [p, qj], shape=shape[:1], what=f"P vs Q{j + 1} alone",
                                  p=p, q=qj)[1])
                sep_extra.append(run_nd(ctx, "compare", ["--measures", ",".join(EXTRA), p, qj],
                                        shape=shape[:1], what=f"P vs Q{j + 1} alone (extra)", p=p, q=qj)[1])
            else:
                sep.append(T.run_json(ctx, [p, qj], what=f"P vs Q{j + 1} alone", p=p, q=qj))
                sep_extra.append(T.run_json(ctx, ["--measures", ",".join(EXTRA), p, qj],
                                            what=f"P vs Q{j + 1} alone (extra)", p=p, q=qj))
        if twod and sep[0] is not None:  # the separate 2-D runs are themselves right, row by row
            check_rows_oracles(ctx, sep[0], P, Qs[0], "P vs Q1 alone")

        def against_separate(got, seps, what, order=range(k)):
            for pos, j in enumerate(order):
                if seps[j] is not None:
                    check_bits(ctx, {name: v[pos] for name, v in got.items()}, seps[j],
                               f"{what}: candidate {pos} vs compare P Q{j + 1} alone")

        for lab, extra, n_ in VARIANTS:
            obj, got = run_nd(ctx, "compare", extra + [p] + qs, ranks=n_, shape=want_shape,
                              what=f"k={k} {lab}", p=p, q=qs)
            if got is not None:
                against_separate(got, sep, f"k={k} {lab}")
        for n_ in (None, 3):
            what = f"k={k} --measures {','.join(EXTRA)} {label(n_)}"
            obj, got = run_nd(ctx, "compare", ["--measures", ",".join(EXTRA), p] + qs, ranks=n_,
                              shape=want_shape, what=what, p=p, q=qs)
            if got is not None:
                ctx.check(list(got) == EXTRA, f"{what}: measures {list(got)}, want {EXTRA}")
                against_separate(got, sep_extra, what)
        # the candidates in another order: results follow the order given
        order = [2, 0, 1]
        obj, got = run_nd(ctx, "compare", [p] + [qs[j] for j in order], ranks=2, shape=want_shape,
                          what=f"k={k} order Q3 Q1 Q2 -n 2", p=p, q=[qs[j] for j in order])
        if got is not None:
            against_separate(got, sep, "order Q3 Q1 Q2", order=order)

    return case


def case_cands_64(ctx):
    """64 candidates (the most allowed): shape (64,), each candidate the bits
    of compare P Qj alone; 2 candidates: shape (2,)."""
    rng = np.random.default_rng(71)
    n = 40
    p = write(ctx, "in.h5", "P", histograms(rng, (n,), "<i8"), "chunked", (16,))
    qs = [write(ctx, "in.h5", f"Q{j:02d}", histograms(rng, (n,), "<i8"), "chunked", (16,)) for j in range(64)]
    ctx.note("P [40] and 64 candidates; checks: shape (64,), inputs.q, candidate j == compare P Qj")
    results = {}
    for n_ in (None, 3):
        results[n_] = run_nd(ctx, "compare", [p] + qs, ranks=n_, shape=(64,), what=f"k=64 {label(n_)}",
                             p=p, q=qs)[1]
    if results[None] is not None and results[3] is not None:
        check_bits(ctx, results[3], results[None], "k=64 -n 3 vs plain")
    for j, qj in enumerate(qs):
        alone = T.run_json(ctx, [p, qj], what=f"P vs Q{j:02d} alone", p=p, q=qj)
        if alone is not None and results[None] is not None:
            check_bits(ctx, {k: v[j] for k, v in results[None].items()}, alone,
                       f"k=64: candidate {j} vs compare P Q{j:02d} alone")
    obj, got = run_nd(ctx, "compare", [p, qs[5], qs[9]], ranks=4, shape=(2,), what="k=2 -n 4", p=p,
                      q=[qs[5], qs[9]])
    if got is not None and results[None] is not None:
        check_bits(ctx, got, {k: v[[5, 9]] for k, v in results[None].items()}, "k=2 vs k=64")


# -- 3. HDF5 result layout -----------------------------------------------------

def other_group(ctx, fname):
    """A file holding an unrelated group that every write must keep."""
    data = np.arange(12.0).reshape(3, 4)
    with h5py.File(ctx.path(fname), "w") as f:
        g = f.create_group("other/inner")
        g.create_dataset("data", data=data, chunks=(1, 4))
        g.attrs["note"] = "keep me"
        f["other"].attrs["n"] = 7
    return data


def check_other(ctx, fname, data, what):
    with h5py.File(ctx.path(fname), "r") as f:
        ok = ("other/inner/data" in f and np.array_equal(f["other/inner/data"][()], data)
              and as_str(f["other/inner"].attrs.get("note")) == "keep me" and f["other"].attrs.get("n") == 7)
    ctx.check(ok, f"{what}: the existing group /other of {fname} was changed")


def check_result_group(ctx, fname, gname, values, shape, base, alpha, ranks, p, qs, ver, t0, t1,
                       bin_width=None):
    """The group of one run: datasets of SHAPE equal to the JSON VALUES to the
    bit, units, renyi order, the contract's group attributes, q a scalar string
    for one candidate and an array of k strings for k > 1."""
    what = f"{fname}:{gname}"
    with h5py.File(ctx.path(fname), "r") as f:
        if not ctx.check(gname in f and isinstance(f[gname], h5py.Group), f"{what}: no such group"):
            return
        g = f[gname]
        ctx.check(set(g.keys()) == set(values),
                  f"{what}: members {sorted(g.keys())}, want the measures {sorted(values)}")
        for name, v in values.items():
            if not ctx.check(name in g and isinstance(g[name], h5py.Dataset), f"{what}: no dataset {name}"):
                continue
            d = g[name]
            ctx.check(d.dtype == np.dtype("<f8") or d.dtype == np.dtype(">f8"),
                      f"{what}/{name}: type {d.dtype}, want float64")
            if ctx.check(d.shape == tuple(shape), f"{what}/{name}: shape {d.shape}, want {tuple(shape)}"):
                check_bits(ctx, {name: d[()]}, {name: v}, f"{what}/{name} vs the JSON of the run")
            u = as_str(d.attrs.get("units"))
            ctx.check(u == units(name, base), f"{what}/{name}: units {d.attrs.get('units')!r}, "
                      f"want {units(name, base)!r}")
            if name.startswith("renyi_"):
                o = d.attrs.get("order")
                ctx.check(o is not None and np.asarray(o).dtype == np.float64 and np.asarray(o).size == 1
                          and float(o) == float(name.split(":")[1]),
                          f"{what}/{name}: order attribute {o!r}, want float64 {name.split(':')[1]}")
        a = g.attrs
        missing = [k for k in GROUP_ATTRS if k not in a]
        ctx.check(not missing, f"{what}: group attributes {missing} missing (has {sorted(a.keys())})")
        if "h5div_version" in a:
            ctx.check(as_str(a["h5div_version"]) == ver, f"{what}: h5div_version {a['h5div_version']!r}, "
                      f"--version says {ver!r}")
        if "command" in a:
            cmd = as_str(a["command"]) or ""
            ctx.check("compare" in cmd and all(r in cmd for r in [p] + qs),
                      f"{what}: command {cmd!r} is not the full command line")
        if "created" in a:
            s = as_str(a["created"]) or ""
            try:
                c = datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
                slack = datetime.timedelta(seconds=2)
                ctx.check(c.utcoffset() == datetime.timedelta(0) and t0 - slack <= c <= t1 + slack,
                          f"{what}: created {s!r} is not UTC between {t0.isoformat()} and {t1.isoformat()}")
            except (ValueError, TypeError) as e:
                ctx.check(False, f"{what}: created {s!r} is not ISO 8601 ({e})")
        if "ranks" in a:
            r = np.asarray(a["ranks"])
            ctx.check(r.dtype.kind in "iu" and r.size == 1 and int(r) == ranks,
                      f"{what}: ranks {a['ranks']!r}, want integer {ranks}")
        if "base" in a:
            sb = as_str(a["base"])
            ok = sb == base if sb is not None else float(a["base"]) == {"2": 2.0, "e": math.e, "10": 10.0}[base]
            ctx.check(ok, f"{what}: base {a['base']!r}, want {base!r}")
        if "pseudocount" in a:
            pc = np.asarray(a["pseudocount"])
            ctx.check(pc.dtype.kind == "f" and pc.size == 1 and float(pc) == alpha,
                      f"{what}: pseudocount {a['pseudocount']!r}, want {alpha}")
        if "elapsed_seconds" in a:
            e = np.asarray(a["elapsed_seconds"])
            wall = (t1 - t0).total_seconds()
            ctx.check(e.dtype.kind == "f" and 0.0 <= float(e) <= wall + 1.0,
                      f"{what}: elapsed_seconds {a['elapsed_seconds']!r} not in [0, {wall:.2f} s]")
        if "p" in a:
            ctx.check(as_str(a["p"]) == p, f"{what}: attribute p {a['p']!r}, want {p!r}")
        if "q" in a:
            aid = a.get_id("q")
            sdt = h5py.check_string_dtype(aid.dtype)
            if len(qs) == 1:
                ctx.check(sdt is not None and aid.shape == () and as_str(a["q"]) == qs[0],
                          f"{what}: attribute q {a['q']!r} (shape {aid.shape}), want the scalar string {qs[0]!r}")
            else:
                got = [x.decode() if isinstance(x, bytes) else str(x) for x in np.asarray(a["q"]).ravel()]
                ctx.check(sdt is not None and sdt.length is None and aid.shape == (len(qs),) and got == qs,
                          f"{what}: attribute q {a['q']!r} (shape {aid.shape}, string type {sdt}), "
                          f"want a 1-D array of {len(qs)} variable-length strings {qs}")
        if bin_width is not None:
            bw = a.get("bin_width")
            ctx.check(bw is not None and np.asarray(bw).dtype == np.float64 and float(bw) == bin_width,
                      f"{what}: bin_width attribute {bw!r}, want float64 {bin_width}")


def case_layout(ctx):
    """-o out.h5:/g for the four shapes (), (m,), (k,), (k, m) on 3 ranks (and
    (k, m) with more ranks than rows on 4), into a file holding another group."""
    rng = np.random.default_rng(81)
    m, n = 5, 300
    p1 = write(ctx, "in.h5", "p1", histograms(rng, (n,), "<i4"), "chunked", (64,))
    q1 = [write(ctx, "in.h5", f"q1_{j}", histograms(rng, (n,), "<f8")) for j in range(3)]
    p2 = write(ctx, "in.h5", "p2", histograms(rng, (m, n), "<i4"), "chunked", (2, 64))
    q2 = [write(ctx, "in.h5", f"q2_{j}", histograms(rng, (m, n), ">u2"), "deflate", (2, 64)) for j in range(3)]
    p3 = write(ctx, "in.h5", "p3", histograms(rng, (2, 1), "<i4"))
    q3 = [write(ctx, "in.h5", f"q3_{j}", histograms(rng, (2, 1), "<f8")) for j in range(2)]
    data = other_group(ctx, "out.h5")
    ver = version(ctx)
    measures = ",".join(T.COMPARE_MEASURES + EXTRA)
    runs = [  # (group, options, p, candidates, shape, base, alpha, ranks, bin width)
        ("/g", [], p1, q1[:1], (), "2", 0.0, 3, None),
        ("/runs/two_d", ["--pseudocount", "0.5"], p2, q2[:1], (m,), "2", 0.5, 3, None),
        ("/runs/k", ["-b", "e"], p1, q1, (3,), "e", 0.0, 3, None),
        ("/runs/k_m", ["-b", "10", "--measures", measures, "--bin-width", "0.5"], p2, q2, (3, m), "10", 0.0,
         3, 0.5),
        ("/runs/k_m_extra1", ["--measures", measures], p2, q2[1:2], (m,), "2", 0.0, 3, 1.0),
        ("/runs/more_ranks", [], p3, q3, (2, 2), "2", 0.0, 4, None),
        ("/runs/names", ["--measures", "renyi_qp:0.5,ks,renyi_pq:2.0,chi2_qp,renyi_pq:0.25,kl_pq"], p2, q2[:1],
         (m,), "2", 0.0, 3, None),
    ]
    # spec 7's order: the standard measures, then bhattacharyya, chi2_pq, chi2_qp,
    # renyi_pq:A and renyi_qp:A in the order given, wasserstein1, ks; A written back
    # in shortest round-trip form
    names_order = ["kl_pq", "chi2_qp", "renyi_pq:2", "renyi_pq:0.25", "renyi_qp:0.5", "ks"]
    ctx.note("checks: dataset shapes (), (m,), (k,), (k,m); units; renyi order and names; bin_width; "
             "group attributes; q scalar or k strings; values == JSON bits; /other kept")
    for gname, opts, p, qs, shape, base, alpha, ranks, bw in runs:
        t0 = datetime.datetime.now(datetime.timezone.utc)
        obj, values = run_nd(ctx, "compare", ["-o", f"out.h5:{gname}"] + opts + [p] + qs, ranks=ranks,
                             shape=shape, what=f"-o out.h5:{gname} ({label(ranks)})", base=base, p=p,
                             q=qs[0] if len(qs) == 1 else qs)
        t1 = datetime.datetime.now(datetime.timezone.utc)
        check_other(ctx, "out.h5", data, f"after writing {gname}")
        if values is not None and gname == "/runs/names":
            ctx.check(list(values) == names_order, f"{gname}: JSON measures {list(values)}, want {names_order}")
        if values is not None:
            check_result_group(ctx, "out.h5", gname, values, shape, base, alpha, ranks, p, qs, ver, t0, t1,
                               bin_width=bw)
    # the first group is still intact after the later writes
    with h5py.File(ctx.path("out.h5"), "r") as f:
        ctx.check("g/kl_pq" in f and f["g/kl_pq"].shape == (), "out.h5:/g damaged by the later runs")
    # a refused write (group exists) of a k x m run changes nothing
    before = open(ctx.path("out.h5"), "rb").read()
    res = ctx.h5div_run(["compare", "-o", "out.h5:/runs/k", p2] + q2, ranks=3)
    T.check_error(ctx, res, 4, "-o out.h5:/runs/k again without --overwrite (k=3, 2-D)")
    ctx.check(open(ctx.path("out.h5"), "rb").read() == before, "refused write changed out.h5")


# -- 4. table ------------------------------------------------------------------

def _num(ctx, tok, what):
    try:
        return float(tok)
    except ValueError:
        ctx.check(False, f"{what}: {tok!r} is not a number")
        return None


def near(got, want, rtol=1e-15):
    if got is None:
        return False
    if math.isnan(want):
        return math.isnan(got)
    return T.close(got, want, rtol)


def parse_summary_block(ctx, lines, names, arrs, m, base, what, res):
    """A 2-D block: `measure min median max units`, one line per measure, then
    `first rows:`, `row <names>` and min(m, 5) rows. Consumes LINES."""
    ok = ctx.check(lines and lines[0].split() == ["measure", "min", "median", "max", "units"],
                   f"{what}: header {lines[0] if lines else None!r}, want 'measure min median max units'", res)
    if ok:
        lines.pop(0)
    seen = []
    while lines and not lines[0].strip().startswith("first rows:") and not lines[0].startswith("candidate "):
        f = lines.pop(0).split()
        if not ctx.check(len(f) == 5, f"{what}: line {' '.join(f)!r} is not 'name min median max units'", res):
            continue
        name = f[0]
        seen.append(name)
        if not ctx.check(name in arrs, f"{what}: measure {name} not in the JSON", res):
            continue
        a = arrs[name]
        for tok, want, lab in ((f[1], float(np.min(a)), "min"), (f[2], float(np.median(a)), "median"),
                               (f[3], float(np.max(a)), "max")):
            g = _num(ctx, tok, what)
            ctx.check(near(g, want), f"{what}: {name} {lab} {tok}, numpy {lab} of the JSON {want!r}", res)
        ctx.check(f[4] == units(name, base), f"{what}: {name} units {f[4]!r}, want {units(name, base)!r}", res)
    ctx.check(seen == names, f"{what}: measures {seen}, want {names} in this order", res)
    if not ctx.check(lines and lines[0].strip() == "first rows:",
                     f"{what}: no 'first rows:' line after the summary", res):
        return
    lines.pop(0)
    ok = ctx.check(lines and lines[0].split() == ["row"] + names,
                   f"{what}: header {lines[0] if lines else None!r}, want 'row {' '.join(names)}'", res)
    if ok:
        lines.pop(0)
    shown = 0
    while lines and re.match(r"^\s*\d+\s", lines[0]):
        f = lines.pop(0).split()
        i = shown
        shown += 1
        if not ctx.check(len(f) == 1 + len(names) and f[0] == str(i),
                         f"{what}: row line {' '.join(f)!r}, want '{i}' and {len(names)} values", res):
            continue
        for name, tok in zip(names, f[1:]):
            if i < m and name in arrs:
                g = _num(ctx, tok, what)
                ctx.check(near(g, float(arrs[name][i])),
                          f"{what}: row {i} {name} {tok}, JSON {float(arrs[name][i])!r}", res)
    ctx.check(shown == min(m, 5), f"{what}: {shown} rows listed, want {min(m, 5)}", res)


def check_table(ctx, args, json_values, refs_q, twod, m, ranks, base="2", command="compare"):
    """The table of ARGS against the JSON arrays of the same run."""
    what = f"table {command} {' '.join(args)} ({label(ranks)})"
    res = ctx.h5div_run([command] + args, ranks=ranks)
    if not T.check_success(ctx, res, what) or json_values is None:
        return
    lines = [l for l in res.out.splitlines() if l.strip()]
    names = list(json_values)
    k = len(refs_q) if refs_q else 1
    for j in range(k):
        bw = f"{what} block {j}"
        if k > 1:
            want = f"candidate {j}: {refs_q[j]}"
            if ctx.check(lines and lines[0].strip() == want,
                         f"{bw}: line {lines[0] if lines else None!r}, want {want!r}", res):
                lines.pop(0)
        arrs = {name: v[j] if k > 1 else v for name, v in json_values.items()}
        if twod:
            parse_summary_block(ctx, lines, names, arrs, m, base, bw, res)
        else:
            if lines and lines[0].split()[:1] == ["measure"]:
                ctx.check(lines[0].split() == ["measure", "value", "units"],
                          f"{bw}: header {lines[0]!r}, want 'measure value units'", res)
                lines.pop(0)
            seen = []
            while lines and not lines[0].startswith("candidate "):
                f = lines.pop(0).split()
                if not ctx.check(len(f) == 3 and f[0] in arrs, f"{bw}: line {' '.join(f)!r}", res):
                    continue
                seen.append(f[0])
                g = _num(ctx, f[1], bw)
                ctx.check(near(g, float(arrs[f[0]]), 0.0) and f[1] == "%.17g" % g,
                          f"{bw}: {f[0]} {f[1]}, JSON {float(arrs[f[0]])!r} (want %.17g)", res)
                ctx.check(f[2] == units(f[0], base), f"{bw}: {f[0]} units {f[2]!r}", res)
            ctx.check(seen == names, f"{bw}: measures {seen}, want {names}", res)
    ctx.check(not lines, f"{what}: unexpected lines at the end: {lines[:3]}", res)


def case_table(ctx):
    """Tables of 2-D (m = 7 and m = 4 with even-m medians), 2-D k = 3, 1-D
    k = 3 and 2-D entropy against numpy min/median/max of the JSON arrays."""
    rng = np.random.default_rng(91)
    P7 = histograms(rng, (7, 300), "<i4")
    P7[3, :] = 0
    P7[3, 10] = 5  # one point mass row: kl inf in some rows, entropy 0
    p7 = write(ctx, "in.h5", "p7", P7, "chunked", (2, 64))
    q7 = write(ctx, "in.h5", "q7", histograms(rng, (7, 300), "<f8"))
    p4 = write(ctx, "in.h5", "p4", histograms(rng, (4, 50), "<u2"), "deflate", (3, 16))
    q4 = [write(ctx, "in.h5", f"q4_{j}", histograms(rng, (4, 50), "<i4")) for j in range(3)]
    p1 = write(ctx, "in.h5", "p1", histograms(rng, (80,), "<i4"))
    q1 = [write(ctx, "in.h5", f"q1_{j}", histograms(rng, (80,), "<i4")) for j in range(3)]
    ctx.note("checks: table layout of spec 7; min/median/max to 1e-15 of numpy on the JSON arrays; "
             "first rows; candidate lines")
    tables = [  # (args, p, candidates, shape, two-D, m, base, command)
        ([p7, q7], p7, [q7], (7,), True, 7, "2", "compare"),
        (["-b", "e", "--measures", "kl_pq,hellinger," + ",".join(EXTRA), p7, q7], p7, [q7], (7,), True, 7, "e",
         "compare"),
        ([p4] + q4, p4, q4, (3, 4), True, 4, "2", "compare"),
        ([p1] + q1, p1, q1, (3,), False, None, "2", "compare"),
        ([p7], p7, None, (7,), True, 7, "2", "entropy"),
        (["--estimator", "shrink", p4], p4, None, (4,), True, 4, "2", "entropy"),
    ]
    for args, p, qs, shape, twod, m, base, command in tables:
        q = None if qs is None else (qs[0] if len(qs) == 1 else qs)
        obj, vals = run_nd(ctx, command, args, shape=shape, base=base, p=p, q=q)
        for n_ in (None, 3):
            check_table(ctx, args, vals, qs if qs and len(qs) > 1 else None, twod, m, n_, base, command)


# -- 5. errors -----------------------------------------------------------------

def case_errors(ctx):
    """Shape mismatches between P and candidates, 3-D input, an all-zero row
    (named), and the candidate count: exit 3 / 2, one error line, the same
    code on every one of 3 ranks."""
    rng = np.random.default_rng(101)
    ok = write(ctx, "e.h5", "ok", histograms(rng, (4, 25), "<i4"), "chunked", (2, 10))
    ok2 = write(ctx, "e.h5", "ok2", histograms(rng, (4, 25), "<f8"))
    flat = write(ctx, "e.h5", "flat", histograms(rng, (100,), "<i4"))
    row1 = write(ctx, "e.h5", "row1", histograms(rng, (1, 100), "<i4"))
    wide = write(ctx, "e.h5", "wide", histograms(rng, (4, 26), "<i4"))
    tall = write(ctx, "e.h5", "tall", histograms(rng, (5, 25), "<i4"))
    cube = write(ctx, "e.h5", "cube", histograms(rng, (2, 4, 25), "<i4"))
    Z = histograms(rng, (9, 50), "<u2")
    Z[7] = 0
    zrow = write(ctx, "e.h5", "zrow", Z, "chunked", (2, 16))
    zq = write(ctx, "e.h5", "zq", np.where(np.arange(9)[:, None] == 3, 0, histograms(rng, (9, 50), "<i8")))
    okz = write(ctx, "e.h5", "okz", histograms(rng, (9, 50), "<i4"))
    f1 = write(ctx, "e.h5", "f1", histograms(rng, (100,), "<f8"))
    many = [write(ctx, "e.h5", f"c{j}", histograms(rng, (30,), "<i4")) for j in range(65)]
    ctx.note("checks: exit 3 for shape mismatches, 3-D and all-zero rows (row named), exit 2 for 65 "
             "or 0 candidates and bad extra-measure options; one error line; 3 ranks agree")
    cases = [  # (args, code, message regex, also on 3 ranks)
        (["compare", flat, ok], 3, r"flat|ok", True),             # 1-D P, 2-D Q of as many bins
        (["compare", flat, row1], 3, r"flat|row1", False),        # [100] vs [1, 100]
        (["compare", ok, flat], 3, r"ok|flat", True),             # 2-D P, 1-D Q
        (["compare", ok, wide], 3, r"ok|wide", True),             # n differs
        (["compare", ok, tall], 3, r"ok|tall", True),             # m differs
        (["compare", ok, ok2, ok2, tall], 3, r"tall", True),      # the third candidate differs
        (["compare", flat, f1, ok], 3, r"\bok\b", False),         # the second candidate is 2-D
        (["compare", cube, cube], 3, r"cube", True),              # 3-D
        (["compare", ok, cube], 3, r"cube", False),
        (["compare", zrow, okz], 3, r"zrow.*\brow\b\D{0,12}\b7\b|\brow\b\D{0,12}\b7\b.*zrow", True),
        (["compare", okz, okz, zq], 3, r"\brow\b\D{0,12}\b3\b", True),
        (["entropy", zrow], 3, r"\brow\b\D{0,12}\b7\b", True),
        (["entropy", cube], 3, r"cube", False),
        (["compare", many[0]] + many[1:], 0, None, False),        # 64 candidates: fine
        (["compare", flat] + many, 2, r"64|65|candidate", True),  # 65 candidates
        (["compare", flat], 2, None, False),                      # no candidate
        (["compare", "--measures", "renyi_pq:1", flat, f1], 2, r"renyi", False),
        (["compare", "--measures", "renyi_pq:0", flat, f1], 2, r"renyi", False),
        (["compare", "--measures", "renyi_qp:inf", flat, f1], 2, r"renyi", False),
        (["compare", "--measures", "wasserstein1", "--bin-width", "0", flat, f1], 2, r"bin.width", False),
        (["compare", "--measures", "renyi_pq:" + ",renyi_pq:".join(str(a) for a in range(2, 11)), flat, f1],
         2, r"renyi|order", False),
    ]
    for args, code, msg, mpi in cases:
        if code == 0:
            res = ctx.h5div_run(args)
            T.check_success(ctx, res, "64 candidates (the most allowed)")
            continue
        expect_error(ctx, args, code, msg, ranks=(None, 3) if mpi else (None,))


# -- 6. entropy on 2-D input ---------------------------------------------------

def entropy_case(m, n, dtype, layout, chunks, seed):
    """entropy --json (plugin, miller-madow, chao-shen, shrink) on P [m, n]:
    arrays of m values, the same bits on every variant, each row the bits of
    that row run alone as 1-D."""

    def case(ctx):
        rng = np.random.default_rng(seed)
        P = histograms(rng, (m, n), dtype, zero_frac=0.3, zero_rows=slice(None))
        if m >= 3 and n >= 4:
            P[1] = np.where(rng.random(n) < 0.5, 1, 0)  # singletons (chao-shen, shrink)
            P[1, 0] = 1
            P[2] = 0
            P[2, n - 1] = 9  # point mass
        p = write(ctx, "in.h5", "P", P, layout, chunks)
        rows = ref_rows(m)
        refs = row_refs(ctx, P, None, rows)
        ctx.note(f"P [{m}, {n}] {np.dtype(dtype).str} {layout}; estimators plugin, miller-madow, chao-shen, "
                 f"shrink; checks: shape ({m},), bits across {len(VARIANTS)} variants, rows vs 1-D runs")
        for est in ESTIMATORS:
            opt = ["--estimator", est] if est else []
            lab_e = est or "plugin (default)"
            single = {}
            for i in rows:
                single[i] = run_nd(ctx, "entropy", opt + [refs[i][0]], what=f"{lab_e}: row {i} alone",
                                   p=refs[i][0])[1]
            first = None
            for lab, extra, n_ in VARIANTS:
                what = f"entropy {lab_e} 2-D {lab}"
                obj, got = run_nd(ctx, "entropy", extra + opt + [p], ranks=n_, shape=(m,), what=what, p=p)
                if got is None:
                    continue
                want_names = ["entropy", "perplexity", "total_count", "nonzero_bins"]
                if est == "shrink":
                    want_names.append("shrinkage_lambda")
                ctx.check(list(got) == want_names, f"{what}: measures {list(got)}, want {want_names}")
                for i in rows:
                    if single[i] is not None:
                        check_bits(ctx, row_of(got, i), single[i], f"{what}: row {i} vs the row alone")
                if first is None:
                    first = (lab, got)
                    ctx.check(np.array_equal(got.get("total_count", np.zeros(m)), P.sum(axis=1, dtype=np.float64)),
                              f"{what}: total_count {got.get('total_count')} != row sums")
                    ctx.check(np.array_equal(got.get("nonzero_bins", np.zeros(m)), (P != 0).sum(axis=1)),
                              f"{what}: nonzero_bins {got.get('nonzero_bins')} != nonzero counts per row")
                else:
                    check_bits(ctx, got, first[1], f"{what} vs {first[0]}")

    return case


CASES = {
    # 1. 2-D compare, row by row (chunks straddle rows and rank boundaries,
    #    257 bins: one past a 256-bin block, more ranks than rows)
    "rows_i32_chunked_7x1000": rows_case(7, 1000, "<i4", "chunked", (2, 100), 1),
    "rows_f64_contiguous_3x257": rows_case(3, 257, "<f8", "contiguous", None, 2),
    "rows_u16_deflate_300x5": rows_case(300, 5, "<u2", "deflate", (7, 5), 3),
    "rows_f64_chunked_2x1": rows_case(2, 1, "<f8", "chunked", (1, 1), 4),
    "rows_u16be_deflate_24x4099": rows_case(24, 4099, ">u2", "deflate", (3, 1000), 5),
    "rows_i8_contiguous_1x300": rows_case(1, 300, "<i1", "contiguous", None, 6),
    # 2. several candidates
    "cands_1d": cands_case((1000,), 61),
    "cands_2d": cands_case((6, 257), 62),
    "cands_64": case_cands_64,
    # 3. HDF5 layout
    "layout": case_layout,
    # 4. table
    "table": case_table,
    # 5. errors
    "errors": case_errors,
    # 6. entropy on 2-D input
    "entropy_i32_chunked_7x1000": entropy_case(7, 1000, "<i4", "chunked", (2, 100), 111),
    "entropy_u16_deflate_3x300": entropy_case(3, 300, "<u2", "deflate", (2, 64), 112),
    "entropy_i64_contiguous_2x1": entropy_case(2, 1, "<i8", "contiguous", None, 113),
}

if __name__ == "__main__":
    T.main(CASES)
