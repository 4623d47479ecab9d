#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Appending result groups to a large results file: the run goes to a file
of its own in FILE.runs/, linked into FILE (the index) with an HDF5 external
link, so its cost does not grow with FILE; a file made otherwise keeps its
inode as FILE.runs/base.INODE.h5 (no copy). Readers (h5py, `h5div
history`, h5ls, h5dump) see every run through the links; killed appends
leave every earlier run intact; --overwrite replaces the named run's link
and file only; `h5copy -f ext` makes a self-contained copy."""

import os
import random
import shutil
import subprocess
import time

import h5py
import numpy as np

import h5div_testlib as T

GIB = 1 << 30


def inputs(ctx):
    """Two small distributions and their scipy oracle values."""
    rng = np.random.default_rng(7)
    P, Q, P2 = rng.random(64) + 0.01, rng.random(64) + 0.01, rng.random(64) + 0.01
    with h5py.File(ctx.path("in.h5"), "w") as f:
        f["p"], f["q"], f["p2"] = P, Q, P2
    return T.oracle_scipy(P, Q), T.oracle_scipy(P2, Q)


def make_big(path, size=GIB):
    """A results file of `size` bytes made the way earlier h5div versions
    wrote them (every run inside it): one run with a big contiguous dataset,
    written sparsely (a tenth of a second)."""
    with h5py.File(path, "w") as f:
        g = f.create_group("runs/old")
        g.attrs["h5div_version"] = "0.0.0"
        g.attrs["created"] = "2000-01-01T00:00:00Z"
        g["kl_pq"] = 0.25
        d = g.create_dataset("big", shape=(size // 8,), dtype="f8")
        d[-1] = 1.0


def append(ctx, res_file, group, extra=(), ranks=None, p="in.h5:/p"):
    t = time.monotonic()
    res = ctx.h5div_run(["compare", p, "in.h5:/q", "-o", f"{res_file}:{group}", "-q"] + list(extra),
                        ranks=ranks)
    return res, time.monotonic() - t


def runs_of(ctx, name):
    """{run: kl_pq} of /runs of file `name`, read with h5py through the links."""
    with h5py.File(ctx.path(name), "r") as f:
        return {k: float(f["runs"][k]["kl_pq"][()]) for k in f["runs"]}


def check_old(ctx, name, what, size=GIB):
    with h5py.File(ctx.path(name), "r") as f:
        d = f["runs/old/big"]
        ctx.check(d.shape == (size // 8,) and d[-1] == 1.0 and f["runs/old/kl_pq"][()] == 0.25,
                  f"{what}: the earlier run /runs/old changed")


def case_append_cost(ctx):
    """Appending a run to a 1 GiB results file takes no longer than appending
    it to an empty one (within 0.1 s; the minimum of 3 each, about 10 s in
    all), and copies nothing: the old file is the same inode, still sparse."""
    want, _ = inputs(ctx)
    empty, big = [], []
    for trial in range(3):
        for f in ("empty.h5", "big.h5"):
            if os.path.exists(ctx.path(f)):
                os.remove(ctx.path(f))
        shutil.rmtree(ctx.path("big.h5.runs"), ignore_errors=True)
        with h5py.File(ctx.path("empty.h5"), "w"):
            pass
        make_big(ctx.path("big.h5"))
        ino = os.stat(ctx.path("big.h5")).st_ino
        res, t = append(ctx, "empty.h5", "/runs/new")
        T.check_success(ctx, res, f"append to an empty file ({trial})")
        empty.append(t)
        res, t = append(ctx, "big.h5", "/runs/new")
        T.check_success(ctx, res, f"append to a 1 GiB file ({trial})")
        big.append(t)
        base = ctx.path(f"big.h5.runs/base.{ino}.h5")
        ctx.check(os.path.exists(base) and os.stat(base).st_ino == ino,
                  f"the 1 GiB file is not kept as {base} (same inode)")
        ctx.check(os.path.getsize(ctx.path("big.h5")) < (1 << 20),
                  f"the index is {os.path.getsize(ctx.path('big.h5'))} bytes, want < 1 MiB")
        # A second append goes to the index as it is now.
        res, t = append(ctx, "big.h5", "/runs/second")
        T.check_success(ctx, res, f"second append to the 1 GiB file ({trial})")
        big.append(t)
    ctx.note(f"append wall times: empty {[round(x, 3) for x in empty]}, 1 GiB {[round(x, 3) for x in big]}")
    ctx.check(min(big) - min(empty) < 0.1,
              f"append to 1 GiB {min(big):.3f} s vs empty {min(empty):.3f} s (more than 0.1 s apart)")
    ctx.check(os.stat(ctx.path(f"big.h5.runs/base.{ino}.h5")).st_blocks * 512 < (64 << 20),
              "the 1 GiB file was copied (it is no longer sparse)")
    check_old(ctx, "big.h5", "after the appends")
    with h5py.File(ctx.path("big.h5"), "r") as f:
        kinds = {k: type(f["runs"].get(k, getlink=True)).__name__ for k in f["runs"]}
    ctx.check(kinds == {"old": "ExternalLink", "new": "ExternalLink", "second": "ExternalLink"},
              f"links of the index: {kinds}, want external links only")
    for f in ("empty.h5", "big.h5"):
        got = runs_of(ctx, f)
        ctx.check(T.close(got.get("new", float("nan")), want["kl_pq"]),
                  f"{f}:/runs/new kl_pq {got.get('new')} vs scipy {want['kl_pq']}")
    # Every reader sees the runs through the links, from any directory.
    res = ctx.run([ctx.h5div, "history", ctx.path("big.h5")], cwd="/")
    T.check_success(ctx, res, "history of the index")
    names = [line.split()[0] for line in res.out.splitlines()[1:] if line.strip()]
    ctx.check(sorted(names) == ["new", "old", "second"], f"history lists {names}", res)
    for tool, args in (("h5ls", ["-r", "-E"]), ("h5dump", ["-d", "/runs/new/kl_pq"])):
        exe = shutil.which(tool)
        if not exe:
            ctx.note(f"{tool} is not installed: not checked")
            continue
        r = ctx.run([exe] + args + [ctx.path("big.h5")], cwd="/")
        ctx.check(r.rc == 0 and "kl_pq" in r.out, f"{tool} does not see /runs/new/kl_pq", r)


def case_kill_linked(ctx):
    """SIGKILL appends to an index 16 times (half of them in the window
    between the run file's rename and the index's, half at random moments;
    plain and on 2 ranks, about 15 s): every earlier run is unchanged, the
    index always opens, and a later append cleans up and succeeds."""
    want, _ = inputs(ctx)
    make_big(ctx.path("res.h5"), size=32 << 20)
    res, t_plain = append(ctx, "res.h5", "/runs/a")
    T.check_success(ctx, res, "first linked append")
    before = runs_of(ctx, "res.h5")
    ctx.check(sorted(before) == ["a", "old"], f"runs {sorted(before)}, want a and old")
    seed = int(os.environ.get("H5DIV_KILL_SEED", time.time_ns() % 100000))
    rng = random.Random(seed)
    ctx.note(f"kill_linked: random seed {seed} (set H5DIV_KILL_SEED to repeat)")
    env = dict(ctx.env)
    for i in range(16):
        ranks = None if i % 4 < 2 else 2
        argv = [ctx.h5div, "compare", "in.h5:/p", "in.h5:/q", "-o", f"res.h5:/runs/k{i}", "-q"]
        if ranks:
            argv = ctx.mpi_prefix(ranks) + argv
        paused = i % 2 == 0
        env.pop("H5DIV_TEST_LINK_PAUSE", None)
        if paused:
            env["H5DIV_TEST_LINK_PAUSE"] = "30"
        proc = subprocess.Popen(argv, cwd=ctx.workdir, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        if paused:
            # Wait until the run file is in place, then kill it there.
            runs = ctx.path("res.h5.runs")
            t_end = time.monotonic() + 20
            while time.monotonic() < t_end and not any(
                    n.startswith(f"run.runs.k{i}.") for n in os.listdir(runs)):
                time.sleep(0.01)
            delay = "paused"
        else:
            delay = rng.uniform(0.0, 1.3) * t_plain * (2 if ranks else 1)
            time.sleep(delay)
        T.kill_session(proc)
        what = f"kill {i} ({delay if paused else f'after {delay:.3f} s'}, {'plain' if ranks is None else '2 ranks'})"
        try:
            now = runs_of(ctx, "res.h5")
        except Exception as e:  # noqa: BLE001 - any failure to read is the bug
            ctx.check(False, f"{what}: res.h5 does not open: {e}")
            return
        for name, v in before.items():
            ctx.check(now.get(name) == v, f"{what}: earlier run {name} changed or lost")
        new = set(now) - set(before)
        ctx.check(new <= {f"k{i}"}, f"{what}: unexpected runs {sorted(new)}")
        if paused:
            ctx.check(not new, f"{what}: the run is linked although the index was not replaced")
        before = now
    check_old(ctx, "res.h5", "after the kills", size=32 << 20)
    # What a killed run leaves beside its temporary files with Open MPI's
    # "individual" shared-file-pointer component (whether or not one of the
    # kills above hit that moment), and names that only look alike: the
    # next append removes the first, keeps the others.
    runs_dir = ctx.path("res.h5.runs")
    stale = [os.path.join(runs_dir, ".run.h5div-Zq9XkA" + x) for x in (".data.0", ".metadata.1")]
    stale += [ctx.path(".res.h5.h5div-Zq9XkA" + x) for x in (".data.12", ".metadata.0")]
    decoys = [os.path.join(runs_dir, ".run.h5div-Zq9XkA.data.x"), ctx.path(".res.h5.h5div-Zq9XkA.notes"),
              ctx.path(".res.h5.h5div-Zq9XkA.data.")]
    for f in stale + decoys:
        with open(f, "w") as fh:
            fh.write("x")
    res, _ = append(ctx, "res.h5", "/runs/last")
    T.check_success(ctx, res, "append after the kills")
    now = runs_of(ctx, "res.h5")
    ctx.check(T.close(now.get("last", float("nan")), want["kl_pq"]), "append after the kills: /runs/last")
    kept = [f for f in decoys if os.path.exists(f)]
    ctx.check(kept == decoys, f"files that are no temporary file's were removed: {sorted(set(decoys) - set(kept))}")
    for f in decoys:
        os.unlink(f)
    left = [n for n in os.listdir(ctx.workdir) + os.listdir(runs_dir) if ".h5div-" in n]
    ctx.check(not left, f"temporary files left after the next append: {left}")


def case_overwrite_linked(ctx):
    """--overwrite of a linked run replaces its link and its file, nothing
    else; without --overwrite it is refused (exit 4), and so is a group
    below a linked run (about 3 s)."""
    want, want2 = inputs(ctx)
    make_big(ctx.path("res.h5"), size=32 << 20)
    for g in ("/runs/a", "/runs/b"):
        res, _ = append(ctx, "res.h5", g)
        T.check_success(ctx, res, f"append {g}")
    files = sorted(os.listdir(ctx.path("res.h5.runs")))
    old_a = [n for n in files if n.startswith("run.runs.a.")]
    ctx.check(len(old_a) == 1, f"run files {files}: want one for /runs/a")
    with open(ctx.path("res.h5"), "rb") as f:
        index = f.read()
    res, _ = append(ctx, "res.h5", "/runs/a")
    T.check_error(ctx, res, 4, "-o res.h5:/runs/a again without --overwrite", "--overwrite")
    res, _ = append(ctx, "res.h5", "/runs/a/sub")
    T.check_error(ctx, res, 4, "-o res.h5:/runs/a/sub (inside a linked run)")
    with open(ctx.path("res.h5"), "rb") as f:
        ctx.check(f.read() == index, "refused writes changed the index")
    ctx.check(sorted(os.listdir(ctx.path("res.h5.runs"))) == files, "refused writes left files")
    res, _ = append(ctx, "res.h5", "/runs/a", ["--overwrite"], ranks=2, p="in.h5:/p2")
    T.check_success(ctx, res, "--overwrite of the linked /runs/a (2 ranks)")
    now = runs_of(ctx, "res.h5")
    ctx.check(T.close(now.get("a", float("nan")), want2["kl_pq"]), f"/runs/a {now.get('a')} vs {want2['kl_pq']}")
    ctx.check(T.close(now.get("b", float("nan")), want["kl_pq"]), "/runs/b changed")
    ctx.check(now.get("old") == 0.25, "/runs/old changed")
    after = sorted(os.listdir(ctx.path("res.h5.runs")))
    ctx.check(old_a[0] not in after and len(after) == len(files),
              f"run files after --overwrite {after}: the replaced file must go, nothing else")
    # --overwrite of a run kept in the old file: only its link is replaced.
    res, _ = append(ctx, "res.h5", "/runs/old", ["--overwrite"])
    T.check_success(ctx, res, "--overwrite of /runs/old (kept in the base file)")
    now = runs_of(ctx, "res.h5")
    ctx.check(T.close(now.get("old", float("nan")), want["kl_pq"]), "/runs/old not replaced")


def case_h5copy_ext(ctx):
    """`h5copy -f ext` of /runs makes real groups: the copy reads without
    FILE.runs (about 1 s)."""
    want, _ = inputs(ctx)
    exe = shutil.which("h5copy")
    if not exe:
        ctx.note("h5copy is not installed: skipped")
        return
    make_big(ctx.path("res.h5"), size=32 << 20)
    res, _ = append(ctx, "res.h5", "/runs/a")
    T.check_success(ctx, res, "append /runs/a")
    os.makedirs(ctx.path("elsewhere"))
    r = ctx.run([exe, "-f", "ext", "-i", ctx.path("res.h5"), "-o", ctx.path("elsewhere/copy.h5"),
                 "-s", "/runs", "-d", "/runs"])
    ctx.check(r.rc == 0, "h5copy -f ext failed", r)
    shutil.move(ctx.path("res.h5.runs"), ctx.path("moved.runs"))
    with h5py.File(ctx.path("elsewhere/copy.h5"), "r") as f:
        ctx.check(isinstance(f.get("runs/a", getlink=True), h5py.HardLink),
                  "h5copy -f ext left /runs/a a link")
        ctx.check(T.close(float(f["runs/a/kl_pq"][()]), want["kl_pq"]), "copied /runs/a/kl_pq")


def case_concurrent_linked(ctx):
    """Six writers of one index at once (2 of them on 2 ranks): every run
    arrives, linked (about 5 s)."""
    want, _ = inputs(ctx)
    make_big(ctx.path("res.h5"), size=32 << 20)
    procs = []
    for k in range(6):
        argv = [ctx.h5div, "compare", "in.h5:/p", "in.h5:/q", "-o", f"res.h5:/runs/r{k}", "-q"]
        if k < 2:
            argv = ctx.mpi_prefix(2) + argv
        procs.append(subprocess.Popen(argv, cwd=ctx.workdir, env=ctx.env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, text=True, start_new_session=True))
    for k, proc in enumerate(procs):
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            T.kill_session(proc)
            err = "timed out"
        ctx.check(proc.returncode == 0, f"concurrent writer r{k}: exit {proc.returncode}: {err}")
    now = runs_of(ctx, "res.h5")
    ctx.check(sorted(now) == ["old"] + [f"r{k}" for k in range(6)],
              f"concurrent writers: runs {sorted(now)}, want old and r0..r5 (an append was lost)")
    for k in range(6):
        ctx.check(T.close(now.get(f"r{k}", float("nan")), want["kl_pq"]), f"run r{k}: kl_pq")


def case_symlink_linked(ctx):
    """-o through a symbolic link to an index: the run file goes beside the
    link's target, the link stays, and both names read every run (about 1 s)."""
    want, _ = inputs(ctx)
    os.makedirs(ctx.path("data"))
    os.makedirs(ctx.path("home"))
    make_big(ctx.path("data/res.h5"), size=32 << 20)
    os.symlink("../data/res.h5", ctx.path("home/link.h5"))
    res, _ = append(ctx, "home/link.h5", "/runs/a")
    T.check_success(ctx, res, "append through the symbolic link")
    ctx.check(os.path.islink(ctx.path("home/link.h5")), "the symbolic link was replaced")
    ctx.check(os.path.isdir(ctx.path("data/res.h5.runs")) and not os.path.exists(ctx.path("home/link.h5.runs")),
              "the run file is not beside the link's target")
    for name in ("home/link.h5", "data/res.h5"):
        got = runs_of(ctx, name)
        ctx.check(sorted(got) == ["a", "old"] and T.close(got["a"], want["kl_pq"]),
                  f"{name}: runs {got}")


def case_input_through_link(ctx):
    """Datasets reached through external links (as the runs of an index are)
    are inputs like any other: plain and on 2 ranks, values as scipy's
    (about 2 s)."""
    want, _ = inputs(ctx)
    with h5py.File(ctx.path("lnk.h5"), "w") as f:
        f["p"] = h5py.ExternalLink("in.h5", "/p")
        f["q"] = h5py.ExternalLink("in.h5", "/q")
    for ranks in (None, 2):
        got = T.run_json(ctx, ["lnk.h5:/p", "lnk.h5:/q"], ranks=ranks,
                         what=f"compare through external links ({ranks or 'plain'})",
                         p="lnk.h5:/p", q="lnk.h5:/q")
        if got is not None:
            T.check_against(ctx, got, want, f"compare through external links ({ranks or 'plain'})")


def make_index(path):
    """A small index as h5div makes them: /runs/old linked to a run file."""
    d, b = os.path.dirname(path), os.path.basename(path)
    os.makedirs(os.path.join(d, b + ".runs"), exist_ok=True)
    with h5py.File(os.path.join(d, b + ".runs", "run.runs.old.AAAAAA.h5"), "w") as f:
        g = f.create_group("runs/old")
        g.attrs["h5div_version"] = "0.0.0"
        g["kl_pq"] = 0.25
    with h5py.File(path, "w") as f:
        f.attrs["h5div_index"] = np.int32(1)
        f.create_group("runs")
        f["runs/old"] = h5py.ExternalLink(b + ".runs/run.runs.old.AAAAAA.h5", "/runs/old")


def snapshot_dir(d):
    out = {}
    for root, _, names in os.walk(d):
        for n in names:
            if n != "filler" and not n.endswith(".lock"):
                with open(os.path.join(root, n), "rb") as f:
                    out[os.path.relpath(os.path.join(root, n), d)] = f.read()
    return out


def case_full_disk_linked(ctx):
    """Appends to an index on a full disk, at every level of free space, plain
    and on 3 ranks (and plain with the space reservation off): exit 0 or 4
    with one error line; on 4 the index and the run files are as before; no
    temporary file is left (about 25 s)."""
    import test_faults as F
    want, _ = inputs(ctx)
    fs = F.need_tmpfs(ctx, 1024)
    levels = [0, 2048, 8192, 10 << 10, 12 << 10, 14 << 10, 16 << 10, 20 << 10, 100 << 10, 300 << 10, 310 << 10, 320 << 10, 340 << 10,
              400 << 10, 600 << 10]
    out = os.path.join(fs.path, "r.h5")
    try:
        for env_extra, rank_list in (({}, (None, 3)), ({"H5DIV_TEST_NO_RESERVE": "1"}, (None,))):
            saved = dict(ctx.env)
            ctx.env.update(env_extra)
            for ranks in rank_list:
                for k, leave in enumerate(levels):
                    fs.unfill()
                    shutil.rmtree(fs.path + "/r.h5.runs", ignore_errors=True)
                    for n in os.listdir(fs.path):
                        os.remove(os.path.join(fs.path, n))
                    make_index(out)
                    before = snapshot_dir(fs.path)
                    fs.fill(leave)
                    res = ctx.h5div_run(["compare", ctx.path("in.h5") + ":/p", ctx.path("in.h5") + ":/q",
                                         "-o", f"{out}:/runs/r{k}", "-q"], ranks=ranks, timeout=30)
                    what = f"{leave} bytes free, {ranks or 1} rank(s) {env_extra or ''}"
                    F.check_one_line(ctx, res, what, {0, 4})
                    left = [n for n in os.listdir(fs.path) + os.listdir(out + ".runs") if ".h5div-" in n]
                    ctx.check(not left, f"{what}: temporary files left: {left}", res)
                    if res.rc == 4:
                        now = snapshot_dir(fs.path)
                        ctx.check(now == before, f"{what}: the index or its runs changed: "
                                  f"{sorted(set(now) ^ set(before))}", res)
                    fs.unfill()
                    got = runs_of(ctx, out)
                    ctx.check(got.get("old") == 0.25, f"{what}: /runs/old lost", res)
                    if res.rc == 0:
                        ctx.check(T.close(got.get(f"r{k}", float("nan")), want["kl_pq"]),
                                  f"{what}: the new run is not complete", res)
            ctx.env.clear()
            ctx.env.update(saved)
    finally:
        fs.close()


CASES = {
    "append_cost": case_append_cost,
    "kill_linked": case_kill_linked,
    "overwrite_linked": case_overwrite_linked,
    "h5copy_ext": case_h5copy_ext,
    "input_through_link": case_input_through_link,
    "concurrent_linked": case_concurrent_linked,
    "full_disk_linked": case_full_disk_linked,
    "symlink_linked": case_symlink_linked,
}

if __name__ == "__main__":
    T.main(CASES)
