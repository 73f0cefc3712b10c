"""Sampling profiles with py-spy (optional: ``--profile``; py-spy is not a dependency,
install it anywhere outside the project, e.g. ``python3 -m venv /tmp/spy &&
/tmp/spy/bin/pip install py-spy``, and pass ``--py-spy /tmp/spy/bin/py-spy``).

Stacks are summarised as the share of samples in which a function is the innermost
Python frame ("self") and in which it is anywhere on the stack ("inclusive").  Idle
threads (trio waiting in epoll, workers waiting for jobs) are not sampled.
"""

from __future__ import annotations

import signal
import subprocess
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.errors import BenchError
from bench.report import Profile

#: Innermost frames that mean "blocked, waiting for work" (a trio worker thread waiting for
#: a job, the trio loop in epoll_wait): py-spy's idle detection misses these waits.
IDLE = frozenset({"trio/_core/_thread_cache.py:WorkerThread._work",
                  "trio/_core/_io_epoll.py:EpollIOManager.get_events",
                  "threading.py:Condition.wait", "threading.py:Event.wait"})
#: Frames on every stack of a kind (thread and loop plumbing), useless as "inclusive".
PLUMBING = ("threading.py:", "trio/_core/_run.py:run", "trio/_core/_run.py:unrolled_run",
            "trio/_core/_thread_cache.py:", "outcome/_impl.py:capture",
            "usersnap/daemon/main.py:main", "usersnap/__main__.py:", "runpy.py:",
            "<frozen importlib._bootstrap>:_find_and_load",
            "<frozen importlib._bootstrap>:_load_unlocked",
            "<frozen importlib._bootstrap>:_call_with_frames_removed",
            "<frozen importlib._bootstrap_external>:_LoaderBasics.exec_module",
            "<frozen importlib._bootstrap>:_handle_fromlist")


def _frame(raw: str) -> str:
    # "decompress (usersnap/snapfile/squashfs.py)" -> "usersnap/snapfile/squashfs.py:decompress"
    func, _, where = raw.partition(" (")
    where = where.rstrip(")")
    if "site-packages/" in where:
        where = where.rsplit("site-packages/", 1)[1]
    return f"{where}:{func}" if where else func


def summarise(raw_files: Sequence[Path], top: int = 12) -> Profile:
    """Shares of the *busy* samples (stacks whose innermost frame is not an idle wait)."""
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = idle = 0
    for raw in raw_files:
        if not raw.exists():
            continue
        for line in raw.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            frames = [_frame(f) for f in stack.split(";") if "(" in f]
            n = int(count)
            if frames and frames[-1] in IDLE:
                idle += n
                continue
            total += n
            if frames:
                own[frames[-1]] += n
            for f in set(frames):
                if not f.startswith(PLUMBING):
                    incl[f] += n
    scale = 100.0 / total if total else 0.0
    return Profile(samples=total, idle=idle,
                   own=[(f, c * scale) for f, c in own.most_common(top)],
                   inclusive=[(f, c * scale) for f, c in incl.most_common(top)])


def attach(py_spy: str, pid: int, out: Path, action: Callable[[], object], rate: int = 250
           ) -> Profile:
    """Sample ``pid`` while ``action`` runs."""
    spy = subprocess.Popen([py_spy, "record", "-p", str(pid), "-r", str(rate), "-f", "raw",
                            "--nolineno", "-o", str(out)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        action()
    finally:
        spy.send_signal(signal.SIGINT)
        try:
            _, err = spy.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            spy.kill()
            _, err = spy.communicate()
    if not out.exists():
        raise BenchError(f"py-spy wrote nothing: {err.decode(errors='replace').strip()[-300:]}")
    return summarise([out])


def launch_profile(py_spy: str, argv: Sequence[str], env: dict[str, str], work: Path,
                   runs: int, rate: int = 1000) -> Profile:
    """Sample ``runs`` whole runs of ``argv`` (a Python command)."""
    outs = []
    for i in range(runs):
        out = work / f"{Path(argv[-1]).name}-{i}.raw"
        proc = subprocess.run([py_spy, "record", "-r", str(rate), "-f", "raw", "--nolineno",
                               "-o", str(out), "--", *argv], env=env, capture_output=True,
                              text=True, timeout=600)
        if proc.returncode != 0:
            raise BenchError(f"py-spy record -- {' '.join(argv)} failed: "
                             f"{proc.stderr.strip()[-300:]}")
        outs.append(out)
    return summarise(outs)
