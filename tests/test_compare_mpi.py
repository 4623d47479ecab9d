#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""`h5div compare` on 1 to 4 ranks against independent oracles (mpmath at 40
digits from the raw counts, scipy in float64), and bit-for-bit agreement of
the results across rank counts, read piece sizes, memory bounds and MPI-IO
components."""

import h5py
import numpy as np

import h5div_testlib as T

RANKS = [1, 2, 3, 4]
MP_MAX_BINS = 20000  # up to this many bins the mpmath oracle is cheap enough
ROMIO = [("io", "romio321")]


def make(ctx, name, *opts):
    """Generate NAME.h5 with the default datasets; return the two references."""
    f = ctx.gen(ctx.path(name + ".h5"), *opts)
    return f + ":/reference", f + ":/generated"


def oracles(p_ref, q_ref, base="2", alpha=0.0, use_scipy=True):
    """[(label, oracle values)] for the data of two references."""
    P, Q = T.read_raw(p_ref), T.read_raw(q_ref)
    out = []
    if P.size <= MP_MAX_BINS or not use_scipy:
        out.append(("mpmath", T.oracle_mp(T.exact_values(P), T.exact_values(Q), base, alpha)))
    if use_scipy:
        out.append(("scipy", T.oracle_scipy(P, Q, base, alpha)))
    return out


def run_checked(ctx, refs, want, extra=(), ranks=None, mca=(), base="2", label=None):
    """Run compare --json, check it against every oracle, return the values."""
    p, q = refs
    where = label or f"{'plain' if ranks is None else f'-n {ranks}'}{' ' + ' '.join(extra) if extra else ''}"
    if mca:
        where += " --mca " + " ".join(f"{k} {v}" for k, v in mca)
    got = T.run_json(ctx, list(extra) + [p, q], ranks=ranks, mca=mca, what=where, base=base, p=p, q=q)
    if got is None:
        return None
    for name, values in want:
        T.check_against(ctx, got, values, f"{where} vs {name}")
    return got


def oracle_case(gen_opts, romio=False, near=False, ranks=RANKS):
    """Each rank count in RANKS (None: plain, without mpiexec) against the
    oracles and bit for bit against each other; with ROMIO every run is
    repeated with Open MPI's ROMIO component instead of OMPIO."""

    def case(ctx):
        refs = make(ctx, "in", *gen_opts)
        want = oracles(*refs, use_scipy=not near)
        results = {}
        for n in ranks:
            results[f"-n {n}"] = run_checked(ctx, refs, want, ranks=n)
            if romio and n is not None:
                results[f"-n {n} romio321"] = run_checked(ctx, refs, want, ranks=n, mca=ROMIO)
        first_label, first = next(iter(results.items()))
        for label, got in results.items():
            if first is not None and got is not None and got is not first:
                T.check_same_bits(ctx, got, first, f"{label} vs {first_label}")

    return case


# Extra dtypes and sizes: plain and one rank count, to keep the suite short.
FEW = [None, 3]


# dtype x layout x size; chunk 100 makes chunks straddle rank boundaries,
# 1 and 3 bins put more ranks than bins.
ORACLE_CASES = {
    "oracle_i8_contiguous_1000": oracle_case(
        ["--dtype", "i8", "--layout", "contiguous", "--bins", 1000, "--kind", "random", "--seed", 1]),
    "oracle_u16_chunked_1000_zipf": oracle_case(
        ["--dtype", "u16", "--layout", "chunked", "--chunk", 100, "--bins", 1000, "--kind", "zipf",
         "--seed", 2]),
    "oracle_i32be_deflate_100003": oracle_case(
        ["--dtype", "i32be", "--layout", "deflate", "--chunk", 100, "--bins", 100003, "--kind", "random",
         "--seed", 3], romio=True),
    "oracle_i64_contiguous_3": oracle_case(
        ["--dtype", "i64", "--layout", "contiguous", "--bins", 3, "--kind", "random", "--seed", 4],
        romio=True),
    "oracle_u64_contiguous_1": oracle_case(
        ["--dtype", "u64", "--layout", "contiguous", "--bins", 1, "--kind", "random", "--seed", 5]),
    # sums of these overflow 64-bit integers
    "oracle_u64_chunked_1000_large": oracle_case(
        ["--dtype", "u64", "--layout", "chunked", "--chunk", 100, "--bins", 1000, "--kind", "random",
         "--scale", "1e18", "--seed", 6], ranks=FEW),
    "oracle_f32_chunked_100003_zipf": oracle_case(
        ["--dtype", "f32", "--layout", "chunked", "--chunk", 100, "--bins", 100003, "--kind", "zipf",
         "--seed", 7]),
    "oracle_f64be_deflate_1000_zeros": oracle_case(
        ["--dtype", "f64be", "--layout", "deflate", "--chunk", 100, "--bins", 1000, "--kind", "random",
         "--zero-frac", 0.3, "--seed", 8], romio=True),
    "oracle_f64_contiguous_100003": oracle_case(
        ["--dtype", "f64", "--layout", "contiguous", "--bins", 100003, "--kind", "random", "--seed", 9],
        ranks=FEW),
    "oracle_u8_chunked_3": oracle_case(
        ["--dtype", "u8", "--layout", "chunked", "--chunk", 2, "--bins", 3, "--kind", "random", "--seed", 10],
        ranks=[None, 4]),
    # one bin past a 256-bin block
    "oracle_i16le_deflate_257": oracle_case(
        ["--dtype", "i16le", "--layout", "deflate", "--chunk", 100, "--bins", 257, "--kind", "random",
         "--seed", 11], ranks=[None, 2, 3]),
    "oracle_u32be_contiguous_1000_zipf": oracle_case(
        ["--dtype", "u32be", "--layout", "contiguous", "--bins", 1000, "--kind", "zipf", "--seed", 12],
        ranks=FEW),
    # p close to q: scipy's float64 formulas lose digits here (KL, JS and
    # Hellinger cancel), so mpmath from the raw counts is the only oracle.
    "oracle_near_f64_1000": oracle_case(
        ["--dtype", "f64", "--layout", "chunked", "--chunk", 100, "--bins", 1000, "--kind", "near",
         "--eps", "1e-6", "--seed", 13], near=True),
    "oracle_near_i64_4099": oracle_case(
        ["--dtype", "i64", "--layout", "contiguous", "--bins", 4099, "--kind", "near", "--eps", "1e-7",
         "--scale", "1e15", "--seed", 14], near=True),
}


def case_identical(ctx):
    """Identical inputs: every divergence exactly +0.0 on every rank count."""
    for dtype in ("f64", "u32"):
        p, q = make(ctx, f"id_{dtype}", "--dtype", dtype, "--layout", "chunked", "--chunk", 100,
                    "--bins", 1000, "--kind", "identical", "--seed", 20)
        P, Q = T.read_raw(p), T.read_raw(q)
        ctx.check(np.array_equal(P, Q), f"generator --kind identical gave different data ({dtype})")
        want = T.oracle_mp(T.exact_values(P), T.exact_values(Q))
        # two equal datasets on every rank count, one dataset against itself,
        # and the other bases
        runs = [(p, q, n, "2") for n in ([None] + RANKS if dtype == "f64" else [None, 3])]
        runs += [(p, p, n, "2") for n in (None, 3)] if dtype == "f64" else []
        runs += [(p, q, 3, b) for b in ("e", "10")] if dtype == "f64" else []
        for pp, qq, n, base in runs:
            what = f"identical {dtype} {pp} vs {qq} -n {n} -b {base}"
            got = T.run_json(ctx, ["-b", base, pp, qq], ranks=n, what=what, base=base, p=pp, q=qq)
            if got is None:
                continue
            for name in T.DIVERGENCES:
                ctx.check(T.same_bits(got.get(name, float("nan")), 0.0),
                          f"{what}: {name} = {got.get(name)!r}, want exactly 0.0")
            ctx.check(T.same_bits(got["entropy_p"], got["entropy_q"]),
                      f"{what}: entropy_p {got['entropy_p']!r} != entropy_q {got['entropy_q']!r}")
            if base == "2":
                T.check_against(ctx, got, want, what + " vs mpmath")


def case_scaled(ctx):
    """Q = 2 P is the same distribution: divergences are 0 (scaling by 2 is
    exact in binary, so nothing should be left over), never negative or NaN."""
    f = ctx.path("scaled.h5")
    P = np.random.default_rng(21).integers(0, 1000, 1000).astype(np.float64)
    with h5py.File(f, "w") as h:
        h["P"] = P
        h["Q"] = 2 * P
    for n in [None, 3]:
        got = T.run_json(ctx, [f + ":/P", f + ":/Q"], ranks=n, what=f"P vs 2P -n {n}")
        if got is None:
            continue
        for name in T.DIVERGENCES:
            v = got[name]
            ctx.check(v == v and 0.0 <= v <= 1e-15 and (v > 0 or T.same_bits(v, 0.0)),
                      f"P vs 2P -n {n}: {name} = {v!r}, want 0 (at most 1e-15, never negative)")


def case_disjoint(ctx):
    """Disjoint supports: KL and cross entropies inf, JS = 1 bit exactly,
    TV = hellinger = 1."""
    p, q = make(ctx, "disjoint", "--dtype", "i32", "--layout", "chunked", "--chunk", 100,
                "--bins", 1000, "--kind", "disjoint", "--seed", 22)
    P, Q = T.read_raw(p), T.read_raw(q)
    ctx.check(not np.any((P > 0) & (Q > 0)), "generator --kind disjoint gave overlapping supports")
    for base in ("2", "e", "10"):
        want = T.oracle_mp(T.exact_values(P), T.exact_values(Q), base)
        for n in ([None] + RANKS if base == "2" else [3]):
            what = f"disjoint -n {n} -b {base}"
            got = T.run_json(ctx, ["-b", base, p, q], ranks=n, what=what, base=base, p=p, q=q)
            if got is None:
                continue
            T.check_against(ctx, got, want, what + " vs mpmath")
            for name in ("kl_pq", "kl_qp", "cross_entropy_pq", "cross_entropy_qp"):
                ctx.check(got[name] == float("inf"), f"{what}: {name} = {got[name]!r}, want inf")
            for name in ("total_variation", "hellinger"):
                ctx.check(abs(got[name] - 1.0) <= 1e-12 and got[name] <= 1.0,
                          f"{what}: {name} = {got[name]!r}, want 1 (and never above 1)")
            if base == "2":
                for name in ("js_divergence", "js_distance"):
                    ctx.check(got[name] == 1.0, f"{what}: {name} = {got[name]!r}, want exactly 1.0")


def case_bases(ctx):
    """Base e and 10 against the oracle, and the same numbers as base 2
    scaled by ln 2 / log10 2."""
    refs = make(ctx, "bases", "--dtype", "i32", "--layout", "chunked", "--chunk", 100, "--bins", 1000,
                "--kind", "random", "--seed", 23)
    for n in (None, 3):
        ref2 = None
        for base in ("2", "e", "10"):
            want = oracles(*refs, base=base)
            got = run_checked(ctx, refs, want, extra=["-b", base], ranks=n, base=base)
            if got is None:
                continue
            if base == "2":
                ref2 = got
            elif ref2 is not None:
                f = {"e": np.log(2.0), "10": np.log10(2.0)}[base]
                for name in T.COMPARE_MEASURES:
                    if name in ("total_variation", "hellinger"):
                        ok = T.same_bits(got[name], ref2[name])
                        ctx.check(ok, f"-b {base} -n {n}: unitless {name} {got[name]!r} != base 2 {ref2[name]!r}")
                    elif name == "js_distance":
                        ok = T.close(got[name] ** 2, ref2[name] ** 2 * f, 1e-12)
                        ctx.check(ok, f"-b {base} -n {n}: js_distance^2 not base-2 value times log_b 2")
                    else:
                        ok = T.close(got[name], ref2[name] * f, 1e-12)
                        ctx.check(ok, f"-b {base} -n {n}: {name} {got[name]!r} != base-2 value times log_b 2")


def case_pseudocount(ctx):
    """--pseudocount 0.5 on histograms with empty bins; 0 is the default."""
    refs = make(ctx, "zeros", "--dtype", "u16", "--layout", "chunked", "--chunk", 100, "--bins", 1000,
                "--kind", "random", "--zero-frac", 0.5, "--seed", 24)
    P, Q = T.read_raw(refs[0]), T.read_raw(refs[1])
    ctx.check(np.any((P > 0) & (Q == 0)), "test input has no bin with p > 0 = q (want kl_pq = inf without pseudocount)")
    for n in (None, 1, 3, 4):
        want = oracles(*refs, alpha=0.5)
        got = run_checked(ctx, refs, want, extra=["--pseudocount", "0.5"], ranks=n)
        if got is not None:
            ctx.check(all(v == v and v != float("inf") for v in got.values()),
                      f"--pseudocount 0.5 -n {n}: some measure is not finite: {got}")
        if n in (None, 3):
            plain = run_checked(ctx, refs, oracles(*refs), ranks=n)
            zero = run_checked(ctx, refs, oracles(*refs), extra=["--pseudocount", "0"], ranks=n)
            if plain is not None and zero is not None:
                T.check_same_bits(ctx, zero, plain, f"--pseudocount 0 vs default -n {n}")
    # Integer-valued pseudocount on float data too.
    refs = make(ctx, "zerosf", "--dtype", "f32", "--bins", 300, "--kind", "random", "--zero-frac", 0.3, "--seed", 25)
    run_checked(ctx, refs, oracles(*refs, alpha=2.0), extra=["--pseudocount", "2"], ranks=2)


def case_measures_subset(ctx):
    """--measures gives exactly the named keys, with the full run's bits."""
    refs = make(ctx, "subset", "--dtype", "f64", "--layout", "chunked", "--chunk", 100, "--bins", 1000,
                "--kind", "random", "--seed", 26)
    for n in (None, 3):
        full = T.run_json(ctx, list(refs), ranks=n, what=f"full -n {n}")
        subsets = [["kl_pq"], ["hellinger", "kl_qp", "js_distance"], list(T.COMPARE_MEASURES)]
        for subset in (subsets if n is None else subsets[1:2]):
            what = f"--measures {','.join(subset)} -n {n}"
            got = T.run_json(ctx, ["--measures", ",".join(subset)] + list(refs), ranks=n, what=what)
            if got is None or full is None:
                continue
            ctx.check(set(got) == set(subset), f"{what}: keys {sorted(got)}, want {sorted(subset)}")
            T.check_same_bits(ctx, got, {k: full[k] for k in subset}, what + " vs full run")
        # the table shows the same subset
        res = ctx.h5div_run(["compare", "--measures", "total_variation,entropy_q"] + list(refs), ranks=n)
        if T.check_success(ctx, res, f"table --measures -n {n}"):
            rows = T.parse_table_output(ctx, res, f"table --measures -n {n}")
            if rows is not None:
                ctx.check(set(rows) == {"total_variation", "entropy_q"},
                          f"table --measures -n {n}: rows {sorted(rows)}", res)


def bitwise_case(gen_opts, full=True):
    """Same bits whatever the rank count, read piece size, memory bound,
    collective or independent I/O, or MPI-IO component (FULL: every
    combination, else a few)."""

    def case(ctx):
        refs = make(ctx, "in", *gen_opts)
        want = oracles(*refs)
        variants = [("plain", [], None, ())]
        variants += [(f"-n {n}", [], n, ()) for n in RANKS]
        for n in (1, 4):
            variants.append((f"-n {n} --piece-size 4096", ["--piece-size", "4096"], n, ()))
            variants.append((f"-n {n} --memory-per-rank 1KiB", ["--memory-per-rank", "1KiB"], n, ()))
        variants.append(("-n 2 --piece-size 4096 --memory-per-rank 1KiB",
                         ["--piece-size", "4096", "--memory-per-rank", "1KiB"], 2, ()))
        variants.append(("-n 3 --independent-io", ["--independent-io"], 3, ()))
        variants.append(("-n 3 romio321", [], 3, ROMIO))
        variants.append(("-n 2 romio321 --independent-io --piece-size 4096",
                         ["--independent-io", "--piece-size", "4096"], 2, ROMIO))
        if not full:
            keep = ("plain", "-n 2", "-n 4 --piece-size 4096", "-n 4 --memory-per-rank 1KiB",
                    "-n 3 --independent-io", "-n 3 romio321")
            variants = [v for v in variants if v[0] in keep]
        first = None
        for label, extra, n, mca in variants:
            got = run_checked(ctx, refs, want, extra=extra, ranks=n, mca=mca, label=label)
            if got is None:
                continue
            if first is None:
                first = (label, got)
            else:
                T.check_same_bits(ctx, got, first[1], f"{label} vs {first[0]}")

    return case


CASES = dict(ORACLE_CASES)
CASES.update({
    "identical": case_identical,
    "scaled": case_scaled,
    "disjoint": case_disjoint,
    "bases": case_bases,
    "pseudocount": case_pseudocount,
    "measures_subset": case_measures_subset,
    "bitwise_f64_zipf_100003": bitwise_case(
        ["--dtype", "f64", "--layout", "deflate", "--chunk", 100, "--bins", 100003, "--kind", "zipf",
         "--seed", 30]),
    "bitwise_u16_chunked_4099": bitwise_case(
        ["--dtype", "u16be", "--layout", "chunked", "--chunk", 100, "--bins", 4099, "--kind", "random",
         "--zero-frac", 0.1, "--seed", 31], full=False),
})

if __name__ == "__main__":
    T.main(CASES)
