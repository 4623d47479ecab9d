#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The `h5div compare` command line: every option, and every usage (2),
input (3) and output (4) error path of CONTRACT.md, plain and on 3 ranks.
An error must be one line `h5div: error: <what> (<where>)` on stderr,
printed once, nothing on stdout, and the same exit code on every rank."""

import json
import os
import re
import shutil
import stat
import subprocess
import time

import h5py
import numpy as np

import h5div_testlib as T

P_REF, Q_REF = "in.h5:/reference", "in.h5:/generated"
OPTION_NAMES = ["--base", "--output", "--overwrite", "--json", "--pseudocount", "--measures",
                "--memory-per-rank", "--piece-size", "--independent-io", "--quiet", "--verbose",
                "--help", "--version"]


def make_input(ctx):
    ctx.gen(ctx.path("in.h5"), "--dtype", "f64", "--layout", "chunked", "--chunk", 100,
            "--bins", 1000, "--kind", "random", "--seed", 40)


def label(n):
    return "plain" if n is None else f"-n {n}"


def expect_error(ctx, args, code, message=None, ranks=(None, 3), wrapped=True):
    """h5div ARGS fails with CODE and one error line, for each entry of RANKS
    (None: plain, without mpiexec). On several ranks, WRAPPED runs every rank
    under a shell that records its exit code (mpiexec then does not abort the
    job at the first failing rank, so a rank that hangs or prints its own
    line is seen); otherwise the exit code of mpiexec itself is checked."""
    for n in ranks:
        what = f"h5div {' '.join(args)} ({label(n)})"
        if n is None or not wrapped:
            res = ctx.h5div_run(args, ranks=n)
            T.check_error(ctx, res, code, what, message)
        else:
            res, codes = ctx.rank_exit_codes(args, n)
            T.check_error(ctx, res, None, what, message)
            ctx.check(not res.timed_out and codes == [code] * n,
                      f"{what}: exit codes of the ranks are {codes}, want {code} on every rank", res)


def expect_ok(ctx, args, n=None, what=None):
    what = what or f"h5div {' '.join(args)} ({label(n)})"
    res = ctx.h5div_run(args, ranks=n)
    T.check_success(ctx, res, what)
    return res


# -- options that succeed ---------------------------------------------------

def case_help_version(ctx):
    """--help, -h, compare --help and --version exit 0, print to stdout only;
    compare --help names every option."""
    outputs = {}
    for args in (["--help"], ["-h"], ["compare", "--help"], ["compare", "-h"], ["--version"]):
        res = expect_ok(ctx, args)
        outputs[" ".join(args)] = res.out
        ctx.check(res.out.strip() != "", f"h5div {' '.join(args)}: nothing on stdout", res)
        ctx.check(res.err.strip() == "", f"h5div {' '.join(args)}: something on stderr", res)
        if args == ["--version"]:
            ctx.check(re.search(r"\b\d+\.\d+\.\d+\b", res.out),
                      "h5div --version prints no MAJOR.MINOR.PATCH version", res)
        if args[0] == "compare":
            missing = [o for o in OPTION_NAMES if o not in res.out]
            ctx.check(not missing, f"h5div compare --help does not mention {missing}", res)
            for short in ("-b", "-o", "-q", "-v"):
                ctx.check(re.search(r"(^|[\s,\[])" + short + r"\b", res.out),
                          f"h5div compare --help does not mention {short}", res)
        if args[0] in ("--help", "-h"):
            ctx.check("compare" in res.out, "h5div --help does not mention the compare command", res)
    # on several ranks the help is printed once, as on one
    res = expect_ok(ctx, ["compare", "--help"], n=3)
    ctx.check(res.out == outputs["compare --help"],
              "h5div compare --help on 3 ranks differs from the plain one (printed more than once?)", res)


def compare_measure_table(ctx):
    """compare's measure table, read from libh5div beside the h5div under test
    (h5div_compare_measures): (name, help, flags, unitless) per row."""
    import ctypes
    lib = os.path.join(os.path.dirname(os.path.abspath(ctx.h5div)), "libh5div.so")
    if not os.path.exists(lib):
        return None

    class Info(ctypes.Structure):
        _fields_ = [("name", ctypes.c_char_p), ("help", ctypes.c_char_p),
                    ("flags", ctypes.c_uint), ("unitless", ctypes.c_int),
                    ("terms", ctypes.c_uint32)]

    h5 = ctypes.CDLL(lib)
    h5.h5div_compare_measures.restype = ctypes.POINTER(Info)
    n = ctypes.c_int(0)
    rows = h5.h5div_compare_measures(ctypes.byref(n))
    return [(rows[i].name.decode(), rows[i].help.decode() if rows[i].help else None,
             rows[i].flags, rows[i].unitless) for i in range(n.value)]


def case_help_measures(ctx):
    """compare --help names every measure of the library's table (NAME:A for
    those with orders), the default set on the lines before the extras; each
    measure's units in JSON are the table's. A row added without help text or
    name fails here."""
    table = compare_measure_table(ctx)
    if table is None:
        ctx.check(False, "libh5div.so not found beside h5div", None)
        return
    ctx.check(len(table) >= 17, f"the measure table has {len(table)} rows", None)
    out = expect_ok(ctx, ["compare", "--help"]).out
    head, _, extras = out.partition("more, only when named in --measures:")
    for name, text, flags, unitless in table:
        shown = name + (":A" if flags & 2 else "")
        where = head if flags & 1 else extras
        ctx.check(name and re.search(r"(?<![\w:])" + re.escape(shown) + r"(?![\w:])", where),
                  f"compare --help does not name {shown} where it belongs", None)
        ctx.check(flags & (1 | 4) or text is None or text.strip(),
                  f"measure {name} has an empty help text", None)
        if text:
            first = text.split("\n")[0]
            ctx.check(first in out, f"compare --help lacks the text of {name}: {first!r}", None)
    make_input(ctx)
    named = [n for n, t, f, u in table if not f & (2 | 4)]
    res = expect_ok(ctx, ["compare", "--json", "-b", "e", "--measures", ",".join(named),
                          P_REF, Q_REF])
    units = json.loads(res.out)["measure_units"]
    for name, text, flags, unitless in table:
        if name in units:
            ctx.check(units[name] == ("1" if unitless else "nats"),
                      f"units of {name}: {units[name]}", res)


def case_table(ctx):
    """Default output: a header and one `name value units` row per measure,
    in contract order, with the JSON values to the bit."""
    make_input(ctx)
    for n, base in ((None, "2"), (None, "e"), (None, "10"), (3, "2")):
        res = expect_ok(ctx, ["compare", "-b", base, P_REF, Q_REF], n)
        rows = T.parse_table_output(ctx, res, f"table -b {base} {label(n)}")
        js = T.run_json(ctx, ["-b", base, P_REF, Q_REF], ranks=n, base=base, p=P_REF, q=Q_REF)
        if rows is None or js is None:
            continue
        names = [l.split()[0] for l in res.out.splitlines()[1:] if l.strip()]
        ctx.check(names == T.COMPARE_MEASURES, f"table rows {names}, want {T.COMPARE_MEASURES}", res)
        for name, (v, units) in rows.items():
            ctx.check(units == T.units_of(name, base),
                      f"table -b {base}: {name} units {units!r}, want {T.units_of(name, base)!r}", res)
            ctx.check(name in js and T.same_bits(v, js[name]),
                      f"table -b {base}: {name} = {v!r} but JSON says {js.get(name)!r}", res)


def case_base_options(ctx):
    """-b/--base, short and long spellings, units follow the base."""
    make_input(ctx)
    seen = {}
    for args, base in ((["-b", "2"], "2"), (["--base", "2"], "2"), (["--base=2"], "2"), ([], "2"),
                       (["-b", "e"], "e"), (["--base", "e"], "e"), (["-b", "10"], "10"),
                       (["--base=10"], "10")):
        got = T.run_json(ctx, args + [P_REF, Q_REF], base=base, what=f"{' '.join(args) or 'no -b'}")
        if got is None:
            continue
        if base in seen:
            T.check_same_bits(ctx, got, seen[base], f"{' '.join(args)} vs another spelling of base {base}")
        seen[base] = got
    if "2" in seen and "e" in seen:
        ctx.check(seen["2"]["entropy_p"] != seen["e"]["entropy_p"], "-b e gives the same entropy_p as -b 2")


def case_json(ctx):
    """--json is one JSON object (not one per rank) with the contract keys,
    the version of --version and each measure's units in measure_units."""
    make_input(ctx)
    res = expect_ok(ctx, ["--version"])
    version = res.out.split()[-1] if res.out.strip() else None
    for n in (None, 1, 2, 3, 4):
        res = expect_ok(ctx, ["compare", "--json", P_REF, Q_REF], n)
        obj, values = T.parse_json_output(ctx, res, f"--json {label(n)}")
        if obj is None:
            continue
        T.check_json_header(ctx, obj, res, f"--json {label(n)}", ranks=n or 1, p=P_REF, q=Q_REF)
        ctx.check(set(obj) >= {"command", "version", "base", "units", "ranks", "inputs", "measures",
                               "measure_units"},
                  f"--json {label(n)}: keys {sorted(obj)}", res)
        ctx.check(list(values) == T.COMPARE_MEASURES,
                  f"--json {label(n)}: measures {list(values)}, want {T.COMPARE_MEASURES}", res)
        ctx.check(obj.get("version") == version,
                  f"--json {label(n)}: version {obj.get('version')!r}, want {version!r} (--version)", res)
        want_units = {m: T.units_of(m, "2") for m in T.COMPARE_MEASURES}
        ctx.check(obj.get("measure_units") == want_units,
                  f"--json {label(n)}: measure_units {obj.get('measure_units')!r}, want {want_units}", res)


def case_quiet_verbose(ctx):
    make_input(ctx)
    for n in (None, 3):
        base = expect_ok(ctx, ["compare", "--json", P_REF, Q_REF], n)
        for q in (("-q", "--quiet") if n is None else ("-q",)):
            res = expect_ok(ctx, ["compare", q, "--json", P_REF, Q_REF], n)
            ctx.check(res.err == "", f"{q} {label(n)}: stderr not empty on success", res)
            res = expect_ok(ctx, ["compare", q, "-v", "--json", P_REF, Q_REF], n)
            ctx.check(res.err == "", f"{q} -v {label(n)}: -q must silence progress and timings", res)
            ctx.check(res.out == base.out, f"{q} {label(n)}: stdout differs from a run without {q}", res)
        for v in (("-v", "--verbose") if n is None else ("-v",)):
            res = expect_ok(ctx, ["compare", v, "--json", P_REF, Q_REF], n)
            ctx.check(res.err.strip() != "", f"{v} {label(n)}: nothing on stderr", res)
            ctx.check("h5div: error" not in res.err, f"{v} {label(n)}: error text on success", res)
            # progress of both passes, once (rank 0 only), each reaching 100%
            for p in (1, 2):
                lines = [l for l in res.err.splitlines() if l.startswith(f"h5div: pass {p}: 100.0%")]
                ctx.check(len(lines) == 1, f"{v} {label(n)}: want one 100% progress line of pass {p}", res)
            T.parse_json_output(ctx, res, f"{v} --json {label(n)} (stdout must stay pure JSON)")
        # -q also keeps the table
        res = expect_ok(ctx, ["compare", "-q", P_REF, Q_REF], n)
        ctx.check(res.err == "", f"-q table {label(n)}: stderr not empty", res)
        T.parse_table_output(ctx, res, f"-q table {label(n)}")


def case_sizes(ctx):
    """--memory-per-rank and --piece-size accept units and plain bytes and
    give the same bits."""
    make_input(ctx)
    ref = T.run_json(ctx, [P_REF, Q_REF], what="default sizes")
    for args in (["--memory-per-rank", "64MiB"], ["--memory-per-rank", "2GiB"],
                 ["--memory-per-rank", "1048576"], ["--memory-per-rank", "1KiB"],
                 ["--piece-size", "4096"], ["--piece-size", "1GiB"], ["--piece-size", "64MiB"],
                 ["--piece-size", "1KiB", "--memory-per-rank", "4KiB"]):
        for n in ((None, 2) if "4096" in args or "2GiB" in args else (None,)):
            got = T.run_json(ctx, args + [P_REF, Q_REF], ranks=n, what=f"{' '.join(args)} {label(n)}")
            if got is not None and ref is not None:
                T.check_same_bits(ctx, got, ref, f"{' '.join(args)} {label(n)} vs default")


def case_misc_options(ctx):
    """--pseudocount, --measures, --independent-io, options after the operands."""
    make_input(ctx)
    ref = T.run_json(ctx, [P_REF, Q_REF], what="reference run")
    got = T.run_json(ctx, ["--independent-io", P_REF, Q_REF], ranks=3, what="--independent-io -n 3")
    if got and ref:
        T.check_same_bits(ctx, got, ref, "--independent-io -n 3 vs plain")
    res = expect_ok(ctx, ["compare", P_REF, Q_REF, "--json", "--measures", "kl_pq"], None,
                    "options after the operands")
    obj, vals = T.parse_json_output(ctx, res, "options after the operands")
    if vals is not None and ref:
        ctx.check(set(vals) == {"kl_pq"} and T.same_bits(vals["kl_pq"], ref["kl_pq"]),
                  f"options after the operands: got {vals}", res)
    got = T.run_json(ctx, ["--pseudocount", "1e-3", P_REF, Q_REF], what="--pseudocount 1e-3")
    if got and ref:
        ctx.check(got["kl_pq"] != ref["kl_pq"], "--pseudocount 1e-3 changes nothing", None)


def case_output_option(ctx):
    """-o FILE writes group /h5div; -o FILE:/g; refusal and --overwrite."""
    make_input(ctx)
    res = expect_ok(ctx, ["compare", "-o", "res.h5", P_REF, Q_REF])
    if ctx.check(os.path.exists(ctx.path("res.h5")), "-o res.h5 wrote no file", res):
        with h5py.File(ctx.path("res.h5"), "r") as f:
            ctx.check("h5div" in f and isinstance(f["h5div"], h5py.Group),
                      f"-o res.h5: no group /h5div (file holds {list(f)})", res)
    expect_ok(ctx, ["compare", "--output", "res.h5:/mine", P_REF, Q_REF], 3)
    with h5py.File(ctx.path("res.h5"), "r") as f:
        ctx.check("mine" in f and "h5div" in f, f"--output res.h5:/mine: file holds {list(f)}")
    before = open(ctx.path("res.h5"), "rb").read()
    expect_error(ctx, ["compare", "-o", "res.h5:/mine", P_REF, Q_REF], 4, r"mine")
    ctx.check(open(ctx.path("res.h5"), "rb").read() == before, "refused -o changed the file")
    expect_ok(ctx, ["compare", "-o", "res.h5:/mine", "--overwrite", P_REF, Q_REF], 3)
    expect_ok(ctx, ["compare", "-o", "res.h5", "--overwrite", P_REF, Q_REF])


# -- usage errors (exit 2) ---------------------------------------------------

def usage_case(*arg_lists, message=None, ranks=(None,)):
    """Each argument list fails with exit 2, plain; the first one also on RANKS."""
    def case(ctx):
        make_input(ctx)
        for i, args in enumerate(arg_lists):
            expect_error(ctx, list(args), 2, message, ranks=ranks if i == 0 else (None,))
    return case


USAGE_CASES = {
    "usage_unknown_option": usage_case(["compare", "--frobnicate", P_REF, Q_REF],
                                       ["compare", "-x", P_REF, Q_REF],
                                       ["--frobnicate"], message=r"frobnicate|-x|option",
                                       ranks=(None, 3)),
    "usage_missing_value": usage_case(["compare", P_REF, Q_REF, "--base"],
                                      ["compare", P_REF, Q_REF, "-o"],
                                      ["compare", P_REF, Q_REF, "--measures"],
                                      ["compare", P_REF, Q_REF, "--pseudocount"],
                                      ["compare", P_REF, Q_REF, "--memory-per-rank"],
                                      ["compare", P_REF, Q_REF, "--piece-size"], ranks=(None, 3)),
    "usage_bad_base": usage_case(["compare", "-b", "3", P_REF, Q_REF],
                                 ["compare", "--base", "pi", P_REF, Q_REF],
                                 ["compare", "--base", "", P_REF, Q_REF], message=r"base|3|pi"),
    "usage_bad_pseudocount": usage_case(["compare", "--pseudocount", "-1", P_REF, Q_REF],
                                        ["compare", "--pseudocount", "-1e-300", P_REF, Q_REF],
                                        ["compare", "--pseudocount", "abc", P_REF, Q_REF],
                                        ["compare", "--pseudocount", "1x", P_REF, Q_REF],
                                        message=r"pseudocount"),
    "usage_nonfinite_pseudocount": usage_case(["compare", "--pseudocount", "nan", P_REF, Q_REF],
                                              ["compare", "--pseudocount", "inf", P_REF, Q_REF],
                                              message=r"pseudocount"),
    "usage_unknown_measure": usage_case(["compare", "--measures", "kl_pq,bogus", P_REF, Q_REF],
                                        ["compare", "--measures", "entropy", P_REF, Q_REF],
                                        message=r"bogus|entropy|measure", ranks=(None, 3)),
    "usage_empty_measures": usage_case(["compare", "--measures", "", P_REF, Q_REF]),
    "usage_bad_size": usage_case(["compare", "--memory-per-rank", "12XB", P_REF, Q_REF],
                                 ["compare", "--memory-per-rank", "-5", P_REF, Q_REF],
                                 ["compare", "--memory-per-rank", "MiB", P_REF, Q_REF],
                                 ["compare", "--memory-per-rank", "99999999999999999999999", P_REF, Q_REF],
                                 ["compare", "--memory-per-rank", "99999999999EiB", P_REF, Q_REF],
                                 ["compare", "--piece-size", "abc", P_REF, Q_REF],
                                 ["compare", "--piece-size", "2GiB", P_REF, Q_REF],
                                 message=r"memory-per-rank|piece-size|size|12XB|abc"),
    "usage_zero_size": usage_case(["compare", "--memory-per-rank", "0", P_REF, Q_REF],
                                  ["compare", "--piece-size", "0", P_REF, Q_REF],
                                  # less than one double: refused while parsing, as the library would
                                  ["compare", "--piece-size", "7", P_REF, Q_REF],
                                  ["compare", "--memory-per-rank", "4B", P_REF, Q_REF]),
    "usage_positional_count": usage_case(["compare"], ["compare", P_REF], ranks=(None, 3)),
    "usage_unknown_command": usage_case(["frobnicate", P_REF, Q_REF], message=r"frobnicate",
                                        ranks=(None, 3)),
    "usage_no_command": usage_case([]),
}


# -- input errors (exit 3) --------------------------------------------------

def bad_inputs(ctx):
    """bad.h5 with one dataset per structural problem, made with h5py."""
    with h5py.File(ctx.path("bad.h5"), "w") as f:
        f["ok"] = np.arange(1, 11, dtype=np.float64)
        f["ok11"] = np.arange(1, 12, dtype=np.float64)
        f.create_group("grp")
        f["str"] = np.array([b"abc"] * 10, dtype="S3")
        f["str2"] = np.array([b"def"] * 10, dtype="S3")
        f["m2"] = np.ones((3, 10))
        f["m2b"] = np.full((3, 10), 2.0)
        f["m3"] = np.ones((2, 3, 10))
        f["zero"] = np.zeros(10)
        f["izero"] = np.zeros(10, dtype=np.int32)
        f["empty"] = np.zeros(0)
        f["empty2"] = np.zeros(0)
        f["scalar"] = np.float64(3.0)
        f["cplx"] = np.ones(10, dtype=np.complex128)
        f["bool"] = np.ones(10, dtype=bool)  # h5py stores it as an enum
    with open(ctx.path("notes.txt"), "w") as f:
        f.write("not an HDF5 file\n")


def input_case(pairs, message=None):
    """Each pair fails with exit 3, plain; the first one also on 3 ranks."""
    def case(ctx):
        make_input(ctx)
        bad_inputs(ctx)
        for i, (p, q) in enumerate(pairs):
            expect_error(ctx, ["compare", p, q], 3, message, ranks=(None, 3) if i == 0 else (None,))
    return case


def value_case(dtype, spec, bin_, what, plain_mpiexec=False):
    """A bad value set with the generator's --set in a 1000-bin histogram."""
    def case(ctx):
        ctx.gen(ctx.path("val.h5"), "--dtype", dtype, "--layout", "chunked", "--chunk", 100,
                    "--bins", 1000, "--kind", "random", "--seed", 41, "--set", spec)
        P, Q = T.read_raw(ctx.path("val.h5") + ":/reference"), T.read_raw(ctx.path("val.h5") + ":/generated")
        which, b, v = spec[0], int(spec[2:spec.index("=")]), spec[spec.index("=") + 1:]
        data = P if which == "p" else Q
        ctx.check(str(float(data[b])) == str(float(v)), f"generator --set {spec} did not set the bin")
        expect_error(ctx, ["compare", "val.h5:/reference", "val.h5:/generated"], 3,
                     rf"{what}.*\b{bin_}\b|\b{bin_}\b.*{what}")
        if plain_mpiexec:  # what a user sees: the exit code of mpiexec itself
            expect_error(ctx, ["compare", "--json", "val.h5:/reference", "val.h5:/generated"], 3,
                         rf"\b{bin_}\b", ranks=(4,), wrapped=False)
        # the bad bin in a later piece of a streamed read
        expect_error(ctx, ["compare", "--memory-per-rank", "1KiB", "--piece-size", "1KiB",
                           "val.h5:/reference", "val.h5:/generated"], 3, rf"\b{bin_}\b", ranks=(None,))
    return case


INPUT_CASES = {
    "input_missing_file": input_case([("nofile.h5:/reference", Q_REF), (P_REF, "nofile.h5:/generated")],
                                     r"nofile\.h5"),
    "input_not_hdf5": input_case([("notes.txt:/reference", Q_REF)], r"notes\.txt"),
    "input_missing_dataset": input_case([("in.h5:/nope", Q_REF), (P_REF, "in.h5:/deep/nope")], r"nope"),
    "input_group_not_dataset": input_case([("bad.h5:/grp", "bad.h5:/ok")], r"grp"),
    "input_string_type": input_case([("bad.h5:/str", "bad.h5:/str2"), ("bad.h5:/ok", "bad.h5:/str")],
                                    r"str"),
    "input_other_types": input_case([("bad.h5:/cplx", "bad.h5:/ok"), ("bad.h5:/ok", "bad.h5:/bool")],
                                    r"cplx|bool"),
    # 2-D input is one histogram per row: against a 1-D candidate it is a shape mismatch.
    "input_2d": input_case([("bad.h5:/m2", "bad.h5:/ok"), ("bad.h5:/ok", "bad.h5:/m2")],
                           r"differ in shape.*\[3, 10\]"),
    "input_3d_and_scalar": input_case([("bad.h5:/m3", "bad.h5:/m3"), ("bad.h5:/scalar", "bad.h5:/scalar")],
                                      r"m3|scalar"),
    "input_shape_mismatch": input_case([("bad.h5:/ok", "bad.h5:/ok11"), (P_REF, "bad.h5:/ok")],
                                       r"ok|reference|generated"),
    "input_all_zero": input_case([("bad.h5:/zero", "bad.h5:/ok"), ("bad.h5:/ok", "bad.h5:/izero")],
                                 r"zero"),
    "input_zero_length": input_case([("bad.h5:/empty", "bad.h5:/empty2")], r"empty"),
    "input_bad_reference": input_case([("in.h5", Q_REF), (P_REF, "in.h5:generated"), (":/reference", Q_REF)]),
    "input_negative_last_rank": value_case("i32", "p:999=-1", 999, r"negative|-1|< ?0", plain_mpiexec=True),
    "input_negative_middle_q": value_case("f32", "q:500=-0.5", 500, r"negative|-0\.5|< ?0"),
    "input_nan": value_case("f64", "q:7=nan", 7, r"nan"),
    "input_inf": value_case("f64", "p:998=inf", 998, r"inf"),
    "input_minus_inf": value_case("f64le", "q:3=-inf", 3, r"inf"),
}


# -- output errors (exit 4) -------------------------------------------------

def snapshot(ctx):
    return {n: open(ctx.path(n), "rb").read() for n in sorted(os.listdir(ctx.workdir))
            if os.path.isfile(ctx.path(n)) and not n.startswith("rc")}


def case_output_group_exists(ctx):
    make_input(ctx)
    expect_ok(ctx, ["compare", "-o", "res.h5:/g", P_REF, Q_REF])
    before = snapshot(ctx)
    expect_error(ctx, ["compare", "-o", "res.h5:/g", P_REF, Q_REF], 4, r"res\.h5|/g")
    expect_error(ctx, ["compare", "-o", "res.h5:/g", "--json", P_REF, Q_REF], 4, ranks=(4,), wrapped=False)
    ctx.check(snapshot(ctx) == before, "a refused -o changed the files in the directory")
    expect_ok(ctx, ["compare", "-o", "res.h5", P_REF, Q_REF])
    expect_error(ctx, ["compare", "-o", "res.h5", P_REF, Q_REF], 4, r"h5div|res\.h5")


def case_output_dir_missing(ctx):
    make_input(ctx)
    before = snapshot(ctx)
    expect_error(ctx, ["compare", "-o", "nodir/res.h5", P_REF, Q_REF], 4, r"nodir")
    expect_error(ctx, ["compare", "-o", "nodir/deeper/res.h5:/g", P_REF, Q_REF], 4, r"nodir", ranks=(2,))
    ctx.check(not os.path.exists(ctx.path("nodir")), "a failed -o created the directory")
    ctx.check(snapshot(ctx) == before, "a failed -o changed the files in the directory")


def case_output_not_writable(ctx):
    make_input(ctx)
    with open(ctx.path("notes.txt"), "w") as f:
        f.write("not an HDF5 file\n")
    before = snapshot(ctx)
    # A path under a regular file cannot be created, even by root.
    expect_error(ctx, ["compare", "-o", "in.h5/res.h5", P_REF, Q_REF], 4, r"in\.h5")
    if os.geteuid() != 0:
        os.mkdir(ctx.path("ro"))
        os.chmod(ctx.path("ro"), stat.S_IRUSR | stat.S_IXUSR)
        try:
            expect_error(ctx, ["compare", "-o", "ro/res.h5", P_REF, Q_REF], 4, r"ro")
        finally:
            os.chmod(ctx.path("ro"), stat.S_IRWXU)
    else:
        ctx.note("running as root: permission bits do not stop writes, read-only directory variant skipped")
    # An existing file that is not HDF5 is not replaced.
    expect_error(ctx, ["compare", "-o", "notes.txt:/g", P_REF, Q_REF], 4, r"notes\.txt")
    ctx.check(snapshot(ctx) == before, "a failed -o changed the files in the directory")


# -- JSON units per measure -------------------------------------------------

# The units of every measure by the contract and the README's tables: the
# base's unit for entropies, information and divergences measured in it,
# "1" for the unitless ones.
UNITLESS_ALL = {"js_distance", "total_variation", "hellinger", "chi2_pq", "chi2_qp", "wasserstein1",
                "ks", "perplexity", "total_count", "nonzero_bins", "shrinkage_lambda",
                "normalized_mutual_information"}


def contract_units(measure, base):
    return "1" if measure.split(":")[0] in UNITLESS_ALL else T.BASE_UNITS[base]


def case_json_units(ctx):
    """measure_units of compare (with the extra divergences), entropy and
    joint, in every base, against the contract's units; the top-level
    `units` (the base's unit) and `version` are kept in every command."""
    make_input(ctx)
    rng = np.random.default_rng(160)
    with h5py.File(ctx.path("counts.h5"), "w") as f:
        f["P"] = rng.integers(0, 30, 500).astype(np.int32)
        f["PXY"] = rng.integers(0, 30, (20, 25)).astype(np.int32)
    version = expect_ok(ctx, ["--version"]).out.split()[-1]
    runs = [
        ["compare", "--measures", "kl_pq,js_distance,bhattacharyya,chi2_pq,chi2_qp,renyi_pq:2,"
         "renyi_qp:0.5,wasserstein1,ks,hellinger,total_variation", P_REF, Q_REF],
        ["compare", P_REF, Q_REF, P_REF],
        ["entropy", "--estimator", "shrink", "counts.h5:/P"],
        ["entropy", "counts.h5:/P"],
        ["joint", "counts.h5:/PXY"],
    ]
    for args in runs:
        for base in ("2", "e", "10"):
            what = f"{' '.join(args)} -b {base} --json"
            res = expect_ok(ctx, args + ["-b", base, "--json"], what=what)
            try:
                obj = json.loads(res.out)
                values = list(obj["measures"])
            except (ValueError, KeyError, TypeError) as e:
                ctx.check(False, f"{what}: stdout is not a JSON object with measures ({e})", res)
                continue
            want = {m: contract_units(m, base) for m in values}
            ctx.check(obj.get("measure_units") == want,
                      f"{what}: measure_units {obj.get('measure_units')!r}, want {want}", res)
            ctx.check(list(obj.get("measure_units", {})) == list(values),
                      f"{what}: measure_units not in the order of measures", res)
            ctx.check(obj.get("units") == T.BASE_UNITS[base] and obj.get("version") == version
                      and obj.get("command") == args[0],
                      f"{what}: units {obj.get('units')!r}, version {obj.get('version')!r}, "
                      f"command {obj.get('command')!r}", res)


# -- MPI only where needed ----------------------------------------------------

def run_env(ctx, argv, env, timeout=T.DEFAULT_TIMEOUT):
    """ARGV with exactly the environment ENV (no MPI variables unless given)."""
    saved = ctx.env
    ctx.env = env
    try:
        return ctx.run(argv, timeout=timeout)
    finally:
        ctx.env = saved


def case_no_mpi(ctx):
    """--version, --help, COMMAND --help and usage errors start no MPI: they
    succeed (or exit 2 with one line) under `env -i`, where Open MPI cannot
    start even a singleton (MPI_Init there fails with a screen of errors),
    and --version takes milliseconds, not the 0.3-0.5 s of an MPI start."""
    make_input(ctx)
    bare = {}
    res = run_env(ctx, [ctx.h5div, "--version"], bare)
    T.check_success(ctx, res, "env -i h5div --version")
    ctx.check(re.fullmatch(r"h5div \d+\.\d+\.\d+\S*\n", res.out) and res.err == "",
              "env -i h5div --version: want one line 'h5div X.Y.Z' and nothing on stderr", res)
    times = []
    for _ in range(5):
        t0 = time.monotonic()
        subprocess.run([ctx.h5div, "--version"], env=bare, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=10)
        times.append(time.monotonic() - t0)
    ctx.note(f"env -i h5div --version: {min(times) * 1e3:.1f} ms best of 5, {max(times) * 1e3:.1f} ms worst")
    ctx.check(min(times) < 0.15, f"env -i h5div --version takes {min(times):.3f} s (best of 5), want < 0.15 s")
    for args in (["--help"], ["-h"], ["compare", "--help"], ["entropy", "-h"], ["joint", "--help"],
                 ["surprisal", "--help"], ["history", "--help"], ["compare", "-qh"]):
        res = run_env(ctx, [ctx.h5div] + args, bare)
        T.check_success(ctx, res, f"env -i h5div {' '.join(args)}")
        ctx.check(res.out.startswith("usage: h5div") and res.err == "",
                  f"env -i h5div {' '.join(args)}: want the help on stdout only", res)
    usage = [
        (["compare", "--frobnicate", P_REF, Q_REF], r"frobnicate"),
        (["compare", P_REF], r"compare needs"),
        (["compare", "--measures", "kl_pq,bogus", P_REF, Q_REF], r"bogus"),
        (["compare", "--measures", "renyi_pq:1", P_REF, Q_REF], r"renyi"),
        (["compare", "-b", "3", P_REF, Q_REF], r"base"),
        (["compare", "-o", "x.h5:/", P_REF, Q_REF], r"root group"),
        (["entropy", "--estimator", "nope", P_REF], r"estimator"),
        (["entropy", "--measures", "shrinkage_lambda", P_REF], r"shrink"),
        (["joint", "--measures", "entropy", P_REF], r"measure"),
        (["surprisal", P_REF], r"-o"),
        (["history", "h.h5", "--plot", "h.jpg"], r"\.png"),
        (["frobnicate"], r"frobnicate"),
        ([], r"no command"),
    ]
    for args, message in usage:
        res = run_env(ctx, [ctx.h5div] + args, bare)
        T.check_error(ctx, res, 2, f"env -i h5div {' '.join(args)}", message)
    # The printing rank is the launcher's: another rank prints nothing and
    # exits with the same code, rank 0 (or no launcher) prints.
    for var in ("OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"):
        res = run_env(ctx, [ctx.h5div, "--version"], {var: "1"})
        ctx.check(res.rc == 0 and res.out == "" and res.err == "",
                  f"{var}=1 h5div --version: want exit 0 and nothing printed", res)
        res = run_env(ctx, [ctx.h5div, "compare", "--bogus", P_REF, Q_REF], {var: "2"})
        ctx.check(res.rc == 2 and res.out == "" and res.err == "",
                  f"{var}=2 h5div compare --bogus: want exit 2 and nothing printed", res)
        res = run_env(ctx, [ctx.h5div, "compare", "--bogus", P_REF, Q_REF], {var: "0"})
        T.check_error(ctx, res, 2, f"{var}=0 h5div compare --bogus", r"bogus")
    # An evaluating command still runs MPI: plain and on 3 ranks.
    expect_ok(ctx, ["compare", "-q", P_REF, Q_REF], 3)


# -- getopt_long conventions --------------------------------------------------

def case_option_syntax(ctx):
    """Bundled short options (-qv, -qb e, -qbe, -be), attached values (-b10,
    --base=e, -ores.h5), options anywhere, `--` ending the options; spellings
    of one command line give the same bits. Long names are never abbreviated."""
    make_input(ctx)
    ref = T.run_json(ctx, ["-b", "e", P_REF, Q_REF], base="e", what="-b e")
    for args in (["-qb", "e"], ["-qbe"], ["-be"], ["--base=e"], ["-q", "--base", "e"], ["-vqbe"]):
        got = T.run_json(ctx, args + [P_REF, Q_REF], base="e", what=" ".join(args))
        if got is not None and ref is not None:
            T.check_same_bits(ctx, got, ref, f"{' '.join(args)} vs -b e")
    got = T.run_json(ctx, [P_REF, "-b10", Q_REF], base="10", what="-b10 between the operands")
    ctx.check(got is not None, "-b10 between the operands")
    res = expect_ok(ctx, ["compare", "-qv", "--json", P_REF, Q_REF])
    ctx.check(res.err == "", "-qv: -q silences -v", res)
    res = expect_ok(ctx, ["compare", "-vq", "--json", P_REF, Q_REF], 2)
    ctx.check(res.err == "", "-vq on 2 ranks: -q silences -v", res)
    expect_ok(ctx, ["compare", "-qo", "res.h5:/g", P_REF, Q_REF])
    expect_ok(ctx, ["compare", "-qores.h5:/h", P_REF, Q_REF])
    expect_ok(ctx, ["compare", "--output=res.h5:/i", P_REF, Q_REF])
    with h5py.File(ctx.path("res.h5"), "r") as f:
        ctx.check(sorted(f) == ["g", "h", "i"], f"-qo, -qo<attached>, --output=: groups {sorted(f)}")
    # `--` ends the options: an operand may then start with '-'.
    shutil.copy(ctx.path("in.h5"), ctx.path("-in.h5"))
    got = T.run_json(ctx, ["-b", "e", "--", "-in.h5:/reference", "-in.h5:/generated"], base="e",
                     what="-- then operands starting with -")
    if got is not None and ref is not None:
        T.check_same_bits(ctx, got, ref, "-- -in.h5:... vs in.h5:...")
    expect_error(ctx, ["compare", "-in.h5:/reference", "-in.h5:/generated"], 2, r"unknown option",
                 ranks=(None,))
    # after `--`, --json is an operand (a dataset reference without :/): an input error
    expect_error(ctx, ["compare", "--", "--json", P_REF], 3, r"--json", ranks=(None,))
    for args, message in (
            (["compare", "--json=1", P_REF, Q_REF], r"takes no value.*--json=1"),
            (["compare", "-qx", P_REF, Q_REF], r"unknown option.*-x"),
            (["compare", P_REF, Q_REF, "-qb"], r"needs a value.*-b"),
            (["compare", "--bas", "e", P_REF, Q_REF], r"unknown option.*--bas"),
            (["compare", "-b=e", P_REF, Q_REF], r"base.*=e"),
            (["compare", "-q", "--overwrite=yes", P_REF, Q_REF], r"takes no value")):
        expect_error(ctx, args, 2, message, ranks=(None, 3) if args[1] == "-qx" else (None,))



CASES = {
    "help_version": case_help_version,
    "help_measures": case_help_measures,
    "table": case_table,
    "base_options": case_base_options,
    "json": case_json,
    "quiet_verbose": case_quiet_verbose,
    "sizes": case_sizes,
    "misc_options": case_misc_options,
    "output_option": case_output_option,
    "json_units": case_json_units,
    "no_mpi": case_no_mpi,
    "option_syntax": case_option_syntax,
}
CASES.update(USAGE_CASES)
CASES.update(INPUT_CASES)
CASES.update({
    "output_group_exists": case_output_group_exists,
    "output_dir_missing": case_output_dir_missing,
    "output_not_writable": case_output_not_writable,
})

if __name__ == "__main__":
    T.main(CASES)
