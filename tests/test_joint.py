#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""`h5div joint`: the lecture's four identities of mutual information to
1e-12, independent X and Y giving 0, Y = f(X) giving I = H(Y), agreement
with sklearn's mutual_info_score / normalized_mutual_info_score and with a
40-digit mpmath reference, the same bits on 1-4 ranks and under small
memory bounds (column chunks, row pieces), and the error paths."""

import math

import h5py
import numpy as np

import h5div_testlib as T

RANKS = [None, 2, 3, 4]
MEASURES = ["entropy_x", "entropy_y", "joint_entropy", "conditional_entropy_x_given_y",
            "conditional_entropy_y_given_x", "mutual_information",
            "normalized_mutual_information", "variation_of_information"]


def write(ctx, name, C, dtype="u4"):
    path = ctx.path(name + ".h5")
    with h5py.File(path, "w") as f:
        f.create_dataset("PXY", data=np.asarray(C, dtype=dtype), chunks=True)
    return path + ":/PXY"


def run_joint(ctx, args, ranks=None, what=None):
    what = what or f"joint {' '.join(args)} on {ranks or 1} rank(s)"
    res = ctx.h5div_run(["joint", "--json"] + list(args), ranks=ranks)
    if not T.check_success(ctx, res, what):
        return None
    obj, values = T.parse_json_output(ctx, res, what)
    if obj is not None:
        ctx.check(obj.get("command") == "joint", f"{what}: command", res)
        ctx.check(obj.get("inputs", {}).get("pxy") == args[-1], f"{what}: inputs.pxy", res)
        for m in MEASURES:
            ctx.check(m in values, f"{what}: {m} missing", res)
            if m in values:
                ctx.check(values[m] >= 0 and math.copysign(1, values[m]) > 0,
                          f"{what}: {m} = {values[m]!r} negative", res)
    return values


def mp_reference(C, base="2"):
    import mpmath

    with mpmath.workdps(40):
        C = [[mpmath.mpf(int(v)) for v in row] for row in C]
        N = mpmath.fsum(mpmath.fsum(r) for r in C)
        rx = [mpmath.fsum(r) for r in C]
        cy = [mpmath.fsum(C[i][j] for i in range(len(C))) for j in range(len(C[0]))]
        lb = {"2": mpmath.log(2), "e": 1, "10": mpmath.log(10)}[base]

        def H(ms):
            return -mpmath.fsum((m / N) * mpmath.log(m / N) for m in ms if m) / lb
        hx, hy = H(rx), H(cy)
        hxy = H([v for r in C for v in r])
        mi = mpmath.fsum((C[i][j] / N) * mpmath.log(C[i][j] * N / (rx[i] * cy[j]))
                         for i in range(len(C)) for j in range(len(C[0])) if C[i][j]) / lb
        r = {"entropy_x": hx, "entropy_y": hy, "joint_entropy": hxy,
             "conditional_entropy_x_given_y": hxy - hy, "conditional_entropy_y_given_x": hxy - hx,
             "mutual_information": mi,
             "normalized_mutual_information": 2 * mi / (hx + hy) if hx + hy else 0,
             "variation_of_information": 2 * hxy - hx - hy}
        return {k: float(v) for k, v in r.items()}


def check_identities(ctx, v, what, tol=1e-12):
    I, hx, hy, hxy = v["mutual_information"], v["entropy_x"], v["entropy_y"], v["joint_entropy"]
    hxgy, hygx = v["conditional_entropy_x_given_y"], v["conditional_entropy_y_given_x"]
    scale = max(1.0, hxy)
    for name, alt in (("H(X) - H(X|Y)", hx - hxgy), ("H(Y) - H(Y|X)", hy - hygx),
                      ("H(X) + H(Y) - H(X,Y)", hx + hy - hxy),
                      ("H(X,Y) - H(X|Y) - H(Y|X)", hxy - hxgy - hygx)):
        ctx.check(abs(I - alt) <= tol * scale, f"{what}: I = {I!r} but {name} = {alt!r}")
    ctx.check(abs(v["variation_of_information"] - (hxgy + hygx)) <= tol * scale, f"{what}: VI")


def check_sklearn(ctx, C, v, what):
    from sklearn.metrics import mutual_info_score, normalized_mutual_info_score
    C = np.asarray(C, dtype=np.int64)
    mi_nats = mutual_info_score(None, None, contingency=C)
    got = v["mutual_information"] * math.log(2)
    ctx.check(abs(got - mi_nats) <= 1e-12 * max(1.0, mi_nats),
              f"{what}: mutual_information {got!r} nats vs sklearn {mi_nats!r}")
    # NMI from labels built from the contingency table (arithmetic mean = 2I/(Hx+Hy))
    ii, jj = np.nonzero(C)
    cnt = C[ii, jj]
    lx, ly = np.repeat(ii, cnt), np.repeat(jj, cnt)
    nmi = normalized_mutual_info_score(lx, ly)
    ctx.check(abs(v["normalized_mutual_information"] - nmi) <= 1e-12,
              f"{what}: NMI {v['normalized_mutual_information']!r} vs sklearn {nmi!r}")


def table_case(kind):
    def case(ctx):
        rng = np.random.default_rng(23)
        if kind == "random":
            C = rng.integers(0, 40, (300, 700))
        elif kind == "independent":
            a, b = rng.integers(1, 30, 260), rng.integers(1, 30, 530)
            C = np.outer(a, b)
        elif kind == "function":   # Y = f(X): each row has one non-empty column
            nx, ny = 600, 37
            C = np.zeros((nx, ny), dtype=np.int64)
            C[np.arange(nx), (np.arange(nx) * 7) % ny] = rng.integers(1, 100, nx)
        else:                      # nearly independent: outer product plus a few counts
            a, b = rng.integers(100, 200, 50), rng.integers(100, 200, 40)
            C = np.outer(a, b)
            C[3, 5] += 7
        p = write(ctx, kind, C)
        ref = None
        for n in RANKS:
            v = run_joint(ctx, [p], ranks=n)
            if v is None:
                continue
            check_identities(ctx, v, f"{kind} ranks={n}")
            if ref is None:
                ref = v
            else:
                T.check_same_bits(ctx, ref, v, f"{kind}: ranks {n} vs 1")
        for extra in (["--memory-per-rank", "300KiB"], ["--memory-per-rank", "64KiB", "--piece-size", "4KiB"]):
            v = run_joint(ctx, extra + [p], ranks=3)
            if v is not None and ref is not None:
                T.check_same_bits(ctx, ref, v, f"{kind}: {' '.join(extra)} vs 1 rank")
        if ref is None:
            return
        check_sklearn(ctx, C, ref, kind)
        if C.size <= 40000:
            want = mp_reference(C.tolist())
            worst = 0.0
            for m in MEASURES:
                w, g = want[m], ref[m]
                tol = 1e-12 if m not in ("mutual_information", "normalized_mutual_information") or w > 1e-6 else 1e-9
                ctx.check(T.close(g, w, tol) or (abs(w) < 1e-300 and g == 0.0),
                          f"{kind}: {m} = {g!r}, mpmath {w!r}")
                if w:
                    worst = max(worst, abs(g - w) / abs(w))
            ctx.note(f"{kind}: worst relative error vs mpmath {worst:.3g}")
        if kind == "independent":
            ctx.check(ref["mutual_information"] < 1e-15,
                      f"independent: mutual_information {ref['mutual_information']!r}, want 0")
        if kind == "function":
            ctx.check(abs(ref["mutual_information"] - ref["entropy_y"]) <= 1e-12 * ref["entropy_y"],
                      f"Y = f(X): I {ref['mutual_information']!r} vs H(Y) {ref['entropy_y']!r}")
            ctx.check(ref["conditional_entropy_y_given_x"] == 0.0, "Y = f(X): H(Y|X) must be 0")
    return case


def case_wide_pseudocount(ctx):
    """An exactly independent table of 64-bit counts above 2^53 with a
    pseudocount of 1e-12: I comes from the pseudocount alone (about 1e-63),
    so x + alpha, the row and column sums and the total must be exact to far
    below 2^-53 of the counts. mpmath at 150 digits from the stored values."""
    import mpmath
    rng = np.random.default_rng(118)
    a = rng.integers(2**29, 2**30, 11, dtype=np.uint64)
    b = rng.integers(2**28, 2**29, 5, dtype=np.uint64)
    C = np.outer(a, b)
    p = write(ctx, "wide_alpha", C, dtype=">u8")
    alpha = 1e-12
    with mpmath.workdps(150):
        X = [[mpmath.mpf(int(v)) + mpmath.mpf(alpha) for v in row] for row in C.tolist()]
        N = mpmath.fsum(mpmath.fsum(r) for r in X)
        rx = [mpmath.fsum(r) for r in X]
        cy = [mpmath.fsum(X[i][j] for i in range(len(X))) for j in range(len(X[0]))]
        mi = mpmath.fsum((X[i][j] / N) * mpmath.log(X[i][j] * N / (rx[i] * cy[j]))
                         for i in range(len(X)) for j in range(len(X[0])))
        hx = -mpmath.fsum((m / N) * mpmath.log(m / N) for m in rx)
        hy = -mpmath.fsum((m / N) * mpmath.log(m / N) for m in cy)
        want = {"mutual_information": float(mi / mpmath.log(2)),
                "normalized_mutual_information": float(2 * mi / (hx + hy))}
    ref = None
    for n, extra in ((None, []), (2, []), (3, ["--memory-per-rank", "512", "--piece-size", "64"])):
        v = run_joint(ctx, extra + ["--pseudocount", "1e-12", p], ranks=n)
        if v is None:
            continue
        for m, w in want.items():
            ctx.check(T.close(v[m], w, 1e-13), f"wide + pseudocount: {m} = {v[m]!r}, mpmath {w!r}")
        if ref is None:
            ref = v
        else:
            T.check_same_bits(ctx, ref, v, f"wide + pseudocount: ranks {n} {' '.join(extra)} vs 1")


def case_independent_u64(ctx):
    """Exactly independent tables of 64-bit counts up to 2^60 (outer products,
    so x N = r c in every cell): their row, column and table sums carry low
    parts beyond 53 bits, and mutual information must be exactly +0 on 1-3
    ranks, in every base."""
    rng = np.random.default_rng(246)
    for n in range(6):
        if n == 0:  # a table where rounded products left 3e-68
            a = np.array([566119300, 698227104, 461960459, 792347605, 535621676, 779962855,
                          403144352, 285828923, 934388465], dtype=np.uint64)
            b = np.array([260543227, 537387807, 988036206, 526323147, 631825906, 861557624],
                         dtype=np.uint64)
        else:
            a = rng.integers(2**20, 2**30, int(rng.integers(2, 12)), dtype=np.uint64)
            b = rng.integers(2**20, 2**30, int(rng.integers(2, 12)), dtype=np.uint64)
        p = write(ctx, f"indep64_{n}", np.outer(a, b), dtype=">u8")
        for ranks, base in ((None, "2"), (2, "e"), (3, "10")):
            v = run_joint(ctx, ["-b", base, p], ranks=ranks)
            if v is None:
                continue
            for m in ("mutual_information", "normalized_mutual_information"):
                ctx.check(v[m] == 0.0 and math.copysign(1.0, v[m]) > 0,
                          f"table {n} ({len(a)}x{len(b)}) ranks {ranks or 1}: {m} = {v[m]!r}, want +0")


def case_dominant_marginal(ctx):
    """One row and one column hold all but 1e-149 of the table, and that
    row and column sum values of 270 decades, so their rounded sums cannot
    hold the complement: H(X) and H(Y) (about 1e-146 bits) come from the
    exact complements. Other tables of the class are drawn at random. The
    reference: mpmath at 400 digits from the stored values."""
    import mpmath
    rng = np.random.default_rng(2027)
    tables = [np.array([[1.884670694793215e-82, 6.935160386549764e-104, 9.217583847180046e+26],
                        [3.748432477330615e+171, 4.4106846051809315e-97, 1.4042742554116936e+175]])]
    for _ in range(6):
        t = 10.0 ** rng.uniform(-300, 300, (3, 4))
        t[rng.integers(3), :] = 10.0 ** rng.uniform(-300, 300, 4)
        t[rng.integers(3), rng.integers(4)] = 10.0 ** rng.uniform(250, 307)
        tables.append(t)
    for n, C in enumerate(tables):
        p = write(ctx, f"dominant{n}", C, dtype="<f8")
        for alpha in (0.0, 1.0):
            with mpmath.workdps(400):
                X = [[mpmath.mpf(float(v)) + mpmath.mpf(alpha) for v in row] for row in C.tolist()]
                N = mpmath.fsum(mpmath.fsum(r) for r in X)
                rx = [mpmath.fsum(r) for r in X]
                cy = [mpmath.fsum(X[i][j] for i in range(len(X))) for j in range(len(X[0]))]
                ent = lambda ms: -mpmath.fsum((m / N) * mpmath.log(m / N) for m in ms if m > 0)
                want = {"entropy_x": float(ent(rx) / mpmath.log(2)),
                        "entropy_y": float(ent(cy) / mpmath.log(2))}
            extra = ["--pseudocount", "1"] if alpha else []
            ref = None
            for ranks in (None, 2):
                v = run_joint(ctx, extra + [p], ranks=ranks)
                if v is None:
                    continue
                for m, w in want.items():
                    ctx.check(T.close(v[m], w, 1e-13),
                              f"table {n} alpha {alpha} ranks {ranks or 1}: {m} = {v[m]!r}, "
                              f"mpmath {w!r}")
                if ref is None:
                    ref = v
                else:
                    T.check_same_bits(ctx, ref, v, f"table {n} alpha {alpha}: 2 ranks vs 1")


def case_output(ctx):
    C = np.random.default_rng(1).integers(0, 9, (40, 30))
    p = write(ctx, "o", C)
    res = ctx.h5div_run(["joint", "-b", "e", "-o", ctx.path("r.h5") + ":/j", p], ranks=2)
    T.check_success(ctx, res, "joint -o")
    with h5py.File(ctx.path("r.h5"), "r") as f:
        g = f["/j"]
        for m in MEASURES:
            ctx.check(m in g and g[m].shape == (), f"dataset {m}")
        ctx.check(g["mutual_information"].attrs.get("units") == "nats", "MI units")
        ctx.check(g["normalized_mutual_information"].attrs.get("units") == "1", "NMI units")
        ctx.check(g.attrs.get("pxy") == p, f"attribute pxy {g.attrs.get('pxy')!r}")
        ctx.check(g.attrs.get("base") == "e", "attribute base")
    T.check_error(ctx, ctx.h5div_run(["joint", "-o", ctx.path("r.h5") + ":/j", p]), 4, "group exists")


def case_errors(ctx):
    path = ctx.path("bad.h5")
    with h5py.File(path, "w") as f:
        f["one_d"] = np.arange(10)
        C = np.ones((600, 20))
        C[590, 3] = -2
        f["neg"] = C
        f["zero"] = np.zeros((5, 5))
        f["three"] = np.ones((2, 2, 2))
    T.check_error(ctx, ctx.h5div_run(["joint", path + ":/one_d"], ranks=2), 3, "1-D", "2-D")
    T.check_error(ctx, ctx.h5div_run(["joint", path + ":/three"], ranks=2), 3, "3-D", "2-D")
    T.check_error(ctx, ctx.h5div_run(["joint", path + ":/zero"], ranks=2), 3, "all zero", "all zeros")
    res, codes = ctx.rank_exit_codes(["joint", path + ":/neg"], 3)
    T.check_error(ctx, res, None, "negative cell", "negative.*row 590, column 3")
    ctx.check(codes == [3, 3, 3], f"negative cell: exit codes {codes}")
    T.check_error(ctx, ctx.h5div_run(["joint", path + ":/missing"]), 3, "missing dataset")
    T.check_error(ctx, ctx.h5div_run(["joint", "--measures", "entropy", path + ":/zero"]), 2, "bad measure")
    T.check_error(ctx, ctx.h5div_run(["joint", "--estimator", "shrink", path + ":/zero"]), 2, "estimator")
    T.check_error(ctx, ctx.h5div_run(["joint"]), 2, "no input")


CASES = {
    "random": table_case("random"),
    "independent": table_case("independent"),
    "function": table_case("function"),
    "near_independent": table_case("near"),
    "wide_pseudocount": case_wide_pseudocount,
    "dominant_marginal": case_dominant_marginal,
    "independent_u64": case_independent_u64,
    "output": case_output,
    "errors": case_errors,
}

if __name__ == "__main__":
    T.main(CASES)
