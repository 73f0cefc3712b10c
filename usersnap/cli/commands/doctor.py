"""``usersnap doctor``: what this machine offers usersnap, one line per check.

Each check says ``ok``, ``warning`` (usersnap works, something is missing or degraded)
or ``error`` (usersnap cannot work until it is fixed), what it found and what to do.
The exit status is 1 when any check is an error.  Nothing here needs the daemon: a
machine where usersnapd cannot start is what this command is for.
"""

from __future__ import annotations

import argparse
import errno
import os
import shutil
import stat
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from usersnap.dirs import Dirs

OK, WARNING, ERROR = "ok", "warning", "error"
#: Free space under the root below which installs may fail (a snap is copied there).
LOW_DISK_BYTES = 1 << 30
DEPENDENCIES = ("trio", "PySquashfsImage", "PyYAML", "cryptography")


@dataclass(frozen=True, slots=True)
class Finding:
    status: str
    check: str
    detail: str


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    pass


def execute(args: argparse.Namespace) -> int:
    findings = run_checks(Dirs.from_env())
    print(render(findings))
    return 1 if any(f.status == ERROR for f in findings) else 0


def render(findings: Sequence[Finding]) -> str:
    width = max(len(f.check) for f in findings)
    return "\n".join(f"{f.status:<8} {f.check:<{width}}  {f.detail}" for f in findings)


def run_checks(dirs: Dirs) -> list[Finding]:
    checks: list[Callable[[], Finding]] = [
        check_python, check_fuse_device, check_fusermount, check_bwrap, check_seccomp,
        check_cgroup, lambda: check_mount(dirs.mount), lambda: check_daemon(dirs),
        lambda: check_disk(dirs.root), lambda: check_path(dirs),
    ]
    return [check() for check in checks]


def check_python() -> Finding:
    from importlib import metadata

    versions, missing = [], []
    for dist in DEPENDENCIES:
        try:
            versions.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            missing.append(dist)
    python = f"Python {sys.version.split()[0]}"
    if missing:
        return Finding(ERROR, "python", f"{python}; missing {', '.join(missing)}: run "
                                        "tools/bootstrap.sh (or pip install usersnap)")
    return Finding(OK, "python", f"{python}; {', '.join(versions)}")


#: what a FUSE problem costs: usersnapd falls back to extracted copies (daemon/extracted.py)
WITHOUT_FUSE = "snaps are served from extracted copies instead (slower installs, more disk, " \
               "no usersnap try)"


def check_fuse_device(device: str = "/dev/fuse") -> Finding:
    try:
        os.close(os.open(device, os.O_RDWR | os.O_CLOEXEC))
    except OSError as err:
        fix = ("load the fuse module (sudo modprobe fuse)" if err.errno == errno.ENOENT
               else f"make it usable, e.g. sudo chmod 666 {device}")
        return Finding(WARNING, "fuse", f"cannot open {device}: {err.strerror}; {fix}; "
                                        f"until then {WITHOUT_FUSE}")
    return Finding(OK, "fuse", f"{device} usable")


def check_fusermount(path_env: str | None = None) -> Finding:
    found = shutil.which("fusermount3", path=path_env)
    if found is None:
        return Finding(WARNING, "fusermount3", "not found on PATH; install fuse3 "
                                               "(sudo apt-get install fuse3); until then "
                                               f"{WITHOUT_FUSE}")
    mode = os.stat(found).st_mode
    if os.getuid() != 0 and not (mode & stat.S_ISUID and os.stat(found).st_uid == 0):
        return Finding(ERROR, "fusermount3", f"{found} is not setuid root: unprivileged "
                                             "mounts fail; reinstall fuse3, or set "
                                             "USERSNAP_NO_FUSE=1 to use extracted copies")
    return Finding(OK, "fusermount3", found)


def check_bwrap(path_env: str | None = None) -> Finding:
    from usersnap.errors import SandboxError
    from usersnap.sandbox.bwrap import find_bwrap
    from usersnap.sandbox.probe import bwrap_supports, check_userns

    try:
        bwrap = find_bwrap(path_env)
        check_userns(bwrap)
    except SandboxError as err:
        return Finding(ERROR, "bubblewrap", str(err))
    if not bwrap_supports(bwrap, "--disable-userns"):
        return Finding(WARNING, "bubblewrap", f"{bwrap} works but has no --disable-userns "
                                              "(bubblewrap < 0.8): seccomp alone keeps "
                                              "sandboxes from making user namespaces")
    return Finding(OK, "bubblewrap", f"{bwrap}: user namespaces work, --disable-userns")


def check_seccomp() -> Finding:
    from usersnap.seccomp.compile import SONAME

    try:
        import ctypes

        ctypes.CDLL(SONAME)
    except OSError:
        return Finding(ERROR, "seccomp", f"cannot load {SONAME}: install libseccomp2 "
                                         "(sudo apt-get install libseccomp2)")
    return Finding(OK, "seccomp", f"{SONAME} loaded: filters are compiled and enforced")


def check_cgroup(proc_self: str = "/proc/self") -> Finding:
    from usersnap.daemon.cgroups import detect

    found = detect(proc_self)
    if not found.delegated:
        return Finding(WARNING, "cgroup", f"{found.describe()} (services are supervised by "
                                          "process tree, without memory or CPU limits)")
    if found.missing_controllers():  # the machine's setup, not usersnap's
        return Finding(WARNING, "cgroup", found.describe())
    return Finding(OK, "cgroup", found.describe())


def check_mount(mount: Path) -> Finding:
    try:
        os.stat(mount)
    except OSError as err:
        if err.errno == errno.ENOTCONN:
            return Finding(WARNING, "mount", f"{mount} is a stale FUSE mount (usersnapd "
                                             "died); the next start clears it, or run: "
                                             f"fusermount3 -uz {mount}")
        if err.errno != errno.ENOENT:
            return Finding(ERROR, "mount", f"cannot stat {mount}: {err.strerror}")
        return Finding(OK, "mount", f"{mount} not mounted (usersnapd is not running)")
    return Finding(OK, "mount", str(mount))


def check_daemon(dirs: Dirs) -> Finding:
    from usersnap.client import _answers
    from usersnap.errors import DaemonError

    try:
        answers = _answers(dirs.socket)
    except DaemonError as err:
        return Finding(ERROR, "usersnapd", str(err))
    try:
        pid = dirs.lock_file.read_text().strip()
    except OSError:
        pid = ""
    if answers:
        return Finding(OK, "usersnapd", f"running (pid {pid or '?'}) on {dirs.socket}")
    return Finding(OK, "usersnapd", "not running: the next usersnap command starts it")


def check_disk(root: Path) -> Finding:
    probe = next((p for p in (root, *root.parents) if p.exists()), Path("/"))
    free = shutil.disk_usage(probe).free
    detail = f"{free / (1 << 30):.1f} GiB free under {probe}"
    if free < LOW_DISK_BYTES:
        return Finding(WARNING, "disk", f"{detail}: installs copy each snap there")
    return Finding(OK, "disk", detail)


def check_path(dirs: Dirs) -> Finding:
    from usersnap.apps.launchers import bin_on_path

    if bin_on_path(dirs):
        return Finding(OK, "PATH", f"{dirs.bin} is on PATH")
    return Finding(WARNING, "PATH", f"{dirs.bin} is not on PATH: apps run only through "
                                    f"usersnap run; add it: export PATH=\"{dirs.bin}:$PATH\"")
