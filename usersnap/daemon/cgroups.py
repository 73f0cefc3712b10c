"""cgroup v2 without root: what systemd's ``Delegate=yes`` gives a user, and its use.

systemd runs a user's manager (``user@UID.service``) in a cgroup it chowns to the user,
so the user's processes may make sub-cgroups there and move their own processes between
them.  When usersnapd finds itself in such a delegated cgroup, each service run goes
into ``<its cgroup>/snap.SNAP.APP.service`` (snapd's unit name), and stopping the
service kills that cgroup: a process that left the launcher's tree is still in it.

Detection is from ``/proc/self/cgroup`` (the ``0::`` line) and the ``cgroup2`` mount
in ``/proc/self/mountinfo`` (hybrid systems mount it at ``/sys/fs/cgroup/unified``).
Nothing here needs trio: ``usersnap doctor`` uses it too.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from dataclasses import dataclass

#: the cgroup states, worst first
NO_V2, NO_MOUNT, NOT_DELEGATED, DELEGATED = "none", "no-mount", "not-delegated", "delegated"
#: what quota groups limit
QUOTA_CONTROLLERS = ("memory", "cpu")


@dataclass(frozen=True, slots=True)
class CgroupInfo:
    """What cgroup v2 offers this process: ``path`` is its cgroup's directory."""

    state: str
    path: str = ""
    controllers: frozenset[str] = frozenset()

    @property
    def delegated(self) -> bool:
        return self.state == DELEGATED

    def missing_controllers(self) -> list[str]:
        return [c for c in QUOTA_CONTROLLERS if c not in self.controllers]

    def describe(self) -> str:
        """The ``cgroup`` line of ``usersnap version`` and ``usersnap doctor``."""
        if self.state == NO_V2:
            return "none (no cgroup v2): no per-snap resource limits"
        if self.state == NO_MOUNT:
            return "none (no cgroup v2 mount): no per-snap resource limits"
        if self.state == NOT_DELEGATED:
            return "not delegated: no per-snap resource limits"
        head = f"delegated ({self.path}): services in per-snap cgroups"
        missing = self.missing_controllers()
        if missing:
            word = "controller" if len(missing) == 1 else "controllers"
            return f"{head}; {'/'.join(missing)} {word} not delegated: quota limits not enforced"
        return f"{head}; memory/cpu controllers delegated, but quota groups are not " \
               "implemented: no limits applied"


def own_cgroup(proc_cgroup: str) -> str | None:
    """The ``0::PATH`` line's path (cgroup v2), or None on a v1-only system."""
    for line in proc_cgroup.splitlines():
        if line.startswith("0::"):
            return line[3:].strip() or None
    return None


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def cgroup2_mounts(mountinfo: str) -> list[tuple[str, str]]:
    """Every cgroup2 mount as (root within the hierarchy, mount point)."""
    out = []
    for line in mountinfo.splitlines():
        fields = line.split(" ")
        if "-" not in fields[6:]:
            continue
        sep = fields.index("-", 6)
        if len(fields) > sep + 1 and fields[sep + 1] == "cgroup2":
            out.append((_unescape(fields[3]), _unescape(fields[4])))
    return out


def locate(path: str, mounts: list[tuple[str, str]]) -> str | None:
    """The directory of cgroup ``path`` under the first mount that shows it."""
    for root, point in mounts:
        rel = os.path.relpath(path, root)
        if rel == "." or not rel.startswith(".."):
            return os.path.normpath(os.path.join(point, rel))
    return None


def detect(proc_self: str = "/proc/self", uid: int | None = None) -> CgroupInfo:
    """Our cgroup v2 directory and whether it is delegated to us: owned by our uid,
    with it and its ``cgroup.procs`` writable.  The hierarchy's root cgroup never is
    (it is the system's)."""
    uid = os.getuid() if uid is None else uid
    try:
        with open(f"{proc_self}/cgroup", encoding="utf-8") as f:
            path = own_cgroup(f.read())
        with open(f"{proc_self}/mountinfo", encoding="utf-8") as f:
            mounts = cgroup2_mounts(f.read())
    except OSError:
        return CgroupInfo(NO_V2)
    if path is None:
        return CgroupInfo(NO_V2)
    here = locate(path, mounts)
    if here is None:
        return CgroupInfo(NO_MOUNT)
    try:
        with open(os.path.join(here, "cgroup.controllers"), encoding="ascii") as f:
            controllers = frozenset(f.read().split())
        owner = os.stat(here).st_uid
    except OSError:
        return CgroupInfo(NOT_DELEGATED, here)
    delegated = (path != "/" and owner == uid and os.access(here, os.W_OK)
                 and os.access(os.path.join(here, "cgroup.procs"), os.W_OK))
    return CgroupInfo(DELEGATED if delegated else NOT_DELEGATED, here, controllers)


def service_cgroup(parent: str, sid: str) -> str:
    """snapd's unit name for the service ``SNAP.APP``."""
    return os.path.join(parent, f"snap.{sid}.service")


def enter(path: str) -> None:
    """Move the calling process into cgroup ``path`` (its children follow it)."""
    with open(os.path.join(path, "cgroup.procs"), "w", encoding="ascii") as f:
        f.write("0")


def procs(path: str) -> list[int]:
    try:
        with open(os.path.join(path, "cgroup.procs"), encoding="ascii") as f:
            return [int(pid) for pid in f.read().split()]
    except OSError:
        return []


def populated(path: str) -> bool:
    """``populated 1`` in ``cgroup.events``: a live process in it or below."""
    try:
        with open(os.path.join(path, "cgroup.events"), encoding="ascii") as f:
            return "populated 1" in f.read().splitlines()
    except OSError:
        return False


def kill(path: str) -> None:
    """SIGKILL every process in the cgroup: ``cgroup.kill`` (Linux 5.14), else one by
    one from ``cgroup.procs``."""
    try:
        with open(os.path.join(path, "cgroup.kill"), "w", encoding="ascii") as f:
            f.write("1")
        return
    except FileNotFoundError:
        if not os.path.isdir(path):
            return
    except OSError:
        pass
    for pid in procs(path):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def remove(path: str) -> bool:
    """rmdir the cgroup: True once it is gone (it must be empty)."""
    try:
        os.rmdir(path)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True


def kill_and_remove(path: str, timeout: float) -> bool:
    """Blocking: kill the cgroup, wait up to ``timeout`` for it to empty, remove it."""
    deadline = time.monotonic() + timeout
    kill(path)
    while populated(path) and time.monotonic() < deadline:
        time.sleep(0.05)
        kill(path)
    return remove(path)
