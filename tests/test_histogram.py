# SPDX-License-Identifier: BSD-3-Clause
"""h5div histogram: samples to histograms with shared edges.

Oracles: numpy.histogram with the edges h5div stored (the numpy rule: bin i
holds e[i] <= x < e[i+1], the last bin closed), numpy.histogram_bin_edges /
numpy.linspace for the uniform edges, numpy.quantile(method="inverted_cdf")
for quantile edges, math.fsum (correctly rounded) for the weight sums,
closed forms for the edge cases, scipy.stats.wasserstein_distance for
compare's W1 on the bin centres. Every case takes a few seconds (the whole
label well under a minute on 2 cores)."""

import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import h5div_testlib as T  # noqa: E402
import h5py  # noqa: E402
import numpy as np  # noqa: E402


def write(ctx, name, arrays, chunks=None, compression=None):
    path = ctx.path(name)
    with h5py.File(path, "a") as f:
        for key, a in arrays.items():
            kw = {}
            if chunks:
                kw["chunks"] = tuple(min(c, s) for c, s in zip(chunks, a.shape)) if a.ndim else None
            if compression:
                kw["compression"] = compression
            f.create_dataset(key, data=a, **kw)
    return path


def hist(ctx, args, ranks=None, what=None):
    res = ctx.h5div_run(["histogram"] + [str(a) for a in args], ranks=ranks, timeout=60)
    T.check_success(ctx, res, what or " ".join(map(str, args)))
    return res


def read_group(path, group="/h5div"):
    out = {}
    with h5py.File(path, "r") as f:
        g = f[group]
        for k in g:
            out[k] = g[k][()]
            out[k + "@attrs"] = {a: g[k].attrs[a] for a in g[k].attrs
                                 if a not in ("DIMENSION_LIST", "REFERENCE_LIST", "CLASS", "NAME")}
        out["@group"] = {a: g.attrs[a] for a in g.attrs}
    return out


def cols(x):
    return [x] if x.ndim == 1 else [x[:, f] for f in range(x.shape[1])]


def check_counts(ctx, got, x, edges, what, outside_bins=False):
    """Counts per feature against numpy.histogram with the stored edges."""
    feats = cols(np.asarray(x, dtype=np.float64))
    erows = [edges] if edges.ndim == 1 else list(edges)
    grows = [got] if got.ndim == 1 else list(got)
    ctx.check(len(grows) == len(feats), f"{what}: {len(grows)} rows for {len(feats)} features")
    for f, (g, xf) in enumerate(zip(grows, feats)):
        e = erows[0] if len(erows) == 1 else erows[f]
        xf = xf[~np.isnan(xf)]
        if outside_bins:
            xf = np.clip(xf, e[0], e[-1])
        want, _ = np.histogram(xf, bins=e)
        ctx.check(np.array_equal(g.astype(np.int64), want),
                  f"{what}: feature {f} counts {g.tolist()[:12]} != numpy {want.tolist()[:12]}")


def as_list(v):
    return np.atleast_1d(np.asarray(v)).tolist()


# -- cases -----------------------------------------------------------------

def case_uniform(ctx):
    """--bins K over the global range of every input, and over --range, for
    several types and layouts; two inputs of different N."""
    rng = np.random.default_rng(11)
    for dtype, shape2, chunks, comp in [
        ("f4", (20011,), (4096,), None),
        ("i2", (9000, 3), (1000, 3), "gzip"),
        (">f8", (7001, 2), None, None),
        ("u1", (5000,), (777,), "gzip"),
        ("i8", (3000, 4), None, None),
    ]:
        n2 = (shape2[0] // 2 + 3,) + shape2[1:]
        if np.dtype(dtype).kind == "f":
            a = (rng.normal(size=shape2) * 3).astype(dtype)
            b = (rng.normal(size=n2) * 2 + 1).astype(dtype)
        else:
            info = np.iinfo(dtype)
            lo, hi = max(info.min, -300), min(info.max, 300)
            a = rng.integers(lo, hi, size=shape2).astype(dtype)
            b = rng.integers(lo // 2, hi, size=n2).astype(dtype)
        name = f"u_{dtype.strip('<>')}.h5"
        src = write(ctx, name, {"a": a, "b": b}, chunks=chunks and (chunks + (4,))[:len(shape2)],
                    compression=comp)
        for k in (1, 7, 50):
            out = ctx.path(f"out_{name}")
            hist(ctx, ["--bins", k, f"{src}:/a", f"{src}:/b", "-o", out, "--overwrite"])
            g = read_group(out)
            e = g["edges"]
            af, bf = cols(a.astype(np.float64)), cols(b.astype(np.float64))
            erows = [e] if e.ndim == 1 else list(e)
            ctx.check(e.shape == ((k + 1,) if a.ndim == 1 else (a.shape[1], k + 1)),
                      f"{name} K={k}: edges shape {e.shape}")
            for f in range(len(af)):
                lo = min(af[f].min(), bf[f].min())
                hi = max(af[f].max(), bf[f].max())
                want = np.histogram_bin_edges(np.array([lo, hi]), bins=k)
                ctx.check(np.array_equal(erows[f], want),
                          f"{name} K={k} feature {f}: edges differ from numpy.histogram_bin_edges")
            check_counts(ctx, g["a"], a, e, f"{name} K={k} a")
            check_counts(ctx, g["b"], b, e, f"{name} K={k} b")
            ctx.check(g["a"].dtype == np.uint64, f"{name}: counts are {g['a'].dtype}, want uint64")
        # --range: shared edges numpy.linspace(lo, hi, K + 1); outside counted
        out = ctx.path(f"outr_{name}")
        hist(ctx, ["--bins", 9, "--range", "-2.5:3", f"{src}:/a", "-o", out])
        g = read_group(out)
        ctx.check(np.array_equal(g["edges"], np.linspace(-2.5, 3, 10)),
                  f"{name}: --range edges differ from numpy.linspace")
        check_counts(ctx, g["a"], a, g["edges"], f"{name} --range")
        for f, xf in enumerate(cols(a.astype(np.float64))):
            under = as_list(g["a@attrs"]["underflow"])[f]
            over = as_list(g["a@attrs"]["overflow"])[f]
            ctx.check(under == int((xf < -2.5).sum()) and over == int((xf > 3).sum()),
                      f"{name}: underflow/overflow {under}/{over} of feature {f}")


def case_edge_cases(ctx):
    """Closed forms: values on every edge, the last edge, -0 and +0,
    subnormals, infinities, out of range, all samples equal, N = 1."""
    tiny = np.nextafter(0, 1)
    e = np.array([-1.0, 0.0, 0.5, 2.0])
    x = np.array([-1.0, 0.0, -0.0, 0.5, 2.0, tiny, -tiny, np.nextafter(2.0, 3), np.inf,
                  -np.inf, np.nextafter(0.5, 0), 1.9999999999999998, np.nextafter(-1.0, -2)])
    # bins: [-1,0): -1, -tiny, -> 2 ; [0,.5): 0, -0, tiny, nextafter(.5,0) -> 4 ;
    # [.5,2]: .5, 2, 1.99.. -> 3 ; below: -inf, nextafter(-1,-2) -> 2 ; above: nextafter(2,3), inf -> 2
    src = write(ctx, "edge.h5", {"x": x, "e": e, "one": np.array([3.25]),
                                 "same": np.full(17, -7.5, dtype="f4")})
    out = ctx.path("edge_out.h5")
    hist(ctx, ["--edges", f"{src}:/e", f"{src}:/x", "-o", out])
    g = read_group(out)
    ctx.check(g["x"].tolist() == [2, 4, 3], f"edge values: counts {g['x'].tolist()}, want [2, 4, 3]")
    ctx.check(int(g["x@attrs"]["underflow"]) == 2 and int(g["x@attrs"]["overflow"]) == 2,
              f"edge values: underflow {g['x@attrs']['underflow']} overflow {g['x@attrs']['overflow']}, want 2 2")
    ctx.check(np.array_equal(g["edges"], e), "edge values: stored edges differ from the file's")
    hist(ctx, ["--edges", f"{src}:/e", "--outside", "bins", f"{src}:/x", "-o", out, "--overwrite"])
    g = read_group(out)
    ctx.check(g["x"].tolist() == [4, 4, 5], f"--outside bins: counts {g['x'].tolist()}, want [4, 4, 5]")
    # uniform bins: the numpy rule on linspace edges, values exactly on them
    k = 10
    lin = np.linspace(0.0, 0.3, k + 1)
    on = np.concatenate([lin, np.nextafter(lin, -1), np.nextafter(lin, 1)])
    src2 = write(ctx, "on.h5", {"x": on})
    hist(ctx, ["--bins", k, "--range", "0:0.3", f"{src2}:/x", "-o", out, "--overwrite"])
    g = read_group(out)
    check_counts(ctx, g["x"], on, lin, "values on uniform edges")
    ctx.check(np.array_equal(g["edges"], lin), "uniform edges differ from numpy.linspace(0, 0.3, 11)")
    # all samples equal: numpy widens the range to (v - 0.5, v + 0.5)
    hist(ctx, ["--bins", 4, f"{src}:/same", "-o", out, "--overwrite"])
    g = read_group(out)
    ctx.check(np.array_equal(g["edges"], np.histogram_bin_edges(np.full(3, -7.5), 4)),
              f"all equal: edges {g['edges'].tolist()}")
    ctx.check(g["same"].tolist() == [0, 0, 17, 0], f"all equal: counts {g['same'].tolist()}")
    # N = 1
    hist(ctx, ["--bins", 3, f"{src}:/one", "-o", out, "--overwrite"])
    g = read_group(out)
    ctx.check(g["one"].tolist() == [0, 1, 0] and int(g["one@attrs"]["n_samples"]) == 1,
              f"N = 1: counts {g['one'].tolist()}")
    hist(ctx, ["--quantile-bins", 4, f"{src}:/one", "-o", out, "--overwrite"])
    g = read_group(out)
    ctx.check(g["edges"].tolist() == [3.25, 3.25] and g["one"].tolist() == [1],
              f"N = 1 quantile: edges {g['edges'].tolist()} counts {g['one'].tolist()}")
    # --nan skip counts; infinities go out of range; the range ignores them
    y = np.array([1.0, np.nan, 2.0, np.inf, 3.0, np.nan])
    src3 = write(ctx, "nan.h5", {"y": y})
    hist(ctx, ["--bins", 2, "--nan", "skip", f"{src3}:/y", "-o", out, "--overwrite"])
    g = read_group(out)
    ctx.check(g["y"].tolist() == [1, 2] and int(g["y@attrs"]["nan"]) == 2 and
              int(g["y@attrs"]["overflow"]) == 1 and g["edges"].tolist() == [1.0, 2.0, 3.0],
              f"nan skip: counts {g['y'].tolist()} attrs {g['y@attrs']} edges {g['edges'].tolist()}")


def case_log(ctx):
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.lognormal(0, 2, size=20000), [0.0, -1.0, -0.0]]).astype("f4")
    src = write(ctx, "log.h5", {"x": x})
    out = ctx.path("log_out.h5")
    hist(ctx, ["--bins", 40, "--log", "--range", "1e-3:1e3", f"{src}:/x", "-o", out])
    g = read_group(out)
    e = g["edges"]
    ctx.check(e[0] == 1e-3 and e[-1] == 1e3 and np.allclose(e, np.geomspace(1e-3, 1e3, 41), rtol=1e-13),
              "log edges differ from numpy.geomspace")
    check_counts(ctx, g["x"], x, e, "log bins")
    xd = x.astype(np.float64)
    ctx.check(int(g["x@attrs"]["underflow"]) == int((xd < 1e-3).sum()), "log: underflow")
    hist(ctx, ["--bins", 30, "--log", f"{src}:/x", "-o", out, "--overwrite"])
    g = read_group(out)
    pos = xd[xd > 0]
    ctx.check(g["edges"][0] == pos.min() and g["edges"][-1] == pos.max(),
              "log from data: edges span the positive min and max")
    check_counts(ctx, g["x"], x, g["edges"], "log from data")
    ctx.check(int(g["x@attrs"]["underflow"]) == 3, "log from data: 0, -0 and -1 are below the range")
    ctx.check(g["@group"]["edge_mode"] == "log", "edge_mode log")


def case_edges_file(ctx):
    rng = np.random.default_rng(8)
    x = rng.normal(size=(6000, 3))
    e1 = np.array([-3.0, -1.0, -0.2, 0.0, 0.1, 1.5, 4.0])
    e2 = np.sort(rng.normal(size=(3, 9)), axis=1)
    src = write(ctx, "ef.h5", {"x": x, "e1": e1, "e2": e2, "c": x[:100] * 2})
    out = ctx.path("ef_out.h5")
    for ename, e in (("e1", e1), ("e2", e2)):
        hist(ctx, ["--edges", f"{src}:/{ename}", f"{src}:/x", f"cand={src}:/c", "-o", out, "--overwrite"])
        g = read_group(out)
        ctx.check(np.array_equal(g["edges"], e), f"{ename}: stored edges differ")
        check_counts(ctx, g["x"], x, e, f"edges {ename} x")
        check_counts(ctx, g["cand"], x[:100] * 2, e, f"edges {ename} cand")
        if ename == "e2":  # numpy.histogramdd of one column with that row's edges
            for f in range(3):
                hd, _ = np.histogramdd(x[:, f:f + 1], bins=[e2[f]])
                ctx.check(np.array_equal(g["x"][f], hd.astype(np.int64)), f"histogramdd feature {f}")
        ctx.check(g["@group"]["edge_mode"] == "file", "edge_mode file")


def case_quantile(ctx):
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.normal(size=30000), np.full(8000, 0.25), rng.integers(0, 3, 2000) * 1.0,
                        [-0.0, 0.0, np.nextafter(0, 1)]])
    rng.shuffle(x)
    y = rng.normal(0.3, 1.1, size=12345)
    xs = rng.standard_t(3, size=(9000, 3)).astype("f4")
    src = write(ctx, "q.h5", {"x": x, "y": y, "xs": xs, "ys": xs[:500] + 1}, chunks=(1000, 3))
    out = ctx.path("q_out.h5")
    for k in (1, 2, 10, 37):
        res = hist(ctx, ["--quantile-bins", k, f"{src}:/x", f"{src}:/y", "-o", out, "--overwrite"],
                   ranks=2)
        g = read_group(out)
        want = np.quantile(x, np.arange(k + 1) / k, method="inverted_cdf")
        merged = np.unique(want)
        if len(merged) == 1:
            merged = np.array([merged[0], merged[0]])
        ctx.check(np.array_equal(g["edges"], merged),
                  f"K={k}: edges {g['edges'].tolist()} != numpy.quantile {merged.tolist()}")
        if len(np.unique(want)) < len(want):
            ctx.check("tied quantile edges merged" in res.err, f"K={k}: merge said on stderr", res)
        check_counts(ctx, g["x"], x, g["edges"], f"quantile K={k} x")
        check_counts(ctx, g["y"], y, g["edges"], f"quantile K={k} y")
    # per feature, 2-D, float32
    hist(ctx, ["--quantile-bins", 16, f"{src}:/xs", f"{src}:/ys", "-o", out, "--overwrite"], ranks=3)
    g = read_group(out)
    for f in range(3):
        want = np.quantile(xs[:, f], np.arange(17) / 16, method="inverted_cdf").astype(np.float64)
        ctx.check(np.array_equal(g["edges"][f], want), f"2-D quantile feature {f}: edges differ")
    check_counts(ctx, g["xs"], xs, g["edges"], "2-D quantile xs")
    check_counts(ctx, g["ys"], xs[:500] + 1, g["edges"], "2-D quantile ys")
    ctx.check(g["@group"]["edge_mode"] == "quantile", "edge_mode quantile")


def case_weights(ctx):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(5000, 2))
    w = rng.normal(size=5000) * 10.0 ** rng.integers(-8, 9, size=5000)
    y = rng.normal(size=(3000, 2))
    v = rng.random(3000)
    src = write(ctx, "w.h5", {"x": x, "w": w, "y": y, "v": v})
    out = ctx.path("w_out.h5")
    outs = []
    for ranks in (1, 2, 4):
        o = ctx.path(f"w_out{ranks}.h5")
        hist(ctx, ["--bins", 12, "--range", "-2:2", "--outside", "bins", f"{src}:/x", f"{src}:/y",
                   "--weights", f"{src}:/w", "--weights", f"{src}:/v", "-o", o], ranks=ranks)
        outs.append(read_group(o))
    g = outs[0]
    e = g["edges"]
    for name, xx, ww in (("x", x, w), ("y", y, v)):
        ctx.check(g[name].dtype == np.float64, f"weights: {name} is {g[name].dtype}")
        for f in range(2):
            xf = np.clip(xx[:, f], e[0], e[-1])
            idx = np.searchsorted(e, xf, side="right") - 1
            idx[xf == e[-1]] = len(e) - 2
            for b in range(len(e) - 1):
                sel = ww[idx == b]
                s, s2 = math.fsum(sel), math.fsum(sel * sel)
                if not (g[name][f, b] == s and g[f"{name}_sumw2"][f, b] == s2):
                    ctx.check(False, f"weights {name} feature {f} bin {b}: {g[name][f, b]!r} "
                                     f"{g[name + '_sumw2'][f, b]!r} != fsum {s!r} {s2!r}")
            hw, _ = np.histogram(xf, bins=e, weights=ww)
            ctx.check(np.allclose(g[name][f], hw, rtol=1e-9, atol=1e-6 * np.abs(ww).max()),
                      f"weights {name} feature {f}: far from numpy.histogram(weights=)")
    for o in outs[1:]:
        for key in ("x", "y", "x_sumw2", "y_sumw2", "edges"):
            ctx.check(g[key].tobytes() == o[key].tobytes(), f"weights: {key} bits differ across ranks")


def case_ranks_bits(ctx):
    """The same bytes at 1-4 ranks, with pieces of a few rows and a memory
    bound far below the data, for every edge mode."""
    rng = np.random.default_rng(9)
    a = rng.gamma(2.0, size=(20000, 3)).astype("f4")
    b = rng.gamma(2.2, size=(13001, 3))
    one = rng.normal(size=50001)
    src = write(ctx, "rb.h5", {"a": a, "b": b, "one": one, "e": np.linspace(0, 8, 33)},
                chunks=(1024, 3))
    modes = [["--bins", 25], ["--bins", 16, "--log"], ["--edges", f"{src}:/e"],
             ["--quantile-bins", 20]]
    for m in modes:
        for inputs in ([f"{src}:/a", f"{src}:/b"], [f"{src}:/one"]):
            ref = None
            for ranks, mem in ((1, None), (2, "4KiB"), (3, None), (4, "1KiB")):
                o = ctx.path(f"rb_{ranks}.h5")
                args = m + inputs + ["-o", o, "--overwrite"] + (["--memory-per-rank", mem] if mem else [])
                hist(ctx, args, ranks=ranks)
                g = read_group(o)
                blob = {k: (v.tobytes() if isinstance(v, np.ndarray) else v) for k, v in g.items()
                        if not k.startswith("@")}
                if ref is None:
                    ref = blob
                    check_counts(ctx, g[inputs[0].split("/")[-1]],
                                 {"a": a, "one": one}[inputs[0].split("/")[-1]], g["edges"],
                                 f"{m} {inputs}")
                else:
                    for k in ref:
                        if "@attrs" in k:
                            same = str(ref[k]) == str(blob[k])
                        else:
                            same = ref[k] == blob[k]
                        ctx.check(same, f"{' '.join(map(str, m))} {inputs}: {k} differs at {ranks} ranks"
                                        f" (memory {mem})")


def case_layout(ctx):
    rng = np.random.default_rng(1)
    src = write(ctx, "lay.h5", {"s/ref": rng.normal(size=(400, 2)), "t/ref": rng.normal(size=(300, 2)),
                                "x1": rng.normal(size=100)})
    out = ctx.path("lay_out.h5")
    res = hist(ctx, ["--bins", 5, f"{src}:/s/ref", f"cand={src}:/t/ref", "-o", f"{out}:/hists", "--json"],
               ranks=3)
    obj = json.loads(res.out)
    ctx.check(obj["names"] == ["ref", "cand"] and obj["n_samples"] == [400, 300] and obj["bins"] == 5
              and obj["ranks"] == 3,
              f"json summary {obj}", res)
    with h5py.File(out, "r") as f:
        g = f["hists"]
        for name in ("ref", "cand"):
            d = g[name]
            ctx.check(d.shape == (2, 5), f"{name} shape {d.shape}")
            ctx.check(len(d.dims[1]) == 1 and d.dims[1][0].name == "/hists/edges",
                      f"{name}: edges attached as the dimension scale of its bin axis")
            for a in ("source", "n_samples", "underflow", "overflow", "nan"):
                ctx.check(a in d.attrs, f"{name}: attribute {a}")
            ctx.check(d.attrs["underflow"].shape == (2,), f"{name}: underflow per feature")
        ctx.check(g["cand"].attrs["source"] == f"{src}:/t/ref", "source attribute")
        for a in ("h5div_version", "command", "created", "ranks", "elapsed_seconds", "edge_mode"):
            ctx.check(a in g.attrs, f"group attribute {a}")
    # 1-D input: scalar attributes, edges (K+1,)
    hist(ctx, ["--bins", 5, f"{src}:/x1", "-o", out, "--overwrite"])
    with h5py.File(out, "r") as f:
        d = f["h5div/x1"]
        ctx.check(d.shape == (5,) and f["h5div/edges"].shape == (6,) and d.attrs["nan"].shape == (),
                  "1-D input: (K,), edges (K+1,), scalar attributes")
    # the group exists: exit 4 before anything is read, the file unchanged
    before = open(out, "rb").read()
    res = ctx.h5div_run(["histogram", "--bins", 5, f"{src}:/x1", "-o", out])
    T.check_error(ctx, res, 4, "group exists", "exists")
    ctx.check(open(out, "rb").read() == before, "output unchanged after a refused write")


def case_compare_w1(ctx):
    """compare on histograms with attached edges: W1 per feature in data
    units on the bin centres, as scipy.stats.wasserstein_distance."""
    from scipy.stats import wasserstein_distance
    rng = np.random.default_rng(21)
    a = rng.normal(size=(8000, 3)) * [1, 10, 0.01]
    b = rng.normal(0.2, 1.3, size=(6000, 3)) * [1, 10, 0.01]
    src = write(ctx, "cw.h5", {"a": a, "b": b, "c": b[:, 0]})
    out = ctx.path("cw_out.h5")
    for mode in (["--bins", 30], ["--quantile-bins", 12]):
        hist(ctx, mode + [f"{src}:/a", f"{src}:/b", "-o", out, "--overwrite"])
        for ranks in (None, 3):
            res = ctx.h5div_run(["compare", "--json", "--measures", "wasserstein1,total_variation",
                                 f"{out}:/h5div/a", f"{out}:/h5div/b"], ranks=ranks)
            if not T.check_success(ctx, res, "compare with edges"):
                continue
            got = json.loads(res.out)["measures"]["wasserstein1"]
            g = read_group(out)
            for f in range(3):
                e = g["edges"][f]
                c = (e[:-1] + e[1:]) / 2
                want = wasserstein_distance(c, c, g["a"][f], g["b"][f])
                ctx.check(abs(got[f] - want) <= 1e-12 * abs(want),
                          f"{mode}: W1 feature {f} {got[f]!r} != scipy {want!r}")
    # rows of more than one summation block (600 bins), rows split over ranks
    hist(ctx, ["--quantile-bins", 600, f"{src}:/a", f"{src}:/b", "-o", out, "--overwrite"])
    g = read_group(out)
    for ranks in (None, 3):
        res = ctx.h5div_run(["compare", "--json", "--measures", "wasserstein1",
                             f"{out}:/h5div/a", f"{out}:/h5div/b"], ranks=ranks)
        if T.check_success(ctx, res, "compare 600 bins"):
            got = json.loads(res.out)["measures"]["wasserstein1"]
            for f in range(3):
                e = g["edges"][f]
                c = (e[:-1] + e[1:]) / 2
                want = wasserstein_distance(c, c, g["a"][f], g["b"][f])
                ctx.check(abs(got[f] - want) <= 1e-12 * abs(want),
                          f"600 bins on {ranks}: W1 feature {f} {got[f]!r} != scipy {want!r}")
    # 1-D with shared edges
    hist(ctx, ["--bins", 40, f"{src}:/c", "-o", out, "--overwrite"])
    res = ctx.h5div_run(["compare", "--json", "--measures", "wasserstein1", f"{out}:/h5div/c",
                         f"{out}:/h5div/c"])
    if T.check_success(ctx, res, "compare identical"):
        ctx.check(json.loads(res.out)["measures"]["wasserstein1"] == 0, "W1 of identical is 0")
    # bare histograms keep --bin-width
    p = np.array([1.0, 2, 3, 4]); q = np.array([4.0, 3, 2, 1])
    src2 = write(ctx, "bare.h5", {"p": p, "q": q})
    res = ctx.h5div_run(["compare", "--json", "--measures", "wasserstein1", "--bin-width", "0.5",
                         f"{src2}:/p", f"{src2}:/q"])
    if T.check_success(ctx, res, "bare compare"):
        pos = np.arange(4) * 0.5
        want = wasserstein_distance(pos, pos, p, q)
        got = json.loads(res.out)["measures"]["wasserstein1"]
        ctx.check(abs(got - want) <= 1e-14, f"bare W1 {got} != {want}")
    # different attached edges: an input error
    o2 = ctx.path("cw_other.h5")
    hist(ctx, ["--bins", 30, f"{src}:/b", "-o", o2])
    hist(ctx, ["--bins", 31, f"{src}:/a", "-o", out, "--overwrite"])
    res = ctx.h5div_run(["compare", "--measures", "wasserstein1", f"{out}:/h5div/a", f"{o2}:/h5div/b"])
    T.check_error(ctx, res, 3, "compare: shapes differ")


def case_errors(ctx):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(1000, 2))
    xn = x.copy()
    xn[700, 1] = np.nan
    src = write(ctx, "err.h5", {"x": x, "x1": x[:, 0], "xn": xn, "y3": x[:, :1] * 1.0,
                                "w": np.ones(999), "wn": np.r_[np.ones(999), np.nan],
                                "bad_e": np.array([0.0, 1.0, 1.0]), "e3": np.zeros((3, 4)),
                                "cube": np.zeros((2, 2, 2)), "s": np.array([b"ab", b"cd"])})
    out = ctx.path("err_out.h5")
    x_ = f"{src}:/x"
    usage = [
        (["histogram", x_, "-o", out], "exactly one of"),
        (["histogram", "--bins", 3, "--quantile-bins", 3, x_, "-o", out], "exactly one of"),
        (["histogram", "--bins", 0, x_, "-o", out], "bins must be"),
        (["histogram", "--bins", "3x", x_, "-o", out], "bins must be"),
        (["histogram", "--quantile-bins", -2, x_, "-o", out], "bins must be"),
        (["histogram", "--bins", 3, "--range", "2:1", x_, "-o", out], "range"),
        (["histogram", "--bins", 3, "--range", "nan:1", x_, "-o", out], "range"),
        (["histogram", "--bins", 3, "--range", "1", x_, "-o", out], "range"),
        (["histogram", "--edges", f"{src}:/e3", "--range", "0:1", x_, "-o", out], "needs --bins"),
        (["histogram", "--quantile-bins", 3, "--log", x_, "-o", out], "needs --bins"),
        (["histogram", "--bins", 3, "--log", "--range", "0:1", x_, "-o", out], "LO > 0"),
        (["histogram", "--bins", 3, "--outside", "drop", x_, "-o", out], "outside"),
        (["histogram", "--bins", 3, "--nan", "zero", x_, "-o", out], "nan"),
        (["histogram", "--bins", 3, x_, x_, "-o", out], "named 'x'"),
        (["histogram", "--bins", 3, f"edges={x_}", "-o", out], "name"),
        (["histogram", "--bins", 3, x_, "--weights", f"{src}:/w", f"z={src}:/x1", "-o", out],
         "once per input"),
        (["histogram", "--bins", 3, x_, "--weights", f"{src}:/w", f"x_sumw2={src}:/x1",
          "--weights", f"{src}:/w", "-o", out], "named"),
        (["histogram", "--bins", 3, x_], "-o"),
        (["histogram", "--bins", 3, "-o", out], "at least one input"),
        (["histogram", "--bins", 3, "nodataset.h5", "-o", out], "FILE:/dataset"),
        (["histogram", "--bins", 3, "--pseudocount", 1, x_, "-o", out], "not valid"),
        (["histogram", "--bins", 3, x_, "-o", f"{out}:/"], "root"),
    ]
    for args, msg in usage:
        res = ctx.h5div_run([str(a) for a in args])
        T.check_error(ctx, res, 2, " ".join(map(str, args)), msg)
    inputs = [
        (["--bins", 3, f"{ctx.path('missing.h5')}:/x"], "cannot open"),
        (["--bins", 3, f"{src}:/nope"], "no such dataset"),
        (["--bins", 3, f"{src}:/s"], "type"),
        (["--bins", 3, f"{src}:/cube"], "dimensions"),
        (["--bins", 3, x_, f"{src}:/x1"], "features"),
        (["--bins", 3, x_, f"{src}:/y3"], "features"),
        (["--edges", f"{src}:/bad_e", x_], "increasing"),
        (["--edges", f"{src}:/e3", x_], "rows"),
        (["--bins", 3, f"{src}:/x1", "--weights", f"{src}:/w"], "weights have 999"),
        (["--bins", 3, f"{src}:/x1", "--weights", f"{src}:/wn"], "NaN weight.*row 999"),
    ]
    for args, msg in inputs:
        for ranks in (None, 2):
            res = ctx.h5div_run(["histogram"] + [str(a) for a in args] + ["-o", out, "--overwrite"],
                                ranks=ranks)
            T.check_error(ctx, res, 3, " ".join(map(str, args)), msg)
    # NaN: exit 3 naming dataset, row and column, whichever rank holds it
    for ranks in (None, 2, 3):
        for mode in (["--bins", 4], ["--bins", 4, "--range", "0:1"], ["--quantile-bins", 3]):
            res = ctx.h5div_run(["histogram"] + [str(a) for a in mode] +
                                [x_, f"{src}:/xn", "-o", out, "--overwrite"], ranks=ranks)
            T.check_error(ctx, res, 3, f"NaN {mode} on {ranks}", r"NaN.*xn, row 700, column 1")
    # log from data with no positive value
    src2 = write(ctx, "neg.h5", {"n": -np.ones(10)})
    res = ctx.h5div_run(["histogram", "--bins", 3, "--log", f"{src2}:/n", "-o", out, "--overwrite"])
    T.check_error(ctx, res, 3, "log without positives", "positive")
    # output directory missing: exit 4
    res = ctx.h5div_run(["histogram", "--bins", 3, x_, "-o", ctx.path("no/such/dir.h5")])
    T.check_error(ctx, res, 4, "missing output directory")


def case_wide_rows(ctx):
    """(N, d) with d >= 256: rows span read blocks and ranks; integer input,
    --nan skip with quantile edges; the same bytes at 1-3 ranks."""
    rng = np.random.default_rng(17)
    a = rng.normal(size=(150, 300)).astype("f4")
    a[rng.random(a.shape) < 0.01] = np.nan
    b = rng.integers(-50, 50, size=(90, 300)).astype("i4")
    src = write(ctx, "wide.h5", {"a": a, "b": b}, chunks=(16, 64))
    for mode in (["--bins", 8], ["--quantile-bins", 6]):
        ref = None
        for ranks, extra in ((1, []), (2, ["--memory-per-rank", "2KiB"]), (3, ["--piece-size", "1KiB"])):
            o = ctx.path(f"wide_{ranks}.h5")
            hist(ctx, mode + ["--nan", "skip", f"{src}:/a", f"{src}:/b", "-o", o, "--overwrite"] + extra,
                 ranks=ranks)
            g = read_group(o)
            blob = [g[k].tobytes() for k in ("a", "b", "edges")]
            if ref is None:
                ref = blob
                check_counts(ctx, g["a"], a, g["edges"], f"wide {mode} a")
                check_counts(ctx, g["b"], b, g["edges"], f"wide {mode} b")
                ctx.check(np.array_equal(g["a@attrs"]["nan"], np.isnan(a).sum(axis=0)),
                          f"wide {mode}: nan per column")
                if mode[0] == "--quantile-bins":
                    for f in (0, 17, 299):
                        col = a[:, f][~np.isnan(a[:, f])]
                        want = np.quantile(col, np.arange(7) / 6, method="inverted_cdf")
                        ctx.check(np.array_equal(g["edges"][f], want.astype(np.float64)),
                                  f"wide quantile column {f}: {g['edges'][f]} != {want}")
            else:
                ctx.check(blob == ref, f"wide {mode}: bytes differ at {ranks} ranks {extra}")
    res = ctx.h5div_run(["histogram", "--help"])
    ctx.check(res.rc == 0 and "usage: h5div histogram" in res.out and "--quantile-bins" in res.out,
              "histogram --help", res)
    res = ctx.h5div_run(["--help"])
    ctx.check(res.rc == 0 and "histogram" in res.out, "h5div --help lists histogram", res)


CASES = {
    "uniform": case_uniform,
    "edge_cases": case_edge_cases,
    "log": case_log,
    "edges_file": case_edges_file,
    "quantile": case_quantile,
    "weights": case_weights,
    "ranks_bits": case_ranks_bits,
    "layout": case_layout,
    "compare_w1": case_compare_w1,
    "errors": case_errors,
    "wide_rows": case_wide_rows,
}

if __name__ == "__main__":
    T.main(CASES)
