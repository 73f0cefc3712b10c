"""Process trees on the host's /proc: what a cgroup gives systemd, found by parentage
(the only way without a delegated cgroup, see :mod:`usersnap.daemon.cgroups`).

A service's launcher (:mod:`usersnap.daemon.svcrun`) is a child subreaper and bwrap's
sandbox init stays its descendant, so every process of a service, double-forked daemons
included, is a descendant of the launcher.  Killing them all at once with SIGKILL (the
sandbox's pid 1 among them, which takes its pid namespace down with it) leaves nothing.
"""

from __future__ import annotations

import contextlib
import os
import signal


def _stat_fields(pid: int, proc: str = "/proc") -> list[str] | None:
    try:
        with open(f"{proc}/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rfind(")") + 2:].split()


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot: with the pid, its identity."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields and len(fields) > 19 else None


def descendants(pid: int, proc: str = "/proc") -> list[int]:
    """Every live descendant of ``pid``, parents before children."""
    children: dict[int, list[int]] = {}
    with contextlib.suppress(OSError):
        for name in os.listdir(proc):
            if name.isdigit():
                fields = _stat_fields(int(name), proc)
                if fields and len(fields) > 1:
                    children.setdefault(int(fields[1]), []).append(int(name))
    out: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def signal_all(pids: list[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


def kill_tree(pid: int) -> None:
    """SIGKILL ``pid``, its process group and every descendant."""
    tree = descendants(pid)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    signal_all([pid, *tree], signal.SIGKILL)

