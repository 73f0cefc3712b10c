"""Capability probes, done by trying the thing, once per session.

A missing capability skips the tests that need it, with the reason; with
``USERSNAP_MUST_WORK=1`` (CI) it fails them instead, so a broken machine cannot
pass by skipping.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess

MUST_WORK = os.environ.get("USERSNAP_MUST_WORK") == "1"


@functools.cache
def missing(capability: str) -> str | None:
    """Return why ``capability`` is unusable here, or None when it works."""
    return _PROBES[capability]()


def _probe_fuse() -> str | None:
    if not shutil.which("fusermount3"):
        return "fusermount3 not found (apt-get install fuse3)"
    try:
        fd = os.open("/dev/fuse", os.O_RDWR)
    except OSError as err:
        return f"cannot open /dev/fuse: {err.strerror} (chmod 666 /dev/fuse)"
    os.close(fd)
    return None


def _probe_bwrap() -> str | None:
    bwrap = shutil.which("bwrap")
    if not bwrap:
        return "bwrap not found (apt-get install bubblewrap)"
    proc = subprocess.run(
        [bwrap, "--unshare-user", "--unshare-pid", "--ro-bind", "/", "/", "--proc", "/proc",
         "--dev", "/dev", "true"],
        capture_output=True, text=True, timeout=30, check=False,
    )
    if proc.returncode != 0:
        return f"bwrap cannot create a user namespace: {proc.stderr.strip()}"
    return None


def _probe_mksquashfs() -> str | None:
    if not shutil.which("mksquashfs") or not shutil.which("unsquashfs"):
        return "mksquashfs/unsquashfs not found (apt-get install squashfs-tools)"
    return None


def _probe_snapd() -> str | None:
    from tests.helpers.snapd_oracle import snap_binary

    return None if snap_binary() else "Debian's snapd package could not be fetched"


def _probe_cgroup_delegation() -> str | None:
    from usersnap.daemon.cgroups import detect

    found = detect()
    if not found.delegated:
        return f"no delegated cgroup v2 subtree: {found.describe()}"
    probe = os.path.join(found.path, f"usersnap-probe-{os.getpid()}")
    try:
        os.mkdir(probe)
        os.rmdir(probe)
    except OSError as err:
        return f"cannot make a cgroup in {found.path}: {err.strerror}"
    return None


def _probe_root() -> str | None:
    return None if os.geteuid() == 0 else "needs root"


_PROBES = {
    "root": _probe_root,
    "fuse": _probe_fuse,
    "bwrap": _probe_bwrap,
    "mksquashfs": _probe_mksquashfs,
    "snapd": _probe_snapd,
    "cgroup_delegation": _probe_cgroup_delegation,
}
