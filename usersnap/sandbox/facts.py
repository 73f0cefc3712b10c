"""Gather the :class:`~usersnap.sandbox.plan.HostFacts` the sandbox planner needs.

Keeping them in a value lets :func:`usersnap.sandbox.plan.plan_sandbox` stay pure (unit
tests build one by hand).  Gathering reads the base tree's top level, its ``/var`` and a
handful of ``/etc`` entries: through FUSE, so never call this from the daemon's trio
thread.
"""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from usersnap.fusefs.homepolicy import IDENTITY_XATTR, identity
from usersnap.interfaces.gpu import EXTRA_LIB_DIR, driver_root, driver_sources, read_driver
from usersnap.meta.model import frozen_map
from usersnap.sandbox.environment import dpkg_arch
from usersnap.sandbox.plan import (
    ETC_FROM_BASE,
    ETC_FROM_NEW_BASES,
    Entry,
    EntryKind,
    HomeViewState,
    HostFacts,
)

if TYPE_CHECKING:
    from usersnap.layouts.view import Node


def list_entries(path: str | Path) -> tuple[Entry, ...]:
    """Directories, files and symlinks of ``path`` sorted by name; others and errors skipped."""
    entries = []
    try:
        with os.scandir(path) as it:
            for dirent in it:
                try:
                    if dirent.is_symlink():
                        entries.append(Entry(dirent.name, "symlink", os.readlink(dirent.path)))
                    elif dirent.is_dir(follow_symlinks=False):
                        entries.append(Entry(dirent.name, "dir"))
                    elif dirent.is_file(follow_symlinks=False):
                        entries.append(Entry(dirent.name, "file"))
                except OSError:
                    continue
    except OSError:
        return ()
    return tuple(sorted(entries, key=lambda e: e.name))


def lookup(path: str) -> Node | None:
    """``lstat`` for the layout planner (:data:`usersnap.layouts.view.Lookup`)."""
    from usersnap.layouts.view import Node  # only snaps with layouts get here

    try:
        mode = os.lstat(path).st_mode
        if stat.S_ISLNK(mode):
            return Node("symlink", os.readlink(path))
    except OSError:
        return None
    if stat.S_ISDIR(mode):
        return Node("dir")
    return Node("file") if stat.S_ISREG(mode) else Node("other")


def _kind(path: str) -> EntryKind | None:
    """Kind for the /etc comparison: only directories and regular files qualify."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return None
    if (mode & 0o170000) == 0o040000:
        return "dir"
    if (mode & 0o170000) == 0o100000:
        return "file"
    return None


def _kinds(root: str, paths: tuple[str, ...]) -> Mapping[str, EntryKind]:
    found = {}
    for path in paths:
        kind = _kind(root.rstrip("/") + path)
        if kind is not None:
            found[path] = kind
    return frozen_map(found)


def _debian_like(os_release: str = "/etc/os-release") -> bool:
    try:
        with open(os_release, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return False
    values = {}
    for line in lines:
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip().strip('"')
    return "debian" in (values.get("ID"), values.get("ID_LIKE"))


def _resolv_dir() -> str:
    """systemd-resolved & co. make /etc/resolv.conf a symlink into /run, a tmpfs for us."""
    target = os.path.realpath("/etc/resolv.conf")
    if target.startswith("/run/") and os.path.isfile(target):
        return posixpath.dirname(target)
    return ""


def _home_view(view: Path | None, home: Path | None) -> HomeViewState:
    """Whether ``view`` (``Dirs.home_view``) serves ``home``, by the identity its root
    tells (its attributes are the real directory's, but cached, and its own inode
    number); a view that cannot tell serves something else."""
    if view is None:
        return "absent"
    try:
        shown = os.getxattr(view, IDENTITY_XATTR)
    except FileNotFoundError:
        return "absent"
    except OSError:
        return "other"
    try:
        real = os.stat(home) if home is not None else None
    except OSError:
        return "other"
    return "served" if real is not None and shown == identity(real.st_dev, real.st_ino) \
        else "other"


def _video_devices() -> tuple[str, ...]:
    try:
        return tuple(sorted(f"/dev/{n}" for n in os.listdir("/dev") if n.startswith("video")))
    except OSError:
        return ()


def fact_sources(base_tree: Path | None, snapctl_dir: Path | None = None,
                 home: Path | None = None, home_view: Path | None = None) -> list[str]:
    """Every path whose change can change what :func:`gather_host_facts` returns (a
    directory stands for its listing): the run cache re-checks them before reusing a
    plan."""
    root = "/" if base_tree is None else str(base_tree)
    paths = [root, posixpath.join(root, "var"), "/etc/os-release", "/etc/resolv.conf", "/dev",
             *(posixpath.join(root, m.lstrip("/")) for m in ("/usr/lib/snapd", "/usr/local/bin")),
             *ETC_FROM_BASE, *ETC_FROM_NEW_BASES,
             *driver_sources(dpkg_arch(), driver_root(os.environ)),
             *(posixpath.join(root, d.lstrip("/")) for d in (EXTRA_LIB_DIR, "/var/lib/snapd"))]
    if snapctl_dir is not None:
        paths.append(str(snapctl_dir / "snapctl"))
    paths += (str(path) for path in (home, home_view) if path is not None)
    return paths


def gather_host_facts(base_tree: Path | None, snapctl_dir: Path | None = None,
                      home: Path | None = None, home_view: Path | None = None) -> HostFacts:
    """Facts for a sandbox whose root is ``base_tree``, or the host's / when None;
    ``snapctl_dir`` is bound when it holds snapctl (see HostFacts.snapctl_mount);
    ``home`` is listed for the ``home`` interface, which gets ``home_view`` at $HOME if
    it serves that directory."""
    root = "/" if base_tree is None else str(base_tree)
    snapctl = mount = ""
    if snapctl_dir is not None and (snapctl_dir / "snapctl").is_file():
        mount = next((m for m in ("/usr/lib/snapd", "/usr/local/bin")
                      if os.path.isdir(posixpath.join(root, m.lstrip("/")))), "")
        snapctl = str(snapctl_dir) if mount else ""
    candidates = ETC_FROM_BASE + ETC_FROM_NEW_BASES
    return HostFacts(
        gid=os.getgid(),
        arch=dpkg_arch(),
        root_entries=list_entries(root),
        var_entries=list_entries(posixpath.join(root, "var")),
        base_etc=frozen_map() if base_tree is None else _kinds(root, candidates),
        host_etc=_kinds("/", candidates),
        debian_like=_debian_like(),
        resolv_dir=_resolv_dir(),
        snapctl_dir=snapctl,
        snapctl_mount=mount,
        home_entries=() if home is None else list_entries(home),
        home_view=_home_view(home_view, home),
        video_devices=_video_devices(),
        gpu=read_driver(dpkg_arch(), root, driver_root(os.environ)),
    )
