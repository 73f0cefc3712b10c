"""Launch overhead: warm ``usersnap run`` of a trivial app against bare bwrap and a plain
exec, and where ``usersnap run``'s time goes (imports, then each call of ``launch``).
"""

from __future__ import annotations

import os
import pstats
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.errors import BenchError
from bench.report import ImportTimes

#: The brief's bare sandbox: what any bwrap launcher pays at least.
BARE_BWRAP = ("--unshare-user", "--unshare-pid", "--ro-bind", "/", "/", "--dev", "/dev",
              "--proc", "/proc", "true")
NOOP_SNAP = "bench-noop"


@dataclass(frozen=True)
class Command:
    key: str
    label: str
    argv: tuple[str, ...]


def commands(python: Path, usersnap: Path, bin_dir: Path) -> list[Command]:
    true = shutil.which("true") or "/usr/bin/true"
    bwrap = shutil.which("bwrap") or "bwrap"
    return [
        Command("true", "`true` (plain exec)", (true,)),
        Command("bwrap", "bare `bwrap --unshare-user --unshare-pid --ro-bind / / --dev /dev "
                         "--proc /proc true`", (bwrap, *BARE_BWRAP)),
        Command("python-IS", "venv `python -I -S -c pass`",
                (str(python), "-I", "-S", "-c", "pass")),
        Command("python", "venv `python -c pass`", (str(python), "-c", "pass")),
        Command("usersnap-run", f"`usersnap run {NOOP_SNAP}` (warm daemon)",
                (str(usersnap), "run", NOOP_SNAP)),
        Command("launcher", f"launcher `<root>/bin/{NOOP_SNAP}`", (str(bin_dir / NOOP_SNAP),)),
    ]


def scale_commands(usersnap: Path) -> list[Command]:
    """What should cost the same however many snaps are installed (issue #8, scale)."""
    return [
        Command("list", "`usersnap list`", (str(usersnap), "list")),
        Command("info", f"`usersnap info {NOOP_SNAP}`", (str(usersnap), "info", NOOP_SNAP)),
        Command("run", f"`usersnap run {NOOP_SNAP}`", (str(usersnap), "run", NOOP_SNAP)),
    ]


_QUIET = [(os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
          (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
          (os.POSIX_SPAWN_OPEN, 2, "/dev/null", os.O_WRONLY, 0)]


def spawn_seconds(argv: Sequence[str], env: Mapping[str, str]) -> float:
    """Wall time of one run, spawned directly (no shell, no Python subprocess layer)."""
    start = time.perf_counter()
    pid = os.posix_spawn(argv[0], list(argv), dict(env), file_actions=_QUIET)
    _, status = os.waitpid(pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        proc = subprocess.run(list(argv), env=dict(env), capture_output=True, text=True,
                              timeout=60)
        raise BenchError(f"{' '.join(argv)} exited {os.waitstatus_to_exitcode(status)}: "
                         f"{proc.stderr.strip()[-300:]}")
    return seconds


def check_app_runs(usersnap: Path, env: Mapping[str, str]) -> str:
    """Prove the app really runs in the sandbox (``true`` would hide a skipped launch)."""
    proc = subprocess.run([str(usersnap), "run", f"{NOOP_SNAP}.hello"], env=dict(env),
                          capture_output=True, text=True, timeout=60)
    out = proc.stdout.strip()
    if proc.returncode != 0 or not out.startswith(f"ran {NOOP_SNAP} x"):
        raise BenchError(f"usersnap run {NOOP_SNAP}.hello printed {out!r} "
                         f"(exit {proc.returncode}): {proc.stderr.strip()[-300:]}")
    return out


# -- where the time goes -------------------------------------------------------------------

_IMPORT_LINE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|( *)(\S+)")


def import_times(python: Path, args: Sequence[str], env: Mapping[str, str], runs: int
                 ) -> ImportTimes:
    """``python -X importtime``, median over ``runs``: the total, the costliest imports
    nested at most two deep (cumulative), self time summed per top-level package, and
    which notable packages were loaded at all."""
    totals: list[float] = []
    per: dict[str, list[float]] = {}
    packages: dict[str, list[float]] = {}
    loaded: set[str] = set()
    for _ in range(runs):
        proc = subprocess.run([str(python), "-X", "importtime", *args], env=dict(env),
                              capture_output=True, text=True, timeout=60)
        total = 0
        own: dict[str, int] = {}
        for line in proc.stderr.splitlines():
            m = _IMPORT_LINE.match(line)
            if not m:
                continue
            total += int(m.group(1))
            name, depth = m.group(4), (len(m.group(3)) - 1) // 2
            package = name.split(".")[0]
            loaded.add(package)
            own[package] = own.get(package, 0) + int(m.group(1))
            if depth <= 2:
                per.setdefault("· " * depth + name, []).append(int(m.group(2)) / 1e6)
        totals.append(total / 1e6)
        for package, us in own.items():
            packages.setdefault(package, []).append(us / 1e6)
    top = sorted(((statistics.median(v), k) for k, v in per.items()), reverse=True)
    pkg = sorted(((statistics.median(v), k) for k, v in packages.items()), reverse=True)
    return ImportTimes(total=statistics.median(totals), top=[(k, s) for s, k in top[:15]],
                       by_package=[(k, s) for s, k in pkg[:10]],
                       heavy=sorted(loaded & {"trio", "yaml", "PySquashfsImage",
                                              "lzo", "seccomp"}))


def launch_stages(python: Path, env: Mapping[str, str], runs: int) -> list[tuple[str, float]]:
    """cProfile of ``usersnap run``: each direct callee of ``launch`` (and the callees of
    any that takes over a tenth of it), median cumulative seconds.  Profiling inflates
    Python-heavy stages; read the shares, not the absolute numbers."""
    samples: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs):
            out = Path(tmp, f"run{i}.prof")
            subprocess.run([str(python), "-m", "cProfile", "-o", str(out), "-m", "usersnap",
                            "run", NOOP_SNAP], env=dict(env), capture_output=True, timeout=60)
            if not out.exists():
                continue
            for name, seconds in _stages(pstats.Stats(str(out))):
                samples.setdefault(name, []).append(seconds)
    return [(k, statistics.median(v)) for k, v in samples.items()]


def _label(key: tuple[str, int, str]) -> str:
    file, _, func = key
    if "usersnap/" in file:
        file = "usersnap/" + file.rsplit("usersnap/", 1)[1]
    elif file.startswith("~") or file.startswith("<"):
        return func
    else:
        file = Path(file).name
    return f"{file}:{func}"


def _stages(stats: pstats.Stats) -> list[tuple[str, float]]:
    table = stats.stats  # type: ignore[attr-defined]
    launch = next((k for k in table if k[2] == "launch" and k[0].endswith("commands/run.py")),
                  None)
    if launch is None:
        return []
    total = table[launch][3]
    rows = [("launch (total)", total)]
    for key, (_, _, _, _, callers) in sorted(table.items(), key=lambda kv: -kv[1][3]):
        if launch in callers and callers[launch][3] > total / 50:
            edge = callers[launch][3]
            rows.append((f"  {_label(key)}", edge))
            if edge > total / 10:
                subs = [(sub_callers[key][3], sub) for sub, (_, _, _, _, sub_callers)
                        in table.items() if key in sub_callers]
                rows += [(f"    {_label(sub)} (from {key[2]})", t)
                         for t, sub in sorted(subs, reverse=True) if t > total / 50]
    return rows
