#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Checks packaging/spack/h5div/package.py without Spack or a network: the recipe is imported
against a small stand-in for Spack's package API that records its directives, and cmake_args()
is evaluated for every variant setting. It must be a CMakePackage that depends on mpi and on
hdf5+mpi; every -D it passes must name an option() of h5div's CMake files (or a FindMPI
variable), every option() must be set by the recipe, a variant and its option must have the same
default, and flipping a variant must flip its option.

    check_recipe.py RECIPE_DIR SOURCE_DIR
"""

import importlib.util
import itertools
import re
import sys
import types

failures = []


def check(cond, what, quiet=False):
    if not cond or not quiet:
        print(("ok: " if cond else "FAIL: ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


# --- a stand-in for spack.package: directives record themselves into the class body --------
def _record(kind, *args, **kwargs):
    ns = sys._getframe(2).f_locals
    ns.setdefault("_directives", []).append((kind, args, kwargs))


def version(*a, **k): _record("version", *a, **k)
def variant(*a, **k): _record("variant", *a, **k)
def depends_on(*a, **k): _record("depends_on", *a, **k)
def conflicts(*a, **k): _record("conflicts", *a, **k)
def license(*a, **k): _record("license", *a, **k)
def maintainers(*a, **k): _record("maintainers", *a, **k)
def patch(*a, **k): _record("patch", *a, **k)
def provides(*a, **k): _record("provides", *a, **k)


class _Variant:
    def __init__(self, value):
        self.value = value


class _Dep:
    mpicc = "/stand-in/mpi/bin/mpicc"
    prefix = "/stand-in/prefix"


class _Spec:
    def __init__(self, variants):
        self.variants = {k: _Variant(v) for k, v in variants.items()}

    def satisfies(self, s):
        m = re.fullmatch(r"([+~])(\w+)", s)
        if not m:
            raise ValueError(f"stand-in spec cannot evaluate {s!r}")
        return self.variants[m.group(2)].value == (m.group(1) == "+")

    def __contains__(self, s):
        return self.satisfies(s)

    def __getitem__(self, name):
        return _Dep()


class CMakePackage:
    run_tests = False

    def __init__(self, spec):
        self.spec = spec

    @staticmethod
    def _value(v):
        if isinstance(v, bool):
            return "BOOL", "ON" if v else "OFF"
        return "STRING", str(v)

    def define(self, name, value):
        t, v = self._value(value)
        return f"-D{name}:{t}={v}"

    def define_from_variant(self, name, var=None):
        return self.define(name, self.spec.variants[var or name.lower()].value)


class _Env:
    def __init__(self):
        self.vars = {}

    def set(self, k, v):
        self.vars[k] = v


def main():
    recipe_dir, source = sys.argv[1], sys.argv[2]
    stub = types.ModuleType("spack.package")
    for name in ("version", "variant", "depends_on", "conflicts", "license", "maintainers",
                 "patch", "provides", "CMakePackage"):
        setattr(stub, name, globals()[name])
    stub.__all__ = [n for n in dir(stub) if not n.startswith("_")]
    sys.modules["spack"] = types.ModuleType("spack")
    sys.modules["spack.package"] = stub
    spec = importlib.util.spec_from_file_location("h5div_recipe", f"{recipe_dir}/h5div/package.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)

    cls = getattr(mod, "H5div", None)
    if not check(cls is not None and issubclass(cls, CMakePackage), "class H5div(CMakePackage)"):
        return 1
    directives = cls.__dict__.get("_directives", [])
    deps = [(a[0], k.get("when"), k.get("type")) for kind, a, k in directives if kind == "depends_on"]
    variants = {a[0]: k for kind, a, k in directives if kind == "variant"}
    check(any(d == "mpi" and w is None for d, w, _ in deps), 'depends_on("mpi")')
    check(any(re.match(r"hdf5(@[^+~]*)?\+mpi\b", d) and w is None for d, w, _ in deps),
          'depends_on("hdf5+mpi")')
    check(any(d.startswith("cmake@3.25") for d, _, _ in deps), "cmake@3.25: as a build dependency")
    check([v for kind, a, _ in directives if kind == "version" for v in a], "at least one version")

    # The options of h5div's CMake files: option(NAME "doc" DEFAULT).
    text = open(f"{source}/CMakeLists.txt").read()
    options = {m.group(1): m.group(2).upper() in ("ON", "TRUE", "1", "YES")
               for m in re.finditer(r'^\s*option\((\w+)\s+"[^"]*"\s+(\w+)\)', text, re.M)}
    check(len(options) >= 3, f"options of CMakeLists.txt: {sorted(options)}")
    allowed_other = {"MPI_C_COMPILER"}

    # cmake_args for every combination of variant values.
    set_by_recipe = set()
    names = sorted(variants)
    for values in itertools.product([False, True], repeat=len(names)):
        for run_tests in (False, True):
            setting = dict(zip(names, values))
            pkg = cls(_Spec(setting))
            pkg.run_tests = run_tests
            args = pkg.cmake_args()
            defs = {}
            for a in args:
                m = re.fullmatch(r"-D(\w+):(\w+)=(.*)", a)
                if check(m is not None, f"cmake arg {a!r} is -DNAME:TYPE=VALUE", quiet=True):
                    defs[m.group(1)] = m.group(3)
            for d in defs:
                if not (d in options or d in allowed_other):
                    check(False, f"{d} (from cmake_args) is not an option() of h5div's CMake files")
            set_by_recipe |= set(defs)
            # Each variant reaches its option: the option follows the variant's value.
            for v in names:
                hits = [d for d in defs if d in options and
                        f"-D{d}:BOOL={'ON' if setting[v] else 'OFF'}" in args and
                        cls(_Spec({**setting, v: not setting[v]})).cmake_args() != args]
                if not hits:
                    check(False, f"variant {v}={setting[v]} changes no CMake option")
            if defs.get("H5DIV_BUILD_TESTS") != ("ON" if run_tests else "OFF"):
                check(False, f"H5DIV_BUILD_TESTS does not follow run_tests={run_tests}")
            # help2man is needed exactly when man pages are built.
            if "man" in setting:
                man_on = defs.get("H5DIV_MAN_PAGES") == "ON"
                check(man_on == setting["man"], f"H5DIV_MAN_PAGES follows +man ({setting['man']})",
                      quiet=True)
    check(any(d == "help2man" and w == "+man" for d, w, _ in deps), 'depends_on("help2man", when="+man")')
    for opt in options:
        check(opt in set_by_recipe, f"option {opt} is set by the recipe")
    # Same defaults: the variant that sets an option defaults to the option's default.
    for v, kw in variants.items():
        on = cls(_Spec({n: (n == v) for n in names})).cmake_args()
        off = cls(_Spec({n: False for n in names})).cmake_args()
        changed = [a.split(":")[0][2:] for a in on if a not in off]
        for opt in changed:
            check(opt in options and options[opt] == bool(kw.get("default")),
                  f"variant {v} (default {kw.get('default')}) and option {opt} "
                  f"(default {'ON' if options.get(opt) else 'OFF'}) agree")
    check(True, f"cmake_args() of all {2 ** len(names) * 2} settings of {names} and run_tests")
    env = _Env()
    if hasattr(cls, "setup_build_environment"):
        cls(_Spec({n: True for n in names})).setup_build_environment(env)
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
