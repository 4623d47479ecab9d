# SPDX-License-Identifier: BSD-3-Clause
"""Shared helpers of the h5div CLI and MPI tests: running commands with a
timeout, reading JSON and table output, checking error lines, and two oracles
(scipy in float64, mpmath at 40 digits) that share no code with h5div.

Every test script is run by CTest as
    script --h5div H5DIV --gen H5DIV_GEN --mpiexec MPIEXEC --workdir DIR --case NAME
and exits 0 (pass), 1 (fail) or 77 (skip: this Python lacks numpy/scipy/h5py/mpmath).
"""

import argparse
import importlib.util
import json
import math
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import time

SKIP = 77

# CI installs these; a bare machine skips. scipy and mpmath take a second to
# import, so only the oracles import them (the CLI tests never do).
_missing = [m for m in ("numpy", "h5py", "scipy", "mpmath") if importlib.util.find_spec(m) is None]
if _missing:
    print(f"SKIP: {sys.executable} lacks {', '.join(_missing)}", file=sys.stderr)
    sys.exit(SKIP)

import h5py  # noqa: E402
import numpy as np  # noqa: E402

# The measures of `compare`, in the order of CONTRACT.md.
COMPARE_MEASURES = [
    "entropy_p", "entropy_q", "cross_entropy_pq", "cross_entropy_qp", "kl_pq", "kl_qp",
    "js_divergence", "js_distance", "total_variation", "hellinger",
]
DIVERGENCES = ["kl_pq", "kl_qp", "js_divergence", "js_distance", "total_variation", "hellinger"]
UNITLESS = {"js_distance", "total_variation", "hellinger"}
BASE_UNITS = {"2": "bits", "e": "nats", "10": "hartleys"}

DEFAULT_TIMEOUT = 30.0  # seconds; a command that takes longer is a hang
RTOL = 1e-12            # relative tolerance against the oracles

ERROR_LINE = re.compile(r"^h5div: error: \S.* \(.+\)$")
MPI_ENV = {
    "OMPI_ALLOW_RUN_AS_ROOT": "1",
    "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
    "OMPI_MCA_btl_vader_single_copy_mechanism": "none",
    "OMPI_MCA_rmaps_base_oversubscribe": "1",
}


def units_of(measure, base):
    return "1" if measure in UNITLESS else BASE_UNITS[base]


class Fatal(Exception):
    """A step the rest of a test depends on failed (e.g. the generator)."""


class Result:
    """Outcome of one command."""

    def __init__(self, argv, rc, out, err, elapsed, timed_out, via_mpi):
        self.argv, self.rc, self.out, self.err = argv, rc, out, err
        self.elapsed, self.timed_out, self.via_mpi = elapsed, timed_out, via_mpi

    def describe(self, limit=3000):
        def cut(s):
            return s if len(s) <= limit else s[:limit] + f"... [{len(s) - limit} more chars]"
        status = "TIMED OUT" if self.timed_out else f"exit {self.rc}"
        return (f"    $ {' '.join(_quote(a) for a in self.argv)}\n"
                f"    -> {status} after {self.elapsed:.2f} s\n"
                f"    stdout: {cut(self.out)!r}\n"
                f"    stderr: {cut(self.err)!r}")


def _quote(a):
    return a if re.fullmatch(r"[\w./:=,+@%-]+", a) else repr(a)


class Ctx:
    """State of one test: paths of the tools, its work directory, its failures."""

    def __init__(self, args):
        self.h5div = args.h5div
        self.gen_exe = args.gen
        self.mpiexec = args.mpiexec
        self.workdir = os.path.abspath(args.workdir)
        self.case = args.case
        self.failures = []
        self.checks = 0
        self.env = dict(os.environ)
        self.env.update(MPI_ENV)
        if os.path.isdir(self.workdir):
            shutil.rmtree(self.workdir)
        os.makedirs(self.workdir)

    def path(self, name):
        return os.path.join(self.workdir, name)

    # -- running ---------------------------------------------------------

    def run(self, argv, timeout=DEFAULT_TIMEOUT, cwd=None, via_mpi=False):
        argv = [str(a) for a in argv]
        t0 = time.monotonic()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, cwd=cwd or self.workdir, env=self.env,
                                start_new_session=True, text=True, errors="replace")
        timed_out = False
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            out, err = _kill_group(proc)
        res = Result(argv, None if timed_out else proc.returncode, out, err,
                     time.monotonic() - t0, timed_out, via_mpi)
        status = "TIMED OUT" if timed_out else f"exit {res.rc}"
        print(f"[{res.elapsed:5.2f} s, {status}] {' '.join(_quote(a) for a in argv)}", flush=True)
        return res

    def mpi_prefix(self, ranks, mca=(), extra=()):
        argv = [self.mpiexec, "--oversubscribe"]
        for key, value in mca:
            argv += ["--mca", key, value]
        return argv + list(extra) + ["-n", str(ranks)]

    def h5div_run(self, args, ranks=None, mca=(), timeout=DEFAULT_TIMEOUT, cwd=None):
        """h5div ARGS, plain when ranks is None, else under mpiexec -n RANKS."""
        if ranks is None:
            return self.run([self.h5div] + list(args), timeout=timeout, cwd=cwd)
        return self.run(self.mpi_prefix(ranks, mca) + [self.h5div] + list(args),
                        timeout=timeout, cwd=cwd, via_mpi=True)

    def rank_exit_codes(self, args, ranks, timeout=DEFAULT_TIMEOUT):
        """Run h5div ARGS on RANKS ranks without mpiexec aborting the job at the
        first non-zero exit, and return (result, [exit code of each rank])."""
        tag = f"rc{time.monotonic_ns()}"
        wrapper = ('"$0" "$@"; rc=$?; echo $rc > "' + self.workdir + '/' + tag +
                   '.$OMPI_COMM_WORLD_RANK"; exit $rc')
        argv = (self.mpi_prefix(ranks, mca=[("orte_abort_on_non_zero_status", "0")]) +
                ["/bin/sh", "-c", wrapper, self.h5div] + list(args))
        res = self.run(argv, timeout=timeout, via_mpi=True)
        codes = []
        for r in range(ranks):
            f = self.path(f"{tag}.{r}")
            codes.append(int(open(f).read().strip()) if os.path.exists(f) else None)
            if os.path.exists(f):
                os.remove(f)
        return res, codes

    def gen(self, out, *opts):
        """Run h5div-gen OUT OPTS; a failing generator makes the test fail."""
        res = self.run([self.gen_exe, out] + [str(o) for o in opts], timeout=60)
        if res.rc != 0:
            raise Fatal("generator failed:\n" + res.describe())
        return out

    # -- checking --------------------------------------------------------

    def check(self, cond, what, result=None):
        self.checks += 1
        if not cond:
            msg = f"FAIL: {what}"
            if result is not None:
                msg += "\n" + result.describe()
            self.failures.append(msg)
            print(msg, flush=True)
        return bool(cond)

    def note(self, text):
        print(text, flush=True)

    def finish(self):
        if self.failures:
            print(f"\n{self.case}: {len(self.failures)} of {self.checks} checks failed", flush=True)
            sys.exit(1)
        print(f"{self.case}: all {self.checks} checks passed", flush=True)
        sys.exit(0)


def _kill_group(proc):
    for sig, grace in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            return proc.communicate(timeout=grace)
        except subprocess.TimeoutExpired:
            continue
    return "", ""


def main(cases):
    """Parse the common arguments and run cases[NAME](ctx)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--h5div", required=False)
    ap.add_argument("--gen", required=False)
    ap.add_argument("--mpiexec", required=False)
    ap.add_argument("--workdir", required=False)
    ap.add_argument("--case", required=False)
    ap.add_argument("--list", action="store_true", help="print the case names")
    args = ap.parse_args()
    if args.list:
        print("\n".join(cases))
        return 0
    for a in ("h5div", "gen", "mpiexec", "workdir", "case"):
        if not getattr(args, a):
            ap.error(f"--{a} is required")
    if args.case not in cases:
        ap.error(f"unknown case {args.case}; known: {', '.join(cases)}")
    ctx = Ctx(args)
    try:
        cases[args.case](ctx)
    except Fatal as e:
        ctx.failures.append(f"FATAL: {e}")
        print(f"FATAL: {e}", flush=True)
    ctx.finish()


# -- output parsing -------------------------------------------------------

def bits(x):
    """Bit pattern of a double, with every NaN the same."""
    return "nan" if math.isnan(x) else struct.pack("<d", x).hex()


def same_bits(a, b):
    return bits(a) == bits(b)


def json_value(v):
    """A measure value from JSON: a number or one of "inf", "-inf", "nan"."""
    if isinstance(v, bool):
        raise ValueError(f"boolean {v!r} is not a measure value")
    if isinstance(v, (int, float)):
        return float(v)
    if v in ("inf", "-inf", "nan"):
        return float(v)
    raise ValueError(f"{v!r} is not a measure value")


def _seventeen_digits(tok, value):
    if tok == "%.17g" % value:
        return True
    mant = re.sub(r"[eE].*$", "", tok).lstrip("-").replace(".", "").lstrip("0")
    return len(mant) == 17


def parse_json_output(ctx, res, what):
    """Check that stdout is exactly one JSON object with 17-digit numbers and
    return (object, {measure: float}) or (None, None)."""
    try:
        obj = json.loads(res.out)
    except ValueError as e:
        ctx.check(False, f"{what}: stdout is not one JSON object ({e})", res)
        return None, None
    if not ctx.check(isinstance(obj, dict) and isinstance(obj.get("measures"), dict),
                     f"{what}: JSON has no 'measures' object", res):
        return None, None
    values = {}
    for name, v in obj["measures"].items():
        try:
            values[name] = json_value(v)
        except ValueError as e:
            ctx.check(False, f"{what}: measure {name}: {e}", res)
            continue
        m = re.search(r'"%s"\s*:\s*("[^"]*"|[-+0-9.eE]+)' % re.escape(name), res.out)
        tok = m.group(1) if m else ""
        if math.isfinite(values[name]):
            ctx.check(_seventeen_digits(tok, values[name]),
                      f"{what}: {name} printed as {tok}, not with 17 significant digits", res)
        else:
            ctx.check(tok == '"%s"' % ("nan" if math.isnan(values[name]) else
                                       ("inf" if values[name] > 0 else "-inf")),
                      f"{what}: non-finite {name} printed as {tok}", res)
    return obj, values


def check_json_header(ctx, obj, res, what, base="2", ranks=1, p=None, q=None):
    ctx.check(obj.get("command") == "compare", f"{what}: JSON command is {obj.get('command')!r}", res)
    ctx.check(obj.get("base") == base, f"{what}: JSON base is {obj.get('base')!r}, want {base!r}", res)
    ctx.check(obj.get("units") == BASE_UNITS[base],
              f"{what}: JSON units is {obj.get('units')!r}, want {BASE_UNITS[base]!r}", res)
    ctx.check(obj.get("ranks") == ranks and type(obj.get("ranks")) is int,
              f"{what}: JSON ranks is {obj.get('ranks')!r}, want {ranks}", res)
    inputs = obj.get("inputs")
    ok = isinstance(inputs, dict)
    ctx.check(ok, f"{what}: JSON has no 'inputs' object", res)
    if ok and p is not None:
        ctx.check(inputs.get("p") == p, f"{what}: inputs.p is {inputs.get('p')!r}, want {p!r}", res)
    if ok and q is not None:
        ctx.check(inputs.get("q") == q, f"{what}: inputs.q is {inputs.get('q')!r}, want {q!r}", res)


def parse_table_output(ctx, res, what):
    """Parse the text table: one header line naming the columns, then
    `name value units` rows. Returns {measure: (float, units)} or None."""
    lines = [l for l in res.out.splitlines() if l.strip()]
    if not ctx.check(lines and re.search(r"\bmeasure\b", lines[0], re.I),
                     f"{what}: table has no header line naming 'measure'", res):
        return None
    rows = {}
    for line in lines[1:]:
        f = line.split()
        if not ctx.check(len(f) == 3, f"{what}: table row {line!r} is not 'name value units'", res):
            continue
        try:
            v = float(f[1])
        except ValueError:
            ctx.check(False, f"{what}: table value {f[1]!r} of {f[0]} is not a number", res)
            continue
        want = "%.17g" % v
        ctx.check(f[1] == want or (math.isnan(v) and f[1] in ("nan", "-nan")),
                  f"{what}: table value {f[1]!r} of {f[0]} is not %.17g ({want})", res)
        ctx.check(f[0] not in rows, f"{what}: measure {f[0]} listed twice", res)
        rows[f[0]] = (v, f[2])
    return rows


def stderr_lines(res):
    """The non-empty stderr lines written by the program, without the framed
    banners mpiexec adds when a rank exits non-zero."""
    lines = res.err.splitlines()
    if res.via_mpi:
        kept, inside = [], False
        for line in lines:
            if re.fullmatch(r"-{20,}", line.strip()):
                inside = not inside
                continue
            if not inside:
                kept.append(line)
        lines = kept
    return [l for l in lines if l.strip()]


def check_error(ctx, res, code, what, message=None):
    """Exit code CODE, nothing on stdout, and exactly one stderr line
    `h5div: error: <what> (<where>)` (once, not once per rank). MESSAGE is an
    optional regular expression (case-insensitive) the line must match."""
    ok = ctx.check(not res.timed_out, f"{what}: did not finish within the timeout", res)
    if code is not None:  # None: the caller checks the exit codes itself
        ok &= ctx.check(res.rc == code, f"{what}: exit code {res.rc}, want {code}", res)
    ok &= ctx.check(res.out.strip() == "", f"{what}: something on stdout on error", res)
    n_err = len(re.findall(r"h5div: error", res.err))
    ok &= ctx.check(n_err == 1, f"{what}: 'h5div: error' printed {n_err} times, want once", res)
    lines = stderr_lines(res)
    ok &= ctx.check(len(lines) == 1, f"{what}: {len(lines)} stderr lines, want exactly one", res)
    if lines:
        ok &= ctx.check(ERROR_LINE.match(lines[0]),
                        f"{what}: stderr line {lines[0]!r} is not 'h5div: error: <what> (<where>)'", res)
        if message is not None:
            ok &= ctx.check(re.search(message, lines[0], re.I),
                            f"{what}: error line {lines[0]!r} does not match /{message}/", res)
    return ok


def check_success(ctx, res, what):
    ok = ctx.check(not res.timed_out, f"{what}: did not finish within the timeout", res)
    return ok and ctx.check(res.rc == 0, f"{what}: exit code {res.rc}, want 0", res)


def run_json(ctx, args, ranks=None, mca=(), what=None, base="2", p=None, q=None):
    """h5div compare --json ARGS; returns {measure: float} or None."""
    what = what or f"{' '.join(args)} on {ranks or 'plain 1'} rank(s)"
    res = ctx.h5div_run(["compare", "--json"] + list(args), ranks=ranks, mca=mca)
    if not check_success(ctx, res, what):
        return None
    obj, values = parse_json_output(ctx, res, what)
    if obj is None:
        return None
    check_json_header(ctx, obj, res, what, base=base, ranks=ranks or 1, p=p, q=q)
    return values


# -- input data -------------------------------------------------------------

def split_ref(ref):
    """FILE:/path split at the last ':' followed by '/'."""
    i = ref.rfind(":/")
    return ref[:i], ref[i + 1:]


def read_raw(ref):
    """The dataset as a numpy array of its own type (native byte order)."""
    fname, dset = split_ref(ref)
    with h5py.File(fname, "r") as f:
        return f[dset][()]


def exact_values(arr):
    """Python ints (integer types, exact even for 64 bits) or floats."""
    return arr.tolist()


# -- oracles ----------------------------------------------------------------

_BASE_SCIPY = {"2": 2.0, "e": None, "10": 10.0}  # None: natural logarithm


def oracle_scipy(P, Q, base="2", alpha=0.0):
    """The compare measures from scipy in float64, sums with math.fsum."""
    import scipy.spatial.distance
    import scipy.special
    import scipy.stats

    b = _BASE_SCIPY[base]
    lb = math.log(b) if b else 1.0
    p = np.asarray(P, dtype=np.float64) + alpha
    q = np.asarray(Q, dtype=np.float64) + alpha
    pn = p / math.fsum(p)
    qn = q / math.fsum(q)
    r = {}
    r["entropy_p"] = float(scipy.stats.entropy(p, base=b))
    r["entropy_q"] = float(scipy.stats.entropy(q, base=b))
    r["cross_entropy_pq"] = 0.0 - math.fsum(scipy.special.xlogy(pn, qn)) / lb
    r["cross_entropy_qp"] = 0.0 - math.fsum(scipy.special.xlogy(qn, pn)) / lb
    r["kl_pq"] = math.fsum(scipy.special.rel_entr(pn, qn)) / lb
    r["kl_qp"] = math.fsum(scipy.special.rel_entr(qn, pn)) / lb
    jsd = float(scipy.spatial.distance.jensenshannon(p, q, base=b))
    r["js_distance"] = jsd
    r["js_divergence"] = jsd * jsd
    r["total_variation"] = 0.5 * math.fsum(np.abs(pn - qn))
    r["hellinger"] = math.sqrt(max(0.0, 1.0 - math.fsum(np.sqrt(pn * qn))))
    return r


def mp_normalised(P, Q, base="2", alpha=0.0):
    """p, q and ln(base) with mpmath at the current precision, from the exact
    values of the raw counts (Python ints or floats) plus the pseudocount."""
    import mpmath

    mpf, fsum, log = mpmath.mpf, mpmath.fsum, mpmath.log
    a = mpf(alpha)
    Pm = [mpf(x) + a for x in P]
    Qm = [mpf(x) + a for x in Q]
    sp, sq = fsum(Pm), fsum(Qm)
    return ([x / sp for x in Pm], [x / sq for x in Qm],
            {"2": log(2), "e": mpf(1), "10": log(10)}[base])


def oracle_mp(P, Q, base="2", alpha=0.0, dps=40):
    """The compare measures from mpmath at DPS digits, starting from the exact
    values of the raw counts (Python ints or floats)."""
    import mpmath

    with mpmath.workdps(dps):
        mpf, log, sqrt, fsum = mpmath.mpf, mpmath.log, mpmath.sqrt, mpmath.fsum
        p, q, lb = mp_normalised(P, Q, base, alpha)
        inf = mpmath.inf

        def entropy(x):
            return -fsum(v * log(v) for v in x if v) / lb

        def cross(x, y):
            if any(u and not v for u, v in zip(x, y)):
                return inf
            return -fsum(u * log(v) for u, v in zip(x, y) if u) / lb

        def kl(x, y):
            if any(u and not v for u, v in zip(x, y)):
                return inf
            return fsum(u * log(u / v) for u, v in zip(x, y) if u) / lb

        m = [(u + v) / 2 for u, v in zip(p, q)]
        js = (kl(p, m) + kl(q, m)) / 2
        r = {
            "entropy_p": entropy(p), "entropy_q": entropy(q),
            "cross_entropy_pq": cross(p, q), "cross_entropy_qp": cross(q, p),
            "kl_pq": kl(p, q), "kl_qp": kl(q, p),
            "js_divergence": js, "js_distance": sqrt(js),
            "total_variation": fsum(abs(u - v) for u, v in zip(p, q)) / 2,
            "hellinger": sqrt(fsum((sqrt(u) - sqrt(v)) ** 2 for u, v in zip(p, q)) / 2),
        }
        return {k: float(v) for k, v in r.items()}


def close(got, want, rtol=RTOL, positive_zero=False):
    """got agrees with want to rtol relative; inf must match inf, an exact 0
    must be met exactly (with positive_zero, -0.0 is not accepted: the
    contract says divergences are never negative)."""
    if math.isnan(want) or math.isnan(got):
        return False
    if math.isinf(want) or math.isinf(got):
        return got == want
    if want == 0.0:
        return got == 0.0 and (not positive_zero or math.copysign(1.0, got) > 0)
    return abs(got - want) <= rtol * abs(want)


def check_against(ctx, got, want, what, rtol=RTOL, measures=None):
    """Every measure of WANT (or of MEASURES) is present in GOT and close."""
    for name in measures or COMPARE_MEASURES:
        if not ctx.check(name in got, f"{what}: measure {name} missing"):
            continue
        g, w = got[name], want[name]
        rel = abs(g - w) / abs(w) if math.isfinite(g) and math.isfinite(w) and w else float("nan")
        ctx.check(close(g, w, rtol, positive_zero=name in DIVERGENCES),
                  f"{what}: {name} = {g!r}, oracle {w!r} (relative error {rel:.3g}, tolerance {rtol:g})")


def check_same_bits(ctx, a, b, what):
    """Two result dicts have the same keys and bit-identical values."""
    ctx.check(set(a) == set(b), f"{what}: measures differ: {sorted(set(a) ^ set(b))}")
    for name in sorted(set(a) & set(b)):
        ctx.check(same_bits(a[name], b[name]),
                  f"{what}: {name} differs: {a[name]!r} vs {b[name]!r}")


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
