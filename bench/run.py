"""usersnap's benchmark suite (issue #8): usersnapd's FUSE mount side by side with
squashfuse and squashfuse_ll (and the kernel's squashfs when run as root), and
``usersnap run`` side by side with bare bwrap, in one run.

Method (as in shared/spec/performance-baseline.md): every comparison is measured in the
same run, in interleaved rounds whose order of filesystems rotates each round; each
figure is a median over rounds and each ratio the median of the per-round ratios.
"Cold" restarts the filesystem's daemon (usersnapd through its CLI, squashfuse by
remounting) and evicts the image from the page cache; "warm" repeats the same command.
Everything read is checked against the source tree (sha256, file counts, tar sizes):
a wrong answer fails the run with exit status 1, slowness never does.

  tools/bench.sh             full run (about 20 minutes on 2 cores), writes docs/benchmarks.md
  tools/bench.sh --quick     smoke test (< 2 minutes): every workload once on small images
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType

from bench import images, launch, mounts, profile, report, workloads
from bench.errors import BenchError
from bench.images import BuiltImage, ImageSpec
from bench.mounts import Filesystem, Squashfuse, Usersnap, drop_page_cache
from bench.report import MANY_READ, MANY_START, Results

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Config:
    big_mib: int
    tree_files: int
    meta_files: int
    rounds: int
    launch_runs: int     # per command per round
    import_runs: int
    profile_runs: int
    many_snaps: int      # small snaps added (memory per installed snap; scale to 50)


FULL = Config(big_mib=200, tree_files=8000, meta_files=48000, rounds=5, launch_runs=20,
              import_runs=10, profile_runs=5, many_snaps=44)
QUICK = Config(big_mib=12, tree_files=600, meta_files=3000, rounds=1, launch_runs=3,
               import_runs=2, profile_runs=1, many_snaps=5)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="tools/bench.sh", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small images, one round (smoke test)")
    p.add_argument("--rounds", type=int, help="rounds (default 5; 1 with --quick)")
    p.add_argument("--comp", default="xz,lzo", help="compressions to test (default xz,lzo)")
    p.add_argument("--cache", type=Path,
                   default=Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
                   / "usersnap-bench", help="where built images are kept between runs")
    p.add_argument("--rebuild", action="store_true", help="rebuild cached images")
    p.add_argument("--output", type=Path,
                   help="markdown file whose generated part is replaced (default: "
                        "docs/benchmarks.md in full mode, none with --quick)")
    p.add_argument("--json", type=Path, help="also write the raw results as JSON")
    p.add_argument("--rev", help="benchmark usersnap as committed at this git revision "
                   "(exported with git archive, put first on PYTHONPATH) instead of the "
                   "working tree; useful while the tree is being edited")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    p.add_argument("--from-json", type=Path, metavar="JSON",
                   help="measure nothing: render the results a --json run saved")
    p.add_argument("--profile", action="store_true",
                   help="also sample usersnapd and `usersnap run` with py-spy")
    p.add_argument("--py-spy", default=shutil.which("py-spy"), help="py-spy binary")
    return p.parse_args(argv)


def _rotate(items: list[Filesystem], n: int) -> list[Filesystem]:
    n %= len(items)
    return items[n:] + items[:n]


def _log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _memory(res: Results, phase: str, fs: Filesystem, image: BuiltImage) -> None:
    pid = fs.pid(image)
    if pid is not None:
        res.memory.setdefault(phase, {}).setdefault(fs.name, []).append(mounts.proc_memory(pid))


def run(args: argparse.Namespace) -> Results:
    cfg = QUICK if args.quick else FULL
    rounds = args.rounds or cfg.rounds
    comps = [c for c in args.comp.split(",") if c]
    python = Path(sys.executable)
    usersnap_cli = python.parent / "usersnap"
    if not usersnap_cli.exists():
        raise BenchError(f"{usersnap_cli} not found: run tools/bootstrap.sh first")
    res = Results(mode="quick" if args.quick else "full", rounds=rounds)
    res.machine = report.machine_info(python, REPO)
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="usersnap-bench."))
    # Every command runs from here: `python -m usersnap` puts the working directory first
    # on sys.path, and from a checkout that would shadow the code under test.
    os.chdir(work)
    try:
        if args.rev:
            res.machine["usersnap"] = _export(args.rev, work / "src")
        _compile(work / "src" if args.rev else REPO)
        _run(args, cfg, rounds, comps, python, usersnap_cli, res, work)
    finally:
        os.chdir("/")
        if args.keep:
            _log(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    res.machine["load average at end"] = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    res.seconds = time.perf_counter() - started
    return res


def _compile(tree: Path) -> None:
    """Byte-compile the code under test, as pip leaves an installed package: with
    PYTHONDONTWRITEBYTECODE set (or an unwritable tree) every start would compile it
    again, and the launch figures would measure the compiler."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "usersnap")],
                   check=True, capture_output=True)


def _export(rev: str, dest: Path) -> str:
    """``git archive REV`` into ``dest``, first on PYTHONPATH for every usersnap process
    this run starts (the probes run with ``-I`` and ignore it)."""
    dest.mkdir(parents=True)
    sha = subprocess.run([*report.git(REPO), "rev-parse", "--short", rev], check=True,
                         capture_output=True, text=True).stdout.strip()
    archive = subprocess.run([*report.git(REPO), "archive", sha, "usersnap", "wrappers"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    os.environ["PYTHONPATH"] = str(dest)
    return f"{sha} (`--rev {rev}`, exported with git archive)"


def _run(args: argparse.Namespace, cfg: Config, rounds: int, comps: list[str], python: Path,
         usersnap_cli: Path, res: Results, work: Path) -> None:

    # -- images -----------------------------------------------------------------------------
    specs = [ImageSpec("big", c, size_mib=cfg.big_mib) for c in comps]
    specs += [ImageSpec("tree", c, files=cfg.tree_files) for c in comps]
    specs += [ImageSpec("meta", comps[0], files=cfg.meta_files), ImageSpec("noop", comps[0])]
    built: dict[str, BuiltImage] = {}
    for spec in specs:
        _log(f"image {spec.name} ({spec.kind}, {spec.comp})")
        built[spec.name] = images.build(spec, args.cache, usersnap_cli, rebuild=args.rebuild)
    for b in built.values():
        contents = {"big": f"one {b.spec.size_mib} MiB file", "tree": f"{b.spec.files} files",
                    "meta": f"{b.spec.files} tiny files", "noop": "`true` + a script"}
        res.images.append(report.ImageRow(b.snap.name, contents[b.spec.kind], b.inodes,
                                          b.snap.stat().st_size))
    big = {c: built[f"bench-big-{c}"] for c in comps}
    tree = {c: built[f"bench-tree-{c}"] for c in comps}
    meta, noop = built[f"bench-meta-{comps[0]}"], built["bench-noop"]
    c0 = comps[0]
    _log("computing expected answers from the source trees")
    expected = {b.spec.name: workloads.Expected.of(b) for b in built.values()}

    for c in comps:
        res.workloads[f"seq-cold {c}"] = f"sequential read {cfg.big_mib} MiB, {c}, cold"
        res.workloads[f"seq-warm {c}"] = f"sequential read {cfg.big_mib} MiB, {c}, warm"
        res.workloads[f"random {c}"] = f"{workloads.RANDOM_READS} random 4 KiB reads, {c}, cold"
        res.bytes_read[f"seq-cold {c}"] = res.bytes_read[f"seq-warm {c}"] = expected[
            big[c].spec.name].big_bytes
        for w, label in (("find", "`find -type f | wc -l`"), ("statwalk", "stat walk "
                         "(`tar cf /dev/null`)"), ("tar", "`tar cf - | wc -c`")):
            for t in ("cold", "warm"):
                res.workloads[f"{w}-{t} {c}"] = f"{label}, {cfg.tree_files} files, {c}, {t}"
    for b in (big[c0], tree[c0], meta):
        res.workloads[f"mount {b.spec.name}"] = (f"time to a stat inside, {b.inodes} inodes "
                                                 f"({c0}): install (usersnap) / mount (others)")
    for b in (big[c0], tree[c0], meta):
        res.workloads[f"addrev {b.spec.name}"] = (f"of which the mount-snap task (adding the "
                                                  f"revision), {b.inodes} inodes")
    res.workloads[f"install-cli {big[c0].spec.name}"] = (
        f"`usersnap install` of the {res.images[0].size / 1e6:.0f} MB big snap, whole CLI")
    res.workloads[f"snap-file-read {big[c0].spec.name}"] = "cold read of that .snap file"
    res.workloads["daemon-start"] = ("usersnapd start (CLI spawn) until every snap answers a "
                                     f"stat ({len(built)} snaps)")

    # -- filesystems ------------------------------------------------------------------------
    fss: list[Filesystem] = []
    if mounts.KernelSquashfs.available():
        fss.append(mounts.KernelSquashfs(work))
    else:
        res.notes.append("Not root: no kernel squashfs row (it needs a loop mount).")
    for binary in ("squashfuse", "squashfuse_ll"):
        path = shutil.which(binary)
        if path:
            fss.append(Squashfuse(path, work))
        else:
            res.notes.append(f"{binary} is not installed: no {binary} column.")
    us = Usersnap(usersnap_cli, work)
    fss.append(us)
    for fs in fss:
        res.fs_labels[fs.name] = fs.label
    served = [*big.values(), *tree.values()]
    try:
        for fs in fss:
            _log(f"starting {fs.name}")
            fs.start(served if fs is not us else [*served, meta, noop])
        how = drop_page_cache([])
        res.notes.append(
            "Page cache dropped with " + ("`echo 3 > /proc/sys/vm/drop_caches` (root)"
                                          if how == "drop_caches" else
                                          "`posix_fadvise(POSIX_FADV_DONTNEED)` on the image "
                                          "files only (not root: drop_caches is not permitted)"))
        res.add("daemon-start", "usersnap", us.restart())
        for fs in fss:
            _memory(res, "after start", fs, big[c0])

        for r in range(rounds):
            order = _rotate(fss, r)
            _log(f"round {r + 1}/{rounds}: {', '.join(f.name for f in order)}")
            _fs_round(res, order, comps, big, tree, expected, r)
            _mount_round(res, order, us, big[c0], tree[c0], meta)
            _launch_round(res, python, us, r, cfg.launch_runs)

        _log("memory soak: one usersnapd reads every image once")
        us.restart()
        for c in comps:
            workloads.seq_read(us, big[c], expected[big[c].spec.name])
            workloads.random_read(us, big[c], expected[big[c].spec.name], 99)
            workloads.tar_read(us, tree[c], expected[tree[c].spec.name])
        workloads.timed_shell(f"find '{us.tree(meta)}' -type f | wc -l")
        _memory(res, "after reading every image once (one daemon)", us, big[c0])

        _log(f"memory: {cfg.many_snaps} more small snaps in the same usersnapd")
        smalls = [images.build(ImageSpec("small", c0, files=50, index=i), args.cache,
                               usersnap_cli, rebuild=args.rebuild)
                  for i in range(cfg.many_snaps)]
        for small in smalls:
            us.install(small)
        us.restart()
        _memory(res, MANY_START.format(n=len(smalls)), us, big[c0])
        for small in smalls:
            workloads.timed_shell(f"tar cf - -C '{us.tree(small)}' . | wc -c")
        _memory(res, MANY_READ.format(n=len(smalls)), us, big[c0])

        _log(f"scale: the CLI with 1 and with {len(us.revisions)} snaps installed")
        one = Usersnap(usersnap_cli, work / "one")
        try:
            one.start([noop])
            _scale(res, {1: one, len(us.revisions): us}, rounds, cfg.launch_runs // 2)
        finally:
            one.stop()

        _log("launch: checks, imports, stages")
        launch.check_app_runs(usersnap_cli, us.env)
        # Warm, as in the launch rounds: installs since then changed state.json, so the
        # next run plans and records again (sandbox/runcache.py).
        launch.spawn_seconds((str(usersnap_cli), "run", launch.NOOP_SNAP), us.env)
        res.imports = launch.import_times(python, ["-m", "usersnap", "run", launch.NOOP_SNAP],
                                          us.env, cfg.import_runs)
        res.stages = launch.launch_stages(python, us.env, cfg.import_runs)
        if args.profile:
            _profiles(res, args.py_spy, us, big[c0], tree[c0], expected, python, work,
                      cfg.profile_runs)
    finally:
        for fs in fss:
            with contextlib.suppress(Exception):
                fs.stop()


@contextlib.contextmanager
def _cpu(res: Results, workload: str, fs: Filesystem, image: BuiltImage) -> Iterator[None]:
    """Record the CPU seconds the process serving ``image`` spent during the block."""
    pid = fs.pid(image)
    before = mounts.proc_cpu(pid) if pid else None
    yield
    if pid and before is not None:
        after = mounts.proc_cpu(pid)
        if after is not None:
            res.cpu.setdefault(workload, {}).setdefault(fs.name, []).append(after - before)


def _fs_round(res: Results, order: list[Filesystem], comps: list[str],
              big: dict[str, BuiltImage], tree: dict[str, BuiltImage],
              expected: dict[str, workloads.Expected], r: int) -> None:
    for c in comps:
        b, exp = big[c], expected[big[c].spec.name]
        for fs in order:
            fs.cold(b)
            with _cpu(res, f"seq-cold {c}", fs, b):
                res.add(f"seq-cold {c}", fs.name, workloads.seq_read(fs, b, exp))
            res.add(f"seq-warm {c}", fs.name, workloads.seq_read(fs, b, exp))
            workloads.verify_big(fs, b, exp)
            if c == comps[0]:
                _memory(res, f"after reading {b.spec.size_mib} MiB ({c})", fs, b)
        for fs in order:
            fs.cold(b)
            res.add(f"random {c}", fs.name, workloads.random_read(fs, b, exp, seed=r))
        t, exp = tree[c], expected[tree[c].spec.name]
        for name, func in (("find", workloads.find_files), ("statwalk", workloads.stat_walk),
                           ("tar", workloads.tar_read)):
            for fs in order:
                fs.cold(t)
                with _cpu(res, f"{name}-cold {c}", fs, t):
                    res.add(f"{name}-cold {c}", fs.name, func(fs, t, exp))
                with _cpu(res, f"{name}-warm {c}", fs, t):
                    res.add(f"{name}-warm {c}", fs.name, func(fs, t, exp))
                if name == "tar" and c == comps[0]:
                    _memory(res, f"after the tree workloads ({c})", fs, t)
        for fs in order:
            workloads.verify_tree(fs, t, exp)


def _mount_round(res: Results, order: list[Filesystem], us: Usersnap, big: BuiltImage,
                 tree: BuiltImage, meta: BuiltImage) -> None:
    for image in (big, tree, meta):
        for fs in order:
            if fs is us:
                to_stat, phases = us.install_until_stat(image)
                res.add(f"mount {image.spec.name}", fs.name, to_stat)
                res.add(f"addrev {image.spec.name}", fs.name, phases.get("task mount-snap", 0))
            else:
                res.add(f"mount {image.spec.name}", fs.name, fs.mount_once(image))
    cli, phases = us.install_timed(big)
    res.add(f"install-cli {big.spec.name}", us.name, cli)
    for phase, seconds in phases.items():
        res.add(f"install-phase {phase}", us.name, seconds)
    drop_page_cache([big.snap])
    got = workloads.run_probe("seq", str(big.snap))
    res.add(f"snap-file-read {big.spec.name}", us.name, float(str(got["seconds"])))
    res.add("daemon-start", us.name, us.restart())


def _launch_round(res: Results, python: Path, us: Usersnap, r: int, runs: int) -> None:
    cmds = launch.commands(python, us.usersnap, us.root / "bin")
    for cmd in cmds:
        res.launch_labels[cmd.key] = cmd.label
    launch.spawn_seconds(cmds[-2].argv, us.env)  # the daemon and its caches are warm
    times: dict[str, list[float]] = {c.key: [] for c in cmds}
    for i in range(runs):
        n = (r + i) % len(cmds)
        for cmd in cmds[n:] + cmds[:n]:
            times[cmd.key].append(launch.spawn_seconds(cmd.argv, us.env))
    for key, values in times.items():
        res.launch.setdefault(key, []).append(statistics.median(values))


def _scale(res: Results, daemons: dict[int, Usersnap], rounds: int, runs: int) -> None:
    """The scale commands against daemons holding different numbers of snaps, warm,
    interleaved run by run so that the machine's noise falls on both alike."""
    cmds = {n: launch.scale_commands(fs.usersnap) for n, fs in daemons.items()}
    for n, fs in daemons.items():
        for cmd in cmds[n]:
            res.scale_labels[cmd.key] = cmd.label
            launch.spawn_seconds(cmd.argv, fs.env)  # plans and caches made once
    order = list(daemons.items())
    for r in range(rounds):
        times: dict[tuple[str, int], list[float]] = {}
        for i in range(runs):
            for n, fs in order if (r + i) % 2 == 0 else order[::-1]:
                for cmd in cmds[n]:
                    times.setdefault((cmd.key, n), []).append(
                        launch.spawn_seconds(cmd.argv, fs.env))
        for (key, n), values in times.items():
            res.scale.setdefault(key, {}).setdefault(str(n), []).append(
                statistics.median(values))


def _profiles(res: Results, py_spy: str | None, us: Usersnap, big: BuiltImage,
              tree: BuiltImage, expected: dict[str, workloads.Expected], python: Path,
              work: Path, runs: int) -> None:
    if not py_spy:
        res.notes.append("--profile asked but py-spy was not found: no profiles.")
        return
    _log("profiling usersnapd with py-spy")
    eb, et = expected[big.spec.name], expected[tree.spec.name]
    jobs: list[tuple[str, Callable[[], object]]] = [
        (f"usersnapd during `usersnap install` of {big.snap.name}",
         lambda: us.install_until_stat(big)),
        ("usersnapd during a cold sequential read (xz)",
         lambda: workloads.seq_read(us, big, eb)),
        ("usersnapd during a cold `find` walk and 5 warm ones (xz)",
         lambda: [workloads.find_files(us, tree, et) for _ in range(6)]),
        ("usersnapd during a cold stat walk and 5 warm ones (xz)",
         lambda: [workloads.stat_walk(us, tree, et) for _ in range(6)]),
        ("usersnapd during a cold `tar cf - | wc -c` (xz)",
         lambda: workloads.tar_read(us, tree, et)),
    ]
    for i, (title, action) in enumerate(jobs):
        us.restart()
        pid = us.daemon_pid()
        assert pid is not None
        res.profiles[title] = profile.attach(py_spy, pid, work / f"daemon{i}.raw", action,
                                             rate=1000 if "walk" in title else 250)
    res.profiles[f"the `usersnap install` CLI process ({big.snap.name})"] = (
        profile.launch_profile(py_spy, [str(us.usersnap), "install", "--dangerous",
                                        str(big.snap)], us.env, work, 1, rate=250))
    _log("profiling `usersnap run` start-up with py-spy")
    res.profiles[f"`usersnap run {launch.NOOP_SNAP}` start-up (whole process, "
                 f"{runs} runs)"] = profile.launch_profile(
        py_spy, [str(python), "-m", "usersnap", "run", launch.NOOP_SNAP], us.env, work, runs)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    for name in ("cache", "output", "json", "from_json"):
        if getattr(args, name) is not None:
            setattr(args, name, getattr(args, name).absolute())

    def interrupted(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    try:
        if args.from_json:
            res = Results.from_json(json.loads(args.from_json.read_text()))
        else:
            res = run(args)
    except BenchError as err:
        print(f"bench: FAILED: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130
    text = report.render(res)
    print(text)
    quick = args.quick or res.mode == "quick"
    output = args.output or (None if quick else REPO / "docs" / "benchmarks.md")
    if output is not None:
        report.write(output, text, "Benchmarks")
        _log(f"wrote {output}")
    if args.json:
        args.json.write_text(json.dumps(asdict(res), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
